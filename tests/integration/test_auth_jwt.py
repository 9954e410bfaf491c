"""JWT auth: a real vaultlet server, a local OIDC issuer (tests/support/oidc_issuer.py) on a
loopback port, hvac and the real `bao` CLI.

Three mounts cover the three key sources: `jwt` (oidc_discovery_url), `jwks` (jwks_url) and
`pubkeys` (jwt_validation_pubkeys). Each test uses its own role names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import hvac
import pytest
from jwt.utils import base64url_encode

from support.access import ok, unique, write_policy
from support.oidc_issuer import OidcIssuer, SigningKey, unsigned_token
from support.processes import bao, http, start_vaultlet_dev


@pytest.fixture(scope="module")
def issuer():
    with OidcIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def vault(tmp_path_factory, issuer):
    server = start_vaultlet_dev(tmp_path_factory.mktemp("jwt"))
    for mount in ("jwt", "jwks", "pubkeys"):
        ok(http(server, "POST", f"sys/auth/{mount}", {"type": "jwt"}))
    root = hvac.Client(url=server.address, token=server.root_token)
    root.auth.jwt.configure(oidc_discovery_url=issuer.url, bound_issuer=issuer.url, path="jwt")
    root.auth.jwt.configure(jwks_url=issuer.jwks_url, jwt_supported_algs=["RS256", "ES256"], path="jwks")
    pems = [issuer.key("RS256").public_pem(), issuer.key("ES256").public_pem()]
    root.auth.jwt.configure(jwt_validation_pubkeys=pems, path="pubkeys")
    write_policy(server, "deployer", 'path "secret-of-deployer/*" { capabilities = ["read"] }')
    yield server
    server.stop()


@pytest.fixture()
def root(vault) -> hvac.Client:
    return hvac.Client(url=vault.address, token=vault.root_token)


def _role(root: hvac.Client, mount: str = "jwt", **settings) -> str:
    name = unique("ci")
    settings.setdefault("bound_audiences", ["vaultlet"])
    root.auth.jwt.create_role(name, user_claim="sub", allowed_redirect_uris=[], path=mount, **settings)
    return name


def _login(vault, role: str, token: str, mount: str = "jwt"):
    return http(vault, "POST", f"auth/{mount}/login", {"role": role, "jwt": token}, token=None)


def _error(vault, role: str, token: str, mount: str = "jwt") -> tuple[int, str]:
    status, body, _ = _login(vault, role, token, mount)
    return status, body["errors"][0]


# -- a working login ----------------------------------------------------------------


def test_hvac_login_token_has_the_roles_policies_ttl_and_metadata(vault, root, issuer):
    role = _role(
        root,
        token_policies=["deployer"],
        token_ttl="10m",
        token_max_ttl="1h",
        bound_claims={"repository": ["org/app", "org/other"]},
        claim_mappings={"repository": "repo", "ref": "git_ref"},
    )
    client = hvac.Client(url=vault.address)
    jwt = issuer.token(repository="org/app", ref="refs/heads/main")
    auth = client.auth.jwt.jwt_login(role=role, jwt=jwt)["auth"]

    assert auth["policies"] == ["default", "deployer"] and auth["token_policies"] == ["default", "deployer"]
    assert auth["metadata"] == {"repo": "org/app", "git_ref": "refs/heads/main", "role": role}
    assert auth["lease_duration"] == 600 and auth["renewable"] is True and auth["orphan"] is True
    assert auth["token_type"] == "service" and "entity_id" in auth and auth["num_uses"] == 0
    assert client.token == auth["client_token"]
    looked_up = client.lookup_token()["data"]
    assert looked_up["display_name"] == "jwt-ci-job" and looked_up["path"] == "auth/jwt/login"
    assert looked_up["meta"]["repo"] == "org/app" and 0 < looked_up["ttl"] <= 600
    renewed = client.auth.token.renew_self(increment=7200)["auth"]
    assert renewed["lease_duration"] <= 3600  # capped at token_max_ttl


def test_batch_tokens_from_the_role_or_the_mount(vault, root, issuer):
    """Issue 9, defect 7: a role's token_type=batch, or the mount's (sys/auth tune), makes the
    login issue a batch token: not stored, not renewable, still good for reads."""
    role = _role(root, token_policies=["deployer"], token_ttl="10m", token_type="batch")
    auth = ok(_login(vault, role, issuer.token()))["auth"]
    assert auth["token_type"] == "batch" and auth["accessor"] == "" and auth["renewable"] is False
    assert auth["client_token"].startswith("hvb.") and auth["lease_duration"] == 600
    batch = hvac.Client(url=vault.address, token=auth["client_token"])
    assert batch.lookup_token()["data"]["type"] == "batch"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="batch tokens cannot be renewed"):
        batch.auth.token.renew_self()
    service_role = _role(root, token_policies=["deployer"], token_type="service")
    ok(http(vault, "POST", "sys/auth/jwt/tune", {"token_type": "batch"}))
    try:
        forced = ok(_login(vault, service_role, issuer.token()))["auth"]
        assert forced["token_type"] == "batch"  # the mount's "batch" overrides the role's
        ok(http(vault, "POST", "sys/auth/jwt/tune", {"token_type": "default-batch"}))
        assert ok(_login(vault, service_role, issuer.token()))["auth"]["token_type"] == "service"
    finally:
        ok(http(vault, "POST", "sys/auth/jwt/tune", {"token_type": ""}))
    assert ok(_login(vault, service_role, issuer.token()))["auth"]["token_type"] == "service"


def test_default_role_is_used_when_the_login_names_none(vault, root, issuer):
    ok(http(vault, "POST", "sys/auth/with-default", {"type": "jwt"}))
    role = unique("fallback")
    root.auth.jwt.configure(jwks_url=issuer.jwks_url, default_role=role, path="with-default")
    root.auth.jwt.create_role(
        role, user_claim="sub", allowed_redirect_uris=[], bound_audiences=["vaultlet"], path="with-default"
    )
    status, body, _ = http(vault, "POST", "auth/with-default/login", {"jwt": issuer.token()}, token=None)
    assert status == 200 and body["auth"]["metadata"] == {"role": role}


@pytest.mark.parametrize("mount,alg", [("jwks", "ES256"), ("jwks", "RS256"), ("pubkeys", "ES256")])
def test_jwks_url_and_static_public_keys_verify_tokens(vault, root, issuer, mount, alg):
    role = _role(root, mount=mount, bound_subject="ci-job")
    status, body, _ = _login(vault, role, issuer.token(alg=alg), mount)
    assert status == 200, body
    assert body["auth"]["metadata"] == {"role": role}


def test_bound_claims_globs_and_lists(vault, root, issuer):
    role = _role(
        root, bound_claims_type="glob", bound_claims={"ref": ["refs/heads/release-*", "refs/tags/v*"]}
    )
    assert _login(vault, role, issuer.token(ref="refs/heads/release-1.2"))[0] == 200
    assert _login(vault, role, issuer.token(ref="refs/tags/v3"))[0] == 200
    assert _error(vault, role, issuer.token(ref="refs/heads/main")) == (
        400,
        'error validating claims: claim "ref" does not match any associated bound claim values',
    )


# -- refusals, with OpenBao's messages -------------------------------------------------

NOW = int(time.time())


def _cases(issuer: OidcIssuer) -> dict[str, tuple[str, str]]:
    foreign = SigningKey.generate("RS256", kid=issuer.key("RS256").kid)  # same kid, another key
    return {
        "wrong audience": (
            issuer.token(audience="someone-else", env="prod"),
            "error validating token: invalid audience (aud) claim: "
            "audience claim does not match any expected audience",
        ),
        "wrong issuer": (
            issuer.token(iss="https://evil.example", env="prod"),
            "error validating token: invalid issuer (iss) claim",
        ),
        "expired": (
            issuer.token(iat=NOW - 900, nbf=NOW - 900, exp=NOW - 120, env="prod"),
            "error validating token: invalid expiration time (exp) claim: token is expired",
        ),
        "not yet valid": (
            issuer.token(nbf=int(time.time()) + 600, env="prod"),
            "error validating token: invalid not before (nbf) claim: token not yet valid",
        ),
        "foreign signature": (
            foreign.sign(issuer.claims(env="prod")),
            "error validating token: error verifying token signature: failed to verify id token signature",
        ),
        "alg none": (
            unsigned_token(issuer.claims(env="prod")),
            "error validating token: error verifying token signature: oidc: malformed jwt: "
            'unexpected signature algorithm "none"; expected ["RS256" "RS384" "RS512" "ES256" "ES384" '
            '"ES512" "PS256" "PS384" "PS512" "EdDSA"]',
        ),
        "claim mismatch": (
            issuer.token(env="dev"),
            'error validating claims: claim "env" does not match any associated bound claim values',
        ),
        "claim missing": (issuer.token(), 'error validating claims: claim "env" is missing'),
        "not a JWT": (
            "not-a-jwt",
            "error validating token: error verifying token signature: "
            "oidc: malformed jwt: go-jose/go-jose: compact JWS format must have three parts",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong audience",
        "wrong issuer",
        "expired",
        "not yet valid",
        "foreign signature",
        "alg none",
        "claim mismatch",
        "claim missing",
        "not a JWT",
    ],
)
def test_bad_tokens_are_refused_with_openbaos_messages(vault, root, issuer, case):
    role = _role(root, bound_claims={"env": ["prod", "stage"]})
    token, message = _cases(issuer)[case]
    assert _error(vault, role, token) == (400, message)


def test_unknown_role_and_missing_fields(vault, issuer):
    assert _error(vault, "no-such-role", issuer.token()) == (400, 'role "no-such-role" could not be found')
    status, body, _ = http(vault, "POST", "auth/jwt/login", {"role": "x"}, token=None)
    assert (status, body["errors"]) == (400, ['role "x" could not be found'])
    status, body, _ = http(vault, "POST", "auth/jwt/login", {"jwt": issuer.token()}, token=None)
    assert (status, body["errors"]) == (400, ["missing role"])


def test_expired_token_within_the_clock_skew_leeway_logs_in_and_a_negative_leeway_refuses(
    vault, root, issuer
):
    lenient, strict = _role(root), _role(root, clock_skew_leeway=-1)
    token = issuer.token(iat=int(time.time()) - 900, nbf=int(time.time()) - 900, exp=int(time.time()) - 20)
    assert _login(vault, lenient, token)[0] == 200  # 60 s default skew
    assert _error(vault, strict, token)[1].endswith("token is expired")


def test_token_signed_with_an_algorithm_outside_jwt_supported_algs_is_refused(vault, root, issuer):
    ok(http(vault, "POST", "sys/auth/rs-only", {"type": "jwt"}))
    root.auth.jwt.configure(jwks_url=issuer.jwks_url, jwt_supported_algs=["RS256"], path="rs-only")
    role = _role(root, mount="rs-only")
    assert _login(vault, role, issuer.token(alg="RS256"), "rs-only")[0] == 200
    assert _error(vault, role, issuer.token(alg="ES256"), "rs-only") == (
        400,
        "error validating token: invalid algorithm (alg) header parameter: "
        "token signed with unexpected algorithm",
    )


def test_hmac_token_made_with_the_public_key_is_refused(vault, root, issuer):
    """The classic key-confusion attack: HS256 with the issuer's public key as the secret."""
    role = _role(root, mount="pubkeys")
    pem = issuer.key("RS256").public_pem().encode()
    header = base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = base64url_encode(json.dumps(issuer.claims()).encode())
    signature = hmac.new(pem, header + b"." + body, hashlib.sha256).digest()
    forged = b".".join([header, body, base64url_encode(signature)]).decode()
    assert _error(vault, role, forged, "pubkeys") == (
        400,
        "error validating token: error verifying token signature: "
        "no known key successfully validated the token signature",
    )


