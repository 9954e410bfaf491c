"""The Kubernetes auth method's rules, table-driven: globs, claims, JWT checks, TokenReview
answers, and the login logic against a fake token reviewer (the real client is tested against
the kube-apiserver stand-in in tests/integration/test_auth_kubernetes.py)."""

from __future__ import annotations

import logging
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.tls import self_signed_certificate
from vaultlet.engines.auth.kubernetes.backend import KubernetesBackend
from vaultlet.engines.auth.kubernetes.service_account import (
    LoginDenied,
    ServiceAccount,
    check_bindings,
    glob_match,
    validated_claims,
)
from vaultlet.engines.auth.kubernetes.token_review import (
    ReviewedAccount,
    ReviewFailed,
    parse_review,
    review_body,
    token_review_url,
)
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework.backend import BackendContext
from vaultlet.framework.request import Request
from vaultlet.storage.barrier import Barrier, SecureStore, StorageView, generate_key
from vaultlet.storage.sql import SQLStorage

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
UID = "8a3a1a5e-1111-4222-8333-944455556666"


def sa_token(
    key=KEY, namespace="prod", name="my-app", uid=UID, aud=("vault",), exp_in=600, nbf_in=0, **extra
) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "aud": list(aud),
        "iat": now,
        "nbf": now + nbf_in,
        "exp": now + exp_in,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
        **extra,
    }
    algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    return jwt.encode(claims, key, algorithm=algorithm)


def pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# -- globs: Vault's GlobbedStringsMatch ------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "anything", True),
        ("*", "", True),
        ("my-app", "my-app", True),
        ("my-app", "my-app2", False),
        ("my-*", "my-app", True),
        ("my-*", "my-", True),
        ("my-*", "your-app", False),
        ("*-app", "my-app", True),
        ("*-app", "my-apps", False),
        ("*pp*", "my-app-x", True),
        ("*pp*", "my-ap", False),
        ("my*app", "my-app", False),  # an inner * is a literal, as in Vault
        ("my*app", "my*app", True),
        ("prod-*", "PROD-a", False),  # case-sensitive
    ],
)
def test_glob_match(pattern, value, expected):
    assert glob_match(pattern, value) is expected


@pytest.mark.parametrize(
    ("names", "namespaces", "account", "error"),
    [
        (["my-app"], ["prod"], ("my-app", "prod"), None),
        (["*"], ["*"], ("x", "y"), None),
        (["web", "my-*"], ["dev", "prod-*"], ("my-app", "prod-eu"), None),
        (["web"], ["prod"], ("my-app", "prod"), "service account name not authorized"),
        (["my-app"], ["prod"], ("my-app", "dev"), "namespace not authorized"),
        # the name is checked first, as in Vault
        (["web"], ["dev"], ("my-app", "prod"), "service account name not authorized"),
    ],
)
def test_check_bindings(names, namespaces, account, error):
    service_account = ServiceAccount(name=account[0], namespace=account[1], uid=UID)
    if error is None:
        check_bindings(service_account, names, namespaces)
    else:
        with pytest.raises(LoginDenied) as denied:
            check_bindings(service_account, names, namespaces)
        assert denied.value.messages == [error] and denied.value.status == 403


# -- claims --------------------------------------------------------------------------


def test_projected_token_claims():
    claims = jwt.decode(sa_token(), options={"verify_signature": False})
    assert ServiceAccount.from_claims(claims) == ServiceAccount("my-app", "prod", UID, "", ["vault"])


def test_legacy_secret_token_claims():
    claims = {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "prod",
        "kubernetes.io/serviceaccount/secret.name": "my-app-token-abcde",
        "kubernetes.io/serviceaccount/service-account.name": "my-app",
        "kubernetes.io/serviceaccount/service-account.uid": UID,
    }
    assert ServiceAccount.from_claims(claims) == ServiceAccount(
        "my-app", "prod", UID, "my-app-token-abcde", []
    )


def _validate(token, keys=(), issuer="", check_issuer=False, audience=""):
    return validated_claims(
        token, public_keys=list(keys), issuer=issuer, check_issuer=check_issuer, audience=audience
    )


def test_claims_without_pem_keys_are_read_unverified_as_vault_does():
    # The TokenReview that follows is what authenticates it; the local parse only reads claims.
    assert _validate(sa_token(key=OTHER_KEY))["sub"] == "system:serviceaccount:prod:my-app"


def test_pem_keys_verify_the_signature_with_any_configured_key():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = [serialization.load_pem_public_key(pem(k).encode()) for k in (OTHER_KEY, ec_key)]
    assert _validate(sa_token(key=ec_key), keys)["kubernetes.io"]["namespace"] == "prod"
    with pytest.raises(PermissionDenied) as denied:
        _validate(sa_token(key=KEY), keys)
    assert denied.value.messages == ["permission denied"]


