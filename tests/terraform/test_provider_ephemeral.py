"""examples/ephemeral-credentials with the vaultlet provider: keys never in state or plan.

terraform init / plan -out / apply <plan> against the session's vaultlet and moto, with
a raw audit device recording exactly what vaultlet issued. The ephemeral resource is
opened at plan and opened again at apply (a saved plan applies with fresh keys, the
plan-time lease being revoked by then), closed at the end of each command (its lease
revoked), and the aws provider acts as the assumed role.
"""

from __future__ import annotations

import json
import zipfile

import pytest

from support import provider_audit
from support import terraform as tfkit

EXAMPLE = tfkit.EXAMPLES / "ephemeral-credentials"


@pytest.fixture(scope="module")
def run(broker, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ephemeral-credentials")
    root = tfkit.TerraformRoot(
        EXAMPLE,
        workdir,
        broker.env(),
        variables={"vault_role": "deploy", "local_aws_endpoint": broker.moto.endpoint},
    )
    with provider_audit.raw_audit_log(broker.vault, workdir / "audit.log", "tf-ephemeral") as log:
        root.init()
        before = broker.lease_ids("deploy")
        planned = root.plan()
        plan_issues = provider_audit.issues(log, "aws/creds/deploy")
        live_after_plan = broker.lease_ids("deploy") - before
        applied = root.apply_plan()
        all_issues = provider_audit.issues(log, "aws/creds/deploy")
        live_after_apply = broker.lease_ids("deploy") - before
        plan_json = root.run("show", "-json", "-no-color", str(root.plan_path)).stdout
        yield {
            "root": root,
            "planned": planned,
            "applied": applied,
            "plan_issues": plan_issues,
            "apply_issues": all_issues[len(plan_issues) :],
            "live_after_plan": live_after_plan,
            "live_after_apply": live_after_apply,
            "plan_json": plan_json,
        }


def test_plan_and_apply_each_open_the_ephemeral_resource_once(run):
    assert "ephemeral.vaultlet_aws_credentials.deploy: Opening..." in run["planned"].stdout
    assert "ephemeral.vaultlet_aws_credentials.deploy: Closing complete" in run["planned"].stdout
    assert len(run["plan_issues"]) == 1
    assert len(run["apply_issues"]) == 1
    assert run["plan_issues"][0].secrets != run["apply_issues"][0].secrets


def test_aws_provider_acts_as_the_assumed_role_and_the_bucket_exists(run, broker):
    assert "Apply complete! Resources: 1 added" in run["applied"].stdout
    caller = run["root"].output("caller_arn")
    assert caller.startswith(
        f"arn:aws:sts::123456789012:assumed-role/{broker.role_arn('deploy').split('/')[-1]}/"
    )
    bucket = run["root"].output("bucket")
    names = [entry["Name"] for entry in broker.aws_client("s3").list_buckets()["Buckets"]]
    assert bucket in names


def test_every_lease_is_revoked_when_each_command_ends(run):
    issued = {issue.lease_id for issue in run["plan_issues"] + run["apply_issues"]}
    assert len(issued) == 2 and all(issued)
    assert run["live_after_plan"] == set()
    assert run["live_after_apply"] == set()


def test_saved_plan_applied_after_the_plan_time_lease_was_revoked(run):
    # The plan-time lease was gone before apply started (checked above); apply opened
    # its own and succeeded: the saved plan holds no credentials to go stale.
    assert run["plan_issues"][0].lease_id != run["apply_issues"][0].lease_id
    assert run["applied"].returncode == 0


def test_no_issued_secret_in_state_or_saved_plan(run):
    state = run["root"].state_path.read_text()
    assert '"aws_s3_bucket"' in state  # a real state, not an empty file
    plan_json = run["plan_json"]
    assert json.loads(plan_json)["planned_values"]  # a real plan rendering
    secrets = [secret for issue in run["plan_issues"] + run["apply_issues"] for secret in issue.secrets]
    assert len(secrets) == 6  # access key, secret key, session token, twice
    with zipfile.ZipFile(run["root"].plan_path) as plan:
        plan_file = b"".join(plan.read(name) for name in plan.namelist())
    for secret in secrets:
        assert secret not in state
        assert secret not in plan_json
        assert secret.encode() not in plan_file
        assert json.dumps(secret)[1:-1] not in plan_json  # nor JSON-escaped (the secret has "/" and "+")