# -- key rotation ----------------------------------------------------------------------


def test_login_succeeds_after_the_issuer_rotates_its_key(vault, root, issuer):
    role = _role(root)
    assert _login(vault, role, issuer.token())[0] == 200
    old_key = issuer.key("RS256")
    fetches = issuer.jwks_fetches
    issuer.rotate("RS256")
    time.sleep(1.1)  # the JWKS is refetched at most once a second
    status, body, _ = _login(vault, role, issuer.token())
    assert status == 200, body
    assert issuer.jwks_fetches > fetches, "an unknown kid must trigger a JWKS refetch"
    # The retired key is gone from the refreshed JWKS: its tokens no longer verify.
    assert _error(vault, role, old_key.sign(issuer.claims()))[1].endswith(
        "failed to verify id token signature"
    )


def test_unknown_kids_do_not_hammer_the_issuer(vault, root, issuer):
    role = _role(root, mount="jwks")
    assert _login(vault, role, issuer.token(), "jwks")[0] == 200
    strangers = [SigningKey.generate("ES256").sign(issuer.claims()) for _ in range(30)]
    fetches, started = issuer.jwks_fetches, time.monotonic()
    for token in strangers:
        assert _login(vault, role, token, "jwks")[0] == 400
    elapsed = time.monotonic() - started
    # Bounded: at most one refetch per second (per server process), not one per token.
    assert issuer.jwks_fetches - fetches <= int(elapsed) + 2 < len(strangers)


