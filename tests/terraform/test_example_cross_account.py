"""examples/cross-account: two target roles behind external ids, then vaultlet roles that assume them.

moto does not evaluate the sts:ExternalId condition, so the refusal of a wrong external
id cannot be shown here; the trust policy that would refuse it is checked instead.
"""

from __future__ import annotations

import json

import pytest
from pytest_terraform import terraform

from conftest import example_environment, run_program, tf_vars

ACCOUNTS = {
    "prod": {"bootstrap_vault_role": "deploy", "external_id": "vaultlet-prod-7f3a", "max_session_hours": 1},
    "dev": {"bootstrap_vault_role": "deploy", "external_id": "vaultlet-dev-21c9", "max_session_hours": 4},
}


@pytest.fixture(scope="module", autouse=True)
def cross_account_environment(broker):
    env = broker.env(
        **tf_vars(
            accounts=json.dumps(ACCOUNTS),
            broker_principal_arn=broker.broker_user_arn,
            local_aws_endpoint=broker.moto.endpoint,
        )
    )
    with example_environment(env):
        yield


terraform("cross-account", scope="module", name="cross_account")


def _vaultlet_roles(cross_account) -> dict:
    """The sensitive output, as it sits in state (sensitive only hides it from the CLI)."""
    output = cross_account.outputs["vaultlet_roles"]
    assert output["sensitive"] is True
    return output["value"]


def test_target_roles_trust_the_broker_with_an_external_id(broker, cross_account):
    iam = broker.aws_client("iam")
    for name, account in (("vault-prod-deploy", "prod"), ("vault-dev-admin", "dev")):
        role = iam.get_role(RoleName=name)["Role"]
        statement = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert statement["Principal"]["AWS"] == broker.broker_user_arn
        external_ids = statement["Condition"]["StringEquals"]["sts:ExternalId"]
        assert external_ids in (ACCOUNTS[account]["external_id"], [ACCOUNTS[account]["external_id"]])
        assert role["MaxSessionDuration"] == ACCOUNTS[account]["max_session_hours"] * 3600
    assert iam.list_attached_role_policies(RoleName="vault-prod-deploy")["AttachedPolicies"]
    assert iam.list_role_policies(RoleName="vault-dev-admin")["PolicyNames"] == ["sandbox"]


def test_vaultlet_issues_credentials_for_each_account(broker, cross_account):
    roles = _vaultlet_roles(cross_account)
    assert set(roles) == {"prod-deploy", "dev-admin"}
    for vault_role, body in roles.items():
        broker.vault_call("POST", f"aws/roles/{vault_role}", body)
        result = run_program(broker, [], stdin=json.dumps({"role": vault_role}))
        assert result.returncode == 0, result.stderr
        aws_role = body["role_arns"][0].rsplit("/", 1)[1]
        assert f":assumed-role/{aws_role}/" in json.loads(result.stdout)["arn"]
