"""The vaultlet provider's configuration: AppRole and JWT logins, its own tokens revoked at
stop, the data source, `terraform test`, and errors shown as Terraform diagnostics."""

from __future__ import annotations

import re

import pytest

from support import processes
from support import terraform as tfkit
from support.oidc_issuer import OidcIssuer

FIXTURES = tfkit.REPO / "tests" / "terraform" / "fixtures"
APPROLE_MOUNT = "approle-terraform"
POLICY = """
path "auth/token/create" { capabilities = ["update"] }
path "aws/creds/deploy" { capabilities = ["read", "update"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""


@pytest.fixture(scope="module")
def approle(broker):
    """An AppRole whose tokens may issue aws/creds/deploy and create a child token."""
    broker.vault_call("POST", f"sys/auth/{APPROLE_MOUNT}", {"type": "approle"})
    broker.vault_call("PUT", "sys/policies/acl/terraform-deploy", {"policy": POLICY})
    role = f"auth/{APPROLE_MOUNT}/role/terraform"
    broker.vault_call("POST", role, {"token_policies": ["terraform-deploy"], "token_ttl": "10m"})
    role_id = broker.vault_call("GET", f"{role}/role-id")["data"]["role_id"]
    secret_id = broker.vault_call("POST", f"{role}/secret-id", {})["data"]["secret_id"]
    yield {"approle_mount": APPROLE_MOUNT, "role_id": role_id, "secret_id": secret_id}
    broker.vault_call("DELETE", f"sys/auth/{APPROLE_MOUNT}")


def _env_without_token(broker, **extra):
    env = broker.env(**extra)
    env.pop("VAULT_TOKEN")
    return env


def _accessors(broker) -> set[str]:
    return set(broker.vault_call("LIST", "auth/token/accessors")["data"]["keys"])


@pytest.fixture(scope="module")
def jwt_login(broker):
    """A JWT auth mount trusting a local OIDC issuer (what a CI system's token issuer is)."""
    mount = "jwt-terraform"
    with OidcIssuer() as issuer:
        broker.vault_call("PUT", "sys/policies/acl/terraform-deploy", {"policy": POLICY})
        broker.vault_call("POST", f"sys/auth/{mount}", {"type": "jwt"})
        broker.vault_call("POST", f"auth/{mount}/config", {"jwks_url": issuer.jwks_url})
        broker.vault_call(
            "POST",
            f"auth/{mount}/role/ci-deploy",
            {
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": "vaultlet",
                "token_policies": "terraform-deploy",
                "token_ttl": "10m",
            },
        )
        yield {"jwt_mount": mount, "jwt_role": "ci-deploy", "issuer": issuer}
        broker.vault_call("DELETE", f"sys/auth/{mount}")


def test_jwt_login_issues_credentials_and_leaves_no_token_or_lease(broker, jwt_login, tmp_path):
    issuer = jwt_login["issuer"]
    variables = {"jwt_mount": jwt_login["jwt_mount"], "jwt_role": jwt_login["jwt_role"]}
    variables["jwt"] = issuer.token(sub="repo:my-org/infra:ref:refs/heads/main", aud="vaultlet")
    root = tfkit.TerraformRoot(
        FIXTURES / "provider-jwt", tmp_path, _env_without_token(broker), variables=variables
    )
    root.init()
    accessors_before, leases_before = _accessors(broker), broker.lease_ids("deploy")
    applied = root.apply(check=False)
    assert applied.returncode == 0, f"{applied.stdout}\n{applied.stderr}"
    assert root.output("data_lease_id").startswith("aws/creds/deploy/")
    assert _accessors(broker) == accessors_before  # the login token and its child are revoked
    assert broker.lease_ids("deploy") == leases_before
    assert variables["jwt"] not in root.state_path.read_text()
    refused = tfkit.TerraformRoot(
        FIXTURES / "provider-jwt",
        tmp_path / "refused",
        _env_without_token(broker),
        variables={**variables, "jwt": issuer.token(aud="someone-else")},
    )
    refused.init()
    result = refused.apply(check=False)
    assert result.returncode != 0 and "Error:" in result.stderr and "Traceback" not in result.stderr
    assert "audience" in result.stderr


@pytest.fixture(scope="module")
def approle_apply(broker, approle, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("provider-approle")
    env = _env_without_token(broker)
    root = tfkit.TerraformRoot(FIXTURES / "provider-approle", workdir, env, variables=approle)
    root.init()
    accessors_before = _accessors(broker)
    leases_before = broker.lease_ids("deploy")
    applied = root.apply(check=False)
    return {
        "root": root,
        "applied": applied,
        "new_accessors": _accessors(broker) - accessors_before,
        "new_leases": broker.lease_ids("deploy") - leases_before,
    }


def test_approle_login_issues_credentials(approle_apply):
    applied = approle_apply["applied"]
    assert applied.returncode == 0, f"{applied.stdout}\n{applied.stderr}"
    assert approle_apply["root"].output("data_lease_id").startswith("aws/creds/deploy/")


def test_login_and_child_tokens_are_revoked_when_the_provider_stops(approle_apply):
    # Every command logged in (and created a child) several times; none is left.
    assert approle_apply["applied"].returncode == 0
    assert approle_apply["new_accessors"] == set()


def test_leases_of_the_run_are_gone_with_its_tokens(approle_apply):
    # The data source's lease belonged to the provider's child token, revoked at stop.
    assert approle_apply["new_leases"] == set()


def test_data_source_stores_its_keys_in_state_as_documented(approle_apply):
    state = approle_apply["root"].state_path.read_text()
    found = re.search(r'"access_key": "((ASIA|AKIA)[A-Z0-9]{12,})"', state)
    assert found, "the data source's keys are in state (which is why the ephemeral resource exists)"
    assert '"sensitive_attributes"' in state


def test_terraform_test_file_for_the_provider(broker, approle, approle_apply):
    variables = {f"TF_VAR_{name}": value for name, value in approle.items()}
    applied = approle_apply["root"]  # its init serves here too
    root = tfkit.TerraformRoot(applied.directory, applied.workdir, _env_without_token(broker, **variables))
    result = root.run("test", "-no-color", check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Success! 2 passed, 0 failed" in result.stdout


@pytest.fixture(scope="module")
def diagnostics_root(broker, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("provider-diagnostics")
    root = tfkit.TerraformRoot(FIXTURES / "provider-diagnostics", workdir, broker.env())
    root.init()
    return root


def _assert_clean_diagnostic(result, summary: str) -> None:
    assert result.returncode != 0
    assert f"Error: {summary}" in result.stderr, result.stderr
    for leak in ("Traceback", 'File "/', "pyvider", "X-Vault-Token"):
        assert leak not in result.stderr, result.stderr


def test_invalid_arguments_are_diagnostics(diagnostics_root):
    result = diagnostics_root.plan(
        "-var=credential_type=iam", "-var=vault_role=aws/creds/deploy", check=False
    )
    _assert_clean_diagnostic(result, "type must be `creds` or `sts` (got 'iam')")
    _assert_clean_diagnostic(result, "role must be a role name (letters, digits, `_.@-`), not a path")


def test_missing_token_is_a_diagnostic(broker, diagnostics_root):
    root = tfkit.TerraformRoot(
        diagnostics_root.directory, diagnostics_root.workdir, _env_without_token(broker)
    )
    _assert_clean_diagnostic(root.plan(check=False), "No vaultlet token")


def test_server_refusal_is_a_diagnostic_with_vaults_message(diagnostics_root):
    result = diagnostics_root.plan("-var=vault_role=nosuchrole", check=False)
    _assert_clean_diagnostic(result, "Cannot issue AWS credentials")
    assert "aws/creds/nosuchrole" in result.stderr


def test_unreachable_server_is_a_diagnostic(diagnostics_root):
    address = f"http://127.0.0.1:{processes.free_port()}"
    result = diagnostics_root.plan(f"-var=address={address}", check=False)
    _assert_clean_diagnostic(result, "Cannot get a vaultlet token")
    assert f"cannot reach {address}" in result.stderr
