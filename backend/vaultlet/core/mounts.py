"""The mount table: which backend serves which path prefix.

Secret-engine mounts live in one record (``core/mounts``) and auth mounts in
another (``core/auth``), as in Vault. Both are read through the version-checked
cache, so every worker process sees a mount enabled by another at its next request.
"""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from vaultlet.errors import UserError

MOUNTS_KEY = "core/mounts"
AUTH_KEY = "core/auth"

SECRET_CLASS = "secret"
AUTH_CLASS = "auth"

# Prefixes no secrets engine may be mounted under (Vault's reserved paths).
PROTECTED_PREFIXES = ("sys/", "auth/", "audit/", "identity/", "cubbyhole/")


@dataclass
class MountEntry:
    path: str  # with trailing slash; auth mounts without the "auth/" prefix
    type: str
    mount_class: str = SECRET_CLASS
    description: str = ""
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    accessor: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] | None = None
    local: bool = False
    seal_wrap: bool = False

    @property
    def full_path(self) -> str:
        return ("auth/" + self.path) if self.mount_class == AUTH_CLASS else self.path

    @property
    def default_lease_ttl(self) -> int:
        return int(self.config.get("default_lease_ttl") or 0)

    @property
    def max_lease_ttl(self) -> int:
        return int(self.config.get("max_lease_ttl") or 0)

    def describe(self) -> dict[str, Any]:
        """The per-mount object of ``GET sys/mounts`` (Vault's field set)."""
        return {
            "accessor": self.accessor,
            "config": {
                "default_lease_ttl": self.default_lease_ttl,
                "force_no_cache": bool(self.config.get("force_no_cache", False)),
                "max_lease_ttl": self.max_lease_ttl,
            },
            "deprecation_status": "supported",
            "description": self.description,
            "external_entropy_access": False,
            "local": self.local,
            "options": self.options,
            "plugin_version": "",
            "running_plugin_version": f"v{_version()}+builtin.vaultlet",
            "running_sha256": "",
            "seal_wrap": self.seal_wrap,
            "type": self.type,
            "uuid": self.uuid,
        }

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Everything a backend instance is built from, as text: the router rebuilds a
        mount's backend when this changes. Computed once per entry object, and the
        router makes entry objects only when a mount table's record version moves."""
        return json.dumps(self.to_record(), sort_keys=True)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MountEntry:
        return cls(**record)


def _version() -> str:
    from vaultlet import __version__

    return __version__


def normalize_mount_path(path: str) -> str:
    path = path.strip().strip("/")
    if not path:
        raise UserError("mount path cannot be empty")
    if ".." in path.split("/") or "//" in path:
        raise UserError(f'invalid mount path "{path}"')
    return path + "/"


def entries_of(record: dict[str, Any] | None) -> list[MountEntry]:
    return [MountEntry.from_record(e) for e in (record or {"entries": []})["entries"]]


def new_accessor(engine_type: str) -> str:
    return f"{engine_type}_{secrets.token_hex(4)}"


class MountTable:
    """Reads and writes one of the two mount records."""

    def __init__(self, store, key: str, mount_class: str):
        self.store = store
        self.key = key
        self.mount_class = mount_class

    def entries(self) -> list[MountEntry]:
        return entries_of(self.store.cached(self.key))

    def find(self, path: str) -> MountEntry | None:
        normalized = path.strip("/") + "/"
        return next((e for e in self.entries() if e.path == normalized), None)

    def add(self, entry: MountEntry) -> None:
        self._update(lambda entries: self._with_added(entries, entry))

    def remove(self, path: str) -> MountEntry | None:
        removed: list[MountEntry] = []

        def without(entries: list[MountEntry]) -> list[MountEntry]:
            kept = [e for e in entries if e.path != path]
            removed.extend(e for e in entries if e.path == path)
            return kept

        self._update(without)
        return removed[0] if removed else None

    def replace(self, entry: MountEntry) -> None:
        self._update(lambda entries: [entry if e.path == entry.path else e for e in entries])

    def _with_added(self, entries: list[MountEntry], entry: MountEntry) -> list[MountEntry]:
        for existing in entries:
            if existing.path.startswith(entry.path) or entry.path.startswith(existing.path):
                raise UserError(f"path is already in use at {existing.path}")
        return [*entries, entry]

    def _update(self, change) -> None:
        """Compare-and-set loop: concurrent writers in other processes never lose an entry."""
        for _attempt in range(50):
            record, version = self.store.get_with_version(self.key)
            entries = [MountEntry.from_record(e) for e in (record or {"entries": []})["entries"]]
            updated = change(entries)
            if self.store.put_if_version(self.key, {"entries": [e.to_record() for e in updated]}, version):
                return
        raise RuntimeError(f"could not update {self.key}: too much contention")
