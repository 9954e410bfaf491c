"""The JWT/OIDC auth method, assembled from one module per path group (vault-plugin-auth-jwt's shape)."""

from __future__ import annotations

from vaultlet.engines.auth.jwt import path_config, path_login, path_role
from vaultlet.framework.backend import Backend


class JwtBackend(Backend):
    help = (
        "Log in with a JWT signed by a trusted issuer (CI systems, OIDC providers); "
        "roles bind its claims to token policies."
    )
    paths = [*path_login.PATHS, *path_config.PATHS, *path_role.PATHS]