# -- roles and config ------------------------------------------------------------------


def test_role_read_list_and_oidc_refusal(vault, root):
    role = _role(
        root, bound_subject="ci-job", token_policies=["deployer"], token_ttl=300, clock_skew_leeway=30
    )
    data = root.auth.jwt.read_role(role)["data"]
    assert data["role_type"] == "jwt" and data["user_claim"] == "sub" and data["token_ttl"] == 300
    assert data["bound_audiences"] == ["vaultlet"] and data["clock_skew_leeway"] == 30
    assert data["token_policies"] == ["deployer"] and data["bound_claims_type"] == "string"
    assert role in root.auth.jwt.list_roles()["data"]["keys"]
    status, body, _ = http(
        vault,
        "POST",
        f"auth/jwt/role/{unique('browser')}",
        {"role_type": "oidc", "user_claim": "sub", "allowed_redirect_uris": "http://localhost:8250/cb"},
    )
    assert status == 400 and 'role_type "oidc" is not supported' in body["errors"][0]
    status, body, _ = http(
        vault, "POST", f"auth/jwt/role/{unique('x')}", {"role_type": "jwt", "user_claim": "sub"}
    )
    assert (status, body["errors"]) == (
        400,
        ["must have at least one bound constraint when creating/updating a role"],
    )


