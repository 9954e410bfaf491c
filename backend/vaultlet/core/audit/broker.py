"""The audit broker: fans every entry out to the enabled devices, failing closed.

A request counts as audited once at least one enabled device has recorded it.
If every device fails, ``log_request`` raises and the backend never runs;
``log_response`` raises and the core withholds the response (and revokes what
it created). With no device enabled there is nothing to record, as in Vault.

Every worker process runs the same table: the broker compares the table
record's version on each call and rebuilds its devices when another process
enabled or disabled one.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vaultlet import telemetry
from vaultlet.core.audit.devices import (
    AUDIT_TABLE_KEY,
    AuditDevice,
    DeviceEntry,
    normalize_device_path,
    validate_options,
)
from vaultlet.core.audit.entry import Hasher, probe_entry, request_entry, response_entry
from vaultlet.errors import InternalError, UserError, VaultError

if TYPE_CHECKING:
    from vaultlet.core.core import Core
    from vaultlet.core.tokens import TokenEntry
    from vaultlet.framework.request import Request, Response

log = logging.getLogger("vaultlet.audit")

# Paths Vault never audits: they answer while sealed or carry no secrets.
_UNAUDITED = {
    "sys/health",
    "sys/seal-status",
    "sys/leader",
    "sys/init",
    "sys/unseal",
    "sys/seal",
    "sys/step-down",
    "sys/rekey",
    "sys/rekey-recovery-key",
    "sys/metrics",
    "sys/in-flight-req",
    "sys/internal/ui/feature-flags",
}
_UNAUDITED_PREFIXES = ("sys/rekey/", "sys/rekey-recovery-key/", "sys/pprof/")
_NOT_LOADED = object()


def is_audited(path: str) -> bool:
    trimmed = path.rstrip("/")
    return trimmed not in _UNAUDITED and not trimmed.startswith(_UNAUDITED_PREFIXES)


class AuditBroker:
    def __init__(self, core: Core):
        self.core = core
        self._version: Any = _NOT_LOADED
        self._devices: dict[str, AuditDevice] = {}  # by device uuid
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- the table ---------------------------------------------------------

    def entries(self) -> list[DeviceEntry]:
        return [device.entry for device in self._current()]

    def enable(self, entry: DeviceEntry) -> None:
        entry.path = normalize_device_path(entry.path)
        entry.options = validate_options(entry.type, entry.options)
        device = AuditDevice(entry)
        try:
            # Vault's test probe: a device that cannot write is refused, not stored.
            device.record(probe_entry(str(uuid.uuid4())))
        except OSError as error:
            raise UserError(f"audit backend failed test message: {error.strerror or error}") from None
        finally:
            device.close()
        self._update(lambda entries: _with_added(entries, entry))

    def disable(self, path: str) -> None:
        path = normalize_device_path(path)
        self._update(lambda entries: [e for e in entries if e.path != path])

    def hash(self, path: str, value: str) -> str:
        path = normalize_device_path(path)
        device = next((d for d in self._current() if d.path == path), None)
        if device is None:
            raise UserError("unknown audit backend")
        return device.salted(value)

    def _update(self, change: Callable[[list[DeviceEntry]], list[DeviceEntry]]) -> None:
        """Compare-and-set, so concurrent changes from other processes are never lost."""
        store = self.core.store
        for _attempt in range(50):
            record, version = store.get_with_version(AUDIT_TABLE_KEY)
            entries = [DeviceEntry(**e) for e in (record or {"entries": []})["entries"]]
            updated = change(entries)
            if store.put_if_version(AUDIT_TABLE_KEY, {"entries": [e.to_record() for e in updated]}, version):
                return
        raise InternalError("internal error")

    def _current(self) -> list[AuditDevice]:
        """The enabled devices, rebuilt when the stored table changed."""
        version = self.core.storage.versions([AUDIT_TABLE_KEY]).get(AUDIT_TABLE_KEY)
        if version == self._version:
            return list(self._devices.values())
        with self._lock:
            if version != self._version:
                self._reload()
            return list(self._devices.values())

    def _reload(self) -> None:
        record, version = self.core.store.get_with_version(AUDIT_TABLE_KEY)
        entries = [DeviceEntry(**e) for e in (record or {"entries": []})["entries"]]
        devices = {}
        for entry in entries:
            running = self._devices.get(entry.uuid)
            devices[entry.uuid] = running if running is not None else AuditDevice(entry)
        for gone in set(self._devices) - set(devices):
            self._devices[gone].close()
        self._devices, self._version = devices, version

    # -- logging -----------------------------------------------------------

    def log_request(self, request: Request, error: VaultError | None = None) -> None:
        if not is_audited(request.path):
            return
        devices = self._current()
        # The response entry goes to the same devices (and skips a second table check),
        # hashed by the same per-request hashers (the caller's token, accessor and data
        # are in both entries): a request is handled start to finish on one thread.
        hashers = {device.entry.uuid: device.hasher.for_request() for device in devices}
        self._local.pending = (request.id, devices, hashers)
        self._broadcast(
            devices,
            request,
            lambda device: request_entry(request, hashers[device.entry.uuid], error),
            "request",
        )

    def log_response(
        self,
        request: Request,
        response: Response | None,
        error: VaultError | None = None,
        *,
        executed: bool = True,
        issued: TokenEntry | None = None,
    ) -> None:
        """``issued``: the token the core minted for this response, if any (its display
        name is audited; without it the token is looked up)."""
        if not is_audited(request.path):
            return
        pending = getattr(self._local, "pending", None)
        self._local.pending = None
        if pending is not None and pending[0] == request.id:
            devices, hashers = pending[1], pending[2]
        else:
            devices = self._current()
            hashers = {device.entry.uuid: device.hasher.for_request() for device in devices}
        if not devices:
            return
        issued_name = self._issued_display_name(response, issued or request.token)
        self._broadcast(
            devices,
            request,
            lambda device: response_entry(
                request,
                response,
                error,
                hashers[device.entry.uuid],
                device.elide_lists,
                issued_name,
                executed,
            ),
            "response",
        )

    def log_rejected(self, request: Request, error: VaultError) -> None:
        """A request refused before it could run (bad token, ACL): recorded when
        possible, as Vault does, but the refusal stands even if nobody records it."""
        try:
            self.log_request(request, error)
            self.log_response(request, None, error, executed=False)
        except InternalError:
            pass

    def _issued_display_name(self, response: Response | None, known: TokenEntry | None) -> str:
        """The display name of the token in the response's auth block. ``known``: a token
        it may be (the one just minted, or the caller's own after a renew-self), which
        spares a lookup when the accessors match."""
        auth = response.auth if response is not None else None
        if not isinstance(auth, dict) or not auth.get("client_token"):
            return ""
        if known is not None and auth.get("accessor") == known.accessor:
            return known.display_name
        entry = self.core.tokens.lookup(auth["client_token"])
        return entry.display_name if entry is not None else ""

    def _broadcast(
        self,
        devices: list[AuditDevice],
        request: Request,
        build: Callable[[AuditDevice], dict[str, Any]],
        stage: str,
    ) -> None:
        if not devices:
            return
        recorded = 0
        for device in devices:
            try:
                device.record(build(device))
                recorded += 1
            except OSError as error:
                log.error(
                    "audit device %s failed to log: %s", device.path, error.strerror or type(error).__name__
                )
        if not recorded:
            telemetry.audit_failed(stage)
            log.error("failed to audit request: no audit device succeeded: request_id=%s", request.id)
            raise InternalError("internal error")


def _with_added(entries: list[DeviceEntry], entry: DeviceEntry) -> list[DeviceEntry]:
    for existing in entries:
        if existing.path.startswith(entry.path) or entry.path.startswith(existing.path):
            raise UserError("path already in use")
    return [*entries, entry]


__all__ = ["AuditBroker", "DeviceEntry", "Hasher", "is_audited"]
