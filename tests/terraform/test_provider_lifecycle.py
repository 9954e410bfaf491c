"""The vaultlet provider's lease lifecycle: renew through a long apply, revoke on failure.

- An apply that outlasts an IAM-user lease: the provider renews the lease (its expire
  time moves, seen in the raw audit log) and never issues new keys; with moto enforcing
  IAM, the bucket created after the pause proves the keys still worked. Closing revokes
  the lease and vaultlet deletes the IAM user.
- An apply that fails half-way still closes the ephemeral resource: no lease is left.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta

import pytest

from conftest import ADMIN_POLICY, BROKER_USER
from support import processes, provider_audit
from support import terraform as tfkit

LEASE_SECONDS = 6  # the IAM-user lease; the provider renews it after half of it
PAUSE_SECONDS = 14  # the apply's pause: longer than two leases
USERS_MOUNT = "aws-users"
USERS_ROLE = "deployer"
FAILING_APPLY = tfkit.REPO / "tests" / "terraform" / "fixtures" / "ephemeral-failing-apply"


@pytest.fixture(scope="module")
def users_mount(broker):
    """A second AWS mount issuing IAM users (verify_credentials on) with a short lease."""
    key = broker.aws_client("iam").create_access_key(UserName=BROKER_USER)["AccessKey"]
    broker.vault_call("POST", f"sys/mounts/{USERS_MOUNT}", {"type": "aws"})
    broker.vault_call(
        "POST",
        f"{USERS_MOUNT}/config/root",
        {
            "access_key": key["AccessKeyId"],
            "secret_key": key["SecretAccessKey"],
            "region": "us-east-1",
            "iam_endpoint": broker.moto.endpoint,
            "sts_endpoint": broker.moto.endpoint,
        },
    )
    broker.vault_call(
        "POST", f"{USERS_MOUNT}/config/lease", {"lease": f"{LEASE_SECONDS}s", "lease_max": "10m"}
    )
    broker.vault_call(
        "POST",
        f"{USERS_MOUNT}/roles/{USERS_ROLE}",
        {
            "credential_type": "iam_user",
            "policy_document": json.dumps(ADMIN_POLICY),
            "verify_credentials": True,
        },
    )
    yield
    broker.vault_call("DELETE", f"sys/mounts/{USERS_MOUNT}")
    broker.aws_client("iam").delete_access_key(UserName=BROKER_USER, AccessKeyId=key["AccessKeyId"])


def _live_leases(broker, prefix: str) -> set[str]:
    """sys/leases/lookup/<prefix> (404 when there are none)."""
    status, parsed, text = processes.http(broker.vault, "LIST", f"sys/leases/lookup/{prefix}")
    assert status in (200, 404), f"listing leases: {status} {text}"
    return set(parsed["data"]["keys"]) if status == 200 else set()


def _expire_time(broker, lease_id: str) -> str | None:
    status, parsed, _ = processes.http(broker.vault, "PUT", "sys/leases/lookup", {"lease_id": lease_id})
    return parsed["data"]["expire_time"] if status == 200 else None


def _apply_watching_expire_times(
    broker, root: tfkit.TerraformRoot, log
) -> tuple[subprocess.CompletedProcess, dict]:
    """`terraform apply` in the background; meanwhile sys/leases/lookup of every lease it
    was issued, once a second: the expire times each lease had while Terraform ran."""
    argv = [str(tfkit.TERRAFORM), "apply", "-input=false", "-no-color", "-auto-approve"]
    argv += [f"-state={root.state_path}", *root.var_flags()]
    env = {**root.env, "TF_DATA_DIR": str(root.workdir / ".terraform")}
    seen: dict[str, list[str]] = {}
    with subprocess.Popen(
        argv, cwd=root.directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as run:
        while run.poll() is None:
            for issue in provider_audit.issues(log, f"{USERS_MOUNT}/creds/{USERS_ROLE}"):
                expire_time = _expire_time(broker, issue.lease_id)
                if expire_time and expire_time not in seen.setdefault(issue.lease_id, []):
                    seen[issue.lease_id].append(expire_time)
            time.sleep(1)
        stdout, stderr = run.communicate()
    return subprocess.CompletedProcess(argv, run.returncode, stdout.decode(), stderr.decode()), seen


@pytest.fixture(scope="module")
def long_apply(broker, users_mount, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ephemeral-long-apply")
    root = tfkit.TerraformRoot(
        tfkit.EXAMPLES / "ephemeral-credentials",
        workdir,
        broker.env(),
        variables={
            "mount": USERS_MOUNT,
            "vault_role": USERS_ROLE,
            "pause_seconds": str(PAUSE_SECONDS),
            "local_aws_endpoint": broker.moto.endpoint,
        },
    )
    root.init()
    with provider_audit.raw_audit_log(broker.vault, workdir / "audit.log", "tf-long-apply") as log:
        with broker.iam_authorization():
            applied, expire_times = _apply_watching_expire_times(broker, root, log)
        return {
            "root": root,
            "applied": applied,
            "expire_times": expire_times,
            "issues": provider_audit.issues(log, f"{USERS_MOUNT}/creds/{USERS_ROLE}"),
            "renewals": provider_audit.renewals(log),
            "live_leases": _live_leases(broker, f"{USERS_MOUNT}/creds/{USERS_ROLE}"),
            "users": [user["UserName"] for user in broker.aws_client("iam").list_users()["Users"]],
        }


def test_apply_longer_than_the_lease_succeeds(long_apply):
    applied = long_apply["applied"]
    assert applied.returncode == 0, f"{applied.stdout}\n{applied.stderr}"
    assert "Apply complete! Resources: 3 added" in applied.stdout
    assert ":user/" in long_apply["root"].output("caller_arn")
    assert long_apply["root"].output("bucket_after_pause").startswith("vaultlet-ephemeral-credentials-after-")


def test_the_lease_was_renewed_and_its_expire_time_moved(long_apply):
    # `terraform apply` opens the resource twice: once while planning, once applying.
    apply_issue = long_apply["issues"][-1]
    assert any(renewal.lease_id == apply_issue.lease_id for renewal in long_apply["renewals"])
    expire_times = [datetime.fromisoformat(text) for text in long_apply["expire_times"][apply_issue.lease_id]]
    assert len(expire_times) >= 2, expire_times
    assert expire_times == sorted(expire_times)
    # It ended up later than a lease never renewed would have ended, by a lease or more.
    assert expire_times[-1] - (apply_issue.time + timedelta(seconds=LEASE_SECONDS)) >= timedelta(
        seconds=LEASE_SECONDS
    )


def test_renew_never_issued_new_keys(long_apply):
    # One issue per phase (plan, apply), however many renewals.
    assert len(long_apply["issues"]) == 2
    assert len(long_apply["renewals"]) >= 2


def test_lease_revoked_and_iam_users_deleted_when_apply_ends(long_apply):
    assert long_apply["live_leases"] == set()
    assert [user for user in long_apply["users"] if user != BROKER_USER] == []


def test_failed_apply_still_revokes_its_leases(broker, tmp_path):
    root = tfkit.TerraformRoot(
        FAILING_APPLY,
        tmp_path,
        broker.env(),
        variables={"vault_role": "deploy", "local_aws_endpoint": broker.moto.endpoint},
    )
    root.init()
    before = broker.lease_ids("deploy")
    with provider_audit.raw_audit_log(broker.vault, tmp_path / "audit.log", "tf-failing-apply") as log:
        failed = root.apply(check=False)
        issued = {issue.lease_id for issue in provider_audit.issues(log, "aws/creds/deploy")}
    assert failed.returncode != 0
    assert "failing on purpose" in failed.stderr
    assert "aws_s3_bucket.first: Creation complete" in failed.stdout  # it did fail half-way
    assert len(issued) == 2  # plan walk and apply walk
    assert broker.lease_ids("deploy") - before == set()
