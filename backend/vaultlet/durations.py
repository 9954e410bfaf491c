"""Vault/Go duration handling.

Vault accepts a TTL as an integer number of seconds (``3600``, ``"3600"``) or as a
Go duration string (``"1h"``, ``"90s"``, ``"1h30m"``, ``"1.5h"``); it answers with
integer seconds, except where the wire format is a Go ``Duration.String()``
(``"1h0m0s"``, e.g. ``aws/config/lease``).
"""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    # Vault's parseutil also accepts days, which Go's time.ParseDuration does not.
    "d": 86400.0,
}
_COMPONENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_INTEGER = re.compile(r"[+-]?\d+")

# What a JSON Schema ``pattern`` needs to recognise a duration string.
DURATION_PATTERN = r"^\s*([+-]?\d+|((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d))+)\s*$"


class DurationError(ValueError):
    """The text is not a duration Vault would accept."""


def parse_go_duration(text: str) -> float:
    """Parse a Go ``time.ParseDuration`` string into seconds (may be fractional)."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    position, total = 0, 0.0
    for match in _COMPONENT.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise DurationError(f'time: invalid duration "{text}"')
    return sign * total


def parse_duration(value: object) -> int:
    """Vault's ``parseutil.ParseDurationSecond``: int seconds from int or string."""
    if isinstance(value, bool):
        raise DurationError(f"invalid duration {value!r}")
    if isinstance(value, int):
        return _in_range(value, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DurationError(f'time: invalid duration "{value}"')
        return _in_range(int(value), value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        if _INTEGER.fullmatch(text):
            return _in_range(int(text), text)
        return _in_range(int(parse_go_duration(text)), text)
    raise DurationError(f"invalid duration {value!r}")


# Go's time.Duration is int64 nanoseconds (about 292 years): longer is no duration.
MAX_DURATION_SECONDS = (2**63 - 1) // 1_000_000_000


def _in_range(seconds: int, shown: object) -> int:
    if abs(seconds) > MAX_DURATION_SECONDS:
        raise DurationError(f'time: invalid duration "{str(shown)[:40]}"')
    return seconds


def format_go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for whole or fractional seconds.

    >>> format_go_duration(120), format_go_duration(3600), format_go_duration(0)
    ('2m0s', '1h0m0s', '0s')
    """
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
            if seconds >= scale:
                return f"{sign}{_trim(seconds / scale)}{unit}"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{_trim(secs)}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return sign + text


def format_human(seconds: int) -> str:
    """The Vault CLI's ``humanDuration``: ``768h``, ``1h``, ``30m``, ``1h30m``, ``1h5s``, ``45s``."""
    text = format_go_duration(int(seconds))
    if text.endswith("m0s"):
        text = text[:-2]
    return text.replace("h0m", "h", 1)


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


# Go's time.ParseDuration units (µs written with either micro sign).
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?")
_GO_UNIT = re.compile(r"[^0-9.]*")


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_go_duration_strict(text: str) -> float:
    """Go's ``time.ParseDuration``, seconds as a float, with Go's exact error messages."""
    original, rest, sign = text, text, 1.0
    if rest[:1] in ("+", "-"):
        sign, rest = (-1.0 if rest[0] == "-" else 1.0), rest[1:]
    if rest == "0":
        return 0.0
    if rest == "":
        raise DurationError(f"time: invalid duration {_go_quote(original)}")
    total = 0.0
    while rest:
        number = _GO_NUMBER.match(rest)
        whole, fraction = number.group(1), number.group(2)
        if not whole and not fraction:
            raise DurationError(f"time: invalid duration {_go_quote(original)}")
        rest = rest[number.end() :]
        unit = _GO_UNIT.match(rest).group(0)
        if not unit:
            raise DurationError(f"time: missing unit in duration {_go_quote(original)}")
        if unit not in _GO_UNITS:
            raise DurationError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(original)}")
        rest = rest[len(unit) :]
        total += float(f"{whole or 0}.{fraction or 0}") * _GO_UNITS[unit]
    if total * 1e9 > 2**63 - 1:
        raise DurationError(f"time: invalid duration {_go_quote(original)}")
    return sign * total


def parse_duration_second_strict(text: str) -> float:
    """Vault's ``parseutil.ParseDurationSecond`` for a string, as OpenBao parses the
    ``X-Vault-Wrap-TTL`` header: whole seconds, ``<n>d``, or a Go duration (which may be
    fractional: ``500ms``). The errors are Go's, word for word."""
    if text == "":
        return 0.0
    if _INTEGER.fullmatch(text):
        return float(int(text))
    if text.endswith("d"):
        days = text[:-1]
        if not _INTEGER.fullmatch(days):
            raise DurationError(f"strconv.ParseInt: parsing {_go_quote(days)}: invalid syntax")
        return int(days) * 86400.0
    return parse_go_duration_strict(text)
