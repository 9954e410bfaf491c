"""A minimal Vault HTTP API client: what the provider sends, nothing more.

Standard library only (urllib), so the provider's frozen executable stays small. Every
error message names the path and Vault's own `errors`, never a token or a key.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT_SECONDS = 30.0


class VaultError(Exception):
    """Vault refused or could not be reached. The message is safe to show."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Connection:
    """Where Vault is and how to trust it."""

    address: str
    namespace: str | None = None
    ca_cert_file: str | None = None
    skip_tls_verify: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.address.startswith("https://"):
            return None
        if self.skip_tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ca_cert_file)


class Client:
    """Calls to one Vault with one token (or none, for logins)."""

    def __init__(self, connection: Connection, token: str | None = None):
        self.connection = connection
        self.token = token

    def with_token(self, token: str) -> Client:
        return Client(self.connection, token)

    def call(self, method: str, path: str, body: dict | None = None) -> dict | None:
        url = f"{self.connection.address.rstrip('/')}/v1/{path.lstrip('/')}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("X-Vault-Token", self.token)
        if self.connection.namespace:
            request.add_header("X-Vault-Namespace", self.connection.namespace)
        try:
            with urllib.request.urlopen(
                request, timeout=self.connection.timeout, context=self.connection.ssl_context()
            ) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise VaultError(f"{method} {path}: {_vault_errors(error)}", error.code) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise VaultError(f"{method} {path}: cannot reach {self.connection.address}: {reason}") from None
        return json.loads(text) if text.strip() else None


def _vault_errors(error: urllib.error.HTTPError) -> str:
    """Vault's `{"errors": [...]}` as one line (its messages never echo a secret back)."""
    try:
        errors = json.loads(error.read() or b"{}").get("errors") or []
    except ValueError:
        errors = []
    return f"{error.code} " + ("; ".join(str(item) for item in errors) or error.reason or "")


def token_from_environment(home: str | None = None) -> str | None:
    """VAULT_TOKEN, else ~/.vault-token, as the Vault CLI and the vault provider do."""
    token = os.environ.get("VAULT_TOKEN", "").strip()
    if token:
        return token
    path = Path(home or os.path.expanduser("~")) / ".vault-token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def login(client: Client, mount: str, body: dict) -> str:
    """POST auth/<mount>/login; the client token of the answer."""
    answer = client.call("POST", f"auth/{mount.strip('/')}/login", body) or {}
    token = (answer.get("auth") or {}).get("client_token")
    if not token:
        raise VaultError(f"POST auth/{mount}/login: the answer has no auth.client_token")
    return token


def create_child_token(client: Client, ttl: str) -> str:
    """auth/token/create under the given token, as the vault provider does (it revokes ours at stop)."""
    body = {"ttl": ttl, "display_name": "terraform-vaultlet", "no_default_policy": False}
    answer = client.call("POST", "auth/token/create", body) or {}
    token = (answer.get("auth") or {}).get("client_token")
    if not token:
        raise VaultError("POST auth/token/create: the answer has no auth.client_token")
    return token


def revoke_self(client: Client) -> None:
    client.call("POST", "auth/token/revoke-self", {})
