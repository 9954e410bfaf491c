"""Pure pieces of the CLI's kv and -format=yaml output, pinned to what `bao` prints."""

from __future__ import annotations

from vaultlet.cli import output
from vaultlet.cli.kv_commands import header_for, pad_equal_signs, with_prefix
from vaultlet.cli.mount_commands import detailed_mount_table


def test_section_headers_are_centred_as_bao_centres_them():
    assert pad_equal_signs("Secret Path", len("secret/data/app")) == "= Secret Path ="
    assert pad_equal_signs("Metadata Path", len("secret/metadata/app")) == "== Metadata Path =="
    assert header_for("Metadata", {"custom_metadata": 1}) == "======= Metadata ======="
    assert header_for("Data", {"user": 1}) == "==== Data ===="  # an odd count rounds up
    assert header_for("Data", {"x": 1}) == "== Data =="
    assert pad_equal_signs("A long header", 3) == "== A long header =="  # never fewer than two


def test_version_2_paths_get_the_api_prefix_after_the_mount():
    assert with_prefix("secret/app", "secret/", "data") == "secret/data/app"
    assert with_prefix("secret/a/b", "secret/", "metadata") == "secret/metadata/a/b"
    assert with_prefix("secret", "secret/", "metadata") == "secret/metadata"


def test_yaml_quotes_what_go_yaml_quotes_with_double_quotes():
    text = output.to_yaml({"b": "", "a": {"n": "y", "v": "2", "t": "2026-01-01T00:00:00Z"}, "l": ["x"]})
    assert text == 'a:\n  "n": "y"\n  t: "2026-01-01T00:00:00Z"\n  v: "2"\nb: ""\nl:\n- x'
    assert output.field_text({"k": True}, "yaml") == "k: true"


def test_detailed_mount_table_columns():
    mounts = {
        "secret/": {
            "type": "kv",
            "accessor": "kv_1",
            "config": {"default_lease_ttl": 3600},
            "options": {"version": "2"},
        },
        "cubbyhole/": {"type": "cubbyhole", "local": True, "config": {}, "options": None},
    }
    rows = [line.split() for line in detailed_mount_table(mounts, auth=False).splitlines()]
    assert rows[2][:7] == ["cubbyhole/", "cubbyhole", "n/a", "n/a", "n/a", "false", "local"]
    assert rows[3][:7] == ["secret/", "kv", "kv_1", "3600", "system", "false", "replicated"]
    assert "map[version:2]" in rows[3] and "map[]" in rows[2]
    auth = detailed_mount_table(
        {"token/": {"type": "token", "config": {"token_type": "default-service"}}}, auth=True
    )
    assert "Token Type" in auth and "default-service" in auth and "Force No Cache" not in auth
