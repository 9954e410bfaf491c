"""Compile a path's field declarations into a JSON Schema validator and coercer."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from vaultlet.errors import UserError
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

    def __call__(self, raw: dict[str, Any]) -> tuple[FieldData, list[str]]:
        # JSON null means "not supplied": hvac sends e.g. max_retries=None.
        present = {k: v for k, v in raw.items() if v is not None}
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
