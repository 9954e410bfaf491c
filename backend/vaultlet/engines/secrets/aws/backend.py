"""The AWS secrets engine: its path table, its secret type and its periodic work."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vaultlet.engines.secrets.aws import config_lease, config_root, creds, roles, rollback, static_roles
from vaultlet.engines.secrets.aws.client import AwsClients, AwsError, ClientCache
from vaultlet.engines.secrets.aws.config_root import CONFIG_ROOT_KEY, RootConfig
from vaultlet.engines.secrets.aws.roles import ROLE_PREFIX, RoleEntry, load_role
from vaultlet.engines.secrets.aws.secret import ACCESS_KEYS_SECRET
from vaultlet.framework.backend import Backend
from vaultlet.framework.wal import WriteAheadLog

if TYPE_CHECKING:
    from vaultlet.framework.backend import BackendContext

HELP = """
The AWS secrets engine generates AWS access credentials dynamically based on IAM
policies: IAM users with access keys (iam_user), or STS credentials from
AssumeRole (assumed_role), GetFederationToken (federation_token) and
GetSessionToken (session_token). Static roles rotate the access key of an
existing IAM user.

After mounting, configure access with config/root, then define roles with
roles/<name> and read credentials from creds/<name> (or sts/<name>).
"""


@dataclass(frozen=True)
class Issuance:
    """What one credential request reads; shared, so handlers must not change it."""

    role: RoleEntry | None
    config: RootConfig
    clients: Callable[[], AwsClients]


class AwsBackend(Backend):
    paths = [
        *config_root.paths,
        *config_lease.paths,
        *roles.paths,
        *creds.paths,
        *static_roles.paths,
    ]
    secret_types = [ACCESS_KEYS_SECRET]
    help = HELP

    def __init__(self, context: BackendContext):
        super().__init__(context)
        self.wal = WriteAheadLog(self.storage)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._clients = ClientCache(
            version=lambda: self.storage.version(CONFIG_ROOT_KEY),
            load_settings=lambda: config_root.client_settings(self.storage),
        )
        self._rotation_queue_rebuilt = False
        # Issuance reads these on every request: parsed once per record version.
        self._roles: dict[str, tuple[int, RoleEntry]] = {}
        self._root_config: tuple[int | None, RootConfig] | None = None

    # -- what handlers need -----------------------------------------------------

    def aws(self) -> AwsClients:
        """This mount's IAM and STS clients (cached; rebuilt after config/root changes)."""
        return self._clients.get()

    def root_config(self) -> RootConfig:
        """config/root, or its defaults when it was never written (read through the cache)."""
        return RootConfig.load(self.storage, cached=True) or RootConfig()

    def issuance(self, role_name: str) -> Issuance:
        """The role, config/root and the clients for one credential request, validated
        against the records' versions in one query (other workers' writes show at once)."""
        role_key = ROLE_PREFIX + role_name
        versions = self.storage.store.storage.versions(
            [self.storage.prefix + CONFIG_ROOT_KEY, self.storage.prefix + role_key]
        )
        config_version = versions.get(self.storage.prefix + CONFIG_ROOT_KEY)
        role_version = versions.get(self.storage.prefix + role_key)
        return Issuance(
            role=self._role_at(role_name, role_version),
            config=self._root_config_at(config_version),
            clients=lambda: self._clients.get(config_version),
        )

    def _role_at(self, name: str, version: int | None) -> RoleEntry | None:
        if version is None:  # missing, or a legacy policy/ entry that load_role upgrades
            self._roles.pop(name, None)
            return load_role(self.storage, name)
        cached = self._roles.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        record, read_version = self.storage.get_with_version(ROLE_PREFIX + name)
        if record is None:
            return load_role(self.storage, name)
        role = RoleEntry.from_record(record)
        self._roles[name] = (read_version, role)
        return role

    def _root_config_at(self, version: int | None) -> RootConfig:
        cached = self._root_config
        if cached is not None and cached[0] == version:
            return cached[1]
        config, read_version = RootConfig.load_with_version(self.storage)
        config = config or RootConfig()
        self._root_config = (read_version, config)
        return config

    @property
    def rollback_min_age(self) -> float:
        return float(self.context.system.rollback_min_age)

    @property
    def max_lease_ttl(self) -> int:
        """The mount's max lease TTL, or the system's (Vault's System().MaxLeaseTTL())."""
        return int(self.context.mount_config.get("max_lease_ttl") or self.context.system.max_lease_ttl)

    # -- lifecycle ----------------------------------------------------------------

    def periodic(self) -> None:
        rollback.settle_wal_entries(self)
        if not self._rotation_queue_rebuilt:
            static_roles.RotationQueue(self.storage).rebuild(self.storage)
            self._rotation_queue_rebuilt = True
        static_roles.rotate_due_credentials(self)
        try:
            rollback.sweep_orphaned_users(self)
        except AwsError as error:
            self.logger.warning("orphaned IAM user sweep failed: %s", error)

    def cleanup(self) -> None:
        """The mount is going away (its leases are revoked): roll back every open entry now."""
        rollback.settle_wal_entries(self, min_age=-1)
        if self.wal.ids():
            self.logger.error(
                "mount %s disabled with unsettled IAM users in its write-ahead log: %s",
                self.context.mount_path,
                ", ".join(entry.data.get("username", "?") for entry in self.wal.entries()),
            )
