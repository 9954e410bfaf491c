"""The table of sub-commands; command modules register into it with ``@command``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vaultlet.cli.context import Context
from vaultlet.cli.flags import Flag

Handler = Callable[[Context], int]


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    handler: Handler
    synopsis: str
    usage: str
    flags: tuple[Flag, ...]

    @property
    def name(self) -> str:
        return " ".join(self.words)


COMMANDS: dict[tuple[str, ...], Command] = {}


def command(
    name: str, *, synopsis: str, usage: str = "[options]", flags: Sequence[Flag] = ()
) -> Callable[[Handler], Handler]:
    """Register the decorated function as ``vaultlet <name>``."""

    def register(handler: Handler) -> Handler:
        words = tuple(name.split())
        COMMANDS[words] = Command(words, handler, synopsis, usage, tuple(flags))
        return handler

    return register


def find(arguments: Sequence[str]) -> tuple[Command | None, list[str]]:
    """The longest registered command the arguments start with, and the arguments after it."""
    for length in range(min(len(arguments), 3), 0, -1):
        found = COMMANDS.get(tuple(arguments[:length]))
        if found is not None:
            return found, list(arguments[length:])
    return None, list(arguments)


def subcommands(prefix: Sequence[str]) -> list[Command]:
    """Commands under a group such as ``token``, sorted by name."""
    prefix = tuple(prefix)
    return sorted(
        (found for words, found in COMMANDS.items() if words[: len(prefix)] == prefix),
        key=lambda found: found.words,
    )
