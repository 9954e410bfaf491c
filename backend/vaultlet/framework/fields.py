"""Field declarations: the wire types Vault accepts, as JSON Schema plus coercion.

A field's JSON Schema describes what a client may send (Vault is lenient: the
CLI sends every value as a string, hvac sends native JSON types), and the
coercion turns an accepted value into the Python value handlers work with.
Both come from the same declaration, and so does the OpenAPI document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vaultlet.durations import DURATION_PATTERN, DurationError, parse_duration


class CoercionError(ValueError):
    pass


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_INT64 = range(-(2**63), 2**63)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise CoercionError(f"cannot parse {value!r} as an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise CoercionError(f"cannot parse {value!r} as an integer")
        return _int64(int(value))
    if isinstance(value, int):
        return _int64(value)
    try:
        parsed = int(str(value).strip())
    except ValueError:
        raise CoercionError(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
    return _int64(parsed)


def _int64(value: int) -> int:
    """Vault's ints are Go's int (64 bits); a larger number is out of range, not clamped."""
    if value not in _INT64:
        raise CoercionError(f'strconv.ParseInt: parsing "{str(value)[:40]}": value out of range')
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value).strip()
    if text in _TRUE:
        return True
    if text in _FALSE or text == "":
        return False
    raise CoercionError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _to_duration(value: Any) -> int:
    try:
        seconds = parse_duration(value)
    except DurationError as error:
        raise CoercionError(str(error)) from None
    if seconds < 0:
        raise CoercionError(f"duration {value!r} must not be negative")
    return seconds


def _to_comma_list(value: Any) -> list[str]:
    items = [_to_string(v) for v in value] if isinstance(value, list) else _to_string(value).split(",")
    return [item.strip() for item in items if item.strip()]


def _to_string_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_to_string(v) for v in value]
    text = _to_string(value)
    return [text] if text else []


def _to_kv_pairs(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): _to_string(v) for k, v in value.items()}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError as error:
                raise CoercionError(f"invalid JSON object: {error}") from None
            return _to_kv_pairs(parsed)
        value = [part for part in text.split(",") if part.strip()]
    pairs: dict[str, str] = {}
    for item in value:
        key, sep, val = str(item).partition("=")
        if not sep or not key.strip():
            raise CoercionError(f'invalid key value pair "{item}"')
        pairs[key.strip()] = val.strip()
    return pairs


def _to_map(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if value.strip() == "":
            return {}
        try:
            parsed = json.loads(value)
        except ValueError as error:
            raise CoercionError(f"invalid JSON object: {error}") from None
        if isinstance(parsed, dict):
            return parsed
    raise CoercionError(f"expected a map, got {type(value).__name__}")


_SCALAR = {"type": ["string", "number", "boolean"]}
_STRING_LIST_INPUT = {
    "anyOf": [
        {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
        {"type": ["string", "number"]},
    ]
}


@dataclass(frozen=True)
class FieldType:
    """A Vault field type: its name, accepted wire shapes and coercion."""

    name: str
    input_schema: dict
    openapi: dict
    coerce: Callable[[Any], Any]
    zero: Callable[[], Any]


STRING = FieldType("string", _SCALAR, {"type": "string"}, _to_string, str)
LOWERCASE_STRING = FieldType(
    "lowercase_string", _SCALAR, {"type": "string"}, lambda v: _to_string(v).lower(), str
)
INT = FieldType(
    "int",
    {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[+-]?\d+\s*$"}]},
    {"type": "integer"},
    _to_int,
    int,
)
FLOAT = FieldType(
    "float",
    {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$"}]},
    {"type": "number"},
    lambda v: float(str(v).strip()) if not isinstance(v, (int, float)) else float(v),
    float,
)
BOOL = FieldType("bool", {"type": ["boolean", "string", "integer"]}, {"type": "boolean"}, _to_bool, bool)
DURATION = FieldType(
    "duration",
    {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": DURATION_PATTERN}]},
    {"type": "string", "format": "duration"},
    _to_duration,
    int,
)
COMMA_STRING_SLICE = FieldType(
    "comma_string_slice",
    _STRING_LIST_INPUT,
    {"type": "array", "items": {"type": "string"}},
    _to_comma_list,
    list,
)
STRING_SLICE = FieldType(
    "string_slice", _STRING_LIST_INPUT, {"type": "array", "items": {"type": "string"}}, _to_string_list, list
)
KV_PAIRS = FieldType(
    "kv_pairs",
    {
        "anyOf": [
            {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
        ]
    },
    {"type": "object", "additionalProperties": {"type": "string"}},
    _to_kv_pairs,
    dict,
)
MAP = FieldType("map", {"type": ["object", "string"]}, {"type": "object"}, _to_map, dict)
ANY = FieldType("any", {}, {}, lambda v: v, lambda: None)


@dataclass(frozen=True)
class Field:
    """One parameter of a path: its type, default, constraints and documentation."""

    type: FieldType = STRING
    description: str = ""
    default: Any = None
    required: bool = False
    allowed_values: tuple | None = None
    # Extra JSON Schema constraints on the *wire* value (e.g. a pattern).
    constraints: dict = field(default_factory=dict)
    # Path parameters come from the URL and are documented as such in OpenAPI.
    in_path: bool = False

    def input_schema(self) -> dict:
        schema = dict(self.type.input_schema)
        schema.update(self.constraints)
        if self.allowed_values is not None:
            schema = {"allOf": [schema, {"enum": list(self.allowed_values)}]}
        return schema

    def openapi_schema(self) -> dict:
        schema = dict(self.type.openapi)
        if self.description:
            schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        if self.allowed_values is not None:
            schema["enum"] = list(self.allowed_values)
        return schema

    def default_value(self) -> Any:
        if self.default is not None:
            return self.default
        return self.type.zero()


class FieldData:
    """The validated, coerced parameters of one request.

    ``data["x"]`` gives the value or the field's default; ``"x" in data`` tells
    whether the client sent it (Vault's ``GetOk``), which merge-on-update writes need.
    """

    def __init__(self, fields: dict[str, Field], values: dict[str, Any], raw: dict[str, Any]):
        self._fields = fields
        self._values = values
        self.raw = raw

    def __getitem__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return self._fields[name].default_value()

    def get(self, name: str, default: Any = None) -> Any:
        if name in self._values:
            return self._values[name]
        if name in self._fields:
            return self._fields[name].default_value()
        return default

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def supplied(self) -> dict[str, Any]:
        return dict(self._values)
