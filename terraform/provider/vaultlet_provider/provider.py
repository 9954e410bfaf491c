"""The vaultlet provider: where Vault is, which token to use, and the provider's own child token.

Like the vault provider, the provider resolves a token (the `token` argument, VAULT_TOKEN,
~/.vault-token, or one of the login blocks), then creates a child token from it with
`auth/token/create`; every lease the provider opens belongs to that child. Unlike it, the
child is revoked when Terraform stops the provider (see `__main__.py`), so whatever the
provider issued in a command is gone when the command ends.

The token is obtained on first use, not at configure: Terraform configures the provider
in every walk (validate, plan, apply), also when a configuration opens nothing (a module
with `count = 0`), and such a provider must neither need a server nor leave tokens.
"""

from __future__ import annotations

import os
from typing import Any

import attrs
from pyvider.exceptions import ProviderConfigurationError
from pyvider.hub import hub
from pyvider.providers import BaseProvider, ProviderMetadata
from pyvider.schema import a_bool, a_str, b_single, s_provider

from vaultlet_provider import vault

NAME = "vaultlet"
VERSION = "0.1.0"
# Long enough for any single Terraform command; the token is revoked at stop anyway.
CHILD_TOKEN_TTL = "20m"


@attrs.define(frozen=True)
class ProviderConfig:
    address: str | None = None
    token: str | None = None
    namespace: str | None = None
    ca_cert_file: str | None = None
    skip_tls_verify: bool | None = None
    auth_login_approle: Any = None
    auth_login_jwt: Any = None


def provider_schema():
    return s_provider(
        attributes={
            "address": a_str(
                "Address of vaultlet (or any Vault-compatible server). Default: VAULT_ADDR.", optional=True
            ),
            "token": a_str(
                "Token the provider's child token is created from. Default: VAULT_TOKEN, then "
                "~/.vault-token. Ignored when a login block is set.",
                optional=True,
                sensitive=True,
            ),
            "namespace": a_str("Vault Enterprise namespace (X-Vault-Namespace).", optional=True),
            "ca_cert_file": a_str("PEM CA bundle that signs the server's certificate.", optional=True),
            "skip_tls_verify": a_bool(
                "Do not verify the server's TLS certificate (tests only).", optional=True
            ),
        },
        block_types=[
            b_single(
                "auth_login_approle",
                description="Log in with AppRole (POST auth/<mount>/login role_id, secret_id).",
                attributes={
                    "mount": a_str("AppRole mount path. Default: approle.", optional=True),
                    "role_id": a_str("The role_id.", required=True),
                    "secret_id": a_str("The secret_id.", optional=True, sensitive=True),
                },
            ),
            b_single(
                "auth_login_jwt",
                description="Log in with a JWT (POST auth/<mount>/login role, jwt).",
                attributes={
                    "mount": a_str("JWT auth mount path. Default: jwt.", optional=True),
                    "role": a_str("The JWT auth role.", required=True),
                    "jwt": a_str(
                        "The JWT (for example a CI job's OIDC token).", required=True, sensitive=True
                    ),
                },
            ),
        ],
    )


def _plain(value: Any) -> Any:
    """pyvider hands nested-block values over as CtyValue wrappers: unwrap them."""
    while type(value).__name__ == "CtyValue":
        if getattr(value, "is_null", False):
            return None
        value = value.value
    return value


def _field(block: Any, name: str) -> Any:
    block = _plain(block)
    if block is None:
        return None
    if isinstance(block, dict):
        return _plain(block.get(name))
    return _plain(getattr(block, name, None))


class VaultletProvider(BaseProvider):
    """Holds the configured client; components fetch it with `configured_client()`."""

    def __init__(self) -> None:
        super().__init__(metadata=ProviderMetadata(name=NAME, version=VERSION))
        self.settings: ProviderConfig | None = None
        self.client: vault.Client | None = None
        # Revoked when the provider stops: the login token when we logged in (its
        # child goes with it), else only the child of the token we were given.
        self.token_to_revoke: str | None = None

    async def setup(self) -> None:
        self._final_schema = provider_schema()
        self.config_class = ProviderConfig
        self.capabilities = {"provider": self}
        self._setup_done = True

    async def configure(self, config: ProviderConfig) -> None:
        await super().configure(config)
        self.settings = config or ProviderConfig()

    def connected_client(self) -> vault.Client:
        """The client with the provider's child token, logging in on first use."""
        if self.client is None:
            if self.settings is None:
                raise _configuration_error(
                    "Provider not configured", "The vaultlet provider was not configured."
                )
            try:
                self.client, self.token_to_revoke = connect(self.settings)
            except vault.VaultError as error:
                raise _configuration_error("Cannot get a vaultlet token", str(error)) from None
        return self.client

    def revoke_own_token(self) -> None:
        if self.client is None or self.token_to_revoke is None:
            return
        token, self.token_to_revoke = self.token_to_revoke, None
        vault.revoke_self(self.client.with_token(token))


def connect(config: ProviderConfig) -> tuple[vault.Client, str]:
    """The client with the provider's child token, and the token to revoke at stop."""
    address = config.address or os.environ.get("VAULT_ADDR")
    if not address:
        raise _configuration_error(
            "No vaultlet address", "Set `address` in the provider block or VAULT_ADDR."
        )
    connection = vault.Connection(
        address=address,
        namespace=config.namespace or os.environ.get("VAULT_NAMESPACE") or None,
        ca_cert_file=config.ca_cert_file or os.environ.get("VAULT_CACERT") or None,
        skip_tls_verify=bool(config.skip_tls_verify),
    )
    anonymous = vault.Client(connection)
    approle, jwt = _plain(config.auth_login_approle), _plain(config.auth_login_jwt)
    if approle is not None and jwt is not None:
        raise _configuration_error(
            "Conflicting login blocks", "Use auth_login_approle or auth_login_jwt, not both."
        )
    if approle is not None:
        body = {"role_id": _field(approle, "role_id")}
        if _field(approle, "secret_id"):
            body["secret_id"] = _field(approle, "secret_id")
        login_token = vault.login(anonymous, _field(approle, "mount") or "approle", body)
        parent = anonymous.with_token(login_token)
        return parent.with_token(vault.create_child_token(parent, CHILD_TOKEN_TTL)), login_token
    if jwt is not None:
        body = {"role": _field(jwt, "role"), "jwt": _field(jwt, "jwt")}
        login_token = vault.login(anonymous, _field(jwt, "mount") or "jwt", body)
        parent = anonymous.with_token(login_token)
        return parent.with_token(vault.create_child_token(parent, CHILD_TOKEN_TTL)), login_token
    token = config.token or vault.token_from_environment()
    if not token:
        raise _configuration_error(
            "No vaultlet token",
            "Set `token`, VAULT_TOKEN, ~/.vault-token, or an auth_login_approle / auth_login_jwt block.",
        )
    child = vault.create_child_token(anonymous.with_token(token), CHILD_TOKEN_TTL)
    return anonymous.with_token(child), child


def _configuration_error(summary: str, detail: str) -> ProviderConfigurationError:
    # Terraform shows the summary as the error line and the message as its detail.
    error = ProviderConfigurationError(detail)
    error.add_context("terraform.summary", summary)
    return error


def configured_client() -> vault.Client:
    provider: VaultletProvider = hub.get_component("singleton", "provider")
    return provider.connected_client()
