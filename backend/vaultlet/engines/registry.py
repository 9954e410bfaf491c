"""Engine registry: mount ``type`` → backend class, imported on first use."""

from __future__ import annotations

import importlib

from vaultlet.errors import UserError

SECRET_ENGINES = {
    "aws": "vaultlet.engines.secrets.aws.backend:AwsBackend",
    "kv": "vaultlet.engines.secrets.kv:KVBackend",
}

AUTH_METHODS: dict[str, str] = {
    "approle": "vaultlet.engines.auth.approle.backend:AppRoleBackend",
    # Vault registers the same plugin under both names; vaultlet serves JWT login on either.
    "jwt": "vaultlet.engines.auth.jwt.backend:JwtBackend",
    "oidc": "vaultlet.engines.auth.jwt.backend:JwtBackend",
}


def _load(reference: str):
    module_name, _, class_name = reference.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def secret_engine(engine_type: str):
    reference = SECRET_ENGINES.get(engine_type)
    if reference is None:
        raise UserError(f"plugin not found in the catalog: {engine_type}")
    return _load(reference)


def auth_method(method_type: str):
    reference = AUTH_METHODS.get(method_type)
    if reference is None:
        raise UserError(f"plugin not found in the catalog: {method_type}")
    return _load(reference)