# Tokens are made when each case runs (lambdas): minted at collection, the valid ones would
# expire before a long test session reaches them.
@pytest.mark.parametrize(
    ("make_token", "options", "message"),
    [
        (lambda: sa_token(exp_in=-60), {}, "invalid expiration time (exp) claim: token is expired"),
        (lambda: sa_token(nbf_in=600), {}, "invalid not before (nbf) claim: token not yet valid"),
        (lambda: sa_token(), {"issuer": "x", "check_issuer": True}, "invalid issuer (iss) claim"),
        (
            lambda: sa_token(aud=["other"]),
            {"audience": "vault"},
            "invalid audience (aud) claim: audience claim does not match any expected audience",
        ),
        (lambda: "not-a-jwt", {}, "permission denied"),
        (lambda: jwt.encode({"sub": "x"}, None, algorithm="none"), {}, "permission denied"),
        (
            lambda: jwt.encode({"sub": "x"}, "a-shared-secret-of-at-least-32-bytes", algorithm="HS256"),
            {},
            "permission denied",
        ),
    ],
)
def test_jwt_checks_fail_with_openbaos_messages(make_token, options, message):
    with pytest.raises(PermissionDenied) as denied:
        _validate(make_token(), **options)
    assert denied.value.messages == [message] and denied.value.status == 403


def test_issuer_is_checked_only_when_configured():
    assert _validate(sa_token(), issuer="", check_issuer=True)  # Vault checks nothing then
    assert _validate(sa_token(), issuer="x", check_issuer=False)
    issuer = "https://kubernetes.default.svc.cluster.local"
    assert _validate(sa_token(), issuer=issuer, check_issuer=True)


# -- the TokenReview wire format and answers ------------------------------------------


def test_review_request_shape():
    assert (
        token_review_url("https://k8s:6443/") == "https://k8s:6443/apis/authentication.k8s.io/v1/tokenreviews"
    )
    assert (
        token_review_url("10.0.0.1:6443")
        == "https://10.0.0.1:6443/apis/authentication.k8s.io/v1/tokenreviews"
    )
    assert review_body("T", ["vault"]) == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": "T", "audiences": ["vault"]},
    }
    assert "audiences" not in review_body("T", [])["spec"]


def _answer(**status):
    return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "status": status}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _answer(authenticated=True, user={"username": "system:serviceaccount:prod:my-app", "uid": UID}),
            ReviewedAccount("my-app", "prod", UID),
        ),
        (_answer(authenticated=False, user={}), "service account jwt not valid"),
        (_answer(user={}, error="[invalid bearer token]"), "the API server rejected the token"),
        (_answer(authenticated=True, user={"username": "admin", "uid": "1"}), "unexpected username format"),
        (
            _answer(authenticated=True, user={"username": "system:node:prod:n1", "uid": "1"}),
            "username returned is not a service account",
        ),
        ({"kind": "Status", "status": "Failure"}, "the answer is not a TokenReview"),
    ],
)
def test_parse_review(document, expected):
    if isinstance(expected, ReviewedAccount):
        assert parse_review(document) == expected
    else:
        with pytest.raises(ReviewFailed, match=expected):
            parse_review(document)


# -- the login logic, against a fake reviewer -----------------------------------------


class FakeReviewer:
    def __init__(self, answer: ReviewedAccount | ReviewFailed):
        self.answer = answer
        self.calls: list[tuple[str, list[str]]] = []

    def review(self, token: str, audiences: list[str]) -> ReviewedAccount:
        self.calls.append((token, audiences))
        if isinstance(self.answer, ReviewFailed):
            raise self.answer
        return self.answer


class FakeReviewerBackend(KubernetesBackend):
    reviewer: FakeReviewer

    def token_reviewer(self, settings):
        return self.reviewer


@pytest.fixture
def backend(tmp_path):
    storage = SQLStorage(f"sqlite:///{tmp_path}/k8s.db")
    barrier = Barrier(storage)
    key = generate_key()
    barrier.initialize(key)
    barrier.unseal(key)
    mount = str(uuid.uuid4())
    backend = FakeReviewerBackend(
        BackendContext(
            storage=StorageView(SecureStore(barrier), f"auth/{mount}/"),
            mount_path="auth/kubernetes/",
            mount_uuid=mount,
            mount_type="kubernetes",
            mount_config={},
            system=None,
            logger=logging.getLogger("vaultlet.backend.kubernetes.test"),
        )
    )
    backend.reviewer = FakeReviewer(ReviewedAccount("my-app", "prod", UID))
    cert, _key = self_signed_certificate(tmp_path)
    settings = {"kubernetes_ca_cert": cert.read_text(), "disable_local_ca_jwt": True}
    _call(backend, "update", "config", {"kubernetes_host": "https://127.0.0.1:1", **settings})
    _call(
        backend,
        "update",
        "role/my-app",
        {
            "bound_service_account_names": "my-app",
            "bound_service_account_namespaces": "prod-*,prod",
            "audience": "vault",
            "token_policies": "aws-app",
            "token_ttl": "20m",
        },
    )
    return backend


