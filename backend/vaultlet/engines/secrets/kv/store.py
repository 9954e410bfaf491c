"""KV version 2's records: one per secret path, holding its metadata and every kept version.

Keeping a secret's versions and metadata in one record makes each write a single
compare-and-set (``put_if_version``): two writers racing for "the next version"
cannot both win, across workers and nodes, and a version's data can never be
paired with another writer's metadata. Versions are few (``max_versions``,
10 by default) so the record stays small.

Layout (under the mount's own storage view)::

    config            {"max_versions", "cas_required", "delete_version_after"}
    secret/<path>     SecretRecord
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vaultlet.core.tokens import rfc3339
from vaultlet.durations import format_go_duration
from vaultlet.errors import UserError

CONFIG_KEY = "config"
SECRET_PREFIX = "secret/"
DEFAULT_MAX_VERSIONS = 10
_CAS_ATTEMPTS = 20


@dataclass
class EngineConfig:
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0  # seconds; 0 = never

    def describe(self) -> dict[str, Any]:
        return {
            "cas_required": self.cas_required,
            "delete_version_after": format_go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": False,
        }


@dataclass
class Version:
    created_time: float
    data: dict[str, Any] | None
    deletion_time: float = 0.0  # 0: not deleted; may lie in the future (delete_version_after)
    destroyed: bool = False

    def deleted(self, now: float) -> bool:
        return bool(self.deletion_time) and self.deletion_time <= now

    def readable(self, now: float) -> bool:
        return not self.destroyed and not self.deleted(now)

    def describe(self) -> dict[str, Any]:
        return {
            "created_time": rfc3339(self.created_time),
            "deletion_time": rfc3339(self.deletion_time) if self.deletion_time else "",
            "destroyed": self.destroyed,
        }


@dataclass
class SecretRecord:
    created_time: float = field(default_factory=time.time)
    updated_time: float = 0.0
    current_version: int = 0
    oldest_version: int = 0
    current_metadata_version: int = 0
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0
    custom_metadata: dict[str, str] | None = None
    versions: dict[int, Version] = field(default_factory=dict)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> SecretRecord:
        versions = {int(k): Version(**v) for k, v in stored.get("versions", {}).items()}
        return cls(**{**stored, "versions": versions})

    def to_stored(self) -> dict[str, Any]:
        # Shallow on purpose: asdict() deep-copies secret data, which may nest as deep as
        # the JSON decoder allowed, and would overflow the stack copying it.
        stored = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "versions"}
        stored["versions"] = {
            str(n): {f.name: getattr(v, f.name) for f in fields(v)} for n, v in self.versions.items()
        }
        return stored

    def version_metadata(self, number: int) -> dict[str, Any]:
        """The ``metadata`` object of a data read or write answer."""
        return {
            **self.versions[number].describe(),
            "custom_metadata": self.custom_metadata,
            "version": number,
        }

    def describe(self) -> dict[str, Any]:
        """``GET metadata/<path>``."""
        return {
            "cas_required": self.cas_required,
            "created_time": rfc3339(self.created_time),
            "current_metadata_version": self.current_metadata_version,
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata,
            "delete_version_after": format_go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": False,
            "oldest_version": self.oldest_version,
            "updated_time": rfc3339(self.updated_time or self.created_time),
            "versions": {str(n): v.describe() for n, v in sorted(self.versions.items())},
        }

    def add_version(self, data: dict[str, Any], config: EngineConfig, now: float) -> int:
        number = self.current_version + 1
        after = effective_delete_after(config.delete_version_after, self.delete_version_after)
        self.versions[number] = Version(
            created_time=now, data=data, deletion_time=now + after if after else 0
        )
        self.current_version = number
        self.updated_time = now
        self.trim(config)
        return number

    def trim(self, config: EngineConfig) -> None:
        """Drop the oldest versions beyond the effective ``max_versions``, as Vault does on write."""
        keep = self.max_versions or config.max_versions or DEFAULT_MAX_VERSIONS
        for number in sorted(self.versions)[:-keep] if len(self.versions) > keep else []:
            del self.versions[number]
            self.oldest_version = min(self.versions)


def effective_delete_after(engine_seconds: int, secret_seconds: int) -> int:
    """The shorter of the engine's and the secret's ``delete_version_after`` (0 = unset)."""
    chosen = [s for s in (engine_seconds, secret_seconds) if s > 0]
    return min(chosen) if chosen else 0


class KVStore:
    def __init__(self, storage):
        self.storage = storage

    def config(self) -> EngineConfig:
        stored = self.storage.get(CONFIG_KEY)
        return EngineConfig(**stored) if stored else EngineConfig()

    def save_config(self, config: EngineConfig) -> None:
        self.storage.put(CONFIG_KEY, asdict(config))

    def secret(self, path: str) -> SecretRecord | None:
        stored = self.storage.get(SECRET_PREFIX + path)
        return SecretRecord.from_stored(stored) if stored else None

    def update(
        self, path: str, change: Callable[[SecretRecord | None], SecretRecord | None]
    ) -> SecretRecord | None:
        """Apply ``change`` to the record with compare-and-set, retrying on a concurrent write.

        ``change`` gets the current record (None if absent) and returns the record to
        store, or None to store nothing; it may raise to refuse the change.
        """
        key = SECRET_PREFIX + path
        for _attempt in range(_CAS_ATTEMPTS):
            stored, version = self.storage.get_with_version(key)
            current = SecretRecord.from_stored(stored) if stored else None
            changed = change(current)
            if changed is None:
                return current
            if self.storage.put_if_version(key, changed.to_stored(), version):
                return changed
        raise UserError(f"too many concurrent writes to {path}; try again")

    def delete(self, path: str) -> None:
        self.storage.delete(SECRET_PREFIX + path)

    def list(self, prefix: str) -> list[str]:
        return self.storage.list(SECRET_PREFIX + prefix)
