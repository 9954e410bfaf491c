"""Engine registry: mount ``type`` → backend class, imported on first use."""

from __future__ import annotations

import importlib

from vaultlet.engines.secrets.kv import KV_TYPES, kv_version
from vaultlet.errors import UserError

SECRET_ENGINES = {
    "aws": "vaultlet.engines.secrets.aws.backend:AwsBackend",
    "kv": "vaultlet.engines.secrets.kv.v1:KVBackend",
    "generic": "vaultlet.engines.secrets.kv.v1:KVBackend",  # Vault's old name of kv
}
KV_V2 = "vaultlet.engines.secrets.kv.backend:KVv2Backend"

AUTH_METHODS: dict[str, str] = {
    "approle": "vaultlet.engines.auth.approle.backend:AppRoleBackend",
    "kubernetes": "vaultlet.engines.auth.kubernetes.backend:KubernetesBackend",
    # Vault registers the same plugin under both names; vaultlet serves JWT login on either.
    "jwt": "vaultlet.engines.auth.jwt.backend:JwtBackend",
    "oidc": "vaultlet.engines.auth.jwt.backend:JwtBackend",
}


def _load(reference: str):
    module_name, _, class_name = reference.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def secret_engine(engine_type: str, options: dict | None = None):
    """The backend class of a mount type; a KV mount's ``options.version`` picks v1 or v2."""
    reference = SECRET_ENGINES.get(engine_type)
    if engine_type in KV_TYPES and kv_version(options) == 2:
        reference = KV_V2
    if reference is None:
        raise UserError(f"plugin not found in the catalog: {engine_type}")
    return _load(reference)


def auth_method(method_type: str):
    reference = AUTH_METHODS.get(method_type)
    if reference is None:
        raise UserError(f"plugin not found in the catalog: {method_type}")
    return _load(reference)
