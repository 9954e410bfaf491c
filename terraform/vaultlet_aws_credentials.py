#!/usr/bin/env python3
"""Short-lived AWS credentials from vaultlet (or any Vault-compatible server), for Terraform and the AWS SDKs.

One file, Python >= 3.8, standard library only, so it runs on any CI runner's ``python3``.
Three modes share the same lookup (``GET /v1/<mount>/<creds|sts>/<role>``):

``external`` (the default, when no mode is given)
    Terraform's ``data "external"`` protocol: one JSON object of strings on stdin (the
    query), one flat JSON object of strings on stdout: access_key, secret_key,
    security_token, lease_id, lease_duration, expiration (RFC 3339) and arn when known.
    Note that Terraform stores these in state and in plan files.

``credential-process``
    The AWS ``credential_process`` protocol (Version 1 JSON on stdout). The AWS SDK calls
    the program again when ``Expiration`` passes, so long applies carry on and nothing
    secret reaches Terraform's state. Same settings as flags.

``env``
    ``export AWS_ACCESS_KEY_ID=...`` lines, shell-quoted, for ``eval "$(...)"``.

The Vault token never comes from the query or the command line (it would end up in
state or in ``ps``): VAULT_TOKEN, else a JWT login when VAULT_AUTH_ROLE is set (the JWT
from VAULT_JWT, else the file VAULT_JWT_FILE, else GitHub Actions' OIDC endpoint with
the audience VAULT_JWT_AUDIENCE; mount VAULT_AUTH_PATH, default ``jwt``), else an AppRole
login with VAULT_ROLE_ID and VAULT_SECRET_ID, else ``~/.vault-token``. On failure: one
human-readable line on stderr without any secret, and a non-zero exit. Connection errors,
5xx and 429 answers are retried with capped exponential backoff and jitter until the timeout.

Set VAULTLET_CREDENTIAL_LOG to a file path to append one line per issued credential
(time, mode, path, lease id, expiration; never a key) - handy to see refreshes.
"""

from __future__ import annotations

import json
import os
import sys
import time

PROGRAM = "vaultlet-aws-credentials"
EXIT_FAILURE = 1
EXIT_USAGE = 2

DEFAULT_ADDRESS = "https://127.0.0.1:8200"  # the Vault CLI's default
DEFAULT_TIMEOUT_SECONDS = 30.0  # the AWS SDK gives a credential_process one minute
CREDENTIAL_TYPES = ("creds", "sts")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")

# Query keys accepted in external mode (Terraform sends every value as a string).
QUERY_KEYS = (
    "address",
    "mount",
    "role",
    "type",
    "role_arn",
    "ttl",
    "role_session_name",
    "namespace",
    "ca_cert",
    "tls_skip_verify",
    "timeout",
)
# Keys that would put a secret into Terraform's state if we accepted them.
SECRET_QUERY_KEYS = ("token", "vault_token", "secret_id", "role_id")


class CredentialsError(Exception):
    """A failure to report as one stderr line; the message never contains a secret."""


class TransientError(CredentialsError):
    """A failure worth retrying: no connection, 5xx, 429."""


class Settings:
    """Where and what to ask for; built from the query (external) or from flags."""

    def __init__(
        self,
        role: str,
        address: str = "",
        mount: str = "aws",
        credential_type: str = "creds",
        role_arn: str = "",
        ttl: str = "",
        role_session_name: str = "",
        namespace: str = "",
        ca_cert: str = "",
        tls_skip_verify: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        expiry_window: float = 0.0,
    ):
        self.role = role
        self.address = address
        self.mount = mount
        self.credential_type = credential_type
        self.role_arn = role_arn
        self.ttl = ttl
        self.role_session_name = role_session_name
        self.namespace = namespace
        self.ca_cert = ca_cert
        self.tls_skip_verify = tls_skip_verify
        self.timeout = timeout
        # Reported expiration is brought forward by this much, so the SDK fetches new keys
        # before the old ones lapse mid-request (STS keys live at least 15 minutes).
        self.expiry_window = expiry_window

    @property
    def path(self) -> str:
        return f"{self.mount}/{self.credential_type}/{self.role}"

    def request_parameters(self) -> dict:
        """Optional parameters of the creds/sts endpoint, only those that are set."""
        parameters = {"role_arn": self.role_arn, "ttl": self.ttl, "role_session_name": self.role_session_name}
        return {name: value for name, value in parameters.items() if value}


