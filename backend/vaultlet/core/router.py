"""Path → mount → backend resolution (longest mount prefix wins)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from vaultlet.core.mounts import (
    AUTH_CLASS,
    AUTH_KEY,
    BUILTIN_TUNING_KEY,
    MOUNTS_KEY,
    SECRET_CLASS,
    MountEntry,
    MountTable,
    entries_of,
)
from vaultlet.framework.backend import Backend, BackendContext
from vaultlet.framework.request import Request
from vaultlet.storage.barrier import StorageView

if TYPE_CHECKING:
    from vaultlet.core.core import Core

SYSTEM_ENTRY = MountEntry(
    path="sys/",
    type="system",
    uuid="system",
    accessor="system_vaultlet",
    description="system endpoints used for control, policy and debugging",
    # As Vault's: sys/metrics reads Accept to choose its format; Vault seal-wraps sys/.
    config={"passthrough_request_headers": ["Accept"]},
    seal_wrap=True,
)
CUBBYHOLE_ENTRY = MountEntry(
    path="cubbyhole/",
    type="cubbyhole",
    uuid="cubbyhole",
    accessor="cubbyhole_vaultlet",
    description="per-token private secret storage",
    local=True,
)
TOKEN_ENTRY = MountEntry(
    path="token/",
    type="token",
    mount_class=AUTH_CLASS,
    uuid="token",
    accessor="auth_token_vaultlet",
    description="token based credentials",
)

BUILTIN_ENTRIES = (SYSTEM_ENTRY, CUBBYHOLE_ENTRY, TOKEN_ENTRY)


class Router:
    def __init__(self, core: Core):
        self.core = core
        self.secret_mounts = MountTable(core.store, MOUNTS_KEY, SECRET_CLASS)
        self.auth_mounts = MountTable(core.store, AUTH_KEY, AUTH_CLASS)
        self._backends: dict[str, tuple[str, Backend]] = {}
        self._lock = threading.Lock()
        # (record versions of both tables, their entries, the entries longest path first)
        self._table: tuple[tuple, tuple[MountEntry, ...], tuple[MountEntry, ...]] | None = None

    def all_entries(self) -> list[MountEntry]:
        return list(self._entries()[1])

    def _entries(self) -> tuple[tuple, tuple[MountEntry, ...], tuple[MountEntry, ...]]:
        """The mount entries, parsed again only when a table's record version moved (the
        versions in one query, or from the request's snapshot: this runs on every request).
        The entries are shared: callers must not change them."""
        records = self.core.store.cached_versioned([MOUNTS_KEY, AUTH_KEY, BUILTIN_TUNING_KEY])
        stamp = (records[MOUNTS_KEY][0], records[AUTH_KEY][0], records[BUILTIN_TUNING_KEY][0])
        table = self._table
        if table is not None and table[0] == stamp:
            return table
        tuning = records[BUILTIN_TUNING_KEY][1] or {}
        entries = (
            *(entry.tuned(tuning.get(entry.uuid)) for entry in BUILTIN_ENTRIES),
            *entries_of(records[MOUNTS_KEY][1]),
            *entries_of(records[AUTH_KEY][1]),
        )
        table = (stamp, entries, tuple(sorted(entries, key=lambda e: len(e.full_path), reverse=True)))
        self._table = table
        return table

    def tune_builtin(self, entry: MountEntry) -> None:
        """Store the tuning of sys/, cubbyhole/ or auth/token/ (compare-and-set, as the tables)."""
        store = self.core.store
        for _attempt in range(50):
            record, version = store.get_with_version(BUILTIN_TUNING_KEY)
            updated = {**(record or {}), entry.uuid: entry.tuning()}
            if store.put_if_version(BUILTIN_TUNING_KEY, updated, version):
                return
        raise RuntimeError(f"could not update {BUILTIN_TUNING_KEY}: too much contention")

    def resolve(self, path: str) -> tuple[MountEntry, Backend, str] | None:
        entry = self.match_entry(path)
        if entry is None:
            return None
        relative = path[len(entry.full_path) :] if path.startswith(entry.full_path) else ""
        return entry, self.backend(entry), relative

    def match_entry(self, path: str) -> MountEntry | None:
        """The mount with the longest path that is a prefix of ``path`` (or ``path`` + "/")."""
        for entry in self._entries()[2]:
            full = entry.full_path
            if path.startswith(full) or path + "/" == full:
                return entry
        return None

    def mount_for_request(self, request: Request) -> MountEntry:
        entry = self.match_entry(request.path)
        if entry is None:
            raise LookupError(request.path)
        return entry

    def auth_entry(self, path: str) -> MountEntry | None:
        """The auth mount at ``path`` (without ``auth/``, with its slash), auth/token/ included."""
        return next((e for e in self.all_entries() if e.mount_class == AUTH_CLASS and e.path == path), None)

    def entry_by_uuid(self, mount_uuid: str) -> MountEntry | None:
        return next((e for e in self.all_entries() if e.uuid == mount_uuid), None)

    def backend_for_uuid(self, mount_uuid: str) -> Backend | None:
        entry = self.entry_by_uuid(mount_uuid)
        return self.backend(entry) if entry is not None else None

    def backend(self, entry: MountEntry) -> Backend:
        """One backend instance per mount per process, rebuilt when the mount is retuned."""
        fingerprint = entry.fingerprint
        cached = self._backends.get(entry.uuid)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        with self._lock:
            cached = self._backends.get(entry.uuid)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            backend = self._build(entry)
            self._backends[entry.uuid] = (fingerprint, backend)
            return backend

    def forget_backend(self, mount_uuid: str) -> None:
        self._backends.pop(mount_uuid, None)

    def _build(self, entry: MountEntry) -> Backend:
        cls = self.core.backend_class(entry)
        prefix = ("auth/" if entry.mount_class == AUTH_CLASS else "logical/") + entry.uuid + "/"
        context = BackendContext(
            storage=StorageView(self.core.store, prefix),
            mount_path=entry.full_path,
            mount_uuid=entry.uuid,
            mount_type=entry.type,
            mount_config=dict(entry.config),
            system=self.core.system_view,
            logger=logging.getLogger(f"vaultlet.backend.{entry.type}"),
        )
        return cls(context)