def test_config_refuses_two_key_sources_and_an_unreachable_jwks(vault, issuer):
    ok(http(vault, "POST", "sys/auth/cfg", {"type": "jwt"}))
    both = {"jwks_url": issuer.jwks_url, "oidc_discovery_url": issuer.url}
    status, body, _ = http(vault, "POST", "auth/cfg/config", both)
    assert (status, body["errors"]) == (
        400,
        [
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', 'oidc_discovery_url', "
            "or 'provider_config' must be set"
        ],
    )
    status, body, _ = http(vault, "POST", "auth/cfg/config", {"jwks_url": "http://127.0.0.1:9/keys"})
    assert (status, body["errors"]) == (400, ["error checking jwks URL"])
    status, body, _ = http(
        vault, "POST", "auth/cfg/config", {"oidc_client_id": "x", "oidc_discovery_url": issuer.url}
    )
    assert status == 400 and "not supported" in body["errors"][0]
    status, body, _ = http(vault, "GET", "auth/cfg/config")
    assert status == 404


# -- the bao CLI -------------------------------------------------------------------------


def test_bao_cli_write_login(vault, root, issuer):
    """`bao write auth/jwt/login` (OpenBao's CLI has no `login -method=jwt`: it answers
    "Unknown auth method: jwt"; `vaultlet login -method=jwt` fills that gap, see test_cli_login.py)."""
    role = _role(root, token_policies=["deployer"])
    written = json.loads(
        bao(vault, "write", "-format=json", "auth/jwt/login", f"role={role}", f"jwt={issuer.token()}").stdout
    )
    assert written["auth"]["policies"] == ["default", "deployer"]
    token = written["auth"]["client_token"]
    looked_up = json.loads(bao(vault, "token", "lookup", "-format=json", token=token).stdout)["data"]
    assert looked_up["meta"] == {"role": role} and looked_up["display_name"] == "jwt-ci-job"
    refused = bao(vault, "write", "auth/jwt/login", f"role={role}", "jwt=a.b.c", check=False)
    assert refused.returncode == 2 and "error verifying token signature" in refused.stderr


