"""A small Vault HTTP API client built on the standard library only.

It follows the Go client (github.com/openbao/openbao/api) closely where the CLI's
behaviour depends on it: paths are cleaned like ``path.Join`` (no trailing
slash), lists are ``GET ?list=true``, a 404 on read/list means "nothing there",
and a response that is not a secret envelope (``sys/seal-status``) is treated
as the secret's data.
"""

from __future__ import annotations

import json
import os
import posixpath
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vaultlet.durations import DurationError, parse_duration

DEFAULT_ADDRESS = "https://127.0.0.1:8200"
DEFAULT_TIMEOUT_SECONDS = 60.0
TOKEN_FILE_NAME = ".vault-token"
USER_AGENT = "vaultlet-cli"
# The Go CLI's DefaultWrappingTTL: what `write sys/wrapping/wrap` gets without -wrap-ttl.
DEFAULT_WRAPPING_TTL_SECONDS = 300
WRAP_PATH = "sys/wrapping/wrap"

# Characters Go's url.URL leaves unescaped in a path (besides letters, digits and "-._~").
_PATH_SAFE_CHARACTERS = "/$&+,:;=@"
# The fields of api.Secret; a body with none of them set is not an envelope.
_ENVELOPE_FIELDS = ("request_id", "lease_id", "lease_duration", "renewable")
_ENVELOPE_OBJECTS = ("data", "warnings", "auth", "wrap_info")

Secret = dict[str, Any]


class ClientError(Exception):
    """The request did not produce a usable answer."""


class ApiError(ClientError):
    """The server answered with an error status; carries the ``errors`` list."""

    def __init__(
        self, method: str, url: str, status: int, errors: list[str], raw: bool = False, body: bytes = b""
    ):
        super().__init__(method, url, status, errors)
        self.method = method
        self.url = url
        self.status = status
        self.errors = errors
        # True when the body was not the JSON error envelope; errors then holds the raw body.
        self.raw = raw
        # Kept because a 404 body may still carry a secret (warnings) worth showing.
        self.body = body

    def __str__(self) -> str:
        kind = "Raw Message" if self.raw else "Errors"
        text = f"Error making API request.\n\nURL: {self.method} {self.url}\nCode: {self.status}. {kind}:\n\n"
        if self.raw and len(self.errors) == 1:
            return text + self.errors[0]
        # The Go client concatenates the bullets without separators; so do we.
        return text + "".join(f"* {error}" for error in self.errors)


class ConnectionFailed(ClientError):
    """The server could not be reached (refused, TLS failure, timeout)."""


@dataclass(frozen=True)
class ClientConfig:
    address: str = DEFAULT_ADDRESS
    token: str | None = None
    ca_cert: str | None = None
    skip_verify: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    # Seconds for X-Vault-Wrap-TTL on every request (0: responses are not wrapped).
    wrap_ttl: int = 0

    @classmethod
    def from_environment(
        cls,
        env: Mapping[str, str],
        *,
        address: str | None = None,
        ca_cert: str | None = None,
        skip_verify: bool = False,
        wrap_ttl: int | None = None,
    ) -> ClientConfig:
        """Command-line flags win over ``VAULT_*`` (or ``BAO_*``) variables, which win over defaults."""
        return cls(
            address=address or environment_value(env, "ADDR") or DEFAULT_ADDRESS,
            token=environment_value(env, "TOKEN") or stored_token(env),
            ca_cert=ca_cert or environment_value(env, "CACERT"),
            skip_verify=skip_verify or _parse_bool_setting(env, "SKIP_VERIFY"),
            timeout=_timeout_setting(env),
            wrap_ttl=wrap_ttl if wrap_ttl is not None else _wrap_ttl_setting(env),
        )


def environment_value(env: Mapping[str, str], suffix: str) -> str | None:
    """``VAULT_<suffix>``, falling back to OpenBao's ``BAO_<suffix>``; empty counts as unset."""
    return env.get(f"VAULT_{suffix}") or env.get(f"BAO_{suffix}") or None


def token_file(env: Mapping[str, str]) -> Path:
    """Where ``login`` keeps the token, like Vault's internal token helper."""
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / TOKEN_FILE_NAME


def stored_token(env: Mapping[str, str]) -> str | None:
    path = token_file(env)
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ClientError(f"Error reading the token file {path}: {error}") from None


def store_token(env: Mapping[str, str], token: str) -> Path:
    """Write the token file readable by the owner only, as Vault does."""
    path = token_file(env)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(token)
    return path


def _parse_bool_setting(env: Mapping[str, str], suffix: str) -> bool:
    raw = environment_value(env, suffix)
    if raw is None:
        return False
    try:
        return parse_go_bool(raw)
    except ValueError:
        raise ClientError(f"could not parse VAULT_{suffix}") from None


def _timeout_setting(env: Mapping[str, str]) -> float:
    raw = environment_value(env, "CLIENT_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        return float(parse_duration(raw))
    except DurationError:
        raise ClientError("could not parse VAULT_CLIENT_TIMEOUT") from None


def _wrap_ttl_setting(env: Mapping[str, str]) -> int:
    raw = environment_value(env, "WRAP_TTL")
    if raw is None:
        return 0
    try:
        return parse_duration(raw)
    except DurationError:
        raise ClientError("could not parse VAULT_WRAP_TTL") from None


def parse_go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"invalid boolean {text!r}")


def parse_secret(payload: bytes) -> Secret | None:
    """The Go client's ``api.ParseSecret``: an envelope, a bare object as data, or None."""
    if not payload.strip():
        return None
    try:
        body = json.loads(payload)
    except ValueError as error:
        raise ClientError(f"failed to decode the server's response: {error}") from None
    if not isinstance(body, dict):
        raise ClientError("the server's response is not a JSON object")
    if _is_envelope(body):
        return body
    if "errors" in body:
        if len(body) == 1:
            return None
        raise ClientError(" ".join(str(error) for error in body["errors"] or ()))
    # sys/seal-status, sys/leader, sys/init... answer with a bare object.
    return {"data": body} if body else {}


