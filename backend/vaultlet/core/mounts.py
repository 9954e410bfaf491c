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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vaultlet.errors import UserError

MOUNTS_KEY = "core/mounts"
AUTH_KEY = "core/auth"

SECRET_CLASS = "secret"
AUTH_CLASS = "auth"

# Prefixes no secrets engine may be mounted under (Vault's reserved paths).
PROTECTED_PREFIXES = ("sys/", "auth/", "audit/", "identity/", "cubbyhole/")

# The tuning of the built-in mounts (sys/, cubbyhole/, auth/token/), which live in no table.
BUILTIN_TUNING_KEY = "core/builtin-mounts"
BUILTIN_UUIDS = ("system", "cubbyhole", "token")

# Mount settings beyond the TTLs, as Vault's MountConfig names them. The lists are stored
# only when non-empty and shown only then, as Vault's synthesized config cache does.
LIST_SETTINGS = (
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "passthrough_request_headers",
    "allowed_response_headers",
)
LISTING_VISIBILITY = "listing_visibility"
LISTING_VISIBILITIES = ("", "hidden", "unauth")
# Request headers no mount setting can hand a backend (Vault's deniedPassthroughRequestHeaders).
DENIED_PASSTHROUGH_HEADERS = ("x-vault-token",)


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

    @property
    def is_builtin(self) -> bool:
        return self.uuid in BUILTIN_UUIDS

    def setting(self, name: str) -> list[str]:
        """One of the list settings (``LIST_SETTINGS``); [] when unset."""
        return list(self.config.get(name) or [])

    @property
    def listing_visibility(self) -> str:
        return str(self.config.get(LISTING_VISIBILITY) or "")

    def extra_settings(self) -> dict[str, Any]:
        """The settings Vault shows only when set, in its key order."""
        shown: dict[str, Any] = {}
        for name in LIST_SETTINGS[:2]:
            if self.setting(name):
                shown[name] = self.setting(name)
        if self.listing_visibility:
            shown[LISTING_VISIBILITY] = self.listing_visibility
        for name in LIST_SETTINGS[2:]:
            if self.setting(name):
                shown[name] = self.setting(name)
        return shown

    def describe(self) -> dict[str, Any]:
        """The per-mount object of ``GET sys/mounts`` (Vault's field set)."""
        config = {
            "default_lease_ttl": self.default_lease_ttl,
            "force_no_cache": bool(self.config.get("force_no_cache", False)),
            "max_lease_ttl": self.max_lease_ttl,
            **self.extra_settings(),
        }
        if self.mount_class == AUTH_CLASS:
            # What logins through this method issue (tokenutil.login_token_type).
            config["token_type"] = self.config.get("token_type") or "default-service"
        described = {
            "accessor": self.accessor,
            "config": dict(sorted(config.items())),
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
        if self.is_builtin:
            del described["deprecation_status"]  # Vault has no deprecation status for its own mounts
        return described

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
        entry = cls(**record)
        if entry.options is None:
            entry.options = {}  # stored before vaultlet kept Vault's `{}` for a mount without options
        return entry

    def tuned(self, overrides: dict[str, Any] | None) -> MountEntry:
        """A built-in mount with its stored tuning applied (description, config, options):
        always a copy, so that a tune never changes the built-in constant itself."""
        overrides = overrides or {}
        return replace(
            self,
            description=overrides.get("description", self.description),
            config={**self.config, **overrides.get("config", {})},
            options=overrides.get("options", self.options),
        )

    def tuning(self) -> dict[str, Any]:
        """What is stored of a built-in mount's tuning (see ``tuned``)."""
        return {"description": self.description, "config": dict(self.config), "options": self.options}


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

    def move(self, path: str, new_path: str) -> None:
        """Give the mount at ``path`` a new path (its uuid, and so its storage, stay)."""

        def moved(entries: list[MountEntry]) -> list[MountEntry]:
            entry = next((e for e in entries if e.path == path), None)
            if entry is None:
                raise UserError(f"no mount at {path}")
            others = [e for e in entries if e.path != path]
            return self._with_added(others, replace(entry, path=new_path))

        self._update(moved)

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
