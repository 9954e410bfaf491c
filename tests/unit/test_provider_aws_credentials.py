"""Pure logic of the vaultlet Terraform provider's credentials calls (no pyvider needed:
aws_credentials.py and vault.py use the standard library only)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "terraform" / "provider"))

from vaultlet_provider import aws_credentials, vault  # noqa: E402


def test_valid_arguments_pass():
    assert aws_credentials.validation_errors("team/aws", "deploy", "sts", None) == []
    assert aws_credentials.validation_errors(None, None, None, "arn:aws:iam::123456789012:role/deploy") == []


@pytest.mark.parametrize(
    ("arguments", "start"),
    [
        (("/aws/", "deploy", "creds", None), "mount must be a path"),
        (("aws", "aws/creds/deploy", "creds", None), "role must be a role name"),
        (("aws", "deploy", "iam_user", None), "type must be `creds` or `sts` (got 'iam_user')"),
        (("aws", "deploy", "creds", "arn:aws:iam::123456789012:user/x"), "role_arn must be an IAM role ARN"),
    ],
)
def test_invalid_arguments_are_named(arguments, start):
    errors = aws_credentials.validation_errors(*arguments)
    assert len(errors) == 1 and errors[0].startswith(start)


def test_renewal_is_asked_for_halfway_through_the_lease():
    issued = 1_800_000_000.0
    assert aws_credentials.renew_at(issued, 600) == datetime.fromtimestamp(issued + 300, UTC)
    assert aws_credentials.renew_at(issued, 1) == datetime.fromtimestamp(issued + 1, UTC)  # never in the past


def test_expiration_is_rfc3339_utc():
    assert aws_credentials.rfc3339(0) == "1970-01-01T00:00:00Z"


def test_token_from_environment_prefers_vault_token(monkeypatch, tmp_path):
    (tmp_path / ".vault-token").write_text("from-file\n")
    monkeypatch.setenv("VAULT_TOKEN", "from-env")
    assert vault.token_from_environment(str(tmp_path)) == "from-env"
    monkeypatch.delenv("VAULT_TOKEN")
    assert vault.token_from_environment(str(tmp_path)) == "from-file"
    assert vault.token_from_environment(str(tmp_path / "nowhere")) is None


def test_unreachable_vault_error_names_the_path_not_the_token():
    client = vault.Client(vault.Connection(address="http://127.0.0.1:1", timeout=2), token="s.secret-token")
    with pytest.raises(vault.VaultError) as raised:
        client.call("GET", "aws/creds/deploy")
    assert "GET aws/creds/deploy: cannot reach http://127.0.0.1:1" in str(raised.value)
    assert "secret-token" not in str(raised.value)
