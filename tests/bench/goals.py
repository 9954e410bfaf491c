"""Issue 13's goals, collected as the benches measure them and printed as one table
at the end of `make bench`: each goal, the figure this run measured, met or not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Goal:
    goal: str
    figure: str
    met: bool | None  # None: a figure to name, no threshold (the gap to OpenBao dev)


_GOALS: list[Goal] = []


def record(goal: str, figure: str, met: bool | None) -> None:
    _GOALS.append(Goal(goal, figure, met))


def print_summary() -> None:
    if not _GOALS:
        return
    print("\n## summary: issue 13's goals, this run (2 cores shared with the load generator)")
    width = max(len(g.goal) for g in _GOALS)
    fig = max(len(g.figure) for g in _GOALS)
    print(f"{'goal':<{width}}  {'figure':<{fig}}  verdict")
    for g in _GOALS:
        verdict = "-" if g.met is None else ("met" if g.met else "NOT MET")
        print(f"{g.goal:<{width}}  {g.figure:<{fig}}  {verdict}")
