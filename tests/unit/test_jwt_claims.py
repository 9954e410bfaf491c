"""The JWT auth method's claim rules (engines/auth/jwt/claims.py), table-driven."""

from __future__ import annotations

import pytest

from vaultlet.engines.auth.jwt import claims
from vaultlet.engines.auth.jwt.claims import ClaimError, Expected

NOW = 1_800_000_000


@pytest.mark.parametrize(
    "pattern,value,matches",
    [
        ("refs/heads/*", "refs/heads/main", True),
        ("refs/heads/*", "refs/tags/v1", False),
        ("*", "", True),
        ("a*b*c", "a-x-b-y-c", True),
        ("a*b*c", "acb", False),
        ("repo:org/*:ref:refs/heads/main", "repo:org/app:ref:refs/heads/main", True),
        ("release-?", "release-1", False),  # only * is special, as in go-glob
        ("release-[12]", "release-1", False),
        ("exact", "exact", True),
        ("ab*ba", "aba", False),  # prefix and suffix must not overlap
    ],
)
def test_glob_match(pattern, value, matches):
    assert claims.glob_match(pattern, value) is matches


@pytest.mark.parametrize(
    "bound,token,claims_type,error",
    [
        ({"env": "prod"}, {"env": "prod"}, "string", None),
        ({"env": ["prod", "stage"]}, {"env": "stage"}, "string", None),
        ({"env": ["prod", "stage"]}, {"env": ["dev", "stage"]}, "string", None),  # any of any
        ({"env": "prod"}, {"env": "dev"}, "string", 'claim "env" does not match'),
        ({"env": "prod"}, {}, "string", 'claim "env" is missing'),
        ({"env": "pro*"}, {"env": "prod"}, "string", "does not match"),  # no globs in string mode
        ({"env": "pro*"}, {"env": "prod"}, "glob", None),
        ({"/nested/team": "infra"}, {"nested": {"team": "infra"}}, "string", None),
        ({"/groups/1": "b"}, {"groups": ["a", "b"]}, "string", None),
        ({"run": 42}, {"run": 42}, "string", None),
        ({"run": 42}, {"run": "42"}, "string", "does not match"),  # json.Number vs string
        ({"admin": True}, {"admin": True}, "string", None),
        ({"admin": True}, {"admin": "true"}, "string", "does not match"),
        ({"env": "prod"}, {"env": {"x": 1}}, "string", "received claim is not a string, bool, int or list"),
    ],
)
def test_bound_claims(bound, token, claims_type, error):
    if error is None:
        claims.validate_bound_claims(token, bound, claims_type)
    else:
        with pytest.raises(ClaimError, match=error):
            claims.validate_bound_claims(token, bound, claims_type)


def test_claim_mappings_user_and_groups():
    token = {"sub": "job", "repo": "org/app", "nested": {"team": "infra"}, "groups": ["a", "", "b"]}
    assert claims.mapped_metadata(token, {"repo": "repository", "/nested/team": "team", "absent": "x"}) == {
        "repository": "org/app",
        "team": "infra",
    }
    with pytest.raises(ClaimError, match="error converting claim 'n' to string"):
        claims.mapped_metadata({"n": 5}, {"n": "number"})
    assert claims.user_name(token, "sub") == "job"
    assert claims.user_name(token, "/nested/team", json_pointer=True) == "infra"
    with pytest.raises(ClaimError, match='claim "email" not found in token'):
        claims.user_name(token, "email")
    with pytest.raises(ClaimError, match="could not be converted to string"):
        claims.user_name({"sub": 5}, "sub")
    assert claims.group_names(token, "groups") == ["a", "b"]
    assert claims.group_names({"groups": "solo"}, "groups") == ["solo"]
    with pytest.raises(ClaimError, match="value 1 in groups claim could not be parsed as string"):
        claims.group_names({"groups": [1]}, "groups")
    with pytest.raises(ClaimError, match='failed to fetch groups: "groups" claim not found'):
        claims.group_names({}, "groups")