def _call(backend, operation: str, path: str, data: dict, remote_addr: str = "127.0.0.1"):
    request = Request(operation=operation, path="auth/kubernetes/" + path, data=dict(data))
    request.mount_path = "auth/kubernetes/"
    request.relative_path = path
    request.remote_addr = remote_addr
    return backend.handle(request)


def test_config_without_ca_falls_back_to_the_pods_ca_file_as_vault_does(backend):
    with pytest.raises(UserError, match="ca.crt: no such file or directory"):
        _call(backend, "update", "config", {"kubernetes_host": "https://127.0.0.1:1"})


def test_login_asks_the_reviewer_about_the_roles_audience_and_mints_the_roles_token(backend):
    token = sa_token()
    response = _call(backend, "update", "login", {"role": "my-app", "jwt": token})
    assert backend.reviewer.calls == [(token, ["vault"])]
    request = response.auth
    assert request.policies == ["aws-app"] and request.ttl == 1200
    assert request.display_name == "prod-my-app"
    assert request.meta == {
        "role": "my-app",
        "service_account_name": "my-app",
        "service_account_namespace": "prod",
        "service_account_secret_name": "",
        "service_account_uid": UID,
    }


@pytest.mark.parametrize(
    "reviewed",
    [
        ReviewedAccount("other", "prod", UID),
        ReviewedAccount("my-app", "dev", UID),
        ReviewedAccount("my-app", "prod", "another-uid"),  # a deleted and recreated account
        ReviewFailed("lookup failed: API server unreachable (URLError)"),
    ],
)
def test_login_is_denied_unless_the_reviewer_vouches_for_the_same_account(backend, reviewed):
    backend.reviewer.answer = reviewed
    with pytest.raises(PermissionDenied) as denied:
        _call(backend, "update", "login", {"role": "my-app", "jwt": sa_token()})
    assert denied.value.messages == ["permission denied"]


@pytest.mark.parametrize("source", ["serviceaccount_uid", "serviceaccount_name"])
def test_a_jwt_naming_no_service_account_is_denied(backend, source):
    _call(
        backend,
        "update",
        "role/anyone",
        {
            "bound_service_account_names": "*",
            "bound_service_account_namespaces": "*",
            "alias_name_source": source,
        },
    )
    token = jwt.encode({"sub": "someone", "exp": int(time.time()) + 60}, KEY, algorithm="RS256")
    with pytest.raises(PermissionDenied) as denied:
        _call(backend, "update", "login", {"role": "anyone", "jwt": token})
    assert denied.value.messages == ["permission denied"] and backend.reviewer.calls == []


def test_bindings_are_checked_before_the_api_server_is_asked(backend):
    with pytest.raises(LoginDenied, match="namespace not authorized"):
        _call(backend, "update", "login", {"role": "my-app", "jwt": sa_token(namespace="dev")})
    assert backend.reviewer.calls == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"jwt": "x"}, "missing role"),
        ({"role": "my-app"}, "missing jwt"),
        ({"role": "nope", "jwt": "x"}, 'invalid role name "nope"'),
    ],
)
def test_login_input_errors(backend, body, message):
    with pytest.raises(UserError) as error:
        _call(backend, "update", "login", body)
    assert error.value.messages == [message]


def test_role_token_bound_cidrs_restrict_the_login_address(backend):
    _call(
        backend,
        "update",
        "role/cidr",
        {
            "bound_service_account_names": "*",
            "bound_service_account_namespaces": "*",
            "token_bound_cidrs": "10.0.0.0/8",
        },
    )
    with pytest.raises(PermissionDenied):
        _call(backend, "update", "login", {"role": "cidr", "jwt": sa_token()}, remote_addr="192.168.1.1")
    assert _call(backend, "update", "login", {"role": "cidr", "jwt": sa_token()}, remote_addr="10.1.2.3").auth


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, '"bound_service_account_names" can not be empty'),
        ({"bound_service_account_names": "*,a", "bound_service_account_namespaces": "x"}, 'can not mix "*"'),
        ({"bound_service_account_names": "a", "bound_service_account_namespaces": "*,b"}, 'can not mix "*"'),
        ({"bound_service_account_names": "a"}, '"bound_service_account_namespaces" can not be empty'),
        (
            {
                "bound_service_account_names": "a",
                "bound_service_account_namespace_selector": '{"matchLabels":{}}',
            },
            "not supported by vaultlet",
        ),
        (
            {
                "bound_service_account_names": "a",
                "bound_service_account_namespaces": "b",
                "alias_name_source": "x",
            },
            "invalid alias_name_source",
        ),
    ],
)
def test_role_validation(backend, settings, message):
    with pytest.raises(UserError, match=message):
        _call(backend, "update", "role/bad", settings)
