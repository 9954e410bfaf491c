"""Kubernetes auth against a real vaultlet server, with hvac and the real `bao` CLI.

No Kubernetes cluster runs here: the API server is a STAND-IN (tests/support/kube_apiserver.py)
that signs service-account JWTs with its own key and answers TokenReviews over HTTPS, with its
own CA, exactly as the kube-apiserver does; it records every request, so these tests assert that
the TokenReview was really called, with the right path, headers, body and bearer token.
The differential test at the end runs the same sequence against OpenBao (`bao server -dev`,
pointed at the same stand-in) and compares the answers.
"""

from __future__ import annotations

import json

import hvac
import pytest

from support.access import ok, unique, write_policy
from support.kube_apiserver import API_AUDIENCES, TOKEN_REVIEW_PATH, KubeApiServerStandIn
from support.processes import bao, free_port, http, start_openbao_dev, start_vaultlet_dev
from support.tls import self_signed_certificate
from vaultlet.engines.auth.kubernetes.token_review import ApiTokenReviewer, ReviewedAccount, ReviewFailed

ROLE = "my-app"


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    """The kube-apiserver stand-in (HTTPS; its CA goes into kubernetes_ca_cert)."""
    api = KubeApiServerStandIn(tmp_path_factory.mktemp("kube-apiserver-standin"))
    yield api
    api.stop()


@pytest.fixture(scope="module")
def vault(tmp_path_factory, kube):
    workdir = tmp_path_factory.mktemp("k8s-auth")
    server = start_vaultlet_dev(workdir)
    audit_log = workdir / "audit.log"
    ok(http(server, "PUT", "sys/audit/file", {"type": "file", "options": {"file_path": str(audit_log)}}))
    server.audit_log = audit_log
    root = hvac.Client(url=server.address, token=server.root_token)
    root.sys.enable_auth_method("kubernetes")
    root.auth.kubernetes.configure(
        kubernetes_host=kube.host, kubernetes_ca_cert=kube.ca_pem, disable_local_ca_jwt=True
    )
    write_policy(server, "app", 'path "secret-app/*" { capabilities = ["read"] }')
    root.auth.kubernetes.create_role(
        ROLE,
        bound_service_account_names=[ROLE],
        bound_service_account_namespaces=["prod-*", "staging"],
        policies=["app"],
        ttl="20m",
    )
    yield server
    server.stop()


@pytest.fixture()
def client(vault) -> hvac.Client:
    return hvac.Client(url=vault.address)


def _new_reviews(kube, before: int):
    return kube.reviews()[before:]


# -- the real TokenReview client, straight against the stand-in --------------------------


def test_token_review_client_speaks_the_api_servers_protocol(kube, tmp_path):
    account = kube.service_account("prod-client", ROLE)
    token = kube.issue_token(account, audiences=["vault", *API_AUDIENCES])
    client = ApiTokenReviewer(kube.host, kube.ca_pem, reviewer_jwt="")
    for _ in range(2):  # the second review reuses the kept-alive TLS connection
        assert client.review(token, ["vault"]) == ReviewedAccount(ROLE, "prod-client", account.uid)
    assert kube.reviews()[-1].body == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": ["vault"]},
    }
    with pytest.raises(ReviewFailed, match="service account unauthorized"):  # 401: a bad bearer
        ApiTokenReviewer(kube.host, kube.ca_pem, reviewer_jwt="not-a-token").review(token, [])
    with pytest.raises(ReviewFailed, match="jwt not valid|rejected the token"):
        client.review(token, ["another-audience"])
    other_ca, _key = self_signed_certificate(tmp_path)  # TLS is really verified against the CA
    with pytest.raises(ReviewFailed, match="unreachable") as untrusted:
        ApiTokenReviewer(kube.host, other_ca.read_text(), reviewer_jwt="").review(token, [])
    assert token not in str(untrusted.value)


# -- logins that succeed ----------------------------------------------------------------