# -- secrets stay secret -------------------------------------------------------------


def test_the_jwt_is_hmaced_in_the_audit_log_and_absent_from_the_server_log(vault, root, issuer, tmp_path):
    audit_file = tmp_path / "audit.log"
    ok(http(vault, "PUT", "sys/audit/jwt-file", {"type": "file", "options": {"file_path": str(audit_file)}}))
    try:
        role = _role(root)
        good, bad = issuer.token(), issuer.token(audience="nobody")
        assert _login(vault, role, good)[0] == 200
        assert _login(vault, role, bad)[0] == 400
    finally:
        ok(http(vault, "DELETE", "sys/audit/jwt-file"))
    entries = [json.loads(line) for line in audit_file.read_text().splitlines()]
    logins = [e for e in entries if e["request"]["path"] == "auth/jwt/login"]
    assert len(logins) == 4
    for entry in logins:
        assert entry["request"]["data"]["jwt"].startswith("hmac-sha256:")
    text = audit_file.read_text() + vault.log_text()
    for secret in (good, bad, good.split(".")[1], good.split(".")[2]):
        assert secret not in text


# -- TLS issuers, CIDR-bound roles, the oidc type --------------------------------------


def test_discovery_over_tls_needs_the_configured_ca(vault, root, tmp_path):
    from support.tls import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    with OidcIssuer(algorithms=("ES256",), tls=(cert, key)) as tls_issuer:
        ok(http(vault, "POST", "sys/auth/tls-jwt", {"type": "jwt"}))
        status, body, _ = http(vault, "POST", "auth/tls-jwt/config", {"oidc_discovery_url": tls_issuer.url})
        assert (status, body["errors"]) == (400, ["error checking oidc discovery URL"])  # unknown CA
        root.auth.jwt.configure(
            oidc_discovery_url=tls_issuer.url, oidc_discovery_ca_pem=cert.read_text(), path="tls-jwt"
        )
        assert root.auth.jwt.read_config(path="tls-jwt")["data"]["status"] == "valid"
        role = _role(root, mount="tls-jwt")
        status, body, _ = _login(vault, role, tls_issuer.token(alg="ES256"), "tls-jwt")
        assert status == 200, body


def test_token_bound_cidrs_on_the_role_refuse_other_addresses(vault, root, issuer):
    elsewhere = _role(root, token_bound_cidrs=["10.1.2.0/24"])
    status, body, _ = _login(vault, elsewhere, issuer.token())
    assert (status, body["errors"]) == (403, ["permission denied"])
    here = _role(root, token_bound_cidrs=["127.0.0.1/32"])
    status, body, _ = _login(vault, here, issuer.token())
    assert status == 200


