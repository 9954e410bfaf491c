"""The non-Terraform examples end to end: the CI script (real awscli, vaultlet and bao CLIs),
the hvac application and the `bao agent` template, all with AppRole where the walkthrough has it."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from support import processes
from support import terraform as tfkit

DEPLOY_POLICY = """
path "aws/creds/deploy" { capabilities = ["read"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""


@pytest.fixture(scope="module")
def approle(broker):
    """An AppRole whose tokens may read aws/creds/deploy and revoke their own leases."""
    status, mounts, _ = processes.http(broker.vault, "GET", "sys/auth")
    if "approle/" not in (mounts or {}).get("data", mounts or {}):
        broker.vault_call("POST", "sys/auth/approle", {"type": "approle"})
    broker.vault_call("PUT", "sys/policies/acl/aws-deploy", {"policy": DEPLOY_POLICY})
    broker.vault_call(
        "POST", "auth/approle/role/deploy-app", {"token_policies": ["aws-deploy"], "token_ttl": "10m"}
    )
    role_id = broker.vault_call("GET", "auth/approle/role/deploy-app/role-id")["data"]["role_id"]
    secret_id = broker.vault_call("POST", "auth/approle/role/deploy-app/secret-id")["data"]["secret_id"]
    return role_id, secret_id


@pytest.fixture
def bucket(broker):
    name = f"deploy-{uuid.uuid4().hex[:12]}"
    broker.aws_client("s3").create_bucket(Bucket=name)
    return name


def _run(argv, env, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------- ci-pipeline


@pytest.mark.parametrize("vault_cli", ["vaultlet", "bao"])
def test_ci_pipeline_deploys_and_revokes(broker, bucket, vault_cli):
    broker.vault_call(
        "POST",
        "aws/roles/deploy-role",
        {"credential_type": "assumed_role", "role_arns": [broker.role_arn("deploy")]},
    )
    leases_before = broker.lease_ids("deploy-role")
    env = broker.env(
        VAULT_TOKEN="",
        CI_VAULT_TOKEN=broker.vault.root_token,
        VAULT_CLI=vault_cli,
        DEPLOY_BUCKET=bucket,
        AWS_ENDPOINT_URL=broker.moto.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
    )
    result = _run(["./deploy.sh"], env, cwd=tfkit.EXAMPLES / "ci-pipeline")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Revoking AWS credentials (lease aws/creds/deploy-role/" in result.stdout
    keys = {entry["Key"] for entry in broker.aws_client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"index.html", "site.css"}
    assert broker.lease_ids("deploy-role") == leases_before, "the lease must be revoked on exit"
    assert "ASIA" not in result.stdout + result.stderr


def test_ci_pipeline_revokes_even_when_the_deploy_fails(broker):
    leases_before = broker.lease_ids("deploy-role")
    env = broker.env(
        VAULT_TOKEN="",
        CI_VAULT_TOKEN=broker.vault.root_token,
        DEPLOY_BUCKET="no-such-bucket",
        AWS_ENDPOINT_URL=broker.moto.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
    )
    result = _run(["./deploy.sh"], env, cwd=tfkit.EXAMPLES / "ci-pipeline")
    assert result.returncode != 0
    assert "Revoking AWS credentials" in result.stdout
    assert broker.lease_ids("deploy-role") == leases_before


# --------------------------------------------------------------------------- python-app


def test_python_app_logs_in_with_approle_lists_buckets_and_revokes(broker, approle, bucket):
    role_id, secret_id = approle
    leases_before = broker.lease_ids("deploy")
    env = broker.env(
        VAULT_TOKEN="",
        VAULT_ROLE_ID=role_id,
        VAULT_SECRET_ID=secret_id,
        VAULT_AWS_ROLE="deploy",
        AWS_ENDPOINT_URL=broker.moto.endpoint,
    )
    result = _run([str(processes.VENV_BIN / "python"), "app.py"], env, cwd=tfkit.EXAMPLES / "python-app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Bucket: {bucket}" in result.stdout.splitlines()
    assert result.stdout.rstrip().endswith("Credentials revoked")
    assert broker.lease_ids("deploy") == leases_before


def test_credentials_program_logs_in_with_approle(broker, approle):
    from conftest import run_program

    role_id, secret_id = approle
    env = broker.env(VAULT_TOKEN="", VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id)
    result = run_program(broker, [], stdin='{"role": "deploy"}', env=env)
    assert result.returncode == 0, result.stderr
    bad = run_program(
        broker, [], stdin='{"role": "deploy"}', env={**env, "VAULT_SECRET_ID": "wrong-secret-id"}
    )
    assert bad.returncode != 0 and len(bad.stderr.splitlines()) == 1
    assert "wrong-secret-id" not in bad.stderr and role_id not in bad.stderr


# --------------------------------------------------------------------------- agent-template


def test_bao_agent_renders_aws_env_file(broker, approle, tmp_path):
    role_id, secret_id = approle
    workdir = tmp_path / "agent"
    shutil.copytree(tfkit.EXAMPLES / "agent-template", workdir)
    (workdir / "role-id").write_text(role_id)
    (workdir / "secret-id").write_text(secret_id)
    env = broker.env(VAULT_TOKEN="")
    result = _run(
        [str(processes.VENV_BIN / "bao"), "agent", "-config=agent.hcl", "-exit-after-auth"], env, cwd=workdir
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = workdir / "aws-env.sh"
    assert oct(rendered.stat().st_mode & 0o777) == "0o600"
    identity = _run(
        ["bash", "-c", f". {rendered} && aws sts get-caller-identity --query Arn --output text"],
        {**env, "AWS_ENDPOINT_URL": broker.moto.endpoint, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert identity.returncode == 0, identity.stderr
    assert ":assumed-role/vault-deploy/" in identity.stdout
