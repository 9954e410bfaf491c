import pytest

from vaultlet.errors import UserError
from vaultlet.framework.fields import (
    BOOL,
    COMMA_STRING_SLICE,
    DURATION,
    INT,
    KV_PAIRS,
    STRING,
    Field,
)
from vaultlet.framework.schema import InputValidator

FIELDS = {
    "name": Field(STRING, "a name"),
    "ttl": Field(DURATION, "a ttl"),
    "count": Field(INT, "a count", default=7),
    "enabled": Field(BOOL, "a flag"),
    "arns": Field(COMMA_STRING_SLICE, "a list"),
    "tags": Field(KV_PAIRS, "a map"),
    "kind": Field(STRING, "an enum", allowed_values=("a", "b")),
}
validate = InputValidator(FIELDS)


def test_cli_strings_are_coerced_like_vault():
    data, warnings = validate(
        {"ttl": "1h", "count": "3", "enabled": "true", "arns": "a, b,,c", "tags": ["k=v", "x=y=z"], "name": 5}
    )
    assert warnings == []
    assert data["ttl"] == 3600
    assert data["count"] == 3
    assert data["enabled"] is True
    assert data["arns"] == ["a", "b", "c"]
    assert data["tags"] == {"k": "v", "x": "y=z"}
    assert data["name"] == "5"


def test_native_json_types_are_accepted():
    data, _ = validate({"ttl": 90, "count": 1, "enabled": False, "arns": ["x"], "tags": {"k": "v"}})
    assert (data["ttl"], data["count"], data["enabled"], data["arns"], data["tags"]) == (
        90,
        1,
        False,
        ["x"],
        {"k": "v"},
    )


def test_defaults_and_supplied_are_distinguished():
    data, _ = validate({"name": "x", "ttl": None})
    assert data["count"] == 7 and "count" not in data
    assert "name" in data
    assert "ttl" not in data  # JSON null means not supplied


def test_unknown_parameters_produce_vault_warning():
    _, warnings = validate({"name": "x", "bogus": 1, "zzz": 2})
    assert warnings == ["Endpoint ignored these unrecognized parameters: [bogus zzz]"]


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"ttl": "forever"}, 'error converting input forever for field "ttl"'),
        ({"ttl": -5}, 'field "ttl"'),
        ({"count": "three"}, 'field "count"'),
        ({"count": 1.5}, 'field "count"'),
        ({"enabled": "maybe"}, 'field "enabled"'),
        ({"tags": ["novalue"]}, 'invalid key value pair "novalue"'),
        ({"arns": {"a": 1}}, 'field "arns"'),
        ({"kind": "c"}, "must be one of a, b"),
    ],
)
def test_bad_input_is_a_400_with_the_field_named(raw, fragment):
    with pytest.raises(UserError) as error:
        validate(raw)
    assert fragment in " ".join(error.value.messages)


def test_schema_is_plain_json_schema():
    schema = validate.schema
    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(FIELDS)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, "9" * 40, 1e30])
def test_ints_beyond_int64_are_out_of_range(value):
    validator = InputValidator({"n": Field(INT)})
    with pytest.raises(UserError, match="value out of range"):
        validator({"n": value})


def test_int64_bounds_are_accepted():
    validator = InputValidator({"n": Field(INT)})
    assert validator({"n": 2**63 - 1})[0]["n"] == 2**63 - 1
    assert validator({"n": str(-(2**63))})[0]["n"] == -(2**63)
