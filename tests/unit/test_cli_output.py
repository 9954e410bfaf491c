"""The CLI's formatting must match the Vault/OpenBao CLI character for character.

Expected texts below were captured from ``bao`` 2.7.2 (and the AWS walkthrough)
and only adapted where vaultlet says "Vault" instead of "OpenBao".
"""

from __future__ import annotations

import json

import pytest

from vaultlet.cli import output

AWS_CREDS = {
    "request_id": "0f1d",
    "lease_id": "aws/creds/my-app-role/abcd1234",
    "lease_duration": 2764800,
    "renewable": True,
    "data": {
        "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "access_key": "AKIAIOSFODNN7EXAMPLE",
        "security_token": None,
    },
    "wrap_info": None,
    "warnings": None,
    "auth": None,
}

TOKEN_CREATE = {
    "request_id": "f672",
    "lease_id": "",
    "renewable": False,
    "lease_duration": 0,
    "data": None,
    "wrap_info": None,
    "warnings": None,
    "auth": {
        "client_token": "s.GuZFAcSTyHZJeps0T9LnhVjl",
        "accessor": "LaYE6bTycN8sc0Oy7Yhp14io",
        "policies": ["default", "p1"],
        "token_policies": ["default", "p1"],
        "metadata": {"team": "x", "env": "dev"},
        "lease_duration": 3600,
        "renewable": True,
        "entity_id": "",
        "token_type": "service",
        "orphan": False,
        "mfa_requirement": None,
        "num_uses": 0,
    },
}


def test_lease_secret_table_matches_the_walkthrough():
    assert output.secret_table(AWS_CREDS) == (
        "Key                Value\n"
        "---                -----\n"
        "lease_id           aws/creds/my-app-role/abcd1234\n"
        "lease_duration     768h\n"
        "lease_renewable    true\n"
        "access_key         AKIAIOSFODNN7EXAMPLE\n"
        "secret_key         wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "security_token     <nil>"
    )


def test_ttl_without_lease_is_a_refresh_interval():
    secret = {"lease_id": "", "lease_duration": 3600, "data": {"a": "1", "ttl": "1h", "nested": "x"}}
    assert output.secret_table(secret) == (
        "Key                 Value\n"
        "---                 -----\n"
        "refresh_interval    1h\n"
        "a                   1\n"
        "nested              x\n"
        "ttl                 1h"
    )


def test_auth_table_rows_and_order():
    assert output.secret_table(TOKEN_CREATE) == (
        "Key                  Value\n"
        "---                  -----\n"
        "token                s.GuZFAcSTyHZJeps0T9LnhVjl\n"
        "token_accessor       LaYE6bTycN8sc0Oy7Yhp14io\n"
        "token_duration       1h\n"
        "token_renewable      true\n"
        'token_policies       ["default" "p1"]\n'
        "identity_policies    []\n"
        'policies             ["default" "p1"]\n'
        "token_meta_env       dev\n"
        "token_meta_team      x"
    )


def test_root_token_duration_is_infinite():
    secret = {"auth": {"client_token": "root", "lease_duration": 0, "policies": ["root"]}}
    assert ("token_duration", "∞") in output.secret_rows(secret)


def test_go_value_renders_like_fmt_v():
    value = {"z": 1, "a": None, "q": [1, 2], "m": {}, "l": [], "t": True, "s": "<a&b>é", "e": ""}
    assert output.go_value(value) == "map[a:<nil> e: l:[] m:map[] q:[1 2] s:<a&b>é t:true z:1]"
    assert output.go_value(["x", "y"]) == "[x y]"
    assert output.go_value(1.5) == "1.5"
    assert output.go_value(False) == "false"


def test_go_quoted_list():
    assert output.go_quoted_list(["default", "p1"]) == '["default" "p1"]'
    assert output.go_quoted_list(None) == "[]"


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("ttl", 3600, "1h"),
        ("max_ttl", 5400, "1h30m"),
        ("creation_ttl", 0, "0s"),
        ("period", 1200, "20m"),
        ("lease_max", 90, "1m30s"),
        ("max_ttl", 3605, "1h5s"),
        ("a_period", 86401, "24h1s"),
        ("token_duration", 45, "45s"),
        ("ttl", "1h", "1h"),
        ("renewable", True, "true"),
        ("num_uses", 3600, "3600"),
    ],
)
def test_duration_looking_keys_are_humanised(key, value, shown):
    ((_, rendered),) = output.data_rows({key: value})
    assert output.go_value(rendered) == shown


def test_columnize_pads_trims_and_marks_empty_cells():
    assert output.table(
        ("Path", "Type", "Description"), [("a/", "kv", ""), ("cubbyhole/", "cubbyhole", " x ")]
    ) == (
        "Path          Type         Description\n"
        "----          ----         -----------\n"
        "a/            kv           n/a\n"
        "cubbyhole/    cubbyhole    x"
    )


def test_list_table_sorts_keys():
    assert output.list_table(["foo", "bar", "creds/"]) == "Keys\n----\nbar\ncreds/\nfoo"


def test_secret_document_follows_api_secret_field_order():
    document = output.secret_document(AWS_CREDS)
    assert list(document) == ["request_id", "lease_id", "lease_duration", "renewable", "data", "warnings"]
    assert list(document["data"]) == ["access_key", "secret_key", "security_token"]


