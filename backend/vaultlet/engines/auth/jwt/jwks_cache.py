"""Fetching an issuer's keys: the OIDC discovery document and the JWKS it points at.

One cache per (URL, CA) per process, shared by every mount that names it. Keys are
kept for ``MAX_AGE`` seconds (a key the issuer retires stops being accepted within
that time) and refetched early when a token names a ``kid`` the cache does not
hold (the issuer rotated its key) — but at most once per ``MIN_REFETCH_INTERVAL``,
so a flood of tokens with made-up ``kid`` values cannot turn into a flood of
requests to the issuer.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

log = logging.getLogger("vaultlet.jwt")

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
MAX_AGE = 300.0
MIN_REFETCH_INTERVAL = 1.0
FETCH_TIMEOUT = 10.0
_MAX_DOCUMENT_BYTES = 1 << 20
_MAX_CACHES = 64
_ASYMMETRIC_KEY_TYPES = ("RSA", "EC", "OKP")


class FetchError(Exception):
    """The issuer could not be reached or sent something unusable (no secrets in the text).
    ``transport``: the request itself failed (no HTTP answer)."""

    def __init__(self, message: str, transport: bool = False):
        super().__init__(message)
        self.transport = transport


class DiscoveryError(FetchError):
    """The discovery document could not be had: the key set cannot even be set up."""


def tls_context(ca_pem: str) -> ssl.SSLContext:
    """System roots, or only the given CA certificates when a PEM is configured."""
    if not ca_pem:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=ca_pem)
    except (ssl.SSLError, ValueError):
        raise FetchError("could not parse CA PEM value successfully") from None


def fetch_json(url: str, ca_pem: str = "") -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    context = tls_context(ca_pem) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT, context=context) as response:
            body = response.read(_MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise FetchError(f"{error.code} {error.reason}") from None
    except (OSError, ValueError) as error:
        raise FetchError(f'Get "{url}": {getattr(error, "reason", error)}', transport=True) from None
    if len(body) > _MAX_DOCUMENT_BYTES:
        raise FetchError("response too large")
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError("response is not JSON") from None
    if not isinstance(document, dict):
        raise FetchError("response is not a JSON object")
    return document


def discover_jwks_url(discovery_url: str, ca_pem: str = "") -> str:
    """The ``jwks_uri`` of an OIDC provider, after checking that it names itself as configured."""
    base = discovery_url.rstrip("/")
    try:
        document = fetch_json(base + DISCOVERY_SUFFIX, ca_pem)
    except FetchError as error:
        raise DiscoveryError(f"keyset configuration error: {error}") from None
    issuer = document.get("issuer")
    if issuer != discovery_url:
        raise DiscoveryError(
            "oidc: issuer did not match the issuer returned by provider, "
            f'expected "{discovery_url}" got "{issuer}"'
        )
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise DiscoveryError("oidc: provider metadata has no jwks_uri")
    return jwks_uri


@dataclass(frozen=True)
class PublishedKey:
    """One signing key of a JWKS: its ``kid``, the ``alg`` it is pinned to (or ""), the key."""

    kid: str
    alg: str
    key: Any


def parse_jwks(document: dict) -> list[PublishedKey]:
    """The usable signing keys of a JWKS. Keys for encryption, of unknown types and symmetric
    (``oct``) keys are skipped: a published "secret" must never verify anything."""
    keys = []
    for entry in document.get("keys") or []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in _ASYMMETRIC_KEY_TYPES:
            continue
        try:
            parsed = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        keys.append(PublishedKey(str(entry.get("kid") or ""), str(entry.get("alg") or ""), parsed.key))
    return keys


class JwksCache:
    """The keys behind one JWKS URL (or one discovery URL), fetched lazily."""

    def __init__(self, url: str, ca_pem: str = "", discovery: bool = False, clock: Callable = time.monotonic):
        self.url, self.ca_pem, self.discovery = url, ca_pem, discovery
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[PublishedKey] | None = None
        self._fetched_at = 0.0
        self.fetches = 0

    def _jwks_url(self) -> str:
        return discover_jwks_url(self.url, self.ca_pem) if self.discovery else self.url

    def _fetch(self) -> None:
        jwks_url = self._jwks_url()
        try:
            document = fetch_json(jwks_url, self.ca_pem)
        except FetchError as error:
            # go-oidc's wording: "failed: <status>" for an HTTP answer, "failed <error>" otherwise
            separator = " " if error.transport else ": "
            raise FetchError(f"fetching keys oidc: get keys failed{separator}{error}") from None
        self._keys = parse_jwks(document)
        self._fetched_at = self._clock()
        self.fetches += 1

    def keys(self) -> list[PublishedKey]:
        with self._lock:
            if self._keys is None:
                self._fetch()
            elif self._clock() - self._fetched_at >= MAX_AGE:
                self._refresh_stale()
            return list(self._keys or [])

    def _refresh_stale(self) -> None:
        """Past MAX_AGE: refetch, but if the issuer is unreachable keep the keys we have (as
        go-oidc, which never expires them) and try again after MIN_REFETCH_INTERVAL."""
        try:
            self._fetch()
        except FetchError as error:
            log.warning("keeping cached keys of %s: %s", self.url, error)
            self._fetched_at = self._clock() - MAX_AGE + MIN_REFETCH_INTERVAL

    def refresh(self) -> bool:
        """Refetch now unless the last fetch was under ``MIN_REFETCH_INTERVAL`` ago."""
        with self._lock:
            if self._keys is not None and self._clock() - self._fetched_at < MIN_REFETCH_INTERVAL:
                return False
            self._fetch()
            return True


_caches: OrderedDict[tuple[str, str, bool], JwksCache] = OrderedDict()
_caches_lock = threading.Lock()


def cache_for(url: str, ca_pem: str = "", discovery: bool = False) -> JwksCache:
    key = (url, ca_pem, discovery)
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = JwksCache(url, ca_pem, discovery)
            while len(_caches) > _MAX_CACHES:
                _caches.popitem(last=False)
        _caches.move_to_end(key)
        return cache