def test_hvac_login_for_the_bound_account_calls_the_token_review(kube, vault, client):
    account = kube.service_account("prod-eu", ROLE)
    token = kube.issue_token(account)
    before = len(kube.reviews())

    login = client.auth.kubernetes.login(ROLE, token)["auth"]

    assert login["policies"] == ["app", "default"] and login["lease_duration"] == 1200
    assert login["metadata"] == {
        "role": ROLE,
        "service_account_name": ROLE,
        "service_account_namespace": "prod-eu",
        "service_account_secret_name": "",
        "service_account_uid": account.uid,
    }
    (review,) = _new_reviews(kube, before)
    assert review.method == "POST" and review.path == TOKEN_REVIEW_PATH
    # No token_reviewer_jwt configured: the client's own JWT is the bearer, as in Vault.
    assert review.headers["Authorization"] == f"Bearer {token}"
    assert review.headers["Content-Type"] == "application/json"
    assert review.headers["Accept"] == "application/json"
    assert review.body == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": API_AUDIENCES},  # the token's own audiences
    }
    # The token works and is named after the service account, as Vault names it.
    me = client.auth.token.lookup_self()["data"]
    assert me["display_name"] == "kubernetes-prod-eu-my-app" and me["path"] == "auth/kubernetes/login"


def test_a_batch_token_role_logs_in_with_a_batch_token(kube, vault, client):
    """Issue 9, defect 7: token_type=batch on the role (tokenutil) makes the login a batch token."""
    root = hvac.Client(url=vault.address, token=vault.root_token)
    role = f"{ROLE}-batch"
    root.auth.kubernetes.create_role(
        role,
        bound_service_account_names=[ROLE],
        bound_service_account_namespaces=["prod-*"],
        policies=["app"],
        ttl="20m",
        token_type="batch",
    )
    login = client.auth.kubernetes.login(role, kube.issue_token(kube.service_account("prod-b", ROLE)))["auth"]
    assert login["token_type"] == "batch" and login["accessor"] == "" and login["renewable"] is False
    assert login["lease_duration"] == 1200 and login["orphan"] is True
    assert client.auth.token.lookup_self()["data"]["type"] == "batch"


def test_bao_cli_login_with_a_legacy_secret_token(kube, vault):
    account = kube.service_account("staging", ROLE)
    token = kube.issue_token(account, legacy=True, secret_name="my-app-token-q2w3e")
    result = bao(vault, "write", "-format=json", "auth/kubernetes/login", f"role={ROLE}", f"jwt={token}")
    login = json.loads(result.stdout)["auth"]
    assert login["metadata"]["service_account_secret_name"] == "my-app-token-q2w3e"
    assert login["metadata"]["service_account_uid"] == account.uid
    whoami = bao(vault, "token", "lookup", "-format=json", token=login["client_token"])
    assert json.loads(whoami.stdout)["data"]["policies"] == ["app", "default"]


def test_token_reviewer_jwt_is_the_bearer_and_never_read_back(kube, vault):
    mount = unique("k8s-reviewer")
    ok(http(vault, "POST", f"sys/auth/{mount}", {"type": "kubernetes"}))
    reviewer = kube.issue_token(kube.service_account("kube-system", "vault-auth"))
    config = {"kubernetes_host": kube.host, "kubernetes_ca_cert": kube.ca_pem, "disable_local_ca_jwt": True}
    ok(http(vault, "POST", f"auth/{mount}/config", {**config, "token_reviewer_jwt": reviewer}))
    ok(
        http(
            vault,
            "POST",
            f"auth/{mount}/role/{ROLE}",
            {
                "bound_service_account_names": ROLE,
                "bound_service_account_namespaces": "*",
                "audience": "vault",
            },
        )
    )
    status, read, text = http(vault, "GET", f"auth/{mount}/config")
    assert status == 200 and read["data"]["token_reviewer_jwt_set"] is True
    assert reviewer not in text and "token_reviewer_jwt" not in read["data"]

    # A token for vaultlet only (aud "vault") could not call the API server itself.
    token = kube.issue_token(kube.service_account("team-a", ROLE), audiences=["vault"])
    before = len(kube.reviews())
    ok(http(vault, "POST", f"auth/{mount}/login", {"role": ROLE, "jwt": token}, token=None))
    (review,) = _new_reviews(kube, before)
    assert review.headers["Authorization"] == f"Bearer {reviewer}"
    assert review.body["spec"] == {"token": token, "audiences": ["vault"]}  # the role's audience

    kube.delete_service_account("kube-system", "vault-auth")  # the reviewer itself is gone: 401
    status, body, _ = http(vault, "POST", f"auth/{mount}/login", {"role": ROLE, "jwt": token}, token=None)
    assert (status, body) == (403, {"errors": ["permission denied"]})


