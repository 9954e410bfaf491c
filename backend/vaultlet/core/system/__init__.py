"""The system backend mounted at ``sys/``: one module per path group."""

from __future__ import annotations

from vaultlet.core.system import (
    audit,
    capabilities,
    config_state,
    health,
    host_info,
    internal,
    key_status,
    leases,
    metrics,
    mounts,
    policies,
    quotas,
    remount,
    tools,
    version_history,
    wrapping,
)
from vaultlet.framework.backend import Backend


class SystemBackend(Backend):
    help = """The system backend is built-in to vaultlet and cannot be remounted or
unmounted. It contains the paths that are used to configure vaultlet itself
as well as perform core operations."""
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
        *key_status.PATHS,
        *host_info.PATHS,
        *version_history.PATHS,
        *config_state.PATHS,
    ]

    @property
    def core(self):
        return self.context.system._core