class Credentials:
    """What the server issued, with the expiration computed from the lease."""

    def __init__(self, secret: dict, requested_at: float, expiry_window: float = 0.0):
        data = secret.get("data") or {}
        self.access_key = _required_string(data, "access_key")
        self.secret_key = _required_string(data, "secret_key")
        # Vault >= 1.16 also returns session_token; older servers only security_token.
        self.security_token = data.get("security_token") or data.get("session_token") or ""
        self.arn = data.get("arn") or ""
        self.lease_id = secret.get("lease_id") or ""
        self.lease_duration = int(secret.get("lease_duration") or data.get("ttl") or 0)
        # Counted from before the request was sent, so we never claim more time than there is.
        self.expires_at = requested_at + self.lease_duration if self.lease_duration > 0 else None
        if self.expires_at is not None and expiry_window:
            if expiry_window >= self.lease_duration:
                raise CredentialsError(
                    f"expiry window {expiry_window:g}s is not shorter than the lease ({self.lease_duration}s)"
                )
            self.expires_at -= expiry_window

    @property
    def expiration(self) -> str:
        return rfc3339(self.expires_at) if self.expires_at is not None else ""

    @property
    def secrets(self) -> tuple:
        return (self.access_key, self.secret_key, self.security_token)


def _required_string(data: dict, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise CredentialsError(f"the server's answer has no {name}: is this an AWS secrets engine mount?")
    return value


def rfc3339(epoch_seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


# --------------------------------------------------------------------------- settings


def parse_flag_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise CredentialsError(f"{name} must be true or false, not {value!r}")


def parse_seconds(value: str, name: str) -> float:
    """Seconds, as a number or with an s/m suffix ("30", "30s", "1m")."""
    text = value.strip().lower()
    scale = 1.0
    if text.endswith("m"):
        text, scale = text[:-1], 60.0
    elif text.endswith("s"):
        text = text[:-1]
    try:
        seconds = float(text) * scale
    except ValueError:
        raise CredentialsError(f"{name} must be a number of seconds such as 30s, not {value!r}") from None
    if seconds < 0:
        raise CredentialsError(f"{name} must not be negative")
    return seconds


def parse_timeout(value: str) -> float:
    if not value:
        return DEFAULT_TIMEOUT_SECONDS
    seconds = parse_seconds(value, "timeout")
    if seconds == 0:
        raise CredentialsError("timeout must be positive")
    return seconds


def validated_settings(settings: Settings, environ: dict) -> Settings:
    """Fill defaults from the Vault CLI's environment variables and reject bad values early."""
    settings.mount = settings.mount.strip("/")
    if not settings.role:
        raise CredentialsError("role is required (the name of a role under the AWS secrets engine mount)")
    if "/" in settings.role:
        raise CredentialsError(f"role must be a role name, not a path: {settings.role!r}")
    if not settings.mount:
        raise CredentialsError("mount must not be empty")
    if settings.credential_type not in CREDENTIAL_TYPES:
        raise CredentialsError(f"type must be creds or sts, not {settings.credential_type!r}")
    settings.address = (settings.address or environ.get("VAULT_ADDR") or DEFAULT_ADDRESS).rstrip("/")
    check_address(settings.address)
    settings.namespace = settings.namespace or environ.get("VAULT_NAMESPACE", "")
    settings.ca_cert = settings.ca_cert or environ.get("VAULT_CACERT", "")
    if not settings.tls_skip_verify and environ.get("VAULT_SKIP_VERIFY"):
        settings.tls_skip_verify = parse_flag_bool(environ["VAULT_SKIP_VERIFY"], "VAULT_SKIP_VERIFY")
    return settings


def check_address(address: str) -> None:
    from urllib.parse import urlsplit

    if not address.startswith(("http://", "https://")):
        raise CredentialsError(f"address must start with http:// or https://, not {address!r}")
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise CredentialsError(f"address has a bad port: {address!r}") from None
    if not parts.hostname:
        raise CredentialsError(f"address has no host: {address!r}")


def settings_from_query(text: str, environ: dict) -> Settings:
    """External data source mode: the query is one JSON object of strings."""
    try:
        query = json.loads(text or "{}")
    except ValueError:
        raise CredentialsError('stdin is not JSON: expected the query object of a data "external"') from None
    if not isinstance(query, dict):
        raise CredentialsError('stdin must be a JSON object (the query of a data "external")')
    leaked = sorted(key for key in query if key in SECRET_QUERY_KEYS)
    if leaked:
        raise CredentialsError(
            f"refusing query key {leaked[0]!r}: a query is stored in Terraform state; "
            "pass the token through VAULT_TOKEN, VAULT_ROLE_ID/VAULT_SECRET_ID or ~/.vault-token"
        )
    unknown = sorted(key for key in query if key not in QUERY_KEYS)
    if unknown:
        raise CredentialsError(f"unknown query key {unknown[0]!r} (known: {', '.join(QUERY_KEYS)})")
    for key, value in query.items():
        if not isinstance(value, str):
            raise CredentialsError(f"query value of {key!r} must be a string")
    settings = Settings(
        role=query.get("role", ""),
        address=query.get("address", ""),
        mount=query.get("mount") or "aws",
        credential_type=query.get("type") or "creds",
        role_arn=query.get("role_arn", ""),
        ttl=query.get("ttl", ""),
        role_session_name=query.get("role_session_name", ""),
        namespace=query.get("namespace", ""),
        ca_cert=query.get("ca_cert", ""),
        tls_skip_verify=parse_flag_bool(query.get("tls_skip_verify", ""), "tls_skip_verify"),
        timeout=parse_timeout(query.get("timeout", "")),
    )
    return validated_settings(settings, environ)


class UsageError(CredentialsError):
    """Bad command line; exits with status 2 like argparse."""


def settings_from_args(args: list, environ: dict) -> Settings:
    """credential-process and env modes: the same settings as flags."""
    import argparse

    class RaisingParser(argparse.ArgumentParser):
        def error(self, message):  # one line on stderr, no usage dump (the AWS SDK shows stderr)
            raise UsageError(message)

    parser = RaisingParser(prog=PROGRAM, add_help=False)
    parser.add_argument("--role", default="")
    parser.add_argument("--address", default="")
    parser.add_argument("--mount", default="aws")
    parser.add_argument("--type", dest="credential_type", default="creds")
    parser.add_argument("--role-arn", default="")
    parser.add_argument("--ttl", default="")
    parser.add_argument("--role-session-name", default="")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--ca-cert", default="")
    parser.add_argument("--tls-skip-verify", action="store_true")
    parser.add_argument("--timeout", default="")
    parser.add_argument("--expiry-window", default="0")
    options = parser.parse_args(args)
    settings = Settings(
        role=options.role,
        address=options.address,
        mount=options.mount,
        credential_type=options.credential_type,
        role_arn=options.role_arn,
        ttl=options.ttl,
        role_session_name=options.role_session_name,
        namespace=options.namespace,
        ca_cert=options.ca_cert,
        tls_skip_verify=options.tls_skip_verify,
        timeout=parse_timeout(options.timeout),
        expiry_window=parse_seconds(options.expiry_window, "expiry window"),
    )
    return validated_settings(settings, environ)


# --------------------------------------------------------------------------- HTTP


class Deadline:
    """One time budget for the whole invocation (login, read and all retries)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()


class VaultClient:
    """The few Vault HTTP calls we need, with retries of transient failures."""

    FIRST_BACKOFF_SECONDS = 0.1
    MAX_BACKOFF_SECONDS = 2.0

    def __init__(self, settings: Settings, deadline: Deadline, use_proxy: bool = False):
        self.settings = settings
        self.deadline = deadline
        self.exchange = proxied_exchange if use_proxy else direct_exchange
        self.secrets_to_redact = []  # anything that must never appear in an error line

    def get(self, path: str, token: str, parameters: dict) -> dict:
        from urllib.parse import quote, urlencode

        query = "?" + urlencode(parameters) if parameters else ""
        return self._with_retries("GET", quote(path) + query, token, None)

    def post(self, path: str, token: str, body: dict) -> dict:
        return self._with_retries("POST", path, token, body)

    def _with_retries(self, method: str, path: str, token: str, body) -> dict:
        attempt = 0
        while True:
            try:
                return self._send(method, path, token, body)
            except TransientError as error:
                attempt += 1
                pause = self._backoff(attempt)
                if self.deadline.remaining() <= pause:
                    raise CredentialsError(
                        f"{error} (gave up after {attempt} attempts in {self.deadline.seconds:g}s)"
                    ) from None
                time.sleep(pause)

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter, so many runners do not retry in step."""
        import random

        ceiling = min(self.MAX_BACKOFF_SECONDS, self.FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _send(self, method: str, path: str, token: str, body) -> dict:
        url = f"{self.settings.address}/v1/{path}"
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-Vault-Request": "true", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["X-Vault-Token"] = token
        if self.settings.namespace:
            headers["X-Vault-Namespace"] = self.settings.namespace
        timeout = max(0.1, min(10.0, self.deadline.remaining()))
        shown_path = path.split("?", 1)[0]
        try:
            status, reason, raw = self.exchange(method, url, headers, data, timeout, self._tls_context())
        except TlsError as error:
            raise CredentialsError(f"TLS with {self.settings.address} failed: {error}") from None
        except OSError as error:
            raise TransientError(f"cannot reach {self.settings.address}: {error}") from None
        if status >= 400:
            raise self._http_failure(status, reason, raw, shown_path)
        return _decode_secret(raw, shown_path)

    def _http_failure(self, status: int, reason: str, raw: bytes, shown_path: str) -> CredentialsError:
        try:
            messages = json.loads(raw or b"{}").get("errors") or []
        except (ValueError, AttributeError):
            messages = []
        detail = "; ".join(str(message) for message in messages) or reason or "no detail"
        text = redact(f"{shown_path}: {status} {detail}", self.secrets_to_redact)
        if status == 429 or status >= 500:
            return TransientError(text)
        return CredentialsError(text)

    def _tls_context(self):
        if not self.settings.address.startswith("https://"):
            return None
        import ssl

        if self.settings.tls_skip_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        ca_cert = self.settings.ca_cert
        if ca_cert and os.path.isdir(ca_cert):
            return ssl.create_default_context(capath=ca_cert)
        return ssl.create_default_context(cafile=ca_cert or None)


# Two ways to make one HTTP exchange, both returning (status, reason, body). The direct one
# speaks HTTP/1.1 over a socket: urllib.request alone costs ~40 ms of imports, most of a
# cold start that Terraform pays on every plan. urllib serves when a proxy is configured.

MAX_RESPONSE_BYTES = 1 << 20
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


class TlsError(Exception):
    """Certificate or handshake failure: retrying will not help."""


def proxy_configured(environ) -> bool:
    return any(environ.get(name) or environ.get(name.upper()) for name in PROXY_VARIABLES)


def direct_exchange(method: str, url: str, headers: dict, data, timeout: float, tls_context):
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rpartition("@")[2]
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {host_header}",
        "Connection: close",
        f"User-Agent: {PROGRAM}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(data or b'')}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (data or b"")
    with socket.create_connection((parts.hostname, port), timeout=timeout) as connection:
        stream = _wrap_tls(connection, tls_context, parts.hostname) if tls_context else connection
        stream.sendall(request)
        response = _read_until_closed(stream)
    return parse_http_response(response)


def _wrap_tls(connection, tls_context, hostname: str):
    import ssl

    try:
        return tls_context.wrap_socket(connection, server_hostname=hostname)
    except ssl.SSLError as error:  # includes certificate verification failures
        raise TlsError(getattr(error, "verify_message", None) or error.reason or str(error)) from None


def _read_until_closed(stream) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = stream.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise OSError("response larger than 1 MiB")


def parse_http_response(response: bytes):
    """(status, reason, body) of a complete HTTP/1.1 response (Content-Length, chunked or to EOF)."""
    try:
        return _parse_http_response(response)
    except ValueError:  # a bad chunk size or a truncated chunk
        raise OSError("malformed HTTP response") from None


def _parse_http_response(response: bytes):
    head, separator, body = response.partition(b"\r\n\r\n")
    if not separator:
        raise OSError("incomplete HTTP response")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise OSError(f"not an HTTP response: {status_line[:40]!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return int(code), reason, body


def _dechunk(body: bytes) -> bytes:
    decoded, position = [], 0
    while True:
        line_end = body.index(b"\r\n", position)
        size = int(body[position:line_end].split(b";", 1)[0], 16)
        if size == 0:
            return b"".join(decoded)
        start = line_end + 2
        decoded.append(body[start : start + size])
        position = start + size + 2


def proxied_exchange(method: str, url: str, headers: dict, data, timeout: float, tls_context):
    """urllib.request honours HTTP(S)_PROXY and NO_PROXY as every other tool does."""
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=tls_context) as response:
            return response.status, response.reason, response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as error:
        return error.code, str(error.reason), error.read(MAX_RESPONSE_BYTES)
    except urllib.error.URLError as error:
        if isinstance(error.reason, ssl.SSLError):
            raise TlsError(getattr(error.reason, "verify_message", None) or str(error.reason)) from None
        raise OSError(str(error.reason)) from None


def _decode_secret(raw: bytes, shown_path: str) -> dict:
    try:
        secret = json.loads(raw)
    except ValueError:
        raise CredentialsError(f"{shown_path}: the server's answer is not JSON") from None
    if not isinstance(secret, dict):
        raise CredentialsError(f"{shown_path}: the server's answer is not a JSON object")
    return secret


def redact(text: str, secrets: list) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return " ".join(text.split())  # one line, whatever the server sent


# --------------------------------------------------------------------------- token


def resolve_token(client: VaultClient, environ: dict, home: str) -> str:
    """VAULT_TOKEN, else a JWT login (VAULT_AUTH_ROLE), else AppRole login from
    VAULT_ROLE_ID/VAULT_SECRET_ID, else ~/.vault-token."""
    token = environ.get("VAULT_TOKEN", "").strip()
    if token:
        client.secrets_to_redact.append(token)
        return token
    role = environ.get("VAULT_AUTH_ROLE", "").strip()
    if role:
        jwt = ci_jwt(client, environ)
        return jwt_login(client, role, jwt, environ.get("VAULT_AUTH_PATH", "") or "jwt")
    role_id, secret_id = environ.get("VAULT_ROLE_ID", ""), environ.get("VAULT_SECRET_ID", "")
    if role_id or secret_id:
        return approle_login(client, role_id, secret_id, environ.get("VAULT_APPROLE_MOUNT", "approle"))
    token_file = os.path.join(home, ".vault-token") if home else ""
    if token_file and os.path.isfile(token_file):
        with open(token_file) as handle:
            token = handle.read().strip()
        if token:
            client.secrets_to_redact.append(token)
            return token
    raise CredentialsError(
        "no Vault token: set VAULT_TOKEN, VAULT_AUTH_ROLE and a JWT, "
        "VAULT_ROLE_ID and VAULT_SECRET_ID, or log in"
    )


def approle_login(client: VaultClient, role_id: str, secret_id: str, mount: str) -> str:
    if not (role_id and secret_id):
        raise CredentialsError("AppRole login needs both VAULT_ROLE_ID and VAULT_SECRET_ID")
    client.secrets_to_redact.extend([secret_id, role_id])
    answer = client.post(f"auth/{mount.strip('/')}/login", "", {"role_id": role_id, "secret_id": secret_id})
    token = (answer.get("auth") or {}).get("client_token")
    if not token:
        raise CredentialsError(f"auth/{mount}/login: the answer has no client token")
    client.secrets_to_redact.append(token)
    return token


def ci_jwt(client: VaultClient, environ: dict) -> str:
    """The CI job's JWT: VAULT_JWT, else the file VAULT_JWT_FILE, else GitHub Actions' ID token."""
    jwt = environ.get("VAULT_JWT", "").strip()
    path = environ.get("VAULT_JWT_FILE", "").strip()
    if not jwt and path:
        try:
            with open(path) as handle:
                jwt = handle.read().strip()
        except OSError as error:
            raise CredentialsError(f"cannot read VAULT_JWT_FILE {path}: {error.strerror}") from None
        if not jwt:
            raise CredentialsError(f"VAULT_JWT_FILE {path} is empty")
    if not jwt and environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        jwt = github_actions_id_token(client, environ)
    if not jwt:
        raise CredentialsError(
            "VAULT_AUTH_ROLE is set but there is no JWT: set VAULT_JWT or VAULT_JWT_FILE, "
            "or run in GitHub Actions with `permissions: id-token: write`"
        )
    client.secrets_to_redact.append(jwt)
    return jwt


def github_actions_id_token(client: VaultClient, environ: dict) -> str:
    """GitHub Actions' OIDC token for the job: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=...
    with ``Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN``; the JWT is ``value``."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url = environ["ACTIONS_ID_TOKEN_REQUEST_URL"]
    request_token = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
    if not request_token:
        raise CredentialsError(
            "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not"
        )
    client.secrets_to_redact.append(request_token)
    audience = environ.get("VAULT_JWT_AUDIENCE", "")
    if audience:
        url += ("&" if "?" in url else "?") + "audience=" + urllib.parse.quote(audience, safe="")
    request = urllib.request.Request(url, headers={"Authorization": f"bearer {request_token}"})
    try:
        with urllib.request.urlopen(request, timeout=max(client.deadline.remaining(), 1.0)) as response:
            answer = json.loads(response.read(1 << 20))
    except urllib.error.HTTPError as error:
        raise CredentialsError(f"GitHub Actions ID token request failed: HTTP {error.code}") from None
    except (OSError, ValueError) as error:
        reason = redact(str(getattr(error, "reason", error)), client.secrets_to_redact)
        raise CredentialsError(f"GitHub Actions ID token request failed: {reason}") from None
    value = answer.get("value") if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value:
        raise CredentialsError("GitHub Actions ID token response has no value")
    return value


def jwt_login(client: VaultClient, role: str, jwt: str, mount: str) -> str:
    answer = client.post(f"auth/{mount.strip('/')}/login", "", {"role": role, "jwt": jwt})
    token = (answer.get("auth") or {}).get("client_token")
    if not token:
        raise CredentialsError(f"auth/{mount}/login: the answer has no client token")
    client.secrets_to_redact.append(token)
    return token


# --------------------------------------------------------------------------- the lookup


def issue_credentials(settings: Settings, environ: dict) -> Credentials:
    client = VaultClient(settings, Deadline(settings.timeout), use_proxy=proxy_configured(environ))
    token = resolve_token(client, environ, environ.get("HOME", ""))
    requested_at = time.time()
    secret = client.get(settings.path, token, settings.request_parameters())
    credentials = Credentials(secret, requested_at, settings.expiry_window)
    client.secrets_to_redact.extend(credentials.secrets)
    return credentials


def external_result(credentials: Credentials) -> dict:
    """A flat JSON object of strings, as the external data source protocol requires."""
    result = {
        "access_key": credentials.access_key,
        "secret_key": credentials.secret_key,
        "security_token": credentials.security_token,
        "lease_id": credentials.lease_id,
        "lease_duration": str(credentials.lease_duration),
        "expiration": credentials.expiration,
    }
    if credentials.arn:
        result["arn"] = credentials.arn
    return result


def credential_process_result(credentials: Credentials) -> dict:
    result = {
        "Version": 1,
        "AccessKeyId": credentials.access_key,
        "SecretAccessKey": credentials.secret_key,
    }
    if credentials.security_token:
        result["SessionToken"] = credentials.security_token
    # Without Expiration the SDKs cache the keys for the life of the process: always send it.
    if credentials.expiration:
        result["Expiration"] = credentials.expiration
    return result


def env_lines(credentials: Credentials) -> str:
    import shlex

    lines = [
        f"export AWS_ACCESS_KEY_ID={shlex.quote(credentials.access_key)}",
        f"export AWS_SECRET_ACCESS_KEY={shlex.quote(credentials.secret_key)}",
    ]
    if credentials.security_token:
        lines.append(f"export AWS_SESSION_TOKEN={shlex.quote(credentials.security_token)}")
    else:
        lines.append("unset AWS_SESSION_TOKEN")  # a stale token beside new IAM-user keys breaks every call
    if credentials.expiration:
        lines.append(f"export AWS_CREDENTIAL_EXPIRATION={shlex.quote(credentials.expiration)}")
    if credentials.lease_id:
        lines.append(f"export VAULTLET_LEASE_ID={shlex.quote(credentials.lease_id)}")
    return "\n".join(lines) + "\n"


def log_issue(environ: dict, mode: str, settings: Settings, credentials: Credentials) -> None:
    """One line per credential in VAULTLET_CREDENTIAL_LOG (if set); identifiers only."""
    log_path = environ.get("VAULTLET_CREDENTIAL_LOG")
    if not log_path:
        return
    line = (
        f"{rfc3339(time.time())} pid={os.getpid()} mode={mode} path={settings.path} "
        f"lease_id={credentials.lease_id or '-'} expiration={credentials.expiration or '-'}\n"
    )
    with open(log_path, "a") as handle:
        handle.write(line)


# --------------------------------------------------------------------------- entry point

USAGE = f"""usage: {PROGRAM} [external]                      < query.json   (Terraform data "external")
       {PROGRAM} credential-process --role NAME [options]   (AWS credential_process)
       {PROGRAM} env --role NAME [options]                  (export lines for eval)
options: --address URL --mount aws --type creds|sts --role-arn ARN --ttl 15m
         --role-session-name NAME --namespace NS --ca-cert PATH --tls-skip-verify --timeout 30s
         --expiry-window 5m   (credential-process: report expiry early, so the SDK refreshes in time)
token: VAULT_TOKEN, else VAULT_AUTH_ROLE + a JWT (VAULT_JWT, VAULT_JWT_FILE or GitHub Actions'
       ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN with VAULT_JWT_AUDIENCE; mount VAULT_AUTH_PATH=jwt),
       else VAULT_ROLE_ID + VAULT_SECRET_ID (AppRole), else ~/.vault-token
"""


RENDERERS = {
    "external": lambda credentials: json.dumps(external_result(credentials)) + "\n",
    "credential-process": lambda credentials: json.dumps(credential_process_result(credentials)) + "\n",
    "env": env_lines,
}


def split_mode(argv: list) -> tuple:
    """`[mode] [flags]`; without a mode it is external mode, as Terraform runs the program."""
    if argv and not argv[0].startswith("-"):
        return argv[0], argv[1:]
    return "external", argv


def run(argv: list, stdin, stdout, environ: dict) -> None:
    mode, args = split_mode(argv)
    if mode == "help" or "--help" in args or "-h" in args:
        stdout.write(USAGE)
        return
    if mode not in RENDERERS:
        raise UsageError(f"unknown mode {mode!r}: use external, credential-process or env")
    if mode == "external":
        if args:
            raise UsageError("external mode takes no flags: the settings come as the query on stdin")
        settings = settings_from_query(stdin.read(), environ)
    else:
        settings = settings_from_args(args, environ)
    credentials = issue_credentials(settings, environ)
    log_issue(environ, mode, settings, credentials)
    stdout.write(RENDERERS[mode](credentials))


def main(argv=None) -> int:
    try:
        run(sys.argv[1:] if argv is None else argv, sys.stdin, sys.stdout, dict(os.environ))
    except UsageError as error:
        sys.stderr.write(f"{PROGRAM}: {error} (see --help)\n")
        return EXIT_USAGE
    except CredentialsError as error:
        sys.stderr.write(f"{PROGRAM}: {error}\n")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROGRAM}: interrupted\n")
        return EXIT_FAILURE
    except Exception as error:  # noqa: BLE001 - a traceback could print secrets held in locals' reprs
        sys.stderr.write(f"{PROGRAM}: unexpected {type(error).__name__} (a bug; please report it)\n")
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