def test_pem_keys_verify_signatures_locally(kube, vault, tmp_path):
    mount = unique("k8s-pem")
    ok(http(vault, "POST", f"sys/auth/{mount}", {"type": "kubernetes"}))
    config = {"kubernetes_host": kube.host, "kubernetes_ca_cert": kube.ca_pem, "disable_local_ca_jwt": True}
    ok(http(vault, "POST", f"auth/{mount}/config", {**config, "pem_keys": [kube.public_key_pem]}))
    ok(
        http(
            vault,
            "POST",
            f"auth/{mount}/role/any",
            {"bound_service_account_names": "*", "bound_service_account_namespaces": "*"},
        )
    )
    account = kube.service_account("prod-pem", ROLE)
    ok(
        http(
            vault,
            "POST",
            f"auth/{mount}/login",
            {"role": "any", "jwt": kube.issue_token(account)},
            token=None,
        )
    )

    # Same claims, another cluster's key: refused before any TokenReview is sent.
    foreign = KubeApiServerStandIn(tmp_path, tls=False)
    try:
        forged = foreign.issue_token(account)
    finally:
        foreign.stop()
    before = len(kube.reviews())
    status, body, _ = http(vault, "POST", f"auth/{mount}/login", {"role": "any", "jwt": forged}, token=None)
    assert (status, body) == (403, {"errors": ["permission denied"]})
    assert _new_reviews(kube, before) == []


# -- logins that fail -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name", "message"),
    [
        ("prod-eu", "billing", "service account name not authorized"),
        ("dev", ROLE, "namespace not authorized"),
    ],
)
def test_another_account_or_namespace_is_refused(kube, vault, client, namespace, name, message):
    token = kube.issue_token(kube.service_account(namespace, name))
    before = len(kube.reviews())
    with pytest.raises(hvac.exceptions.Forbidden) as refused:
        client.auth.kubernetes.login(ROLE, token)
    assert refused.value.errors == [message]
    assert _new_reviews(kube, before) == []  # refused on the role's bindings, before the API call


def test_a_token_the_api_server_rejects_is_refused(kube, vault, client, tmp_path):
    account = kube.service_account("prod-us", ROLE)
    revoked = kube.issue_token(account)
    kube.revoke_token(revoked)
    foreign = KubeApiServerStandIn(tmp_path, tls=False)  # same claims, another cluster's signature
    try:
        forged = foreign.issue_token(account)
    finally:
        foreign.stop()
    for token in (revoked, forged):
        before = len(kube.reviews())
        status, body, _ = http(
            vault, "POST", "auth/kubernetes/login", {"role": ROLE, "jwt": token}, token=None
        )
        assert (status, body) == (403, {"errors": ["permission denied"]})
        (review,) = _new_reviews(kube, before)  # the API server was asked, and said no
        assert review.body["spec"]["token"] == token
    bad = bao(vault, "write", "auth/kubernetes/login", f"role={ROLE}", f"jwt={revoked}", check=False)
    assert bad.returncode == 2 and "Code: 403" in bad.stderr and "permission denied" in bad.stderr


def test_an_api_server_that_is_down_gives_a_clean_403(kube, vault):
    mount = unique("k8s-down")
    ok(http(vault, "POST", f"sys/auth/{mount}", {"type": "kubernetes"}))
    settings = {"kubernetes_ca_cert": kube.ca_pem, "disable_local_ca_jwt": True}
    ok(
        http(
            vault,
            "POST",
            f"auth/{mount}/config",
            {"kubernetes_host": f"https://127.0.0.1:{free_port()}", **settings},
        )
    )
    ok(
        http(
            vault,
            "POST",
            f"auth/{mount}/role/{ROLE}",
            {"bound_service_account_names": ROLE, "bound_service_account_namespaces": "prod-eu"},
        )
    )
    token = kube.issue_token(kube.service_account("prod-eu", ROLE))
    status, body, text = http(vault, "POST", f"auth/{mount}/login", {"role": ROLE, "jwt": token}, token=None)
    assert (status, body) == (403, {"errors": ["permission denied"]})  # what OpenBao answers
    assert "Traceback" not in vault.log_text()
    assert "API server unreachable" in vault.log_text()


