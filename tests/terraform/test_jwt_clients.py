"""CI jobs that log in with a JWT, end to end: a JWT from the local OIDC issuer → the credentials
program (`env` mode) → awscli against moto; the GitHub Actions ID-token path (with a labelled
stand-in for GitHub's endpoint); `bao agent` with `auto_auth { method "jwt" }`; and the
ci-pipeline example's `deploy-jwt.sh`."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from support import processes
from support import terraform as tfkit
from support.oidc_issuer import GitHubActionsIdTokenStandIn, OidcIssuer

POLICY = """
path "aws/creds/deploy" { capabilities = ["read"] }
path "sys/leases/revoke" { capabilities = ["update"] }
path "sys/leases/revoke/*" { capabilities = ["update"] }
"""
ROLE = "gha-deploy"


@pytest.fixture(scope="module")
def issuer():
    with OidcIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def jwt_auth(broker, issuer):
    """What an operator does: trust the CI issuer, bind a role to one repository's branches."""
    status, mounts, _ = processes.http(broker.vault, "GET", "sys/auth")
    if "jwt/" not in (mounts or {}).get("data", mounts or {}):
        broker.vault_call("POST", "sys/auth/jwt", {"type": "jwt"})
    broker.vault_call(
        "POST", "auth/jwt/config", {"oidc_discovery_url": issuer.url, "bound_issuer": issuer.url}
    )
    broker.vault_call("PUT", "sys/policies/acl/jwt-deploy", {"policy": POLICY})
    broker.vault_call(
        "POST",
        f"auth/jwt/role/{ROLE}",
        {
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": "vaultlet",
            "bound_claims_type": "glob",
            "bound_claims": {"sub": "repo:my-org/my-app:ref:refs/heads/*"},
            "claim_mappings": {"repository": "repository"},
            "token_policies": "jwt-deploy",
            "token_ttl": "10m",
        },
    )
    return issuer


def _job_jwt(issuer: OidcIssuer, **claims) -> str:
    return issuer.token(
        subject="repo:my-org/my-app:ref:refs/heads/main", repository="my-org/my-app", **claims
    )


def _run(argv, env, cwd=None, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)


def _caller_arn(broker, exports: str) -> subprocess.CompletedProcess:
    """`eval` the export lines, then ask moto who we are with the real awscli."""
    env = broker.env(VAULT_TOKEN="", AWS_ENDPOINT_URL=broker.moto.endpoint, AWS_DEFAULT_REGION="us-east-1")
    script = 'eval "$EXPORTS" && aws sts get-caller-identity --query Arn --output text'
    return _run(["bash", "-c", script], {**env, "EXPORTS": exports})


def test_ci_job_jwt_file_to_env_mode_to_awscli(broker, jwt_auth, tmp_path):
    from conftest import run_program

    jwt_file = tmp_path / "job.jwt"
    jwt_file.write_text(_job_jwt(jwt_auth))
    env = broker.env(VAULT_TOKEN="", VAULT_AUTH_ROLE=ROLE, VAULT_JWT_FILE=str(jwt_file))
    result = run_program(broker, ["env", "--role", "deploy"], env=env)
    assert result.returncode == 0, result.stderr
    assert (
        "export AWS_ACCESS_KEY_ID=" in result.stdout
        and "VAULTLET_LEASE_ID=aws/creds/deploy/" in result.stdout
    )
    identity = _caller_arn(broker, result.stdout)
    assert identity.returncode == 0, identity.stderr
    assert ":assumed-role/vault-deploy/" in identity.stdout


def test_a_jwt_for_another_branch_or_audience_is_refused_without_leaking_it(broker, jwt_auth):
    from conftest import run_program

    for bad in (
        jwt_auth.token(subject="repo:my-org/other:ref:refs/heads/main"),
        _job_jwt(jwt_auth, audience="someone-else"),
    ):
        env = broker.env(VAULT_TOKEN="", VAULT_AUTH_ROLE=ROLE, VAULT_JWT=bad)
        result = run_program(broker, ["env", "--role", "deploy"], env=env)
        assert result.returncode != 0 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and "auth/jwt/login" in result.stderr
        assert bad not in result.stderr and bad.split(".")[2] not in result.stderr
    no_jwt = run_program(
        broker, ["env", "--role", "deploy"], env=broker.env(VAULT_TOKEN="", VAULT_AUTH_ROLE=ROLE)
    )
    assert no_jwt.returncode != 0 and "there is no JWT" in no_jwt.stderr


