"""Leases: registration, lookup, renewal, revocation and the expiry sweeper.

Leases live in an indexed table, not in memory: start-up costs nothing however
many leases exist, and every server process runs the same sweeper. A sweeper
*claims* a due lease with a conditional UPDATE before calling the engine's
revoke, so exactly one worker revokes each lease. A failed revocation is
retried with capped exponential backoff and jitter; after the configured number
of attempts the lease is marked irrevocable and is still retried, daily.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vaultlet.core.tokens import random_base62, rfc3339
from vaultlet.durations import format_go_duration
from vaultlet.errors import UserError
from vaultlet.framework.backend import Lease
from vaultlet.framework.request import Request, Response
from vaultlet.storage.sql import LeaseRow, one_level

if TYPE_CHECKING:
    from vaultlet.core.core import Core
    from vaultlet.core.tokens import TokenEntry

log = logging.getLogger("vaultlet.expiration")

LEASE_ID_RANDOM_LENGTH = 24
TOKEN_LEASE_KIND = "token"
SECRET_LEASE_KIND = "secret"
MAX_ERROR_TEXT = 240
MIN_SWEEP_INTERVAL = 0.01  # a zero interval would spin a core


@dataclass
class RevocationSettings:
    """Vault's defaults: 6 attempts, 2^n × 10 s ± 50 %, then irrevocable, retried daily."""

    sweep_interval: float = 1.0
    batch_size: int = 100
    claim_seconds: float = 90.0
    retry_base: float = 10.0
    retry_cap: float = 320.0
    max_attempts: int = 6
    irrevocable_retry_interval: float = 86400.0

    def backoff(self, attempts: int) -> float:
        delay = min(self.retry_cap, self.retry_base * (2**attempts))
        return delay * random.uniform(0.5, 1.5)


def _lease_data_key(lease_id: str) -> str:
    return "lease/" + lease_id


