"""The AppRole auth method, assembled from one module per path group."""

from __future__ import annotations

import logging
from functools import cached_property

from vaultlet.engines.auth.approle import login, role, secret_id
from vaultlet.engines.auth.approle.store import AppRoleStore
from vaultlet.framework.backend import Backend

log = logging.getLogger("vaultlet.approle")


class AppRoleBackend(Backend):
    help = "Log in with a role ID and a secret ID; the token carries the role's policies."
    paths = [*login.PATHS, *role.PATHS, *secret_id.PATHS]

    @cached_property
    def approle(self) -> AppRoleStore:
        return AppRoleStore(self.storage)

    def login_role(self, request) -> str | None:
        role_id = str(request.data.get("role_id") or "")
        role = self.approle.role_by_role_id(role_id) if role_id else None
        return role.name if role is not None else ""

    def periodic(self) -> None:
        """Expired and used-up secret IDs are removed in the background, as Vault's tidy does."""
        removed = self.approle.tidy()
        if removed:
            log.info("approle tidy removed %d secret IDs at %s", removed, self.context.mount_path)