def test_the_oidc_type_serves_jwt_logins_at_hvacs_oidc_path(vault, issuer):
    ok(http(vault, "POST", "sys/auth/oidc", {"type": "oidc"}))
    client = hvac.Client(url=vault.address, token=vault.root_token)
    client.auth.oidc.configure(jwks_url=issuer.jwks_url)
    client.auth.oidc.create_role(
        "ci", user_claim="sub", allowed_redirect_uris=[], role_type="jwt", bound_audiences=["vaultlet"]
    )
    status, body, _ = http(
        vault, "POST", "auth/oidc/login", {"role": "ci", "jwt": issuer.token()}, token=None
    )
    assert status == 200 and body["auth"]["metadata"] == {"role": "ci"}


def test_openapi_and_help_come_from_the_declarations(vault):
    status, body, _ = http(vault, "GET", "sys/internal/specs/openapi")
    assert status == 200
    paths = body["paths"]
    assert "/auth/jwt/login" in paths and "/auth/jwt/role/{name}" in paths and "/auth/jwt/config" in paths
    status, body, _ = http(vault, "GET", "auth/jwt/role/x?help=1")
    assert status == 200 and "bound_claims_type" in body["help"]


def test_every_token_field_of_the_role_shapes_the_token(vault, root, issuer):
    role = _role(
        root,
        token_policies=["deployer"],
        token_no_default_policy=True,
        token_num_uses=2,
        token_period="30m",
        token_explicit_max_ttl="2h",
        token_type="service",
    )
    status, body, _ = _login(vault, role, issuer.token())
    assert status == 200, body
    auth = body["auth"]
    assert auth["policies"] == ["deployer"] and auth["num_uses"] == 2 and auth["lease_duration"] == 1800
    # (no default policy: the token may not even look itself up; root does)
    looked_up = ok(http(vault, "POST", "auth/token/lookup", {"token": auth["client_token"]}))
    assert looked_up["data"]["period"] == 1800 and looked_up["data"]["explicit_max_ttl"] == 7200
    # Legacy names, as OpenBao still accepts them.
    legacy = unique("legacy")
    ok(
        http(
            vault,
            "POST",
            f"auth/jwt/role/{legacy}",
            {"role_type": "jwt", "user_claim": "sub", "bound_subject": "ci-job", "ttl": "5m", "num_uses": 3},
        )
    )
    data = ok(http(vault, "GET", f"auth/jwt/role/{legacy}"))["data"]
    assert (data["token_ttl"], data["token_num_uses"]) == (300, 3)
    status, body, _ = http(
        vault,
        "POST",
        f"auth/jwt/role/{unique('batch')}",
        {"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "token_type": "default-batch"},
    )
    assert status == 400 and body["errors"] == ["invalid 'token_type' value \"default-batch\""]


def test_an_unreachable_issuer_fails_logins_cleanly(vault, root, issuer):
    from support.processes import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    for mount, config, prefix in (
        (
            "dead-jwks",
            {"jwks_url": dead + "/keys"},
            "error validating token: error verifying token signature: "
            "fetching keys oidc: get keys failed Get",
        ),
        (
            "dead-oidc",
            {"oidc_discovery_url": dead},
            "error configuring token validator: keyset configuration error: Get",
        ),
    ):
        ok(http(vault, "POST", f"sys/auth/{mount}", {"type": "jwt"}))
        status, body, _ = http(
            vault, "POST", f"auth/{mount}/config", {**config, "skip_jwks_validation": True}
        )
        assert status == 200 and body["warnings"]
        role = _role(root, mount=mount)
        status, body, _ = _login(vault, role, issuer.token(), mount)
        assert status == 400 and body["errors"][0].startswith(prefix), body
    assert "Traceback" not in vault.log_text()