class ExpirationManager:
    def __init__(self, core: Core, settings: RevocationSettings):
        self.core = core
        self.storage = core.storage
        self.settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lease data (encrypted column) -------------------------------------

    def _seal_data(self, lease_id: str, data: dict[str, Any]) -> bytes:
        return self.core.barrier.encrypt(_lease_data_key(lease_id), json.dumps(data).encode())

    def _open_data(self, row: LeaseRow) -> dict[str, Any]:
        return json.loads(self.core.barrier.decrypt(_lease_data_key(row.lease_id), row.data))

    # -- registration ------------------------------------------------------

    def register(self, request: Request, response: Response) -> None:
        """Turn a backend's LeaseRequest into a stored lease and fill the envelope."""
        secret = response.secret
        mount = self.core.router.mount_for_request(request)
        default_ttl = mount.default_lease_ttl or self.core.config.default_lease_ttl
        mount_max = mount.max_lease_ttl or self.core.config.max_lease_ttl
        max_ttl = min(secret.max_ttl or mount_max, mount_max)
        ttl = secret.ttl or default_ttl
        if ttl > max_ttl:
            if secret.ttl:
                response.add_warning(_capped_warning(ttl, max_ttl))
            ttl = max_ttl
        now = time.time()
        lease_id = f"{request.path.rstrip('/')}/{secret.lease_id_suffix or _random_id()}"
        data = {
            "kind": SECRET_LEASE_KIND,
            "secret_type": secret.secret_type,
            "internal": secret.internal,
            "path": request.path.rstrip("/"),
        }
        self.storage.lease_insert(
            {
                "lease_id": lease_id,
                "mount_uuid": mount.uuid,
                "token_hash": request.token.hash if request.token is not None else None,
                "issue_time": now,
                "expire_time": now + ttl,
                "max_expire_time": now + max_ttl,
                "last_renewal": None,
                "renewable": secret.renewable,
                "due_at": now + ttl,
                "data": self._seal_data(lease_id, data),
            }
        )
        response.lease_id = lease_id
        response.lease_duration = ttl
        response.renewable = secret.renewable

    def token_lease_row(self, entry: TokenEntry) -> dict[str, Any]:
        """The lease index row of a token with a TTL (the token store inserts it
        in the same transaction as the token itself)."""
        data = {"kind": TOKEN_LEASE_KIND, "token_hash": entry.hash, "path": entry.path}
        return {
            "lease_id": entry.lease_id,
            "mount_uuid": "token",
            "token_hash": None,  # the token's own lease is removed with the token
            "issue_time": entry.creation_time,
            "expire_time": entry.expire_time,
            "max_expire_time": entry.max_expire_time,
            "last_renewal": None,
            "renewable": entry.renewable,
            "due_at": entry.expire_time,
            "data": self._seal_data(entry.lease_id, data),
        }

    def update_token_lease(self, entry: TokenEntry) -> None:
        if entry.lease_id:
            self.storage.lease_update(
                entry.lease_id,
                expire_time=entry.expire_time,
                due_at=entry.expire_time,
                last_renewal=entry.last_renewal,
            )

    def forget(self, lease_id: str) -> None:
        """Drop a lease row without calling any backend (its subject is already gone)."""
        self.storage.lease_delete(lease_id)

    # -- lookup ------------------------------------------------------------

    def get(self, lease_id: str) -> LeaseRow | None:
        if not lease_id:
            return None
        return self.storage.lease_get(lease_id)

    def lookup(self, lease_id: str) -> dict[str, Any]:
        if not lease_id:
            raise UserError("lease_id must be specified")
        row = self.get(lease_id)
        if row is None:
            raise UserError("invalid lease")
        data = self._open_data(row)
        return {
            "expire_time": rfc3339(row.expire_time),
            "id": row.lease_id,
            "issue_time": rfc3339(row.issue_time),
            "last_renewal": rfc3339(row.last_renewal),
            "path": data.get("path", ""),
            "renewable": row.renewable and not row.irrevocable,
            "ttl": max(0, int(round((row.expire_time or 0) - time.time()))) if row.expire_time else 0,
        }

    def list(self, prefix: str) -> list[str]:
        prefix = prefix.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return one_level(prefix, self.storage.lease_ids(prefix))

    def count(self, irrevocable: bool | None = None) -> int:
        return self.storage.lease_count(irrevocable=irrevocable)

    def irrevocable(self, limit: int | None = 10000) -> list[dict[str, Any]]:
        ids = self.storage.lease_ids(irrevocable=True, limit=limit)
        return [
            {
                "lease_id": row.lease_id,
                "mount_id": row.mount_uuid,
                "error": row.last_error or "",
                "expire_time": rfc3339(row.expire_time),
                "attempts": row.attempts,
                "next_retry": rfc3339(row.due_at),
            }
            for row in self.storage.lease_rows(ids)
        ]

    # -- renew -------------------------------------------------------------

    def renew(self, lease_id: str, increment: int) -> Response:
        if not lease_id:
            raise UserError("lease_id must be specified")
        row = self.get(lease_id)
        if row is None or row.irrevocable:
            raise UserError("lease not found")
        data = self._open_data(row)
        if data["kind"] == TOKEN_LEASE_KIND:
            raise UserError("lease not found")  # tokens renew through auth/token/renew
        now = time.time()
        if row.expire_time is not None and row.expire_time <= now:
            raise UserError("lease expired")
        if not row.renewable:
            raise UserError("lease is not renewable")
        backend = self.core.router.backend_for_uuid(row.mount_uuid)
        if backend is None:
            raise UserError("lease not found")
        lease = self._lease_view(row, data, increment)
        renewal = backend.renew_secret(data["secret_type"], lease)
        if renewal is None:
            raise UserError("lease is not renewable")
        response = Response(warnings=list(renewal.warnings))
        ttl = (
            increment
            or renewal.ttl
            or backend.context.mount_config.get("default_lease_ttl")
            or (self.core.config.default_lease_ttl)
        )
        cap = row.max_expire_time
        if renewal.max_ttl:
            cap = min(cap or float("inf"), row.issue_time + renewal.max_ttl)
        if cap is not None and now + ttl > cap:
            remaining = max(0, int(cap - now))
            response.add_warning(_capped_warning(ttl, remaining))
            ttl = remaining
        self.storage.lease_update(lease_id, expire_time=now + ttl, due_at=now + ttl, last_renewal=now)
        response.lease_id = lease_id
        response.lease_duration = ttl
        response.renewable = True
        return response

    def _lease_view(self, row: LeaseRow, data: dict[str, Any], increment: int = 0) -> Lease:
        return Lease(
            lease_id=row.lease_id,
            internal=data.get("internal", {}),
            issue_time=row.issue_time,
            expire_time=row.expire_time,
            renewable=row.renewable,
            increment=increment,
        )

    # -- revocation --------------------------------------------------------

    def revoke(self, lease_id: str, *, sync: bool = True) -> None:
        """Revoke one lease; unknown ids are a no-op as in Vault."""
        if not lease_id:
            raise UserError("lease_id must be specified")
        self._revoke_ids([lease_id], sync=sync)

    def revoke_prefix(self, prefix: str, *, sync: bool = True, force: bool = False) -> int:
        prefix = prefix.strip("/")
        ids = self.storage.lease_ids(prefix + "/" if prefix else "")
        if force:
            for lease_id in ids:
                log.warning("lease force-revoked without calling its backend: lease_id=%s", lease_id)
                self.storage.lease_delete(lease_id)
            return len(ids)
        self._revoke_ids(ids, sync=sync)
        return len(ids)

    def revoke_for_token(self, token_hash: str) -> None:
        ids = self.storage.lease_ids_for_token(token_hash)
        if ids:
            self._queue(ids, self._sync_grace())
            self._attempt_all(ids)

    def revoke_for_mount(self, mount_uuid: str) -> list[str]:
        """Revoke every lease of a mount now; returns the ids that could not be revoked."""
        ids = self.storage.lease_ids_for_mount(mount_uuid)
        self._queue(ids, self._sync_grace())
        failed = self._attempt_all(ids)
        return failed

    def _revoke_ids(self, ids: list[str], *, sync: bool) -> None:
        if not sync:
            self._queue(ids)
            self.wake()
            return
        self._queue(ids, self._sync_grace())
        failed = self._attempt_all(ids)
        if failed:
            raise UserError(
                f"failed to revoke {len(failed)} lease(s); they stay queued and will be retried: "
                + ", ".join(failed[:10])
            )

    def _queue(self, ids: list[str], delay: float = 0.0) -> None:
        due = time.time() + delay
        for lease_id in ids:
            self.storage.lease_update(lease_id, due_at=due)

    def _sync_grace(self) -> float:
        """How long a synchronous revoker has before the sweepers may take its leases over.

        Queued at once, a lease could be claimed by a sweeper while the caller is still
        working through the list; the caller would then skip it and answer before it is
        revoked (or a mount would be removed under a revocation in flight). Queued this
        far ahead, the leases are still revoked by the sweepers if the caller dies.
        """
        return self.settings.claim_seconds

    def _attempt_all(self, ids: list[str]) -> list[str]:
        return [lease_id for lease_id in ids if self.attempt(lease_id) is False]

    def attempt(self, lease_id: str) -> bool | None:
        """Claim and revoke one lease. True: revoked; False: failed (will retry);
        None: another worker holds it, or it no longer exists."""
        now = time.time()
        if not self.storage.claim_lease(lease_id, self.worker_id, now, self.settings.claim_seconds):
            return None
        row = self.storage.lease_get(lease_id)
        if row is None:
            return None
        try:
            self._call_revoke(row)
        except Exception as error:  # noqa: BLE001 - any backend failure is retried
            self._record_failure(row, error)
            return False
        self.storage.delete_claimed_lease(lease_id, self.worker_id)
        log.info("lease revoked: lease_id=%s worker=%s", lease_id, self.worker_id)
        return True

    def _call_revoke(self, row: LeaseRow) -> None:
        data = self._open_data(row)
        if data["kind"] == TOKEN_LEASE_KIND:
            self.core.tokens.revoke_tree(data["token_hash"])
            return
        backend = self.core.router.backend_for_uuid(row.mount_uuid)
        if backend is None:
            log.warning("lease dropped: its mount no longer exists: lease_id=%s", row.lease_id)
            return
        backend.revoke_secret(data["secret_type"], self._lease_view(row, data))

    def _record_failure(self, row: LeaseRow, error: Exception) -> None:
        attempts = row.attempts + 1
        text = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
        now = time.time()
        if attempts >= self.settings.max_attempts:
            due = now + self.settings.irrevocable_retry_interval
            irrevocable = True
        else:
            due = now + self.settings.backoff(attempts)
            irrevocable = False
        log.warning(
            "lease revocation failed: lease_id=%s attempt=%d irrevocable=%s error=%s",
            row.lease_id,
            attempts,
            irrevocable,
            text,
        )
        self.storage.release_claim(
            row.lease_id,
            self.worker_id,
            attempts=attempts,
            due_at=due,
            irrevocable=irrevocable,
            last_error=text,
        )

    # -- tidy --------------------------------------------------------------

    def tidy(self) -> int:
        """Queue leases whose token no longer exists (Vault's tidy)."""
        orphaned = []
        for lease_id in self.storage.lease_ids():
            row = self.storage.lease_get(lease_id)
            if row and row.token_hash and self.core.tokens.get_by_hash(row.token_hash) is None:
                orphaned.append(lease_id)
        self._queue(orphaned)
        self.wake()
        return len(orphaned)

    # -- sweeper -----------------------------------------------------------

    def sweep_once(self) -> int:
        revoked = 0
        for lease_id in self.storage.due_lease_ids(time.time(), self.settings.batch_size):
            if self._stop.is_set():
                break
            if self.attempt(lease_id):
                revoked += 1
        return revoked

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-sweeper", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        wake = getattr(self, "_wake", None)
        if wake is not None:
            wake.set()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.core.follow_seal_mark():
                    self.sweep_once()
            except Exception:  # noqa: BLE001 - the sweeper must survive storage hiccups
                log.exception("lease sweep failed")
            self._wake.wait(max(self.settings.sweep_interval, MIN_SWEEP_INTERVAL))
            self._wake.clear()


def _random_id() -> str:
    return random_base62(LEASE_ID_RANDOM_LENGTH)


def _capped_warning(requested: int, cap: int) -> str:
    return (
        f'TTL of "{format_go_duration(requested)}" exceeded the effective max_ttl of '
        f'"{format_go_duration(cap)}"; TTL value is capped accordingly'
    )
