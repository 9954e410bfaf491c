"""`vaultlet login -method=jwt|approle|kubernetes`: K=V pairs POSTed to auth/<path>/login, the
token written to ~/.vault-token, as the token login does. A real server and the real CLI."""

from __future__ import annotations

import json
import subprocess

import pytest

from support.access import ok, unique
from support.kube_apiserver import KubeApiServerStandIn
from support.oidc_issuer import OidcIssuer
from support.processes import VENV_BIN, http, start_vaultlet_dev


@pytest.fixture(scope="module")
def issuer():
    with OidcIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def vault(tmp_path_factory, issuer):
    server = start_vaultlet_dev(tmp_path_factory.mktemp("cli-login"))
    for mount, kind in (("jwt", "jwt"), ("ci", "jwt"), ("approle", "approle"), ("kubernetes", "kubernetes")):
        ok(http(server, "POST", f"sys/auth/{mount}", {"type": kind}))
        if kind == "jwt":
            ok(http(server, "POST", f"auth/{mount}/config", {"jwks_url": issuer.jwks_url}))
    yield server
    server.stop()


def _cli(vault, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = vault.client_env()
    del env["VAULT_TOKEN"]  # a login needs none
    return subprocess.run(
        [str(VENV_BIN / "vaultlet"), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def _jwt_role(vault, mount: str) -> str:
    name = unique("cli")
    ok(
        http(
            vault,
            "POST",
            f"auth/{mount}/role/{name}",
            {"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vaultlet", "token_policies": "p1"},
        )
    )
    return name


def _token_file(vault) -> str:
    return (vault.workdir / "home" / ".vault-token").read_text().strip()


def test_login_method_jwt_with_the_jwt_from_a_file_stores_the_token(vault, issuer, tmp_path):
    role = _jwt_role(vault, "jwt")
    jwt_file = tmp_path / "token.jwt"
    jwt_file.write_text(issuer.token())
    result = _cli(vault, "login", "-method=jwt", "-format=json", f"role={role}", f"jwt=@{jwt_file}")
    assert result.returncode == 0, result.stderr
    auth = json.loads(result.stdout)["auth"]
    assert auth["policies"] == ["default", "p1"] and auth["metadata"] == {"role": role}
    assert _token_file(vault) == auth["client_token"]
    status, body, _ = http(vault, "GET", "auth/token/lookup-self", token=auth["client_token"])
    assert status == 200 and body["data"]["path"] == "auth/jwt/login"


def test_login_method_jwt_at_another_path_from_stdin(vault, issuer):
    role = _jwt_role(vault, "ci")
    result = _cli(
        vault,
        "login",
        "-method=jwt",
        "-path=ci",
        "-token-only",
        f"role={role}",
        "jwt=-",
        stdin=issuer.token(),
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    status, body, _ = http(vault, "GET", "auth/token/lookup-self", token=token)
    assert status == 200 and body["data"]["path"] == "auth/ci/login"


def test_login_method_jwt_failure_shows_the_servers_error_and_not_the_jwt(vault, issuer):
    role = _jwt_role(vault, "jwt")
    bad = issuer.token(audience="nobody")
    result = _cli(vault, "login", "-method=jwt", f"role={role}", f"jwt={bad}")
    assert result.returncode == 2
    assert "Error authenticating" in result.stderr and "invalid audience (aud) claim" in result.stderr
    assert bad not in result.stderr + result.stdout
    missing = _cli(vault, "login", "-method=jwt", f"role={role}")
    assert missing.returncode == 1 and "missing jwt=..." in missing.stderr


def test_login_method_approle(vault):
    name = unique("app")
    ok(http(vault, "POST", f"auth/approle/role/{name}", {"token_policies": "p2"}))
    role_id = ok(http(vault, "GET", f"auth/approle/role/{name}/role-id"))["data"]["role_id"]
    secret_id = ok(http(vault, "POST", f"auth/approle/role/{name}/secret-id"))["data"]["secret_id"]
    result = _cli(
        vault, "login", "-method=approle", "-format=json", f"role_id={role_id}", f"secret_id={secret_id}"
    )
    assert result.returncode == 0, result.stderr
    auth = json.loads(result.stdout)["auth"]
    assert auth["policies"] == ["default", "p2"] and _token_file(vault) == auth["client_token"]
    assert secret_id not in result.stderr


def test_login_method_kubernetes_logs_in_through_the_token_review(vault, tmp_path):
    """The real kubernetes method, against the kube-apiserver stand-in (no cluster runs here)."""
    kube = KubeApiServerStandIn(tmp_path / "kube-apiserver-standin")
    try:
        ok(
            http(
                vault,
                "POST",
                "auth/kubernetes/config",
                {
                    "kubernetes_host": kube.host,
                    "kubernetes_ca_cert": kube.ca_pem,
                    "disable_local_ca_jwt": True,
                },
            )
        )
        ok(
            http(
                vault,
                "POST",
                "auth/kubernetes/role/my-app",
                {
                    "bound_service_account_names": "my-app",
                    "bound_service_account_namespaces": "default",
                    "token_policies": "p3",
                },
            )
        )
        token = kube.issue_token(kube.service_account("default", "my-app"))
        before = len(kube.reviews())
        result = _cli(vault, "login", "-method=kubernetes", "-format=json", "role=my-app", f"jwt={token}")
        assert result.returncode == 0, result.stderr
        auth = json.loads(result.stdout)["auth"]
        assert auth["metadata"]["service_account_name"] == "my-app" and auth["policies"] == ["default", "p3"]
        assert _token_file(vault) == auth["client_token"] and len(kube.reviews()) == before + 1
        assert token not in result.stderr
        other = _cli(vault, "login", "-method=kubernetes", "-path=elsewhere", "role=my-app", f"jwt={token}")
        assert other.returncode == 2 and "auth/elsewhere/login" in other.stderr
    finally:
        kube.stop()
    unknown = _cli(vault, "login", "-method=ldap", "username=x")
    assert unknown.returncode == 1 and "Unknown auth method: ldap" in unknown.stderr