def test_login_input_errors(vault):
    for body, message in (
        ({"jwt": "x"}, "missing role"),
        ({"role": ROLE}, "missing jwt"),
        ({"role": "nope", "jwt": "x"}, 'invalid role name "nope"'),
    ):
        status, answer, _ = http(vault, "POST", "auth/kubernetes/login", body, token=None)
        assert (status, answer) == (400, {"errors": [message]})


def test_no_jwt_in_the_server_log_or_the_audit_log(kube, vault):
    """Runs after the others in this module: every JWT the stand-in has seen stays secret."""
    seen = {r.body["spec"]["token"] for r in kube.reviews() if r.body}
    seen |= {r.headers.get("Authorization", "").removeprefix("Bearer ") for r in kube.reviews()}
    seen = {token for token in seen if token.count(".") == 2}  # the JWTs (not a test's bad bearer)
    assert len(seen) > 5
    audit, log = vault.audit_log.read_text(), vault.log_text()
    assert '"jwt":"hmac-sha256:' in audit  # the login bodies were audited, hashed
    for token in seen:
        assert token not in audit and token not in log
        assert token.split(".")[1] not in audit  # not even the claims part


# -- differential: OpenBao and vaultlet, same sequence against the same stand-in ---------
#
# Deliberate differences (not compared):
# - auth.entity_id: OpenBao creates an identity entity per login; vaultlet has no identity store
#   (so alias_name_source is validated and the alias name computed, but there is no alias to show).
# - token and accessor formats (OpenBao dev "s."; vaultlet "hvs."), request IDs.
# - vaultlet refuses a kubernetes_ca_cert holding no PEM certificate (400); OpenBao stores it and
#   every login then fails its TLS handshake. vaultlet refuses
#   bound_service_account_namespace_selector (400): it does not read namespace objects.
# - response envelope extras vaultlet adds at the top level (mount_type); only data, auth
#   (keys, policies, metadata, lease) and errors are compared.