def test_secret_document_keeps_only_the_cli_auth_fields():
    document = output.secret_document(TOKEN_CREATE)
    assert list(document) == [
        "request_id",
        "lease_id",
        "lease_duration",
        "renewable",
        "data",
        "warnings",
        "auth",
    ]
    assert list(document["auth"]) == list(output.AUTH_FIELDS)
    assert document["auth"]["identity_policies"] is None
    assert list(document["auth"]["metadata"]) == ["env", "team"]
    assert "num_uses" not in document["auth"]


def test_secret_document_fills_go_zero_values_for_bare_data():
    assert output.secret_document({"data": {"ha_enabled": False}}) == {
        "request_id": "",
        "lease_id": "",
        "lease_duration": 0,
        "renewable": False,
        "data": {"ha_enabled": False},
        "warnings": None,
    }


def test_to_json_matches_go_marshal_indent():
    text = output.to_json({"s": "<a&b>é", "l": ["x"], "e": {}, "n": None})
    assert text == (
        '{\n  "s": "\\u003ca\\u0026b\\u003eé",\n  "l": [\n    "x"\n  ],\n  "e": {},\n  "n": null\n}'
    )
    assert json.loads(text)["s"] == "<a&b>é"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("token", "s.GuZFAcSTyHZJeps0T9LnhVjl"),
        ("token_accessor", "LaYE6bTycN8sc0Oy7Yhp14io"),
        ("token_duration", 3600),
        ("token_policies", ["default", "p1"]),
        ("orphan", None),
    ],
)
def test_raw_field_of_auth_response(field, expected):
    assert output.raw_field(TOKEN_CREATE, field) == expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("access_key", "AKIAIOSFODNN7EXAMPLE"),
        ("lease_id", "aws/creds/my-app-role/abcd1234"),
        ("lease_duration", 2764800),
        ("renewable", True),
        ("security_token", None),
        ("nope", None),
    ],
)
def test_raw_field_of_secret(field, expected):
    assert output.raw_field(AWS_CREDS, field) == expected


def test_raw_field_data_means_the_kv2_payload():
    kv2 = {"data": {"data": {"a": "1"}, "metadata": {"version": 1}}}
    assert output.raw_field(kv2, "data") == {"a": "1"}
    assert output.raw_field({"data": {"a": "1"}}, "data") == {"a": "1"}
    assert output.raw_field({"data": None}, "data") is None


def test_field_text_is_raw_for_tables_and_json_otherwise():
    assert output.field_text(["default"], "table") == "[default]"
    assert output.field_text(["default"], "json") == '[\n  "default"\n]'
    assert output.field_text("plain", "json") == '"plain"'


def test_warnings_block_is_wrapped_and_indented():
    warning = (
        "Tidy operation successfully started. Any information from the operation will be printed to "
        "OpenBao's server logs."
    )
    assert output.warnings_text([warning, 'Policy "p1" does not exist']) == (
        "WARNING! The following warnings were returned from Vault:\n\n"
        "  * Tidy operation successfully started. Any information from the operation\n"
        "  will be printed to OpenBao's server logs.\n\n"
        '  * Policy "p1" does not exist\n\n'
    )
    assert output.warnings_text(None) == ""


def test_wrap_minimises_raggedness_like_kr_text():
    # A greedy wrap would keep "of" on the first line; the Vault CLI moves it down.
    paragraph = (
        "It is possible to generate new unseal keys, provided you have a quorum of existing unseal keys "
        'shares. See "bao operator rotate-keys" for more information.'
    )
    assert output.wrap_at_length(paragraph) == (
        "It is possible to generate new unseal keys, provided you have a quorum\n"
        'of existing unseal keys shares. See "bao operator rotate-keys" for more\n'
        "information."
    )


def test_wrap_matches_the_login_banner():
    banner = (
        "Success! You are now authenticated. The token information displayed below is already stored in "
        'the token helper. You do NOT need to run "bao login" again. Future OpenBao requests will '
        "automatically use this token."
    )
    assert output.wrap_at_length(banner) == (
        "Success! You are now authenticated. The token information displayed below is\n"
        'already stored in the token helper. You do NOT need to run "bao login" again.\n'
        "Future OpenBao requests will automatically use this token."
    )


def test_wrap_penalises_but_keeps_overlong_words():
    # kr/text prefers one overlong line to two: the short word joins the long one.
    word = "x" * 100
    assert output.wrap_at_length(f"a {word} b") == f"a {word}\nb"


def test_yaml_keys_follow_go_yaml_v2s_order_not_plain_string_order():
    """bao's -format=yaml goes through go-yaml v2, whose key order compares runs of digits
    as numbers and puts non-letters before letters (sorter.go); -format=json keeps string order."""
    document = {"params-4261f187/": 1, "params-46c67ab0/": 2, "a10": 3, "a9": 4, "A": 5, "_": 6, "a09": 7}
    keys = [line.split(":")[0].strip('"') for line in output.to_yaml(document).splitlines()]
    assert keys == ["_", "A", "a9", "a09", "a10", "params-46c67ab0/", "params-4261f187/"]
    assert list(output.sorted_keys(document)) == sorted(document)  # JSON's order: plain strings
    nested = output.to_yaml({"m": {"x2": 1, "x10": 2}})
    assert nested.index("x2") < nested.index("x10")
