"""Signature verification: where a mount's keys come from, and PyJWT checking a token with them.

Three key sources, as in Vault: ``jwt_validation_pubkeys`` (PEM keys in the config),
``jwks_url`` and ``oidc_discovery_url`` (a remote JWKS, see :mod:`jwks_cache`). Every
signature is checked by PyJWT with the single algorithm the token claims, and only
if that algorithm is an asymmetric one Vault supports: ``alg: none`` and HMAC
algorithms (which would turn a public key into a shared secret) never reach a key.
"""

from __future__ import annotations

import functools
import json

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwt.api_jws import PyJWS

from vaultlet.engines.auth.jwt.claims import SUPPORTED_ALGORITHMS
from vaultlet.engines.auth.jwt.jwks_cache import DiscoveryError, FetchError, cache_for

_JWS = PyJWS(options={"verify_signature": True})
_MALFORMED = "oidc: malformed jwt: "
_THREE_PARTS = "go-jose/go-jose: compact JWS format must have three parts"
_EXPECTED = "[" + " ".join(f'"{alg}"' for alg in SUPPORTED_ALGORITHMS) + "]"


class SignatureError(ValueError):
    """The signature does not verify, or the token is not a JWS; the text is OpenBao's."""


class KeySetError(ValueError):
    """The key set cannot be set up (OIDC discovery failed)."""


def parse_public_key(pem: str):
    """A PEM public key or certificate (Vault's ``certutil.ParsePublicKeyPEM``)."""
    data = pem.strip().encode()
    try:
        if b"CERTIFICATE" in data.split(b"\n", 1)[0]:
            return x509.load_pem_x509_certificate(data).public_key()
        return serialization.load_pem_public_key(data)
    except ValueError:
        raise ValueError("error parsing public key: data does not contain any valid public keys") from None


@functools.lru_cache(maxsize=64)
def _parse_all(pems: tuple[str, ...]) -> list:
    """Parsed once per process per config, not on every login."""
    return [parse_public_key(pem) for pem in pems]


def _header(token: str, prefix: str) -> dict:
    if token.count(".") != 2:
        raise SignatureError(prefix + _THREE_PARTS)
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise SignatureError(f"{prefix}{error}") from None


def _payload(token: str, key, algorithm: str) -> dict | None:
    """The claims if ``key`` verifies the signature with ``algorithm``, else None."""
    try:
        verified = _JWS.decode_complete(token, key=key, algorithms=[algorithm])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    try:
        claims = json.loads(verified["payload"])
    except ValueError:
        raise SignatureError("oidc: malformed jwt payload: invalid JSON") from None
    if not isinstance(claims, dict):
        raise SignatureError("oidc: malformed jwt payload: not a JSON object")
    return claims


class StaticKeySet:
    """``jwt_validation_pubkeys``: every configured key is tried."""

    def __init__(self, pems: list[str]):
        self.keys = _parse_all(tuple(pems))

    def verify(self, token: str) -> tuple[dict, str]:
        header = _header(token, "")
        algorithm = header.get("alg")
        if algorithm in SUPPORTED_ALGORITHMS:
            for key in self.keys:
                claims = _payload(token, key, algorithm)
                if claims is not None:
                    return claims, algorithm
        raise SignatureError("no known key successfully validated the token signature")


class RemoteKeySet:
    """``jwks_url`` or ``oidc_discovery_url``: the keys of a remote JWKS, cached."""

    def __init__(self, url: str, ca_pem: str = "", discovery: bool = False):
        self.cache = cache_for(url, ca_pem, discovery)

    def verify(self, token: str) -> tuple[dict, str]:
        header = _header(token, _MALFORMED)
        algorithm = header.get("alg")
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise SignatureError(
                f'{_MALFORMED}unexpected signature algorithm "{algorithm}"; expected {_EXPECTED}'
            )
        kid = header.get("kid")
        try:
            keys = self.cache.keys()
            # A kid we have never seen means the issuer has rotated: look again (rate bounded).
            if kid and not any(key.kid == kid for key in keys) and self.cache.refresh():
                keys = self.cache.keys()
        except DiscoveryError as error:
            raise KeySetError(str(error)) from None
        except FetchError as error:
            raise SignatureError(str(error)) from None
        for key in keys:
            if (kid and key.kid != kid) or key.alg not in ("", algorithm):
                continue  # another key, or a key pinned to another algorithm
            claims = _payload(token, key.key, algorithm)
            if claims is not None:
                return claims, algorithm
        raise SignatureError("failed to verify id token signature")


def key_set(config) -> StaticKeySet | RemoteKeySet:
    if config.jwt_validation_pubkeys:
        return StaticKeySet(config.jwt_validation_pubkeys)
    if config.jwks_url:
        return RemoteKeySet(config.jwks_url, config.jwks_ca_pem)
    return RemoteKeySet(config.oidc_discovery_url, config.oidc_discovery_ca_pem, discovery=True)