def _times(**overrides) -> dict:
    base = {"iat": NOW, "nbf": NOW, "exp": NOW + 300}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    "token,expected,error",
    [
        (_times(), Expected(), None),
        (_times(exp=NOW - 59), Expected(), None),  # within the default 60 s skew
        (_times(exp=NOW - 61), Expected(), "token is expired"),
        (_times(exp=NOW - 59), Expected(clock_skew_leeway=-1), "token is expired"),
        (_times(exp=NOW - 100), Expected(clock_skew_leeway=120), None),
        (_times(nbf=NOW + 61, iat=None), Expected(), "token not yet valid"),
        (_times(iat=NOW + 61, nbf=None), Expected(), "token not yet valid"),  # nbf defaults to iat
        (_times(iat=NOW + 61), Expected(), "token issued in the future"),
        # exp absent: iat + expiration_leeway (150 s by default) + skew
        (_times(exp=None, iat=NOW - 200, nbf=None), Expected(), None),
        (_times(exp=None, iat=NOW - 220, nbf=None), Expected(), "token is expired"),
        (_times(exp=None, iat=NOW - 220, nbf=None), Expected(expiration_leeway=300), None),
        (_times(exp=None, iat=NOW - 61, nbf=None), Expected(expiration_leeway=-1), "token is expired"),
        # nbf and iat absent: exp - not_before_leeway
        (_times(iat=None, nbf=None, exp=NOW + 250), Expected(), "token not yet valid"),
        (_times(iat=None, nbf=None, exp=NOW + 250), Expected(not_before_leeway=300), None),
        ({}, Expected(), "no issued at (iat), not before (nbf), or expiration time (exp) claims"),
        (_times(exp="soon"), Expected(), "cannot unmarshal string into Go struct field Claims.exp"),
    ],
)
def test_time_claims(token, expected, error):
    if error is None:
        claims.validate_registered(token, "RS256", expected, now=NOW)
    else:
        with pytest.raises(ClaimError) as raised:
            claims.validate_registered(token, "RS256", expected, now=NOW)
        assert error in str(raised.value)


@pytest.mark.parametrize(
    "token,algorithm,expected,error",
    [
        ({"aud": "a"}, "RS256", Expected(audiences=["a", "b"]), None),
        ({"aud": ["x", "b"]}, "RS256", Expected(audiences=["a", "b"]), None),
        ({"aud": ["x"]}, "RS256", Expected(audiences=["a"]), "invalid audience (aud) claim"),
        ({}, "RS256", Expected(audiences=["a"]), "invalid audience (aud) claim"),
        ({"iss": "https://i"}, "RS256", Expected(issuer="https://i"), None),
        ({"iss": "https://evil"}, "RS256", Expected(issuer="https://i"), "invalid issuer (iss) claim"),
        ({"iss": "https://evil"}, "RS256", Expected(), None),  # no bound_issuer: not checked (as Vault)
        ({"sub": "other"}, "RS256", Expected(subject="job"), "invalid subject (sub) claim"),
        ({"sub": 5}, "RS256", Expected(), "cannot unmarshal number into Go struct field Claims.sub"),
        ({}, "ES256", Expected(algorithms=["RS256"]), "token signed with unexpected algorithm"),
        ({}, "EdDSA", Expected(), None),
        ({}, "HS256", Expected(), "token signed with unexpected algorithm"),
        ({}, "none", Expected(), "token signed with unexpected algorithm"),
    ],
)
def test_registered_claims(token, algorithm, expected, error):
    token = {**_times(), **token}
    if error is None:
        claims.validate_registered(token, algorithm, expected, now=NOW)
    else:
        with pytest.raises(ClaimError, match=error.replace("(", r"\(").replace(")", r"\)")):
            claims.validate_registered(token, algorithm, expected, now=NOW)


def test_jwks_refetch_is_rate_bounded_and_keys_expire(monkeypatch):
    from vaultlet.engines.auth.jwt import jwks_cache

    now = [1000.0]
    documents = []

    def fake_fetch(url, ca_pem=""):
        documents.append(url)
        return {"keys": []}

    monkeypatch.setattr(jwks_cache, "fetch_json", fake_fetch)
    cache = jwks_cache.JwksCache("https://issuer/jwks", clock=lambda: now[0])
    cache.keys()
    assert len(documents) == 1
    assert cache.refresh() is False  # too soon after the first fetch
    now[0] += jwks_cache.MIN_REFETCH_INTERVAL
    assert cache.refresh() is True and len(documents) == 2
    cache.keys()
    assert len(documents) == 2  # cached
    now[0] += jwks_cache.MAX_AGE
    cache.keys()
    assert len(documents) == 3  # expired, fetched again


def test_stale_keys_are_kept_while_the_issuer_is_down(monkeypatch):
    from vaultlet.engines.auth.jwt import jwks_cache

    now = [1000.0]
    up = [True]

    def fake_fetch(url, ca_pem=""):
        if not up[0]:
            raise jwks_cache.FetchError("connection refused")
        return {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}  # not an asymmetric key: skipped

    monkeypatch.setattr(jwks_cache, "fetch_json", fake_fetch)
    cache = jwks_cache.JwksCache("https://issuer/jwks", clock=lambda: now[0])
    assert cache.keys() == []  # HMAC keys are never used for verification
    up[0] = False
    now[0] += jwks_cache.MAX_AGE + 1
    assert cache.keys() == []  # stale but kept, no exception
    fresh = jwks_cache.JwksCache("https://other/jwks", clock=lambda: now[0])
    with pytest.raises(jwks_cache.FetchError, match="get keys failed: connection refused"):
        fresh.keys()