def _is_envelope(body: Mapping[str, Any]) -> bool:
    return any(body.get(field) for field in _ENVELOPE_FIELDS) or any(
        body.get(field) is not None for field in _ENVELOPE_OBJECTS
    )


def _has_content(secret: Secret | None) -> bool:
    return bool(secret and (secret.get("warnings") or secret.get("data")))


class VaultClient:
    """One configured connection to a Vault-compatible server."""

    def __init__(self, config: ClientConfig):
        self.config = config
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self._tls_context()))

    def with_token(self, token: str | None) -> VaultClient:
        """The same client authenticating with another token (``login`` checks the new one)."""
        return VaultClient(replace(self.config, token=token))

    def read(self, path: str, query: Mapping[str, list[str]] | None = None) -> Secret | None:
        """GET a path; None when nothing is stored there (any 404)."""
        return self._lookup(path, query)

    def list(self, path: str) -> Secret | None:
        """LIST a path the way the Vault CLI does: ``GET ?list=true``."""
        return self._lookup(path, {"list": ["true"]})

    def write(self, path: str, data: Mapping[str, Any] | None = None) -> Secret | None:
        """PUT, as ``vault write`` does."""
        return self.call("PUT", path, data)

    def delete(self, path: str) -> Secret | None:
        return self.call("DELETE", path)

    def unwrap(self, wrapping_token: str | None) -> Secret | None:
        """The Go client's ``Logical().Unwrap``: the wrapping token authenticates the call when
        there is no other token (or it is that token); otherwise it goes in the body."""
        wrapping_token = (wrapping_token or "").strip()
        client = self
        body = None
        if wrapping_token and not self.config.token:
            client = self.with_token(wrapping_token)
        elif wrapping_token and wrapping_token != self.config.token:
            body = {"token": wrapping_token}
        return client.call("PUT", "sys/wrapping/unwrap", body)

    def call(
        self, method: str, path: str, body: Any = None, query: Mapping[str, list[str]] | None = None
    ) -> Secret | None:
        """Send a request and parse the answer; raise ApiError on an error status."""
        return parse_secret(self.request(method, path, body=body, query=query))

    def raw_json(self, method: str, path: str, body: Any = None) -> Any:
        """For endpoints answering with a bare object rather than an envelope (``sys/init``)."""
        payload = self.request(method, path, body=body)
        return json.loads(payload) if payload.strip() else None

    def _lookup(self, path: str, query: Mapping[str, list[str]] | None) -> Secret | None:
        try:
            return self.call("GET", path, query=query)
        except ApiError as error:
            if error.status != 404:
                raise
            secret = parse_secret(error.body)
            return secret if _has_content(secret) else None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, list[str]] | None = None,
    ) -> bytes:
        """One HTTP exchange: returns the body of a successful answer or raises ClientError."""
        url = self.url(path, query)
        data = None if body is None else json.dumps(body).encode()
        headers = self._headers(data, self._wrap_ttl(method, path))
        if method == "PATCH" and data is not None:
            headers["Content-Type"] = "application/merge-patch+json"  # as the Go client's JSONMergePatch
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.config.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            raise _api_error(method, url, error.code, error.read()) from None
        except urllib.error.URLError as error:
            raise ConnectionFailed(f'{method.capitalize()} "{url}": {error.reason}') from None
        except OSError as error:
            raise ConnectionFailed(f'{method.capitalize()} "{url}": {error}') from None

    def url(self, path: str, query: Mapping[str, list[str]] | None = None) -> str:
        """The full URL; the path is cleaned like Go's ``path.Join`` so trailing slashes go."""
        base = urllib.parse.urlsplit(self.config.address)
        clean_path = posixpath.normpath(posixpath.join("/", base.path, "v1", path.lstrip("/")))
        query_text = urllib.parse.urlencode(sorted((query or {}).items()), doseq=True)
        quoted_path = urllib.parse.quote(clean_path, safe=_PATH_SAFE_CHARACTERS)
        return urllib.parse.urlunsplit((base.scheme, base.netloc, quoted_path, query_text, ""))

    def _wrap_ttl(self, method: str, path: str) -> int:
        """The Go CLI's DefaultWrappingLookupFunc: the configured TTL, else 5m for sys/wrapping/wrap."""
        if self.config.wrap_ttl > 0:
            return self.config.wrap_ttl
        if method in ("PUT", "POST") and path.strip("/") == WRAP_PATH:
            return DEFAULT_WRAPPING_TTL_SECONDS
        return 0

    def _headers(self, data: bytes | None, wrap_ttl: int = 0) -> dict[str, str]:
        headers = {"X-Vault-Request": "true", "User-Agent": USER_AGENT}
        if self.config.token:
            headers["X-Vault-Token"] = self.config.token
        if wrap_ttl > 0:
            headers["X-Vault-Wrap-TTL"] = str(wrap_ttl)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _tls_context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=self.config.ca_cert)
        except (OSError, ssl.SSLError) as error:
            raise ClientError(f"Error loading CA certificate {self.config.ca_cert}: {error}") from None
        if self.config.skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _api_error(method: str, url: str, status: int, payload: bytes) -> ApiError:
    try:
        errors = json.loads(payload)["errors"]
        return ApiError(method, url, status, [str(item) for item in errors or ()], body=payload)
    except (ValueError, KeyError, TypeError):
        return ApiError(method, url, status, [payload.decode(errors="replace")], raw=True, body=payload)
