"""Go-style command-line flags, as the Vault CLI parses them.

``-name=value``, ``-name value`` and ``--name=value`` all work; boolean flags
take no value unless written ``-name=false``.  Unlike Go's ``flag`` package,
flags may also follow positional arguments (``vaultlet read secret/x
-format=json``); ``--`` ends flag parsing and a lone ``-`` is positional
(it means "stdin" to several commands).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vaultlet.cli.client import parse_go_bool
from vaultlet.durations import DurationError, parse_duration

HELP_FLAGS = ("h", "help")


class FlagKind(enum.Enum):
    BOOL = "bool"
    STRING = "string"
    INT = "int"
    # Integer seconds, from "90", "90s", "1h30m"...
    DURATION = "duration"
    # Repeatable; each occurrence may also hold a comma-separated list.
    STRINGS = "strings"
    # Repeatable key=value pairs.
    MAP = "map"


@dataclass(frozen=True)
class Flag:
    name: str
    kind: FlagKind
    help: str = ""
    default: Any = None
    aliases: tuple[str, ...] = ()

    def initial_value(self) -> Any:
        if self.kind is FlagKind.STRINGS:
            return list(self.default or ())
        if self.kind is FlagKind.MAP:
            return dict(self.default or {})
        if self.kind is FlagKind.BOOL:
            return bool(self.default)
        return self.default


class FlagError(ValueError):
    """The command line cannot be parsed; the message is Go's wording."""


class HelpRequested(Exception):
    """``-h``/``-help`` was given."""


@dataclass
class ParsedArguments:
    flags: dict[str, Any]
    positional: list[str] = field(default_factory=list)
    # Names of flags that were given explicitly (Go's FlagSet.Visit).
    given: set[str] = field(default_factory=set)


def parse_arguments(argv: Sequence[str], flags: Iterable[Flag]) -> ParsedArguments:
    """Split argv into flag values (keyed by flag name) and positional arguments."""
    by_name = {name: flag for flag in flags for name in (flag.name, *flag.aliases)}
    parsed = ParsedArguments({flag.name: flag.initial_value() for flag in by_name.values()})
    remaining = list(argv)
    while remaining:
        argument = remaining.pop(0)
        if argument == "--":
            parsed.positional.extend(remaining)
            break
        if not argument.startswith("-") or argument == "-":
            parsed.positional.append(argument)
            continue
        name, has_value, inline_value = argument.lstrip("-").partition("=")
        if name in HELP_FLAGS:
            raise HelpRequested
        flag = by_name.get(name)
        if flag is None:
            raise FlagError(f"flag provided but not defined: -{name}")
        value = inline_value if has_value else None
        if value is None and flag.kind is not FlagKind.BOOL:
            # Non-boolean flags may take their value from the next argument: -format json.
            if not remaining:
                raise FlagError(f"flag needs an argument: -{name}")
            value = remaining.pop(0)
        parsed.flags[flag.name] = _apply(flag, name, parsed.flags[flag.name], value)
        parsed.given.add(flag.name)
    return parsed


def _apply(flag: Flag, spelled: str, current: Any, value: str | None) -> Any:
    """The flag's new value; value is None only for a bare boolean flag."""
    if flag.kind is FlagKind.BOOL:
        try:
            return value is None or parse_go_bool(value)
        except ValueError:
            reason = f'strconv.ParseBool: parsing "{value}": invalid syntax'
            raise FlagError(f'invalid boolean value "{value}" for -{spelled}: {reason}') from None
    assert value is not None  # parse_arguments always supplies one for non-boolean flags
    try:
        return _convert(flag.kind, current, value)
    except (ValueError, DurationError) as error:
        # Go's wording, including strconv's error text.
        reason = (
            f'strconv.ParseInt: parsing "{value}": invalid syntax' if flag.kind is FlagKind.INT else error
        )
        raise FlagError(f'invalid value "{value}" for flag -{spelled}: {reason}') from None


def _convert(kind: FlagKind, current: Any, value: str) -> Any:
    if kind is FlagKind.STRING:
        return value
    if kind is FlagKind.INT:
        return int(value)
    if kind is FlagKind.DURATION:
        return parse_duration(value)
    if kind is FlagKind.STRINGS:
        return [*current, *(item.strip() for item in value.split(",") if item.strip())]
    key, separator, item = value.partition("=")
    if not separator:
        raise ValueError(f'missing = in KV pair: "{value}"')
    return {**current, key: item}


def describe(flags: Iterable[Flag]) -> str:
    """The flag section of a command's ``-help`` text."""
    lines = []
    for flag in flags:
        spelling = f"-{flag.name}" if flag.kind is FlagKind.BOOL else f"-{flag.name}=<{flag.kind.value}>"
        lines.append(f"  {spelling}\n      {flag.help}" if flag.help else f"  {spelling}")
    return "\n\n".join(lines)
