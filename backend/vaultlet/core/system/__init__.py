"""The system backend mounted at ``sys/``: one module per path group."""

from __future__ import annotations

from vaultlet.core.system import health, internal, leases, mounts
from vaultlet.framework.backend import Backend


class SystemBackend(Backend):
    paths = [*health.PATHS, *mounts.PATHS, *leases.PATHS, *internal.PATHS]

    @property
    def core(self):
        return self.context.system._core
