"""A local OpenID Connect issuer for the JWT auth tests (and the bench).

It serves what a real issuer (GitHub Actions, GitLab, an IdP) publishes for token
verification, on a loopback port, over plain HTTP or TLS:

- ``/.well-known/openid-configuration``: the discovery document (``issuer``,
  ``jwks_uri``, ``id_token_signing_alg_values_supported``, ...);
- ``/.well-known/jwks``: the JSON Web Key Set of its current public keys.

It signs real JWTs with PyJWT over ``cryptography`` keys (RS256 and ES256), can
rotate its keys (a new ``kid`` appears in the JWKS, the old one may be retired) and
counts how often the JWKS is fetched, so tests can see the verifier's cache at work.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks"


@dataclass
class SigningKey:
    kid: str
    alg: str  # RS256 or ES256
    private_key: Any

    @classmethod
    def generate(cls, alg: str = "RS256", kid: str | None = None) -> SigningKey:
        if alg.startswith(("RS", "PS")):
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private_key = ec.generate_private_key(ec.SECP256R1())
        elif alg == "ES384":
            private_key = ec.generate_private_key(ec.SECP384R1())
        else:
            raise ValueError(f"unsupported test key algorithm {alg}")
        return cls(kid or uuid.uuid4().hex[:16], alg, private_key)

    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk = json.loads(algorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            claims, self.private_key, algorithm=self.alg, headers={"kid": self.kid, **(headers or {})}
        )


class OidcIssuer:
    """The issuer; start it with :meth:`start` (or as a context manager)."""

    def __init__(
        self, algorithms: tuple[str, ...] = ("RS256", "ES256"), tls: tuple[Path, Path] | None = None
    ):
        self.keys: list[SigningKey] = [SigningKey.generate(alg) for alg in algorithms]
        self.jwks_fetches = 0
        self.discovery_fetches = 0
        self._tls = tls
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- serving ---------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "issuer not started"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_port}"

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    def start(self) -> OidcIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == DISCOVERY_PATH:
                    issuer.discovery_fetches += 1
                    self._send(issuer.discovery_document())
                elif path == JWKS_PATH:
                    issuer.jwks_fetches += 1
                    self._send(issuer.jwks())
                else:
                    self._send({"error": "not found"}, 404)

            def _send(self, body: dict, status: int = 200) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self._tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self._tls[0]), str(self._tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OidcIssuer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- documents -------------------------------------------------------------

    def discovery_document(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": self.jwks_url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({key.alg for key in self.keys}),
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "nbf"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.keys]}

    # -- keys ------------------------------------------------------------------

    def key(self, alg: str = "RS256") -> SigningKey:
        """The newest key of that algorithm."""
        return next(key for key in reversed(self.keys) if key.alg == alg)

    def rotate(self, alg: str = "RS256", retire_old: bool = True) -> SigningKey:
        """Publish a new key (new ``kid``) for ``alg``; by default the previous one is retired."""
        new = SigningKey.generate(alg)
        if retire_old:
            self.keys = [key for key in self.keys if key.alg != alg]
        self.keys.append(new)
        return new

    # -- tokens ----------------------------------------------------------------

    def claims(self, audience: str | list[str] = "vaultlet", subject: str = "ci-job", **extra) -> dict:
        """Valid claims: this issuer, the audience, issued now, expiring in five minutes."""
        now = int(time.time())
        claims = {"iss": self.url, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + 300}
        claims.update(extra)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, alg: str = "RS256", headers: dict | None = None, **claims) -> str:
        """A JWT signed with the current key of ``alg``; keyword arguments override claims
        (``exp=None`` drops a claim)."""
        return self.key(alg).sign(self.claims(**claims), headers)


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and an empty signature, as an attacker would send it."""
    return jwt.encode(claims, None, algorithm="none")


class GitHubActionsIdTokenStandIn:
    """STAND-IN for GitHub Actions' ID-token endpoint (the runner's ``ACTIONS_ID_TOKEN_REQUEST_URL``),
    which cannot be reached from here. It speaks the same protocol: ``GET <url>&audience=<aud>``
    with ``Authorization: bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`` answers ``{"value": "<JWT>"}``,
    the JWT carrying GitHub's claims (``sub`` = ``repo:<owner>/<repo>:ref:<ref>``, ``repository``,
    ``ref``, ...) and the requested audience, signed by the local :class:`OidcIssuer`.
    """

    PATH = "/_apis/pipelines/workflows/run-1/idtoken"

    def __init__(self, issuer: OidcIssuer, repository: str = "my-org/my-app", ref: str = "refs/heads/main"):
        self.issuer, self.repository, self.ref = issuer, repository, ref
        self.request_token = uuid.uuid4().hex
        self.requests: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}{self.PATH}?api-version=2.0"

    def claims(self, audience: str) -> dict[str, Any]:
        owner = self.repository.split("/")[0]
        return self.issuer.claims(
            audience=audience or f"https://github.com/{owner}",
            subject=f"repo:{self.repository}:ref:{self.ref}",
            repository=self.repository,
            repository_owner=owner,
            ref=self.ref,
            workflow="deploy",
            event_name="push",
        )

    def start(self) -> GitHubActionsIdTokenStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                from urllib.parse import parse_qs, urlsplit

                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                authorization = self.headers.get("Authorization", "")
                stand_in.requests.append({"path": parts.path, **query, "authorization": authorization})
                if authorization.lower() != f"bearer {stand_in.request_token}":
                    return self._send({"message": "Unauthorized"}, 401)
                if parts.path != stand_in.PATH or query.get("api-version") != "2.0":
                    return self._send({"message": "Not Found"}, 404)
                token = stand_in.issuer.key("RS256").sign(stand_in.claims(query.get("audience", "")))
                self._send({"count": 1, "value": token})

            def _send(self, body: dict, status: int = 200) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHubActionsIdTokenStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def runner_environment(self) -> dict[str, str]:
        """What a GitHub-hosted runner sets for a job with ``permissions: id-token: write``."""
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }
