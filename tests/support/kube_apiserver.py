"""A STAND-IN for the Kubernetes API server: its TokenReview endpoint and its service-account issuer.

No Kubernetes cluster can run on the test machines, so this small HTTP(S) server speaks the one
part of the kube-apiserver protocol the ``kubernetes`` auth method uses, exactly as a real API
server does (``POST /apis/authentication.k8s.io/v1/tokenreviews``):

- it signs service-account JWTs with its own RSA key (PyJWT), in the shape of Kubernetes'
  projected tokens (``kubernetes.io`` claim, ``iss``/``aud``/``exp``) or of the legacy
  secret-based tokens (``kubernetes.io/serviceaccount/...`` claims, issuer
  ``kubernetes/serviceaccount``);
- the caller must authenticate with ``Authorization: Bearer <a token it issued>`` (a real API
  server also authorises ``create tokenreviews``; every known service account may here), else
  it answers 401 with a ``Status`` object, as the API server does;
- a review answers ``status.authenticated`` true with ``user.username``
  (``system:serviceaccount:NS:NAME``), ``uid`` and ``groups`` and the matched ``audiences``, or
  false with an ``error`` (bad signature, expired, revoked, deleted account, wrong audience);
- every request is recorded (path, headers, parsed body) so tests assert what was really sent.

It is used by the tests and the benchmark only, never shipped, and is labelled a stand-in in the
tests and the README too.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from support.tls import self_signed_certificate

TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
PROJECTED_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
# The API server's own audience (--api-audiences): what a review without spec.audiences checks.
API_AUDIENCES = [PROJECTED_ISSUER]

_UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None


@dataclass
class ServiceAccount:
    namespace: str
    name: str
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


class KubeApiServerStandIn:
    """A running stand-in API server (HTTPS with its own CA unless ``tls=False``)."""

    def __init__(self, workdir: Path, tls: bool = True):
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.accounts: dict[tuple[str, str], ServiceAccount] = {}
        self.revoked: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.ca_pem = ""
        if tls:
            workdir.mkdir(parents=True, exist_ok=True)
            cert, key = self_signed_certificate(workdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.ca_pem = cert.read_text()
        scheme = "https" if tls else "http"
        self.host = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    # -- the cluster's state ------------------------------------------------

    def service_account(self, namespace: str, name: str) -> ServiceAccount:
        """Create (or return) a service account."""
        with self._lock:
            return self.accounts.setdefault((namespace, name), ServiceAccount(namespace, name))

    def delete_service_account(self, namespace: str, name: str) -> None:
        with self._lock:
            self.accounts.pop((namespace, name), None)

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def issue_token(
        self,
        account: ServiceAccount,
        audiences: list[str] | None = None,
        ttl: int = 3600,
        legacy: bool = False,
        secret_name: str = "",
        starts_in: int = 0,
    ) -> str:
        """A service-account JWT signed with this API server's key."""
        now = int(time.time())
        if legacy:
            claims = {
                "iss": LEGACY_ISSUER,
                "sub": account.username,
                "kubernetes.io/serviceaccount/namespace": account.namespace,
                "kubernetes.io/serviceaccount/secret.name": secret_name or f"{account.name}-token-x7k2p",
                "kubernetes.io/serviceaccount/service-account.name": account.name,
                "kubernetes.io/serviceaccount/service-account.uid": account.uid,
            }
        else:
            claims = {
                "iss": PROJECTED_ISSUER,
                "sub": account.username,
                "aud": audiences or API_AUDIENCES,
                "iat": now,
                "nbf": now + starts_in,
                "exp": now + ttl,
                "jti": str(uuid.uuid4()),  # two tokens issued in the same second still differ
                "kubernetes.io": {
                    "namespace": account.namespace,
                    "serviceaccount": {"name": account.name, "uid": account.uid},
                },
            }
        return self.sign(claims)

    def sign(self, claims: dict) -> str:
        """Any claims, signed with this API server's key (for tokens no real one would issue)."""
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "standin"})

    def revoke_token(self, token: str) -> None:
        self.revoked.add(token)

    def reviews(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == TOKEN_REVIEW_PATH]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what the API server answers ----------------------------------------

    def authenticate(self, token: str, audiences: list[str] | None) -> tuple[dict, list[str]] | str:
        """(user, matched audiences) for a valid token, else the error text a review carries."""
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["iss", "sub"]},
            )
        except jwt.InvalidTokenError as error:
            return f"[invalid bearer token, {error}]"
        if token in self.revoked:
            return "[invalid bearer token, token has been invalidated]"
        account = self._account_of(claims)
        if account is None:
            return "[invalid bearer token, service account not found]"
        token_audiences = claims.get("aud") or API_AUDIENCES
        if isinstance(token_audiences, str):
            token_audiences = [token_audiences]
        wanted = audiences or API_AUDIENCES
        matched = [a for a in wanted if a in token_audiences]
        if not matched:
            return "[invalid bearer token, token audiences don't match]"
        user = {
            "username": account.username,
            "uid": account.uid,
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{account.namespace}",
                "system:authenticated",
            ],
        }
        return user, matched

    def _account_of(self, claims: dict) -> ServiceAccount | None:
        projected = claims.get("kubernetes.io")
        if isinstance(projected, dict):
            namespace = projected.get("namespace", "")
            name, uid = (projected.get("serviceaccount") or {}).get("name"), None
            uid = (projected.get("serviceaccount") or {}).get("uid")
        else:
            namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
            name = claims.get("kubernetes.io/serviceaccount/service-account.name")
            uid = claims.get("kubernetes.io/serviceaccount/service-account.uid")
        with self._lock:
            account = self.accounts.get((namespace, name))
        # A deleted and recreated account has a new UID: its old tokens stay invalid.
        return account if account is not None and account.uid == uid else None

    def review(self, body: dict) -> dict:
        spec = body.get("spec") or {}
        result = self.authenticate(spec.get("token", ""), spec.get("audiences"))
        if isinstance(result, str):
            status = {"user": {}, "error": result}
        else:
            user, matched = result
            status = {"authenticated": True, "user": user, "audiences": matched}
        return {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }


def _handler_for(api: KubeApiServerStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # quiet: requests are recorded, and they carry tokens

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            api.requests.append(RecordedRequest("POST", self.path, dict(self.headers.items()), body))
            if self.path != TOKEN_REVIEW_PATH:
                return self._send(
                    404,
                    {
                        **_UNAUTHORIZED,
                        "message": "the server could not find the requested resource",
                        "reason": "NotFound",
                        "code": 404,
                    },
                )
            if not self._caller_authenticated():
                return self._send(401, _UNAUTHORIZED)
            # As the API server does, a body without kind/apiVersion takes them from the URL
            # (OpenBao sends none); a different kind is refused.
            if not isinstance(body, dict) or body.get("kind", "TokenReview") != "TokenReview":
                return self._send(
                    400, {**_UNAUTHORIZED, "message": "bad TokenReview", "reason": "BadRequest", "code": 400}
                )
            self._send(201, api.review(body))

        def _caller_authenticated(self) -> bool:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            return scheme == "Bearer" and not isinstance(api.authenticate(token.strip(), None), str)

        def _send(self, status: int, document: dict) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
