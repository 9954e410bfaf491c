"""The walkthrough's Example 1 without a cluster: `bao agent` logs in with Kubernetes auto-auth
(examples/agent-template/kubernetes-agent.hcl) and renders its template from aws/creds/my-app-role.

The API server is the kube-apiserver STAND-IN (tests/support/kube_apiserver.py): it issued the
service-account token the agent reads from `token_path` and answers vaultlet's TokenReview.
AWS is moto (`vaultlet server -dev -dev-aws=moto`). The rendered keys are checked with boto3 and
awscli; after the lease is revoked the agent's renewal fails and it renders fresh keys.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from support.access import ok, write_policy
from support.aws_engine import access_key_user, caller_arn
from support.kube_apiserver import TOKEN_REVIEW_PATH, KubeApiServerStandIn
from support.processes import VENV_BIN, http, start_process, start_vaultlet_dev

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent-template"
S3_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
_EXPORT = re.compile(r'export (AWS_[A-Z_]+)="([^"]*)"')


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    api = KubeApiServerStandIn(tmp_path_factory.mktemp("kube-apiserver-standin"))
    yield api
    api.stop()


@pytest.fixture(scope="module")
def vault(tmp_path_factory, kube):
    server = start_vaultlet_dev(tmp_path_factory.mktemp("k8s-agent"), extra_args=["-dev-aws=moto"])
    found = re.search(r"AWS \(moto\) is at (http://127\.0\.0\.1:\d+)", server.log_text())
    assert found, server.log_text()
    server.moto = SimpleNamespace(endpoint=found.group(1))
    ok(http(server, "POST", "sys/auth/kubernetes", {"type": "kubernetes"}))
    ok(
        http(
            server,
            "POST",
            "auth/kubernetes/config",
            {"kubernetes_host": kube.host, "kubernetes_ca_cert": kube.ca_pem, "disable_local_ca_jwt": True},
        )
    )
    write_policy(server, "my-app", 'path "aws/creds/my-app-role" { capabilities = ["read"] }')
    ok(
        http(
            server,
            "POST",
            "auth/kubernetes/role/my-app",
            {
                "bound_service_account_names": "my-app",
                "bound_service_account_namespaces": "default",
                "token_policies": "my-app",
                "token_ttl": "1h",
            },
        )
    )
    ok(
        http(
            server,
            "POST",
            "aws/roles/my-app-role",
            {"credential_type": "iam_user", "policy_document": S3_POLICY},
        )
    )
    # Short leases: the agent renews at about two thirds of the TTL, so it notices a revoke fast.
    ok(http(server, "POST", "aws/config/lease", {"lease": "9s", "lease_max": "10m"}))
    yield server
    server.stop()


def _exports(path: Path) -> dict[str, str]:
    return dict(_EXPORT.findall(path.read_text())) if path.exists() else {}


def _wait_for_keys(path: Path, agent, differ_from: str = "", timeout: float = 60.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exports = _exports(path)
        if exports.get("AWS_ACCESS_KEY_ID") and exports["AWS_ACCESS_KEY_ID"] != differ_from:
            return exports
        assert agent.poll() is None, f"bao agent exited with {agent.returncode}"
        time.sleep(0.3)
    raise AssertionError(
        f"no new keys in {path} within {timeout}s: {path.read_text() if path.exists() else ''}"
    )


def _works(vault, exports: dict[str, str]) -> str:
    data = {"access_key": exports["AWS_ACCESS_KEY_ID"], "secret_key": exports["AWS_SECRET_ACCESS_KEY"]}
    return caller_arn(vault.moto, data)


def test_bao_agent_kubernetes_auto_auth_renders_and_rerenders_after_revoke(kube, vault, tmp_path):
    workdir = tmp_path / "agent"
    shutil.copytree(EXAMPLE, workdir)
    account = kube.service_account("default", "my-app")
    service_account_token = kube.issue_token(account)
    (workdir / "service-account-token").write_text(service_account_token)
    env = vault.client_env(VAULT_TOKEN="")
    env.pop("VAULT_TOKEN")
    agent = start_process(
        [str(VENV_BIN / "bao"), "agent", "-config=kubernetes-agent.hcl"], tmp_path / "agent.log", env, workdir
    )
    try:
        rendered = workdir / "secrets" / "aws"
        first = _wait_for_keys(rendered, agent)
        assert oct(rendered.stat().st_mode & 0o777) == "0o600"
        assert "AWS_SESSION_TOKEN" not in first  # iam_user keys: the template's if-branch stays out
        assert ":user/vault-" in _works(vault, first)
        # awscli, as the pod's `source /vault/secrets/aws && ./my-app` would run it
        identity = subprocess.run(
            ["bash", "-c", f". {rendered} && aws sts get-caller-identity --query Arn --output text"],
            env={**env, "AWS_ENDPOINT_URL": vault.moto.endpoint, "AWS_DEFAULT_REGION": "us-east-1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert identity.returncode == 0 and ":user/vault-" in identity.stdout, identity.stderr
        reviews = [r for r in kube.reviews() if r.body["spec"]["token"] == service_account_token]
        assert reviews and reviews[0].path == TOKEN_REVIEW_PATH
        assert reviews[0].headers["Authorization"] == f"Bearer {service_account_token}"

        leases = ok(http(vault, "LIST", "sys/leases/lookup/aws/creds/my-app-role/"))["data"]["keys"]
        assert leases
        for lease in leases:
            ok(http(vault, "PUT", "sys/leases/revoke", {"lease_id": f"aws/creds/my-app-role/{lease}"}))

        second = _wait_for_keys(rendered, agent, differ_from=first["AWS_ACCESS_KEY_ID"])
        assert ":user/vault-" in _works(vault, second)
        # The revoke deleted the first key's IAM user; the new key has one.
        assert access_key_user(vault.moto, first["AWS_ACCESS_KEY_ID"]) is None
        assert access_key_user(vault.moto, second["AWS_ACCESS_KEY_ID"]) is not None
    finally:
        if agent.poll() is None:
            os.killpg(agent.pid, signal.SIGTERM)
            agent.wait(timeout=20)
    assert service_account_token not in vault.log_text()
