"""Compile a path's field declarations into a JSON Schema validator and coercer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator

from vaultlet.errors import UserError
from vaultlet.framework import fields as types
from vaultlet.framework.fields import CoercionError, Field, FieldData


def build_input_schema(fields: dict[str, Field]) -> dict:
    """The JSON Schema of a request body for these fields (unknown keys allowed, as in Vault)."""
    return {
        "type": "object",
        "properties": {name: field.input_schema() for name, field in fields.items()},
    }


class InputValidator:
    """Validates request data against the compiled schema, then coerces it."""

    def __init__(self, fields: dict[str, Field], warn_unknown: bool = True):
        self.fields = fields
        self.warn_unknown = warn_unknown
        self.schema = build_input_schema(fields)
        Draft202012Validator.check_schema(self.schema)
        self._validator = Draft202012Validator(self.schema)
        self._accepts = {name: _accepts(field) for name, field in fields.items()}

    def __call__(self, raw: dict[str, Any]) -> tuple[FieldData, list[str]]:
        # JSON null means "not supplied": hvac sends e.g. max_retries=None.
        present = {k: v for k, v in raw.items() if v is not None}
        if not self._surely_valid(present):
            self._raise_schema_errors(present)
        values: dict[str, Any] = {}
        for name, value in present.items():
            field = self.fields.get(name)
            if field is None:
                continue
            try:
                values[name] = field.type.coerce(value)
            except CoercionError as error:
                raise UserError(_conversion_message(name, value, str(error))) from None
        for name, field in self.fields.items():
            if field.required and name not in values:
                raise UserError(f'missing required field "{name}"')
        unknown = sorted(k for k in raw if k not in self.fields) if self.warn_unknown else []
        warnings = (
            [f"Endpoint ignored these unrecognized parameters: [{' '.join(unknown)}]"] if unknown else []
        )
        return FieldData(self.fields, values, raw), warnings

    def _surely_valid(self, present: dict[str, Any]) -> bool:
        """True when every supplied field passes its quick check, each of which accepts
        only values the field's JSON Schema accepts too; anything else (a doubtful
        value, a field without a quick check) goes to the JSON Schema validator, which
        then decides and words the errors. Unknown keys are not constrained."""
        accepts = self._accepts
        for name, value in present.items():
            if name in accepts:
                check = accepts[name]
                if check is None or not check(value):
                    return False
        return True

    def _raise_schema_errors(self, present: dict[str, Any]) -> None:
        errors = sorted(self._validator.iter_errors(present), key=lambda e: list(e.absolute_path))
        if not errors:
            return
        messages = []
        for error in errors:
            name = str(error.absolute_path[0]) if error.absolute_path else ""
            value = present.get(name, error.instance)
            field = self.fields.get(name)
            expected = field.type.name if field else "object"
            reason = _reason(error, expected)
            messages.append(_conversion_message(name, value, reason))
        raise UserError(*messages)


def _reason(error, expected_type: str) -> str:
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    if expected_type == "duration":
        return f'time: invalid duration "{error.instance}"'
    return f"expected type {expected_type}"


def _conversion_message(name: str, value: Any, reason: str) -> str:
    shown = value if isinstance(value, (str, int, float, bool)) else type(value).__name__
    return f'error converting input {shown} for field "{name}": {reason}'


# -- quick checks -----------------------------------------------------------------
#
# Running jsonschema costs more than most handlers. Each check below mirrors one of
# the field types' input schemas (fields.py) exactly or more strictly: exact types
# only (no subclasses, no integral floats), and ``pattern`` as jsonschema applies it
# (``re.search``). A schema not listed here, or a field with extra constraints, has
# no quick check.

_SCALARS = (str, int, float, bool)
_INT_TEXT = re.compile(types.INT.input_schema["anyOf"][1]["pattern"]).search
_FLOAT_TEXT = re.compile(types.FLOAT.input_schema["anyOf"][1]["pattern"]).search
_DURATION_TEXT = re.compile(types.DURATION.input_schema["anyOf"][1]["pattern"]).search


def _is_int(value: Any) -> bool:
    return type(value) is int or (type(value) is str and _INT_TEXT(value) is not None)


def _is_float(value: Any) -> bool:
    return type(value) in (int, float) or (type(value) is str and _FLOAT_TEXT(value) is not None)


def _is_duration(value: Any) -> bool:
    if type(value) is int:
        return value >= 0
    return type(value) is str and _DURATION_TEXT(value) is not None


def _is_string_list(value: Any) -> bool:
    if type(value) is list:
        return all(type(item) in _SCALARS for item in value)
    return type(value) in (str, int, float)


def _is_kv_pairs(value: Any) -> bool:
    if type(value) is dict:
        return all(type(item) in _SCALARS for item in value.values())
    if type(value) is list:
        return all(type(item) is str for item in value)
    return type(value) is str


_QUICK_CHECKS: list[tuple[dict, Callable[[Any], bool]]] = [
    (types.STRING.input_schema, lambda value: type(value) in _SCALARS),
    (types.INT.input_schema, _is_int),
    (types.FLOAT.input_schema, _is_float),
    (types.BOOL.input_schema, lambda value: type(value) in (bool, str, int)),
    (types.DURATION.input_schema, _is_duration),
    (types.STRING_SLICE.input_schema, _is_string_list),
    (types.KV_PAIRS.input_schema, _is_kv_pairs),
    (types.MAP.input_schema, lambda value: type(value) in (dict, str)),
    (types.ANY.input_schema, lambda value: True),
]


def _accepts(field: Field) -> Callable[[Any], bool] | None:
    if field.constraints:
        return None
    check = next((check for schema, check in _QUICK_CHECKS if schema == field.type.input_schema), None)
    if check is None or field.allowed_values is None:
        return check
    allowed = tuple(field.allowed_values)

    def check_enum(value: Any) -> bool:
        # jsonschema's enum tells true from 1; comparing types too is stricter still.
        return check(value) and any(type(value) is type(option) and value == option for option in allowed)

    return check_enum
