"""The one place that talks to the Kubernetes API: a TokenReview of a service-account JWT.

``TokenReviewer`` is the narrow interface the login uses (tests of the login logic give it a
fake); ``ApiTokenReviewer`` is the real client: ``POST {host}/apis/authentication.k8s.io/v1/
tokenreviews`` with ``Authorization: Bearer <reviewer JWT, or the login's own JWT>``, TLS
verified against the configured CA. Failures raise :class:`ReviewFailed` whose text never
carries the JWT or the API server's body.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Protocol

import urllib3

TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
TIMEOUT_SECONDS = 10


class ReviewFailed(Exception):
    """The API server did not vouch for the token (or could not be asked)."""


@dataclass(frozen=True)
class ReviewedAccount:
    name: str
    namespace: str
    uid: str


class TokenReviewer(Protocol):
    def review(self, token: str, audiences: list[str]) -> ReviewedAccount: ...


def token_review_url(host: str) -> str:
    """Vault accepts a URL, or a bare host[:port] which Kubernetes clients reach over HTTPS."""
    base = host.strip().rstrip("/")
    if "://" not in base:
        base = "https://" + base
    return base + TOKEN_REVIEW_PATH


def review_body(token: str, audiences: list[str]) -> dict:
    spec: dict = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}


class ApiTokenReviewer:
    """Keeps its TLS context and a small keep-alive pool, so a login costs one request, not a
    handshake (the backend reuses one reviewer per configuration)."""

    def __init__(self, host: str, ca_cert: str, reviewer_jwt: str, timeout: float = TIMEOUT_SECONDS):
        self.url = token_review_url(host)
        self.reviewer_jwt = reviewer_jwt
        tls = _tls_context(ca_cert) if self.url.startswith("https://") else None
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=8, ssl_context=tls, retries=False, timeout=urllib3.Timeout(total=timeout)
        )

    def review(self, token: str, audiences: list[str]) -> ReviewedAccount:
        bearer = self.reviewer_jwt or token  # Vault: no reviewer JWT configured → the client's own
        try:
            response = self._pool.request(
                "POST",
                self.url,
                body=json.dumps(review_body(token, audiences)).encode(),
                headers={
                    "Authorization": f"Bearer {bearer}".strip(),
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except (urllib3.exceptions.HTTPError, OSError, ssl.SSLError) as error:
            # Only the error's class: enough to tell down from untrusted, and never the token.
            raise ReviewFailed(f"lookup failed: API server unreachable ({type(error).__name__})") from None
        if not 200 <= response.status <= 206:
            raise _http_failure(response.status)
        return parse_review(_json(response.data))


def parse_review(document: dict) -> ReviewedAccount:
    """The reviewed service account from a TokenReview answer, checked as Vault does."""
    status = document.get("status") if isinstance(document, dict) else None
    if not isinstance(status, dict):
        raise ReviewFailed("lookup failed: the answer is not a TokenReview")
    if status.get("error"):
        raise ReviewFailed("lookup failed: the API server rejected the token")
    if not status.get("authenticated"):
        raise ReviewFailed("lookup failed: service account jwt not valid")
    user = status.get("user") or {}
    parts = str(user.get("username") or "").split(":")
    if len(parts) != 4:
        raise ReviewFailed("lookup failed: unexpected username format")
    if parts[0] != "system" or parts[1] != "serviceaccount":
        raise ReviewFailed("lookup failed: username returned is not a service account")
    return ReviewedAccount(name=parts[3], namespace=parts[2], uid=str(user.get("uid") or ""))


def _http_failure(status: int) -> ReviewFailed:
    if status == 401:
        return ReviewFailed(
            "lookup failed: service account unauthorized; this could mean it has been deleted "
            "or recreated with a new token"
        )
    return ReviewFailed(f"lookup failed: the API server answered HTTP {status}")


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw)
    except ValueError:
        raise ReviewFailed("lookup failed: the answer is not JSON") from None


def _tls_context(ca_cert: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_cert) if ca_cert else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
