"""Username templates for the AWS secrets engine, Vault-compatible.

Vault renders IAM user names and STS session/federation names from ``username_template``, a Go
``text/template`` string evaluated with the functions of hashicorp/vault ``sdk/helper/template``.
This module is a small interpreter for the subset such templates use. It never evaluates Python:
the text is lexed and parsed once into a tree of node objects, and rendering walks that tree.

Supported Go template syntax: text; ``{{ }}`` actions with ``{{-`` / ``-}}`` whitespace trimming;
``{{/* comments */}}``; ``if`` / ``else if`` / ``else`` / ``end``; ``with`` / ``else with``;
pipelines with ``|`` (the piped value becomes the last argument); parenthesised pipelines;
``"quoted"`` and ```raw``` strings, ``'c'`` character constants, integers, ``true`` / ``false``;
``.`` and ``.Field``; the Go built-ins ``eq ne lt le gt ge and or not len print println printf``.
Not supported (rejected when compiling): variables (``$``, ``$x``), ``range``, ``define`` /
``template`` / ``block``, ``break`` / ``continue``, ``nil``, floating-point and complex constants,
field access on a parenthesised value, and the built-ins ``html js urlquery index slice call``.

Vault's functions: ``random``, ``truncate``, ``truncate_sha256``, ``uppercase``, ``lowercase``,
``replace``, ``sha256``, ``base64``, ``unix_time``, ``unix_time_millis``, ``timestamp`` and
``uuid``; each implementation's docstring gives its exact semantics.

Error messages reproduce Go's (checked against a real OpenBao), wrapped the way Vault's AWS
engine wraps them. One deliberate difference: mistakes that can never execute successfully
(unknown fields, wrong argument counts, literal arguments of the wrong type, arguments given to
a non-function) are reported when compiling, where Go only fails once the branch runs. That lets
``config/root`` answer 400 instead of storing a template that breaks every credential request.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

from vaultlet.engines.secrets.aws.gofmt import quote as go_quote

__all__ = [
    "DEFAULT_USERNAME_TEMPLATE",
    "IAM_USERNAME_MAX_LENGTH",
    "STS_USERNAME_MAX_LENGTH",
    "TemplateError",
    "UsernameTemplate",
    "UsernameTooLong",
    "compile_template",
    "normalize_display_name",
    "render_username",
]

# Vault's defaultUserNameTemplate (builtin/logical/aws/path_config_root.go), byte for byte.
DEFAULT_USERNAME_TEMPLATE = (
    '{{ if (eq .Type "STS") }}{{ printf "vault-%s-%s"  (unix_time) (random 20) | truncate 32 }}'
    '{{ else }}{{ printf "vault-%s-%s-%s" (printf "%s-%s" (.DisplayName) (.PolicyName) | truncate 42)'
    " (unix_time) (random 20) | truncate 64 }}{{ end }}"
)

IAM_USERNAME_MAX_LENGTH = 64
STS_USERNAME_MAX_LENGTH = 32
_USERNAME_LENGTH_LIMITS = {"IAM": IAM_USERNAME_MAX_LENGTH, "STS": STS_USERNAME_MAX_LENGTH}

# Vault parses with template.New("template"); Go puts that name into every error message.
_TEMPLATE_NAME = "template"
_PARSE_ERROR_PREFIX = "unable to initialize username template: unable to parse template: "
_EXECUTION_ERROR_PREFIX = "failed to generate username: unable to apply template: "


class TemplateError(ValueError):
    """A username template that does not parse, or failed while rendering (client error: 400)."""


class UsernameTooLong(TemplateError):
    """The rendered name is longer than AWS accepts for its kind (IAM: 64, STS: 32)."""


# --------------------------------------------------------------------------------------------
# Template data and Go value semantics
# --------------------------------------------------------------------------------------------


class _UsernameMetadata(NamedTuple):
    """The dot of a username template: Vault's ``aws.UsernameMetadata`` struct.

    A NamedTuple because one is built per render and that is several times cheaper than a
    frozen dataclass.
    """

    Type: str
    DisplayName: str
    PolicyName: str


_TEMPLATE_FIELDS = _UsernameMetadata._fields  # declaration order, as Go prints them
_METADATA_TYPE_NAME = "aws.UsernameMetadata"  # what Go's %T prints for the dot


_GO_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "int",
    bool: "bool",
    _UsernameMetadata: _METADATA_TYPE_NAME,
}


def _go_type_name(value: object) -> str:
    return _GO_TYPE_NAMES[type(value)]


def _print_value(value: object) -> str:
    """What ``{{ value }}`` writes: Go's ``fmt.Fprint``."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is _UsernameMetadata:
        return f"{{{value.Type} {value.DisplayName} {value.PolicyName}}}"
    return str(value)


def _is_true(value: object) -> bool:
    """Go template truthiness: false, 0 and "" are false; a struct is always true."""
    if type(value) is _UsernameMetadata:
        return True
    return bool(value)


class _CallFailure(Exception):
    """A function rejected its arguments; becomes ``error calling NAME: ...``."""


# --------------------------------------------------------------------------------------------
# Vault's template functions (sdk/helper/template/funcs.go)
# --------------------------------------------------------------------------------------------

# go-secure-stdlib base62: maps random bytes below 4*62 onto this charset and rejects the rest,
# which keeps every character equally likely.
_BASE62_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_BASE62_ACCEPTED_BYTES = 4 * len(_BASE62_CHARSET)
_BASE62_TRANSLATION = bytes(_BASE62_CHARSET * 5)[:256]
_BASE62_REJECTED_BYTES = bytes(range(_BASE62_ACCEPTED_BYTES, 256))


