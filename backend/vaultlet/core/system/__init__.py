"""The system backend mounted at ``sys/``: one module per path group."""

from __future__ import annotations

from vaultlet.core.system import (
    audit,
    capabilities,
    health,
    internal,
    leases,
    metrics,
    mounts,
    policies,
    quotas,
    remount,
    tools,
    wrapping,
)
from vaultlet.framework.backend import Backend


class SystemBackend(Backend):
    paths = [
        *health.PATHS,
        *mounts.PATHS,
        *remount.PATHS,
        *leases.PATHS,
        *internal.PATHS,
        *policies.PATHS,
        *capabilities.PATHS,
        *audit.PATHS,
        *metrics.PATHS,
        *quotas.PATHS,
        *tools.PATHS,
        *wrapping.PATHS,
    ]

    @property
    def core(self):
        return self.context.system._core