def test_github_actions_id_token_to_env_mode(broker, jwt_auth):
    """The GitHub Actions path. GitHub's ID-token endpoint is played by a STAND-IN speaking its
    protocol (tests/support/oidc_issuer.py: GitHubActionsIdTokenStandIn)."""
    from conftest import run_program

    with GitHubActionsIdTokenStandIn(jwt_auth) as actions:
        env = broker.env(
            VAULT_TOKEN="",
            VAULT_AUTH_ROLE=ROLE,
            VAULT_JWT_AUDIENCE="vaultlet",
            **actions.runner_environment(),
        )
        result = run_program(broker, ["env", "--role", "deploy"], env=env)
        assert result.returncode == 0, result.stderr
        (request,) = actions.requests
        assert request["audience"] == "vaultlet" and request["api-version"] == "2.0"
        assert request["authorization"] == f"bearer {actions.request_token}"
        assert ":assumed-role/vault-deploy/" in _caller_arn(broker, result.stdout).stdout

        # Without an audience GitHub's default (the owner's URL) is not one the role accepts.
        env.pop("VAULT_JWT_AUDIENCE")
        refused = run_program(broker, ["env", "--role", "deploy"], env=env)
        assert refused.returncode != 0 and "invalid audience (aud) claim" in refused.stderr
        assert actions.request_token not in refused.stderr
        bad_token = run_program(
            broker, ["env", "--role", "deploy"], env={**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "nope"}
        )
        assert bad_token.returncode != 0 and "HTTP 401" in bad_token.stderr


def test_bao_agent_jwt_auto_auth_renders_aws_keys(broker, jwt_auth, tmp_path):
    workdir = tmp_path / "agent"
    workdir.mkdir()
    for name in ("aws-env.ctmpl", "agent-jwt.hcl"):  # the example, unchanged (its role is ROLE)
        shutil.copy(tfkit.EXAMPLES / "agent-template" / name, workdir / name)
    (workdir / "job.jwt").write_text(_job_jwt(jwt_auth))
    env = broker.env(VAULT_TOKEN="")
    result = _run(
        [str(processes.VENV_BIN / "bao"), "agent", "-config=agent-jwt.hcl", "-exit-after-auth"],
        env,
        cwd=workdir,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    token = (workdir / "agent-token").read_text().strip()
    status, looked_up, _ = processes.http(broker.vault, "GET", "auth/token/lookup-self", token=token)
    assert status == 200 and looked_up["data"]["path"] == "auth/jwt/login"
    assert looked_up["data"]["meta"] == {"repository": "my-org/my-app", "role": ROLE}
    identity = _caller_arn(broker, (workdir / "aws-env.sh").read_text())
    assert identity.returncode == 0, identity.stderr
    assert ":assumed-role/vault-deploy/" in identity.stdout


@pytest.mark.parametrize("vault_cli", ["vaultlet", "bao"])
def test_ci_pipeline_deploy_jwt_logs_in_deploys_and_revokes(broker, jwt_auth, tmp_path, vault_cli):
    bucket = f"deploy-{uuid.uuid4().hex[:12]}"
    broker.aws_client("s3").create_bucket(Bucket=bucket)
    broker.vault_call(
        "POST",
        "aws/roles/deploy-role",
        {"credential_type": "assumed_role", "role_arns": [broker.role_arn("deploy")]},
    )
    broker.vault_call(
        "PUT",
        "sys/policies/acl/jwt-deploy",
        {"policy": POLICY + 'path "aws/creds/deploy-role" { capabilities = ["read"] }'},
    )
    jwt = _job_jwt(jwt_auth)
    jwt_file = tmp_path / "job.jwt"
    jwt_file.write_text(jwt)
    leases_before = broker.lease_ids("deploy-role")
    env = broker.env(
        VAULT_TOKEN="",
        VAULT_AUTH_ROLE=ROLE,
        VAULT_JWT_FILE=str(jwt_file),
        VAULT_CLI=vault_cli,
        DEPLOY_BUCKET=bucket,
        AWS_ENDPOINT_URL=broker.moto.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
    )
    result = _run(["./deploy-jwt.sh"], env, cwd=tfkit.EXAMPLES / "ci-pipeline")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "Logging in to" in result.stdout
        and "Revoking AWS credentials (lease aws/creds/deploy-role/" in result.stdout
    )
    keys = {entry["Key"] for entry in broker.aws_client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"index.html", "site.css"}
    assert broker.lease_ids("deploy-role") == leases_before
    assert jwt not in result.stdout + result.stderr and "warning" not in result.stderr