def _random(length: int) -> str:
    """``random N``: N characters drawn uniformly from [A-Za-z0-9] with ``secrets``.

    ``random 0`` is "". A negative length is an error (Go panics inside base62.Random).
    """
    if length < 0:
        raise _CallFailure(f"length must be >= 0 but was {length}")
    generated = b""
    while len(generated) < length:
        # One extra quarter so a single batch nearly always survives the rejection step.
        batch = secrets.token_bytes(length + length // 4 + 1)
        generated += batch.translate(_BASE62_TRANSLATION, _BASE62_REJECTED_BYTES)
    return generated[:length].decode("ascii")


def _truncate(max_length: int, text: str) -> str:
    """``truncate N s``: the first N characters of s; s itself when it is not longer.

    N <= 0 is an error ("max length must be > 0 but was N"). Vault slices bytes; this slices
    characters (runes) so it can never split a multi-byte character. For ASCII, the only thing
    normalised display names contain, both are identical.
    """
    if max_length <= 0:
        raise _CallFailure(f"max length must be > 0 but was {max_length}")
    return text[:max_length]


_SHA256_SUFFIX_LENGTH = 8


def _truncate_sha256(max_length: int, text: str) -> str:
    """``truncate_sha256 N s``: s if it fits in N characters, else a same-length-N digest form.

    The result is the first N-8 characters of s followed by the first 8 hex digits of the
    SHA-256 of the *remainder* (the characters from N-8 onwards), exactly as Vault does.
    N <= 8 is an error ("max length must be > 8 but was N").
    """
    if max_length <= _SHA256_SUFFIX_LENGTH:
        raise _CallFailure(f"max length must be > {_SHA256_SUFFIX_LENGTH} but was {max_length}")
    if len(text) <= max_length:
        return text
    kept_length = max_length - _SHA256_SUFFIX_LENGTH
    return text[:kept_length] + _sha256(text[kept_length:])[:_SHA256_SUFFIX_LENGTH]


def _uppercase(text: str) -> str:
    """``uppercase s``: s in upper case (Go's strings.ToUpper).

    Go maps one character to one character, so "ß" and "ﬁ" stay as they are where Python's
    str.upper would expand them to "SS" and "FI".
    """
    if text.isascii():
        return text.upper()
    return "".join(upper if len(upper := character.upper()) == 1 else character for character in text)


def _lowercase(text: str) -> str:
    """``lowercase s``: s in lower case (Go's strings.ToLower).

    Mapped character by character like Go: no final-sigma rule, and "İ" becomes a plain "i".
    """
    if text.isascii():
        return text.lower()
    return "".join(character.lower()[0] for character in text)


def _replace(old: str, new: str, text: str) -> str:
    """``replace OLD NEW s``: every OLD in s replaced by NEW (Go's strings.ReplaceAll).

    Note the argument order: ``.DisplayName | replace "-" "_"`` turns dashes into underscores.
    """
    return text.replace(old, new)


def _sha256(text: str) -> str:
    """``sha256 s``: the SHA-256 of s's UTF-8 bytes, as 64 lower-case hex digits."""
    return hashlib.sha256(text.encode()).hexdigest()


def _base64(text: str) -> str:
    """``base64 s``: standard, padded base64 of s's UTF-8 bytes."""
    return base64.b64encode(text.encode()).decode("ascii")


def _unix_time(now_ns: int) -> str:
    """``unix_time``: the render time as whole seconds since the epoch, e.g. "1700000000"."""
    return str(now_ns // 1_000_000_000)


def _unix_time_millis(now_ns: int) -> str:
    """``unix_time_millis``: the render time as milliseconds since the epoch."""
    return str(now_ns // 1_000_000)


def _timestamp(now_ns: int, layout: str) -> str:
    """``timestamp LAYOUT``: the render time formatted with a Go reference-time layout.

    The layout describes Mon Jan 2 15:04:05 MST 2006, e.g. "2006-01-02T15:04:05Z07:00".
    Vault formats the server's local time; this always uses UTC so names do not depend on
    the host's timezone.
    """
    return _format_go_time(now_ns, layout)


def _uuid() -> str:
    """``uuid``: a random UUID string (version 4), e.g. "9b2c0b0e-...".

    Vault's go-uuid also draws 122+ random bits but does not set the version/variant bits.
    """
    return str(uuid.uuid4())


# --------------------------------------------------------------------------------------------
# Go's built-in template functions (text/template/funcs.go)
# --------------------------------------------------------------------------------------------


def _equal(left: object, *others: object) -> bool:
    """``eq a b [c...]``: whether a equals any of the others; mixed kinds are an error."""
    left_kind = _go_type_name(left)
    for other in others:
        if _go_type_name(other) != left_kind:
            raise _CallFailure(f"incompatible types for comparison: {left_kind} and {_go_type_name(other)}")
        if left == other:
            return True
    return False


def _not_equal(left: object, right: object) -> bool:
    """``ne a b``: not ``eq a b``."""
    return not _equal(left, right)


def _less_than(left: object, right: object) -> bool:
    """``lt a b``: a < b for two ints or two strings."""
    left_kind = _go_type_name(left)
    if left_kind not in ("int", "string"):
        raise _CallFailure("invalid type for comparison")
    if _go_type_name(right) != left_kind:
        raise _CallFailure(f"incompatible types for comparison: {left_kind} and {_go_type_name(right)}")
    return left < right  # type: ignore[operator]


def _less_or_equal(left: object, right: object) -> bool:
    """``le a b``: a <= b."""
    return _less_than(left, right) or _equal(left, right)


def _greater_than(left: object, right: object) -> bool:
    """``gt a b``: a > b."""
    return not _less_or_equal(left, right)


def _greater_or_equal(left: object, right: object) -> bool:
    """``ge a b``: a >= b."""
    return not _less_than(left, right)


def _and(first: object, *rest: object) -> object:
    """``and a b ...``: the first false argument, else the last one ("if a then b else a").

    Evaluation is lazy: arguments after the deciding one are never evaluated.
    """
    for value in (first, *rest):
        if not _is_true(value):
            return value
    return value


def _or(first: object, *rest: object) -> object:
    """``or a b ...``: the first true argument, else the last one. Lazy like ``and``."""
    for value in (first, *rest):
        if _is_true(value):
            return value
    return value


def _not(value: object) -> bool:
    """``not x``: the negated truthiness of x."""
    return not _is_true(value)


def _length(value: object) -> int:
    """``len s``: the length of a string in UTF-8 bytes, as Go's len does."""
    if type(value) is not str:
        raise _CallFailure(f"len of type {_go_type_name(value)}")
    return len(value.encode())


def _print(*values: object) -> str:
    """``print a b ...``: Go's fmt.Sprint, a space between two operands that are not strings."""
    pieces: list[str] = []
    for index, value in enumerate(values):
        if index and type(value) is not str and type(values[index - 1]) is not str:
            pieces.append(" ")
        pieces.append(_print_value(value))
    return "".join(pieces)


def _println(*values: object) -> str:
    """``println a b ...``: Go's fmt.Sprintln, operands joined by spaces plus a newline."""
    return " ".join(_print_value(value) for value in values) + "\n"


def _printf(format_text: str, *values: object) -> str:
    """``printf FORMAT args...``: Go's fmt.Sprintf.

    Verbs %s %v %d %q %x %X %o %O %b %c %U %t %%, flags ``-+# 0``, widths and precisions
    (``%05d``, ``%-8s``, ``%.3s``, ``%*d``) and argument indexes (``%[2]s``). Like Go, a bad verb
    or a missing/extra argument is written into the output (``%!d(string=x)``,
    ``%!s(MISSING)``, ``%!(EXTRA int=1)``) rather than raised.
    """
    return _go_sprintf(format_text, values)


@dataclass(frozen=True, slots=True)
class _Function:
    """A callable template function and the Go signature the interpreter checks calls against."""

    name: str
    implementation: Callable[..., object]
    parameter_types: tuple[type, ...]  # ``object`` accepts any value
    variadic_type: type | None = None  # set for ``func(a, rest ...T)``
    uses_clock: bool = False  # called with the render time (ns) as its first argument

    def check_argument_count(self, count: int) -> str | None:
        """Go's "wrong number of args" message, or None when ``count`` fits the signature."""
        required = len(self.parameter_types)
        if self.variadic_type is None and count != required:
            return f"wrong number of args for {self.name}: want {required} got {count}"
        if self.variadic_type is not None and count < required:
            return f"wrong number of args for {self.name}: want at least {required} got {count}"
        return None

    def parameter_type(self, index: int) -> type:
        if index < len(self.parameter_types):
            return self.parameter_types[index]
        return self.variadic_type or object


def _functions() -> dict[str, _Function]:
    definitions = [
        # Vault's functions.
        _Function("random", _random, (int,)),
        _Function("truncate", _truncate, (int, str)),
        _Function("truncate_sha256", _truncate_sha256, (int, str)),
        _Function("uppercase", _uppercase, (str,)),
        _Function("lowercase", _lowercase, (str,)),
        _Function("replace", _replace, (str, str, str)),
        _Function("sha256", _sha256, (str,)),
        _Function("base64", _base64, (str,)),
        _Function("unix_time", _unix_time, (), uses_clock=True),
        _Function("unix_time_millis", _unix_time_millis, (), uses_clock=True),
        _Function("timestamp", _timestamp, (str,), uses_clock=True),
        _Function("uuid", _uuid, ()),
        # Go's built-ins. ``and``/``or`` run as _ShortCircuitCall so they can stop early.
        _Function("and", _and, (object,), variadic_type=object),
        _Function("or", _or, (object,), variadic_type=object),
        _Function("eq", _equal, (object, object), variadic_type=object),
        _Function("ne", _not_equal, (object, object)),
        _Function("lt", _less_than, (object, object)),
        _Function("le", _less_or_equal, (object, object)),
        _Function("gt", _greater_than, (object, object)),
        _Function("ge", _greater_or_equal, (object, object)),
        _Function("not", _not, (object,)),
        _Function("len", _length, (object,)),
        _Function("print", _print, (), variadic_type=object),
        _Function("println", _println, (), variadic_type=object),
        _Function("printf", _printf, (str,), variadic_type=object),
    ]
    return {function.name: function for function in definitions}


_FUNCTIONS = _functions()


# --------------------------------------------------------------------------------------------
# printf: a port of Go's fmt.Sprintf for the values templates handle (string, int, bool, dot)
# --------------------------------------------------------------------------------------------


class _Directive(NamedTuple):
    """One ``%...`` of a format, planned for a known argument count (see _plan_printf)."""

    outcome: str  # "print", "percent", "missing", "bad_index" or "no_verb"
    verb: str
    flags: str = ""  # subset of "#0+- "
    width: int | None = None
    precision: int | None = None
    value_index: int = 0
    width_from: int | None = None  # argument index of a "*" width
    precision_from: int | None = None  # argument index of a "*" precision

    @property
    def is_bare_s(self) -> bool:
        """A plain ``%s``: for a string argument the output is the argument itself."""
        sized = (self.width, self.precision, self.width_from, self.precision_from) != (None,) * 4
        return self.verb == "s" and not self.flags and not sized


class _PlannedFormat(NamedTuple):
    steps: tuple[str | _Directive, ...]
    bare_s_steps: frozenset[int]  # indexes of steps that are a bare %s (the hot path)
    unused_from: int | None  # first argument reported as %!(EXTRA ...); None after "[n]"
    # When every directive is a bare %s consuming the arguments in order, the same format for
    # Python's "%" operator: for string arguments it produces exactly what Go would.
    python_format: str | None


_PRINTF_FLAGS = frozenset("#0+- ")
_ARGUMENT_INDEX = re.compile(r"\[([0-9]+)\]")
_DIGITS = re.compile(r"[0-9]+")


class _PrintfPlanner:
    """Go's doPrintf, run once per (format, argument count): which argument each directive
    prints, and which directives can only ever print an error marker such as ``%!d(MISSING)``.
    """

    def __init__(self, text: str, count: int):
        self.text = text
        self.count = count
        self.i = 0
        self.next_argument = 0
        self.reordered = False  # any "[n]" switches off the %!(EXTRA ...) report, as in Go
        self.index_ok = True
        self.steps: list[str | _Directive] = []

    def plan(self) -> _PlannedFormat:
        text = self.text
        while self.i < len(text):
            percent = text.find("%", self.i)
            if percent < 0:
                self.steps.append(text[self.i :])
                break
            if percent > self.i:
                self.steps.append(text[self.i : percent])
            self.i = percent + 1
            self._directive()
        bare_s_steps = frozenset(
            index
            for index, step in enumerate(self.steps)
            if type(step) is _Directive and step.outcome == "print" and step.is_bare_s
        )
        unused_from = None if self.reordered else self.next_argument
        return _PlannedFormat(tuple(self.steps), bare_s_steps, unused_from, self._python_format(bare_s_steps))

    def _python_format(self, bare_s_steps: frozenset[int]) -> str | None:
        directives = [step for step in self.steps if type(step) is not str]
        uses_all_in_order = [step.value_index for step in directives] == list(range(self.count))
        if self.reordered or len(bare_s_steps) != len(directives) or not uses_all_in_order:
            return None
        return "".join("%s" if type(step) is not str else step.replace("%", "%%") for step in self.steps)

    def _directive(self) -> None:
        flags = self._flags()
        self.index_ok = True
        width, width_from, after_index = self._width(after_index=self._argument_index())
        precision, precision_from, after_index = self._precision(after_index)
        if not after_index:
            self._argument_index()
        if self.i >= len(self.text):
            self.steps.append(_Directive("no_verb", "", width_from=width_from, precision_from=precision_from))
            return
        verb = self.text[self.i]
        self.i += 1
        outcome = self._outcome(verb)
        self.steps.append(
            _Directive(outcome, verb, flags, width, precision, self.next_argument, width_from, precision_from)
        )
        if outcome == "print":
            self.next_argument += 1

    def _flags(self) -> str:
        start = self.i
        while self.i < len(self.text) and self.text[self.i] in _PRINTF_FLAGS:
            self.i += 1
        flags = self.text[start : self.i]
        return flags.replace("0", "") if "-" in flags else flags  # zero padding only on the left

    def _width(self, after_index: bool) -> tuple[int | None, int | None, bool]:
        if self.text.startswith("*", self.i):
            self.i += 1
            return None, self._star_argument("%!(BADWIDTH)"), False
        width = self._number()
        if after_index and width is not None:  # "%[3]2d"
            self.index_ok = False
        return width, None, after_index

    def _precision(self, after_index: bool) -> tuple[int | None, int | None, bool]:
        if not (self.i + 1 < len(self.text) and self.text[self.i] == "."):
            return None, None, after_index
        self.i += 1
        if after_index:  # "%[3].2d"
            self.index_ok = False
        after_index = self._argument_index()
        if self.text.startswith("*", self.i):
            self.i += 1
            return None, self._star_argument("%!(BADPREC)"), False
        return self._number() or 0, None, after_index

    def _star_argument(self, marker_if_missing: str) -> int | None:
        """The argument a ``*`` takes its value from, if there is one left."""
        if self.next_argument < self.count:
            self.next_argument += 1
            return self.next_argument - 1
        self.steps.append(marker_if_missing)
        return None

    def _argument_index(self) -> bool:
        """Go's argNumber: consume an optional ``[n]``; True when one was parsed."""
        text, start = self.text, self.i
        if not text.startswith("[", start):
            return False
        self.reordered = True
        match = _ARGUMENT_INDEX.match(text, start)
        if match is None:
            closing = text.find("]", start)
            self.i = closing + 1 if closing >= 0 and len(text) - start >= 3 else start + 1
            self.index_ok = False
            return False
        self.i = match.end()
        index = int(match.group(1)) - 1
        if 0 <= index < self.count:
            self.next_argument = index
        else:
            self.index_ok = False
        return True

    def _number(self) -> int | None:
        match = _DIGITS.match(self.text, self.i)
        if match is None:
            return None
        self.i = match.end()
        return int(match.group())

    def _outcome(self, verb: str) -> str:
        if verb == "%":
            return "percent"  # absorbs no argument and ignores width and precision
        if not self.index_ok:
            return "bad_index"
        if self.next_argument >= self.count:
            return "missing"
        return "print"


@lru_cache(maxsize=512)
def _plan_printf(format_text: str, count: int) -> _PlannedFormat:
    """Literal text and directives of a format for ``count`` arguments. Only the format and the
    argument count decide which argument each directive prints, so plans are cached.
    """
    return _PrintfPlanner(format_text, count).plan()


def _go_sprintf(format_text: str, values: Sequence[object]) -> str:
    steps, bare_s_steps, unused_from, python_format = _plan_printf(format_text, len(values))
    if python_format is not None and all(type(value) is str for value in values):
        return python_format % tuple(values)  # hot path: the default template's printf calls
    pieces: list[str] = []
    for index, step in enumerate(steps):
        if type(step) is str:
            pieces.append(step)
        elif index in bare_s_steps and type(value := values[step.value_index]) is str:
            pieces.append(value)
        else:
            if step.width_from is not None or step.precision_from is not None:
                step = _apply_star_arguments(step, values, pieces)
            pieces.append(_render_directive(step, values))
    if unused_from is not None and unused_from < len(values):
        unused = ", ".join(f"{_go_type_name(v)}={_format_value('v', v)}" for v in values[unused_from:])
        pieces.append(f"%!(EXTRA {unused})")
    return "".join(pieces)


def _apply_star_arguments(step: _Directive, values: Sequence[object], pieces: list[str]) -> _Directive:
    """Resolve ``*`` width/precision from their (int) arguments, as Go's intFromArg does."""
    flags, width, precision = step.flags, step.width, step.precision
    if step.width_from is not None:
        width = _star_value(values[step.width_from])
        if width is None:
            pieces.append("%!(BADWIDTH)")
        elif width < 0:  # a negative width means left-justify
            width, flags = -width, flags.replace("0", "") + "-"
    if step.precision_from is not None:
        precision = _star_value(values[step.precision_from])
        if precision is None or precision < 0:
            precision = None
            pieces.append("%!(BADPREC)")
    return step._replace(flags=flags, width=width, precision=precision)


def _star_value(value: object) -> int | None:
    if type(value) is not int or abs(value) > 1_000_000:
        return None
    return value


def _render_directive(step: _Directive, values: Sequence[object]) -> str:
    if step.outcome == "print":
        return _format_value(step.verb, values[step.value_index], step)
    if step.outcome == "percent":
        return "%"
    if step.outcome == "no_verb":
        return "%!(NOVERB)"
    reason = "MISSING" if step.outcome == "missing" else "BADINDEX"
    return f"%!{step.verb}({reason})"


_PLAIN = _Directive("print", "v")


def _format_value(verb: str, value: object, directive: _Directive = _PLAIN) -> str:
    """Format one argument for one verb, like Go's printArg."""
    if verb == "v" and ("#" in directive.flags or "+" in directive.flags):
        return _format_v_with_syntax_flags(value, directive)
    text = _format_typed(verb, value, directive)
    if text is None:  # a verb that does not apply to this type
        return f"%!{verb}({_go_type_name(value)}={_format_typed('v', value, directive)})"
    return text


def _format_typed(verb: str, value: object, directive: _Directive) -> str | None:
    """``value`` formatted for ``verb``, or None when the verb does not apply to its type."""
    value_type = type(value)
    if value_type is str:
        return _format_string(verb, value, directive)  # type: ignore[arg-type]
    if value_type is int:
        return _format_integer(verb, value, directive)  # type: ignore[arg-type]
    if value_type is bool:
        return _pad(("true" if value else "false"), directive) if verb in "tv" else None
    return _format_struct(verb, value, directive)  # type: ignore[arg-type]


def _format_v_with_syntax_flags(value: object, directive: _Directive) -> str:
    """``%+v`` names struct fields; ``%#v`` prints Go syntax. For ints neither adds a sign."""
    plain = directive._replace(flags=directive.flags.replace("#", "").replace("+", ""))
    if type(value) is _UsernameMetadata:
        if "#" in directive.flags:
            fields = ", ".join(f"{name}:{_double_quoted(getattr(value, name))}" for name in _TEMPLATE_FIELDS)
            return f"{_METADATA_TYPE_NAME}{{{fields}}}"
        fields = " ".join(
            f"{name}:{_format_value('v', getattr(value, name), plain)}" for name in _TEMPLATE_FIELDS
        )
        return f"{{{fields}}}"
    if type(value) is str and "#" in directive.flags:
        return _pad(go_quote(value), plain)
    return _format_value("v", value, plain)


def _format_struct(verb: str, value: _UsernameMetadata, directive: _Directive) -> str:
    # Go formats each field with the same verb and flags.
    fields = " ".join(_format_value(verb, getattr(value, name), directive) for name in _TEMPLATE_FIELDS)
    return f"{{{fields}}}"


def _format_string(verb: str, value: str, directive: _Directive) -> str | None:
    if verb in "sv":
        if directive.precision is not None:
            value = value[: directive.precision]
        return value if directive.width is None else _pad(value, directive)
    if verb == "q":
        if directive.precision is not None:
            value = value[: directive.precision]
        return _pad(_quote_string(value, directive.flags), directive)
    if verb in "xX":
        return _pad(_hex_bytes(value.encode()[: directive.precision], verb, directive.flags), directive)
    return None


def _quote_string(value: str, flags: str) -> str:
    """%q: a Go double-quoted string; "#" prefers a `raw` string, "+" escapes all non-ASCII."""
    if "#" in flags and _can_backquote(value):
        return f"`{value}`"
    return go_quote(value, ascii_only="+" in flags)


def _can_backquote(value: str) -> bool:
    return all(c == "\t" or (c.isprintable() and c not in "`\ufeff") for c in value)


def _hex_bytes(data: bytes, verb: str, flags: str) -> str:
    prefix = ("0X" if verb == "X" else "0x") if "#" in flags else ""
    digits = [f"{byte:02X}" if verb == "X" else f"{byte:02x}" for byte in data]
    if " " in flags:  # "% x": each byte separately, each with its own prefix
        return " ".join(prefix + pair for pair in digits)
    return prefix + "".join(digits) if digits else ""


_INTEGER_FORMATS = {"d": "d", "v": "d", "x": "x", "X": "X", "o": "o", "O": "o", "b": "b"}
_INTEGER_PREFIXES = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}


def _format_integer(verb: str, value: int, directive: _Directive) -> str | None:
    if verb in "cqU":
        return _pad(_format_code_point(verb, value), directive)
    spec = _INTEGER_FORMATS.get(verb)
    if spec is None:
        return None
    flags, width, precision = directive.flags, directive.width, directive.precision
    if precision == 0 and value == 0:  # Go prints nothing but the padding
        return " " * (width or 0)
    digits = format(abs(value), spec)
    sign = "-" if value < 0 else "+" if "+" in flags else " " if " " in flags else ""
    if precision is not None:
        digits = digits.rjust(precision, "0")
    elif "0" in flags and width is not None:
        # Go fills to the width minus the sign only; a "#" prefix comes on top of that.
        digits = digits.rjust(width - len(sign), "0")
    prefix = "0o" if verb == "O" else _INTEGER_PREFIXES.get(verb, "") if "#" in flags else ""
    return _pad(sign + prefix + digits, directive._replace(flags=flags.replace("0", "")))


def _format_code_point(verb: str, value: int) -> str:
    character = chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else "\ufffd"
    if verb == "c":
        return character
    if verb == "q":
        return go_quote(character, "'")
    return f"U+{value:04X}"


def _pad(text: str, directive: _Directive) -> str:
    """Pad to the width (in characters): spaces, or zeros on the left with the "0" flag."""
    width = directive.width
    if width is None or len(text) >= width:
        return text
    if "-" in directive.flags:
        return text.ljust(width)
    return text.rjust(width, "0" if "0" in directive.flags else " ")


def _double_quoted(text: str) -> str:
    return go_quote(text)


# --------------------------------------------------------------------------------------------
# timestamp: Go reference-time layouts
# --------------------------------------------------------------------------------------------

_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# In datetime.weekday() order.
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Zone chunks, longest first as Go matches them. The clock is UTC, so every offset is zero and
# the ISO-8601 "Z" forms print a plain "Z".
_ZONE_CHUNKS = {
    "-070000": "+000000",
    "-07:00:00": "+00:00:00",
    "-0700": "+0000",
    "-07:00": "+00:00",
    "-07": "+00",
    "Z070000": "Z",
    "Z07:00:00": "Z",
    "Z0700": "Z",
    "Z07:00": "Z",
    "Z07": "Z",
}


class _FractionChunk(NamedTuple):
    separator: str  # "." or ","
    digits: int
    trim_zeros: bool  # ".999" drops trailing zeros (and the separator if nothing is left)


class _Literal(str):
    """Literal layout text, distinguishable from an element name such as "2006"."""


def _printing(text: str) -> Callable[[datetime], str]:
    return lambda moment: text


def _hour12(moment: datetime) -> int:
    return moment.hour % 12 or 12


# Each Go layout element and how it prints a UTC datetime.
_TIME_ELEMENTS: dict[str, Callable[[datetime], str]] = {
    "January": lambda m: _MONTH_NAMES[m.month - 1],
    "Jan": lambda m: _MONTH_NAMES[m.month - 1][:3],
    "Monday": lambda m: _WEEKDAY_NAMES[m.weekday()],
    "Mon": lambda m: _WEEKDAY_NAMES[m.weekday()][:3],
    "MST": _printing("UTC"),
    "2006": lambda m: f"{m.year:04d}",
    "002": lambda m: f"{m.timetuple().tm_yday:03d}",
    "__2": lambda m: f"{m.timetuple().tm_yday:3d}",
    "_2": lambda m: f"{m.day:2d}",
    "15": lambda m: f"{m.hour:02d}",
    "PM": lambda m: "PM" if m.hour >= 12 else "AM",
    "pm": lambda m: "pm" if m.hour >= 12 else "am",
    "01": lambda m: f"{m.month:02d}",
    "02": lambda m: f"{m.day:02d}",
    "03": lambda m: f"{_hour12(m):02d}",
    "04": lambda m: f"{m.minute:02d}",
    "05": lambda m: f"{m.second:02d}",
    "06": lambda m: f"{m.year % 100:02d}",
    "1": lambda m: str(m.month),
    "2": lambda m: str(m.day),
    "3": lambda m: str(_hour12(m)),
    "4": lambda m: str(m.minute),
    "5": lambda m: str(m.second),
    **{zone: _printing(printed) for zone, printed in _ZONE_CHUNKS.items()},
}
# Go's matching order (time.nextStdChunk): zones and long names before their prefixes, "2006"
# before "2", "15" before "1", "_2006" is a literal "_" followed by the year.
_LAYOUT_ELEMENT = re.compile(
    "|".join(re.escape(element) for element in sorted(_TIME_ELEMENTS, key=len, reverse=True))
)
_FRACTION = re.compile(r"([.,])(0+|9+)(?![0-9])")


def _layout_element_at(layout: str, index: int) -> tuple[str | _FractionChunk | None, int]:
    """The Go layout element starting at ``index`` and its length; (None, 1) for literal text."""
    fraction = _FRACTION.match(layout, index)
    if fraction:
        separator, digits = fraction.groups()
        return _FractionChunk(separator, len(digits), digits[0] == "9"), fraction.end() - index
    if layout.startswith("_2006", index):
        return None, 1
    element = _LAYOUT_ELEMENT.match(layout, index)
    if element:
        return element.group(), element.end() - index
    return None, 1


@lru_cache(maxsize=64)
def _parse_layout(layout: str) -> tuple[str | _FractionChunk, ...]:
    """Split a Go time layout into literal text and elements, once per distinct layout."""
    parts: list[str | _FractionChunk] = []
    literal_start = index = 0
    while index < len(layout):
        element, length = _layout_element_at(layout, index)
        if element is None:
            index += length
            continue
        if index > literal_start:
            parts.append(_Literal(layout[literal_start:index]))
        parts.append(element)
        index += length
        literal_start = index
    if literal_start < len(layout):
        parts.append(_Literal(layout[literal_start:]))
    return tuple(parts)


def _format_go_time(now_ns: int, layout: str) -> str:
    seconds, nanoseconds = divmod(now_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    pieces = []
    for part in _parse_layout(layout):
        if type(part) is _Literal:
            pieces.append(part)
        elif type(part) is _FractionChunk:
            pieces.append(_format_fraction(part, nanoseconds))
        else:
            pieces.append(_TIME_ELEMENTS[part](moment))
    return "".join(pieces)


def _format_fraction(chunk: _FractionChunk, nanoseconds: int) -> str:
    digits = f"{nanoseconds:09d}"[: chunk.digits]
    if chunk.trim_zeros:
        digits = digits.rstrip("0")
        if not digits:
            return ""
    return chunk.separator + digits


# --------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str
    text: str  # source text; for TEXT the text left after trimming
    position: int  # offset in the template source
    value: object = None  # decoded value of STRING / NUMBER / BOOL tokens


class _ParseError(Exception):
    def __init__(self, position: int, message: str):
        super().__init__(message)
        self.position = position
        self.message = message


_SPACE_CHARACTERS = " \t\r\n"
_KEYWORDS = frozenset(
    {"if", "else", "end", "with", "range", "define", "template", "block", "break", "continue", "nil"}
)
_ACTION_TOKEN = re.compile(
    r"""
      (?P<SPACE>[ \t\r\n]+)
    | (?P<PIPE>\|)
    | (?P<LPAREN>\()
    | (?P<RPAREN>\))
    | (?P<STRING>"(?:[^"\\\n]|\\[^\n])*")
    | (?P<RAW_STRING>`[^`]*`)
    | (?P<CHAR>'(?:[^'\\\n]|\\[^\n])*')
    | (?P<NUMBER>[+-]?\.?[0-9](?:[eEpP][+-]|[\w.])*)
    | (?P<FIELD>(?:\.\w+)+)
    | (?P<DOT>\.)
    | (?P<WORD>[^\W\d]\w*)
    | (?P<VARIABLE>\$\w*)
    | (?P<UNTERMINATED>["'`])
    | (?P<PUNCTUATION>[!-~])
    """,
    re.VERBOSE,
)
_UNTERMINATED_LITERALS = {'"': "quoted string", "`": "raw quoted string", "'": "character constant"}


def _is_space(source: str, position: int) -> bool:
    return position < len(source) and source[position] in _SPACE_CHARACTERS


def _has_left_trim_marker(source: str, position: int) -> bool:
    """``{{- `` trims the text before it: a dash right after ``{{``, then whitespace."""
    return source.startswith("-", position) and _is_space(source, position + 1)


def _right_delimiter_at(source: str, position: int) -> tuple[int, bool] | None:
    """(length, trims following text) of a ``}}`` or `` -}}`` delimiter at ``position``."""
    if source.startswith("}}", position):
        return 2, False
    if _is_space(source, position) and source.startswith("-}}", position + 1):
        return 4, True
    return None


class _Lexer:
    """Turns template source into tokens; trim markers and comments are resolved here."""

    def __init__(self, source: str):
        self.source = source
        self.tokens: list[_Token] = []

    def tokenize(self) -> list[_Token]:
        position, trim_leading_space = 0, False
        while True:
            action_start = self.source.find("{{", position)
            text = self.source[position : len(self.source) if action_start < 0 else action_start]
            if trim_leading_space:
                text = text.lstrip(_SPACE_CHARACTERS)
            if action_start >= 0 and _has_left_trim_marker(self.source, action_start + 2):
                text = text.rstrip(_SPACE_CHARACTERS)
            if text:
                self.tokens.append(_Token("TEXT", text, position))
            if action_start < 0:
                self.tokens.append(_Token("EOF", "", len(self.source)))
                return self.tokens
            position, trim_leading_space = self._lex_action(action_start)

    def _lex_action(self, start: int) -> tuple[int, bool]:
        """Lex one ``{{ ... }}``; returns where the following text starts and whether it is trimmed."""
        position = start + 2
        if _has_left_trim_marker(self.source, position):
            position += 2
        if self.source.startswith("/*", position):
            return self._skip_comment(position)
        self.tokens.append(_Token("LEFT", "{{", start))
        paren_depth = 0
        while (delimiter := _right_delimiter_at(self.source, position)) is None:
            token = self._lex_action_token(position)
            paren_depth += {"LPAREN": 1, "RPAREN": -1}.get(token.kind, 0)
            if paren_depth < 0:
                raise _ParseError(position, "unexpected right paren")
            self.tokens.append(token)
            position += len(token.text)
        if paren_depth:
            raise _ParseError(position, "unclosed left paren")
        self.tokens.append(_Token("RIGHT", "}}", position))
        length, trims = delimiter
        return position + length, trims

    def _skip_comment(self, position: int) -> tuple[int, bool]:
        comment_end = self.source.find("*/", position + 2)
        if comment_end < 0:
            raise _ParseError(position, "unclosed comment")
        delimiter = _right_delimiter_at(self.source, comment_end + 2)
        if delimiter is None:
            raise _ParseError(comment_end, "comment ends before closing delimiter")
        length, trims = delimiter
        return comment_end + 2 + length, trims

    def _lex_action_token(self, position: int) -> _Token:
        if position >= len(self.source):
            raise _ParseError(position, "unclosed action")
        match = _ACTION_TOKEN.match(self.source, position)
        if match is None:
            character = self.source[position]
            raise _ParseError(position, f"unrecognized character in action: {_go_rune(character)}")
        kind, text = match.lastgroup or "", match.group()
        if kind == "SPACE" and self.source.startswith("-}}", match.end()):
            text = text[:-1]  # the last space belongs to the " -}}" that follows
        return _classify_token(kind, text, position)


def _classify_token(kind: str, text: str, position: int) -> _Token:
    """Refine a raw lexeme into a token, decoding literals and rejecting unsupported syntax."""
    if kind == "UNTERMINATED":
        raise _ParseError(position, f"unterminated {_UNTERMINATED_LITERALS[text]}")
    if kind == "VARIABLE":
        raise _ParseError(position, f"variables are not supported in username templates: {text}")
    if kind == "WORD":
        if text in ("true", "false"):
            return _Token("BOOL", text, position, text == "true")
        return _Token("KEYWORD" if text in _KEYWORDS else "IDENTIFIER", text, position)
    if kind in ("STRING", "RAW_STRING"):
        return _Token("STRING", text, position, _unquote_go_string(text, position))
    if kind == "CHAR":
        return _Token("NUMBER", text, position, _unquote_go_character(text, position))
    if kind == "NUMBER":
        return _Token("NUMBER", text, position, _parse_go_integer(text, position))
    return _Token(kind, text, position)


def _go_rune(character: str) -> str:
    """Go's %#U: U+0023 '#'."""
    shown = f" '{character}'" if character.isprintable() else ""
    return f"U+{ord(character):04X}{shown}"


_GO_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"])|([0-7]{3})|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.?))", re.S
)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unquote_go_string(text: str, position: int) -> str:
    """Decode a Go string literal: "..." with escapes, or `raw` (taken as is)."""
    if text.startswith("`"):
        return text[1:-1].replace("\r", "")  # Go drops carriage returns from raw strings
    return _decode_go_escapes(text[1:-1], '"', text, position)


def _unquote_go_character(text: str, position: int) -> int:
    """A Go character constant such as 'a' or '\\n' is an integer: the code point."""
    decoded = _decode_go_escapes(text[1:-1], "'", text, position)
    if len(decoded) != 1:
        raise _ParseError(position, f"malformed character constant: {text}")
    return ord(decoded)


def _decode_go_escapes(body: str, quote: str, literal: str, position: int) -> str:
    # \x and octal escapes are raw bytes in Go, so build bytes; invalid UTF-8 then becomes U+FFFD.
    decoded = bytearray()
    index = 0
    for match in _GO_ESCAPE.finditer(body):
        decoded += body[index : match.start()].encode()
        escaped = _decode_one_escape(match, quote)
        if escaped is None:
            raise _ParseError(position, f"invalid syntax in quoted literal {literal}")
        decoded += escaped
        index = match.end()
    decoded += body[index:].encode()
    return decoded.decode("utf-8", errors="replace")


def _decode_one_escape(match: re.Match[str], quote: str) -> bytes | None:
    """The bytes one backslash escape stands for, or None when Go would reject it."""
    simple, octal, hex_byte, short_unicode, long_unicode = match.groups()[:5]
    if simple is not None:
        if simple in "'\"" and simple != quote:
            return None  # Go allows \' only in character constants and \" only in strings
        return _SIMPLE_ESCAPES.get(simple, simple).encode()
    if octal is not None:
        return bytes([int(octal, 8)]) if int(octal, 8) <= 0xFF else None
    if hex_byte is not None:
        return bytes([int(hex_byte, 16)])
    if short_unicode or long_unicode:
        code_point = int(short_unicode or long_unicode, 16)
        if code_point <= 0x10FFFF and not 0xD800 <= code_point <= 0xDFFF:
            return chr(code_point).encode()
    return None


_LEGACY_OCTAL = re.compile(r"[+-]?0_?[0-7](?:_?[0-7])*")


def _parse_go_integer(text: str, position: int) -> int:
    """A Go integer constant: decimal, 0x hex, 0o or legacy 0 octal, 0b binary, _ separators."""
    try:
        return int(text, 8) if _LEGACY_OCTAL.fullmatch(text) else int(text, 0)
    except ValueError:
        pass
    digits = text.lstrip("+-").lower()
    exponent = "p" if digits.startswith("0x") else "e"
    if "." in digits or exponent in digits or digits.endswith("i"):
        raise _ParseError(position, f"floating-point and complex constants are not supported: {text}")
    raise _ParseError(position, f'bad number syntax: "{text}"')


# --------------------------------------------------------------------------------------------
# Syntax tree: built once per template, then executed for every render
# --------------------------------------------------------------------------------------------


class _Scope:
    """Per-render state: the current dot and the one clock reading all time functions share."""

    __slots__ = ("dot", "now_ns")

    def __init__(self, dot: object, now_ns: int):
        self.dot = dot
        self.now_ns = now_ns


class _ExecutionError(Exception):
    def __init__(self, node: _Located, message: str):
        super().__init__(message)
        self.node = node
        self.message = message


class _Located:
    """A node Go would name in an execution error: "template:1:23: ... at <truncate 32>: ..."."""

    __slots__ = ("position", "description")

    def __init__(self, position: int, description: str):
        self.position = position
        self.description = description

    def fail(self, message: str) -> _ExecutionError:
        return _ExecutionError(self, message)


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value: object):
        self.value = value

    def evaluate(self, scope: _Scope) -> object:
        return self.value


class _Dot:
    __slots__ = ()

    def evaluate(self, scope: _Scope) -> object:
        return scope.dot


class _Field(_Located):
    __slots__ = ("name",)

    def __init__(self, name: str, position: int, description: str):
        super().__init__(position, description)
        self.name = name

    def evaluate(self, scope: _Scope) -> object:
        dot = scope.dot
        if type(dot) is not _UsernameMetadata:  # inside {{ with }} the dot can be a plain value
            raise self.fail(f"can't evaluate field {self.name} in type {_go_type_name(dot)}")
        return getattr(dot, self.name)


class _Call(_Located):
    """A function call. ``apply`` appends the value piped in from the previous command, if any."""

    __slots__ = ("name", "evaluators", "type_checks", "implementation", "uses_clock")

    def __init__(self, function: _Function, arguments: tuple, type_checks: tuple, command: _Located):
        super().__init__(command.position, command.description)
        self.name = function.name
        self.evaluators = tuple(argument.evaluate for argument in arguments)  # bound once, see _Pipeline
        # (argument index, required Go type, node to blame) for the non-literal arguments whose
        # parameter is an int or a string; literals were checked when compiling.
        self.type_checks = type_checks
        self.implementation = function.implementation
        self.uses_clock = function.uses_clock

    def evaluate(self, scope: _Scope) -> object:
        return self.apply(scope, ())

    def apply(self, scope: _Scope, piped: tuple) -> object:
        values = [evaluate(scope) for evaluate in self.evaluators]
        values += piped
        for index, expected, anchor in self.type_checks:
            if type(values[index]) is not expected:
                raise anchor.fail(
                    f"wrong type for value; expected {_GO_TYPE_NAMES[expected]}; "
                    f"got {_go_type_name(values[index])}"
                )
        try:
            if self.uses_clock:
                return self.implementation(scope.now_ns, *values)
            return self.implementation(*values)
        except _CallFailure as failure:
            raise self.fail(f"error calling {self.name}: {failure}") from None


class _ShortCircuitCall(_Located):
    """``and`` / ``or``: arguments are evaluated left to right only until the result is known."""

    __slots__ = ("arguments", "stop_when_true")

    def __init__(self, is_or: bool, arguments: tuple, command: _Located):
        super().__init__(command.position, command.description)
        self.arguments = arguments
        self.stop_when_true = is_or  # "or" stops at the first true value, "and" at the first false

    def evaluate(self, scope: _Scope) -> object:
        return self.apply(scope, ())

    def apply(self, scope: _Scope, piped: tuple) -> object:
        value: object = None
        for argument in self.arguments:
            value = argument.evaluate(scope)
            if _is_true(value) is self.stop_when_true:
                return value
        # A piped value is the last argument (already evaluated), and the last argument decides.
        return piped[0] if piped else value


class _Pipeline:
    """``first | stage | stage ...``: each stage gets the previous result as its last argument."""

    __slots__ = ("evaluate_first", "apply_stages")

    def __init__(self, first: _Evaluable, stages: tuple[_Call | _ShortCircuitCall, ...]):
        # Bound methods, looked up once: rendering is on the hot path of every credential issue.
        self.evaluate_first = first.evaluate
        self.apply_stages = tuple(stage.apply for stage in stages)

    def evaluate(self, scope: _Scope) -> object:
        value = self.evaluate_first(scope)
        for apply in self.apply_stages:
            value = apply(scope, (value,))
        return value


_Evaluable = _Constant | _Dot | _Field | _Call | _ShortCircuitCall | _Pipeline


class _Text:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def execute(self, scope: _Scope, output: list[str]) -> None:
        output.append(self.text)


class _Action:
    """``{{ pipeline }}``: writes the pipeline's value."""

    __slots__ = ("pipeline",)

    def __init__(self, pipeline: _Evaluable):
        self.pipeline = pipeline

    def execute(self, scope: _Scope, output: list[str]) -> None:
        output.append(_print_value(self.pipeline.evaluate(scope)))


class _Conditional:
    """``{{ if }}`` and ``{{ with }}``; ``with`` also makes the tested value the dot of its body."""

    __slots__ = ("pipeline", "body", "else_body", "rebinds_dot")

    def __init__(self, keyword: str, pipeline: _Evaluable, body: tuple, else_body: tuple):
        self.pipeline = pipeline
        self.body = body
        self.else_body = else_body
        self.rebinds_dot = keyword == "with"

    def execute(self, scope: _Scope, output: list[str]) -> None:
        value = self.pipeline.evaluate(scope)
        if not _is_true(value):
            branch = self.else_body
        else:
            branch = self.body
            if self.rebinds_dot:
                scope = _Scope(value, scope.now_ns)
        for node in branch:
            node.execute(scope, output)


_Node = _Text | _Action | _Conditional


# --------------------------------------------------------------------------------------------
# Parser (mirrors text/template/parse so that errors read like Go's)
# --------------------------------------------------------------------------------------------


class _Operand(NamedTuple):
    node: _Evaluable | _Function  # a _Function is a bare name: a call, with or without arguments
    description: str  # how Go prints the operand in execution errors
    position: int
    anchor: _Located  # where Go reports a wrongly typed value produced by this operand


_OPERAND_KINDS = frozenset({"BOOL", "DOT", "FIELD", "IDENTIFIER", "NUMBER", "STRING", "LPAREN", "KEYWORD"})


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.index = 0

    # -- token access -------------------------------------------------------------------------

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _skip_spaces(self) -> None:
        while self.tokens[self.index].kind == "SPACE":
            self.index += 1

    def _next_non_space(self) -> _Token:
        self._skip_spaces()
        return self._next()

    def _peek_non_space(self) -> _Token:
        self._skip_spaces()
        return self.tokens[self.index]

    def _expect_right_delimiter(self, context: str) -> None:
        token = self._next_non_space()
        if token.kind != "RIGHT":
            raise _unexpected(token, context)

    # -- lists and control structures ----------------------------------------------------------

    def parse(self) -> tuple[_Node, ...]:
        nodes, terminator = self._parse_list()
        if terminator is not None:
            raise _ParseError(terminator.position, f"unexpected {{{{{terminator.text}}}}}")
        return nodes

    def _parse_list(self) -> tuple[tuple[_Node, ...], _Token | None]:
        """Nodes up to EOF (terminator None), or up to an ``{{else`` / ``{{end}}`` (returned)."""
        nodes: list[_Node] = []
        while (token := self._next()).kind != "EOF":
            if token.kind == "TEXT":
                nodes.append(_Text(token.text))
                continue
            keyword = self._peek_non_space()
            if keyword.kind != "KEYWORD" or keyword.text == "nil":
                nodes.append(_Action(self._parse_pipeline("command", end_kind="RIGHT")[0]))
                continue
            self.index += 1
            if keyword.text in ("else", "end"):
                if keyword.text == "end":
                    self._expect_right_delimiter("end")
                return tuple(nodes), keyword
            if keyword.text not in ("if", "with"):
                unsupported = f"{{{{{keyword.text}}}}} is not supported in username templates"
                raise _ParseError(keyword.position, unsupported)
            nodes.append(self._parse_conditional(keyword.text))
        return tuple(nodes), None

    def _parse_conditional(self, keyword: str) -> _Conditional:
        pipeline = self._parse_pipeline(keyword, end_kind="RIGHT")[0]
        body, terminator = self._parse_list()
        if terminator is None:
            raise _ParseError(self.tokens[-1].position, "unexpected EOF")
        else_body: tuple[_Node, ...] = ()
        if terminator.text == "else":
            chained = self._peek_non_space()
            if chained.kind == "KEYWORD" and chained.text == keyword:
                # "{{else if x}}" means "{{else}}{{if x}}...{{end}}{{end}}", sharing one {{end}}.
                self.index += 1
                else_body = (self._parse_conditional(keyword),)
            else:
                self._expect_right_delimiter("input")  # Go's wording for "{{else with}}" after "if"
                else_body = self._parse_else_body()
        return _Conditional(keyword, pipeline, body, else_body)

    def _parse_else_body(self) -> tuple[_Node, ...]:
        body, terminator = self._parse_list()
        if terminator is None:
            raise _ParseError(self.tokens[-1].position, "unexpected EOF")
        if terminator.text != "end":
            raise _ParseError(terminator.position, "expected end; found {{else}}")
        return body

    # -- pipelines, commands and operands ------------------------------------------------------

    def _parse_pipeline(self, context: str, end_kind: str) -> tuple[_Evaluable, str, _Located]:
        """A pipeline up to and including ``end_kind``: (pipeline, Go text, error anchor)."""
        commands: list[list[_Operand]] = []
        while (token := self._next_non_space()).kind != end_kind:
            if token.kind not in _OPERAND_KINDS:
                raise _unexpected(token, context)
            self.index -= 1
            commands.append(self._parse_command())
        if not commands:
            raise _ParseError(token.position, f"missing value for {context}")
        built = [_build_command(operands, stage) for stage, operands in enumerate(commands, start=1)]
        first, *later = [node for node, _ in built]
        description = " | ".join(_describe(operands) for operands in commands)
        # A one-command pipeline such as "(unix_time)" is just that command: skip the wrapper.
        pipeline = _Pipeline(first, tuple(later)) if later else first  # type: ignore[arg-type]
        return pipeline, description, built[-1][1]

    def _parse_command(self) -> list[_Operand]:
        """Space-separated operands up to a ``|`` (consumed), ``)`` or ``}}`` (left in place)."""
        operands: list[_Operand] = []
        while True:
            self._skip_spaces()
            if self.tokens[self.index].kind in _OPERAND_KINDS:
                operands.append(self._parse_operand(self._next()))
            token = self._next()
            if token.kind == "SPACE":
                continue
            if token.kind in ("RIGHT", "RPAREN"):
                self.index -= 1
            elif token.kind != "PIPE":
                raise _unexpected(token, "operand")
            if not operands:
                raise _ParseError(token.position, "empty command")
            return operands

    def _parse_operand(self, token: _Token) -> _Operand:
        kind, text, position = token.kind, token.text, token.position
        here = _Located(position, text)
        if kind == "IDENTIFIER":
            function = _FUNCTIONS.get(text)
            if function is None:
                raise _ParseError(position, f'function "{text}" not defined')
            return _Operand(function, text, position, here)
        if kind in ("STRING", "NUMBER", "BOOL"):
            return _Operand(_Constant(token.value), text, position, here)
        if kind == "DOT":
            return _Operand(_Dot(), text, position, here)
        if kind == "FIELD":
            field = _field(token)
            return _Operand(field, text, position, field)
        if kind == "LPAREN":
            pipeline, description, anchor = self._parse_pipeline("parenthesized pipeline", end_kind="RPAREN")
            if self.tokens[self.index].kind == "FIELD":
                raise _ParseError(self.tokens[self.index].position, "field access on (...) is not supported")
            return _Operand(pipeline, f"({description})", position, anchor)
        if text == "nil":
            raise _ParseError(position, "nil is not supported in username templates")
        raise _unexpected(token, "operand")


def _unexpected(token: _Token, context: str) -> _ParseError:
    if token.kind == "EOF":
        shown = "EOF"
    elif token.kind == "KEYWORD":
        shown = f"<{token.text}>"
    else:
        shown = f'"{token.text}"'
    return _ParseError(token.position, f"unexpected {shown} in {context}")


def _describe(operands: list[_Operand]) -> str:
    return " ".join(operand.description for operand in operands)


def _field(token: _Token) -> _Field:
    # Every UsernameMetadata field is a string and strings have no fields, so anything other
    # than one known name can never evaluate. Go would only notice when executing.
    names = token.text[1:].split(".")
    if names[0] not in _TEMPLATE_FIELDS:
        raise _ParseError(token.position, f"can't evaluate field {names[0]} in type {_METADATA_TYPE_NAME}")
    if len(names) > 1:
        raise _ParseError(token.position, f"can't evaluate field {names[1]} in type string")
    return _Field(names[0], token.position, token.text)


def _build_command(operands: list[_Operand], stage: int) -> tuple[_Evaluable, _Located]:
    """Stage ``stage`` (1-based) of a pipeline: the node and its error anchor."""
    head, receives_piped = operands[0], stage > 1
    if isinstance(head.node, _Function):
        arguments = operands[1:]
        # Go reports a wrongly typed piped value at the last node it visited for this command.
        anchor = arguments[-1].anchor if arguments else head.anchor
        command = _Located(head.position, _describe(operands))
        return _call(head.node, arguments, receives_piped, command, anchor), anchor
    if receives_piped and isinstance(head.node, (_Constant, _Dot)):
        raise _ParseError(head.position, f"non executable command in pipeline stage {stage}")
    if isinstance(head.node, _Field) and (receives_piped or len(operands) > 1):
        raise _ParseError(head.position, f"{head.node.name} has arguments but cannot be invoked as function")
    if receives_piped or len(operands) > 1:
        raise _ParseError(head.position, f"can't give argument to non-function {head.description}")
    return head.node, head.anchor  # type: ignore[return-value]


def _argument(operand: _Operand) -> _Evaluable:
    if isinstance(operand.node, _Function):  # a bare function name as an argument is a call
        return _call(operand.node, [], False, operand.anchor, operand.anchor)
    return operand.node


def _call(
    function: _Function, arguments: list[_Operand], receives_piped: bool, command: _Located, anchor: _Located
) -> _Call | _ShortCircuitCall:
    argument_count = len(arguments) + receives_piped
    arity_problem = function.check_argument_count(argument_count)
    if arity_problem:
        raise _ParseError(command.position, arity_problem)
    nodes = tuple(_argument(operand) for operand in arguments)
    if function.name in ("and", "or"):
        return _ShortCircuitCall(function.name == "or", nodes, command)
    type_checks = []
    for index in range(argument_count):
        expected = function.parameter_type(index)
        if expected is object:
            continue
        if index == len(arguments):  # the piped value
            type_checks.append((index, expected, anchor))
        elif isinstance(arguments[index].node, _Constant):
            _check_constant_type(arguments[index], expected)
        else:
            type_checks.append((index, expected, arguments[index].anchor))
    return _Call(function, nodes, tuple(type_checks), command)


def _check_constant_type(operand: _Operand, expected: type) -> None:
    """A literal of the wrong type can never work, so reject it now (Go: when executed)."""
    if type(operand.node.value) is not expected:  # type: ignore[union-attr]
        wanted = "integer" if expected is int else "string"
        raise _ParseError(operand.position, f"expected {wanted}; found {operand.description}")


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _line_of(source: str, position: int) -> int:
    return source.count("\n", 0, position) + 1


def _column_of(source: str, position: int) -> int:
    """Go's 0-based byte offset within the line, as used in "template:1:23" locations."""
    line_start = source.rfind("\n", 0, position) + 1
    return len(source[line_start:position].encode())


class UsernameTemplate:
    """A compiled username template; immutable and safe to share between threads."""

    __slots__ = ("source", "_nodes")

    def __init__(self, source: str, nodes: tuple):
        self.source = source
        self._nodes = nodes

    def __repr__(self) -> str:
        return f"UsernameTemplate({self.source!r})"

    def render(self, *, type: str, display_name: str, policy_name: str, now: float | None = None) -> str:
        """Render with ``.Type``, ``.DisplayName`` and ``.PolicyName`` bound as given (no normalising).

        ``now`` (epoch seconds) fixes the clock for unix_time/unix_time_millis/timestamp; every
        time function in one render sees the same instant.
        """
        now_ns = time.time_ns() if now is None else round(now * 1_000_000) * 1_000
        scope = _Scope(_UsernameMetadata(type, display_name, policy_name), now_ns)
        output: list[str] = []
        try:
            for node in self._nodes:
                node.execute(scope, output)
        except _ExecutionError as error:
            raise TemplateError(self._describe_execution_error(error)) from None
        return "".join(output)

    def _describe_execution_error(self, error: _ExecutionError) -> str:
        node = error.node
        location = f"{_line_of(self.source, node.position)}:{_column_of(self.source, node.position)}"
        return (
            f"{_EXECUTION_ERROR_PREFIX}template: {_TEMPLATE_NAME}:{location}: "
            f'executing "{_TEMPLATE_NAME}" at <{node.description}>: {error.message}'
        )


@lru_cache(maxsize=256)
def compile_template(text: str) -> UsernameTemplate:
    """Parse a username template once; results are cached by template text.

    Raises TemplateError for syntax errors, unknown functions or fields, and wrong argument
    counts, with Vault's wording, e.g. ``unable to initialize username template: unable to
    parse template: template: template:1: function "nope" not defined``.
    """
    if not text:
        raise TemplateError("unable to initialize username template: missing template")
    try:
        nodes = _Parser(_Lexer(text).tokenize()).parse()
    except _ParseError as error:
        location = f"{_TEMPLATE_NAME}:{_line_of(text, error.position)}"
        raise TemplateError(f"{_PARSE_ERROR_PREFIX}template: {location}: {error.message}") from None
    return UsernameTemplate(text, nodes)


_DISALLOWED_NAME_CHARACTERS = re.compile(r"[^a-zA-Z0-9+=,.@_-]")


def normalize_display_name(name: str) -> str:
    """Replace every character IAM does not allow in names with "_" (Vault's normalizeDisplayName)."""
    return _DISALLOWED_NAME_CHARACTERS.sub("_", name)


def render_username(template_text: str, *, type: str, display_name: str, policy_name: str) -> str:
    """Render an IAM user / session name ("IAM") or a federation token name ("STS") as Vault does.

    An empty template means DEFAULT_USERNAME_TEMPLATE (Vault's callers substitute it). Names are
    normalised first. As in Vault's genUsername, STS templates see empty ``.DisplayName`` and
    ``.PolicyName``. Raises TemplateError when the template is invalid or fails, and
    UsernameTooLong when the result exceeds the AWS limit for its kind (counted in bytes, as Go).
    """
    limit = _USERNAME_LENGTH_LIMITS.get(type)
    if limit is None:
        raise ValueError(f"unknown username type {type!r}; expected 'IAM' or 'STS'")
    template = compile_template(template_text or DEFAULT_USERNAME_TEMPLATE)
    if type == "STS":
        display_name = policy_name = ""
    username = template.render(
        type=type,
        display_name=normalize_display_name(display_name),
        policy_name=normalize_display_name(policy_name),
    )
    if len(username.encode()) > limit:
        raise UsernameTooLong(
            "the username generated by the template exceeds the "
            f"{type} username length limits of {limit} chars"
        )
    return username
