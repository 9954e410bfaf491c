"""The credentials program's JWT sources, in their documented order (no Vault server needed:
the login call itself is exercised end to end in test_jwt_clients.py)."""

from __future__ import annotations

import importlib.util

import pytest

from support import terraform as tfkit
from support.oidc_issuer import GitHubActionsIdTokenStandIn, OidcIssuer

spec = importlib.util.spec_from_file_location("vaultlet_aws_credentials_jwt", tfkit.CREDENTIALS_PROGRAM)
program = importlib.util.module_from_spec(spec)
spec.loader.exec_module(program)


@pytest.fixture()
def client():
    return program.VaultClient(program.Settings(role="r", address="http://127.0.0.1:1"), program.Deadline(5))


def test_vault_jwt_wins_over_the_file_which_wins_over_github_actions(client, tmp_path):
    jwt_file = tmp_path / "job.jwt"
    jwt_file.write_text("from.the.file\n")
    github = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/never",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
    }
    assert program.ci_jwt(
        client, {"VAULT_JWT": "from.the.env", "VAULT_JWT_FILE": str(jwt_file), **github}
    ) == ("from.the.env")
    assert program.ci_jwt(client, {"VAULT_JWT_FILE": str(jwt_file), **github}) == "from.the.file"
    assert "from.the.file" in client.secrets_to_redact  # never shown in an error line
    (tmp_path / "empty.jwt").write_text("")
    with pytest.raises(program.CredentialsError, match="is empty"):
        program.ci_jwt(client, {"VAULT_JWT_FILE": str(tmp_path / "empty.jwt")})
    with pytest.raises(program.CredentialsError, match="cannot read VAULT_JWT_FILE"):
        program.ci_jwt(client, {"VAULT_JWT_FILE": str(tmp_path / "missing.jwt")})
    with pytest.raises(program.CredentialsError, match="there is no JWT"):
        program.ci_jwt(client, {})


def test_github_actions_id_token_request(client):
    """Against a STAND-IN for GitHub's endpoint (same protocol, see tests/support/oidc_issuer.py)."""
    with OidcIssuer(algorithms=("RS256",)) as issuer, GitHubActionsIdTokenStandIn(issuer) as actions:
        environ = {**actions.runner_environment(), "VAULT_JWT_AUDIENCE": "https://vault.example/ aud"}
        jwt = program.ci_jwt(client, environ)
        assert jwt.count(".") == 2 and jwt in client.secrets_to_redact
        (request,) = actions.requests
        assert request["audience"] == "https://vault.example/ aud"  # URL-encoded on the way
        assert request["authorization"] == f"bearer {actions.request_token}"
        assert actions.request_token in client.secrets_to_redact
        with pytest.raises(program.CredentialsError, match="HTTP 401"):
            program.ci_jwt(client, {**environ, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"})
        with pytest.raises(program.CredentialsError, match="but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not"):
            program.ci_jwt(client, {"ACTIONS_ID_TOKEN_REQUEST_URL": actions.url})
