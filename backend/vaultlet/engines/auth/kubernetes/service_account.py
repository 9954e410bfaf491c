"""The service account a JWT names, the role's bindings it must match, and the JWT's own checks.

Vault parses the JWT's claims without verifying the signature unless ``pem_keys`` are set:
the TokenReview that follows is what authenticates the token. With ``pem_keys``, PyJWT verifies
the signature locally first. Either way ``exp``/``nbf``, ``iss`` (when configured) and ``aud``
(when the role names one) are checked, as Vault's ``parseAndValidateJWT`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from vaultlet.errors import PermissionDenied

# Kubernetes' OIDC signing algorithms, the ones Vault accepts.
ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]


class LoginDenied(PermissionDenied):
    """403 with a reason OpenBao also gives the client (never any part of the JWT)."""


@dataclass(frozen=True)
class ServiceAccount:
    name: str
    namespace: str
    uid: str
    secret_name: str = ""
    audiences: list[str] = field(default_factory=list)

    @classmethod
    def from_claims(cls, claims: dict) -> ServiceAccount:
        """Projected tokens carry a ``kubernetes.io`` object; legacy secret tokens flat keys."""
        projected = claims.get("kubernetes.io")
        audiences = claims.get("aud") or []
        audiences = [audiences] if isinstance(audiences, str) else [str(a) for a in audiences]
        secret_name = str(claims.get("kubernetes.io/serviceaccount/secret.name") or "")
        if isinstance(projected, dict):
            account = projected.get("serviceaccount") or {}
            return cls(
                name=str(account.get("name") or ""),
                namespace=str(projected.get("namespace") or ""),
                uid=str(account.get("uid") or ""),
                secret_name=secret_name,
                audiences=audiences,
            )
        return cls(
            name=str(claims.get("kubernetes.io/serviceaccount/service-account.name") or ""),
            namespace=str(claims.get("kubernetes.io/serviceaccount/namespace") or ""),
            uid=str(claims.get("kubernetes.io/serviceaccount/service-account.uid") or ""),
            secret_name=secret_name,
            audiences=audiences,
        )


def glob_match(pattern: str, value: str) -> bool:
    """Vault's ``strutil.GlobbedStringsMatch``: ``*`` may open and/or close a pattern
    (``*``, ``prefix*``, ``*suffix``, ``*infix*``); anywhere else it is a literal."""
    if pattern == "*":
        return True
    starts, ends = pattern.startswith("*"), pattern.endswith("*") and len(pattern) > 1
    core = pattern[1 if starts else 0 : len(pattern) - 1 if ends else len(pattern)]
    if starts and ends:
        return core in value
    if starts:
        return value.endswith(core)
    if ends:
        return value.startswith(core)
    return value == pattern


def matches_any(patterns: list[str], value: str) -> bool:
    return any(glob_match(pattern, value) for pattern in patterns)


def check_bindings(account: ServiceAccount, names: list[str], namespaces: list[str]) -> None:
    if not matches_any(names, account.name):
        raise LoginDenied("service account name not authorized")
    if not matches_any(namespaces, account.namespace):
        raise LoginDenied("namespace not authorized")


def validated_claims(
    token: str,
    *,
    public_keys: list,
    issuer: str,
    check_issuer: bool,
    audience: str,
) -> dict:
    """The JWT's claims after Vault's checks; LoginDenied with OpenBao's message otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise PermissionDenied() from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise PermissionDenied()
    claims = _verified(token, public_keys) if public_keys else _unverified(token)
    _check_times(token)
    # Vault checks iss only when an issuer is configured (an empty one checks nothing).
    if check_issuer and issuer and claims.get("iss") != issuer:
        raise LoginDenied("invalid issuer (iss) claim")
    if audience.strip() and audience not in ServiceAccount.from_claims(claims).audiences:
        raise LoginDenied("invalid audience (aud) claim: audience claim does not match any expected audience")
    return claims


def _unverified(token: str) -> dict:
    try:
        return jwt.decode(token, options={"verify_signature": False}, algorithms=ALLOWED_ALGORITHMS)
    except jwt.InvalidTokenError:
        raise PermissionDenied() from None


def _verified(token: str, public_keys: list) -> dict:
    """Any configured key of the token's kind may have signed it (Kubernetes rotates keys)."""
    algorithm = jwt.get_unverified_header(token).get("alg", "")
    kind = ec.EllipticCurvePublicKey if algorithm.startswith("ES") else rsa.RSAPublicKey
    for key in (k for k in public_keys if isinstance(k, kind)):
        try:
            return jwt.decode(
                token,
                key,
                algorithms=ALLOWED_ALGORITHMS,
                # Only the signature here; the time, issuer and audience checks follow.
                options={
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError:
            break
    raise PermissionDenied()


def _check_times(token: str) -> None:
    """exp and nbf, when present (Vault allows tokens without them), checked by PyJWT."""
    try:
        jwt.decode(
            token,
            algorithms=ALLOWED_ALGORITHMS,
            options={
                "verify_signature": False,  # checked (or deliberately not) by the caller
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.ExpiredSignatureError:
        raise LoginDenied("invalid expiration time (exp) claim: token is expired") from None
    except jwt.ImmatureSignatureError:
        raise LoginDenied("invalid not before (nbf) claim: token not yet valid") from None
    except jwt.InvalidTokenError:
        raise PermissionDenied() from None