def _sequence(kube, mount: str, dead_port: int):
    """(label, method, path, body, authenticated) in order; the same for both servers."""
    account = kube.service_account("diff-prod", ROLE)
    stranger = kube.service_account("diff-prod", "intruder")
    outsider = kube.service_account("diff-dev", ROLE)
    revoked = kube.issue_token(account, audiences=["vault", *API_AUDIENCES])
    kube.revoke_token(revoked)
    good = {"kubernetes_host": kube.host, "kubernetes_ca_cert": kube.ca_pem, "disable_local_ca_jwt": True}
    role = {
        "bound_service_account_names": "my-*",
        "bound_service_account_namespaces": "diff-prod,other",
        "audience": "vault",
        "token_policies": "app",
        "token_ttl": "30m",
    }
    anyone = {"bound_service_account_names": "*", "bound_service_account_namespaces": "*", "audience": ""}
    claimless = kube.sign({"sub": "someone"})  # signed by the cluster, but names no service account
    jwt_for = lambda sa, **kw: kube.issue_token(sa, audiences=["vault", *API_AUDIENCES], **kw)  # noqa: E731
    login = f"auth/{mount}/login"
    return [
        ("enable", "POST", f"sys/auth/{mount}", {"type": "kubernetes"}, True),
        ("config read before write", "GET", f"auth/{mount}/config", None, True),
        ("config without host", "POST", f"auth/{mount}/config", {}, True),
        (
            "config without CA",
            "POST",
            f"auth/{mount}/config",
            {"kubernetes_host": kube.host, "disable_local_ca_jwt": True},
            True,
        ),
        ("config bad pem_keys", "POST", f"auth/{mount}/config", {**good, "pem_keys": "nope"}, True),
        ("config", "POST", f"auth/{mount}/config", good, True),
        ("config read", "GET", f"auth/{mount}/config", None, True),
        ("role without names", "POST", f"auth/{mount}/role/{ROLE}", {}, True),
        (
            "role without namespaces",
            "POST",
            f"auth/{mount}/role/{ROLE}",
            {"bound_service_account_names": ROLE},
            True,
        ),
        (
            "role mixing *",
            "POST",
            f"auth/{mount}/role/{ROLE}",
            {**role, "bound_service_account_names": "*,a"},
            True,
        ),
        (
            "role bad alias source",
            "POST",
            f"auth/{mount}/role/{ROLE}",
            {**role, "alias_name_source": "x"},
            True,
        ),
        ("role", "POST", f"auth/{mount}/role/{ROLE}", role, True),
        ("role read", "GET", f"auth/{mount}/role/{ROLE}", None, True),
        ("role list", "LIST", f"auth/{mount}/role", None, True),
        ("role read missing", "GET", f"auth/{mount}/role/nope", None, True),
        ("login missing role", "POST", login, {"jwt": "x"}, False),
        ("login missing jwt", "POST", login, {"role": ROLE}, False),
        ("login unknown role", "POST", login, {"role": "nope", "jwt": "x"}, False),
        ("login", "POST", login, {"role": ROLE, "jwt": jwt_for(account)}, False),
        ("login other account", "POST", login, {"role": ROLE, "jwt": jwt_for(stranger)}, False),
        ("login other namespace", "POST", login, {"role": ROLE, "jwt": jwt_for(outsider)}, False),
        ("login expired", "POST", login, {"role": ROLE, "jwt": jwt_for(account, ttl=-300)}, False),
        ("login not yet valid", "POST", login, {"role": ROLE, "jwt": jwt_for(account, starts_in=600)}, False),
        ("login wrong audience", "POST", login, {"role": ROLE, "jwt": kube.issue_token(account)}, False),
        ("login rejected by the API", "POST", login, {"role": ROLE, "jwt": revoked}, False),
        ("login garbage", "POST", login, {"role": ROLE, "jwt": "not.a.jwt"}, False),
        ("role for anyone", "POST", f"auth/{mount}/role/any", {**role, **anyone}, True),
        ("login without account claims", "POST", login, {"role": "any", "jwt": claimless}, False),
        (
            "config dead API server",
            "POST",
            f"auth/{mount}/config",
            {**good, "kubernetes_host": f"https://127.0.0.1:{dead_port}"},
            True,
        ),
        ("login API server down", "POST", login, {"role": ROLE, "jwt": jwt_for(account)}, False),
        ("role delete", "DELETE", f"auth/{mount}/role/{ROLE}", None, True),
        ("role read deleted", "GET", f"auth/{mount}/role/{ROLE}", None, True),
    ]


def _comparable(status: int, body: dict | None) -> dict:
    body = body or {}
    view: dict = {"status": status, "errors": body.get("errors")}
    if body.get("data") is not None:
        view["data"] = body["data"]
    auth = body.get("auth")
    if auth:
        view["auth"] = {
            "keys": sorted(set(auth) - {"identity_policies"}),  # vaultlet also shows this null key
            **{k: auth[k] for k in ("policies", "token_policies", "metadata", "lease_duration", "renewable")},
        }
    return view


def test_differential_against_openbao(kube, vault, tmp_path):
    openbao = start_openbao_dev(tmp_path / "openbao")
    try:
        mount, dead = unique("kdiff"), free_port()
        steps = _sequence(kube, mount, dead)
        differences, seen = [], {}
        for label, method, path, body, authenticated in steps:
            answers = []
            for server in (openbao, vault):
                token = "" if authenticated else None
                status, parsed, _ = http(server, method, path, body, token=token)
                answers.append(_comparable(status, parsed))
            seen[label] = answers[0]
            if answers[0] != answers[1]:
                differences.append((label, answers[0], answers[1]))
        assert differences == [], json.dumps(differences, indent=1)
        # The sequence really exercised a successful login on both (not two identical failures).
        assert seen["login"]["status"] == 200 and seen["login"]["auth"]["policies"] == ["app", "default"]
    finally:
        openbao.stop()
