"""Leases: registration, lookup, renewal, revocation and the expiry sweeper.

Leases live in an indexed table, not in memory: start-up costs nothing however
many leases exist, and every server process runs the same sweeper. A sweeper
*claims* a due lease with a conditional UPDATE before calling the engine's
revoke, so exactly one worker revokes each lease. A failed revocation is
retried with capped exponential backoff and jitter; after the configured number
of attempts the lease is marked irrevocable and is still retried, daily.

A claim belongs to an owner that others can see die (core/lease_owner.py): a
claim of a crashed process is taken over at once. A synchronous revoke
(``sys/leases/revoke``, ``revoke-prefix``) first claims and queues all its leases,
then revokes them one by one; a lease another live process is revoking is waited
for (up to ``sync_revoke_wait``). It answers success only when every lease is
confirmed revoked: otherwise :class:`RevocationIncomplete` says which are still
queued (400 when the engine refused, 502 when upstream failed transiently, 503
when another process still holds a lease), and the sweepers keep at it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaultlet import faults, telemetry
from vaultlet.core.lease_owner import LeaseOwner
from vaultlet.core.tokens import random_base62, rfc3339
from vaultlet.durations import format_go_duration
from vaultlet.errors import UserError, VaultError
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
SYNC_POLL_INTERVAL = 0.1
# Outcomes of one revocation attempt.
REVOKED, FAILED, BUSY = "revoked", "failed", "busy"
# Crash-test point (vaultlet.faults): a lease claimed, its engine not yet called.
FAULT_LEASE_CLAIMED = "lease-revoke-claimed"


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
    # Claim ownership (core/lease_owner.py): how often a process beats, when its
    # silence makes it dead, and how long a synchronous revoke waits for a lease
    # that another live process is revoking.
    heartbeat_interval: float = 1.0
    owner_timeout: float = 10.0
    sync_revoke_wait: float = 15.0

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
        self.owner = LeaseOwner(core.storage, settings.heartbeat_interval, settings.owner_timeout)
        self._sweeper = self.owner.claimant("sweeper")
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
        now = time.time()
        token = request.token
        ttl = secret.ttl or default_ttl
        if ttl > max_ttl:
            if secret.ttl:
                response.add_warning(_capped_warning(ttl, max_ttl))
            ttl = max_ttl
        if token is not None and token.is_batch and token.expire_time is not None:
            # A batch token cannot be revoked: its leases end when it does, renewals included
            # (Vault's rule; silently, as there).
            remaining = max(1, int(token.expire_time - now))
            ttl, max_ttl = min(ttl, remaining), min(max_ttl, remaining)
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
                # Revoked with this token; a batch token's with its parent (none for an orphan).
                "token_hash": token.lease_owner if token is not None else None,
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
            # Listed and looked up under sys/leases like any lease, but renewed through
            # auth/token/renew*, as in Vault (which answers the same).
            raise UserError("tokens cannot be renewed through this endpoint")
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
            self._revoke_all(ids)

    def revoke_for_mount(self, mount_uuid: str, prefix: str = "") -> list[str]:
        """Revoke every lease of a mount now, and every lease under ``prefix`` (an auth
        mount's path: the tokens it issued are leased under it, in the token store's
        name); returns the ids that could not be revoked."""
        ids = self.storage.lease_ids_for_mount(mount_uuid)
        if prefix:
            ids += [i for i in self.storage.lease_ids(prefix.strip("/") + "/") if i not in set(ids)]
        outcome = self._revoke_all(ids)
        return outcome.not_revoked

    def _revoke_ids(self, ids: list[str], *, sync: bool) -> None:
        if not sync:
            self._queue(ids)
            self.wake()
            return
        outcome = self._revoke_all(ids)
        if outcome.not_revoked:
            raise outcome.error()

    def _queue(self, ids: list[str]) -> None:
        self.storage.queue_leases(ids)

    def _revoke_all(self, ids: list[str]) -> RevocationOutcome:
        """Claim and queue every lease first (if this process dies, the sweepers see a
        dead owner's due claims and finish at once), then revoke them one by one."""
        self.owner.ensure_registered()
        claimant = self.owner.claimant()
        self.storage.claim_leases(
            ids, claimant, self.settings.claim_seconds, self.settings.owner_timeout, due_now=True
        )
        outcome = RevocationOutcome()
        busy = []
        for lease_id in ids:
            result, error = self._attempt(lease_id, claimant)
            if result == BUSY:
                busy.append(lease_id)
            else:
                outcome.add(lease_id, result, error)
        deadline = time.monotonic() + self.settings.sync_revoke_wait  # for all of them together
        for lease_id in busy:
            outcome.add(lease_id, *self._wait_for_other_owner(lease_id, claimant, deadline))
        return outcome

    def _wait_for_other_owner(
        self, lease_id: str, claimant: str, deadline: float
    ) -> tuple[str, Exception | None]:
        """Another live process holds the lease: wait for its verdict, or take over if it dies."""
        while True:
            if self.storage.lease_get(lease_id) is None:
                return REVOKED, None  # the other process revoked it
            result, error = self._attempt(lease_id, claimant)
            if result != BUSY or time.monotonic() >= deadline:
                return result, error
            time.sleep(SYNC_POLL_INTERVAL)

    def attempt(self, lease_id: str) -> str:
        """Claim and revoke one lease: REVOKED (or already gone), FAILED (recorded,
        will be retried) or BUSY (another live owner holds it)."""
        return self._attempt(lease_id, self._sweeper)[0]

    def _attempt(self, lease_id: str, claimant: str) -> tuple[str, Exception | None]:
        if not self.storage.claim_lease(
            lease_id, claimant, self.settings.claim_seconds, self.settings.owner_timeout
        ):
            return (REVOKED if self.storage.lease_get(lease_id) is None else BUSY), None
        faults.point(FAULT_LEASE_CLAIMED)
        row = self.storage.lease_get(lease_id)
        if row is None:
            return REVOKED, None
        started = time.perf_counter()
        try:
            self._call_revoke(row)
        except Exception as error:  # noqa: BLE001 - any backend failure is retried
            self._record_failure(row, claimant, error)
            return FAILED, error
        self.storage.delete_claimed_lease(lease_id, claimant)
        telemetry.lease_revoked(started)
        log.info("lease revoked: lease_id=%s owner=%s", lease_id, claimant)
        return REVOKED, None

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

    def _record_failure(self, row: LeaseRow, claimant: str, error: Exception) -> None:
        attempts = row.attempts + 1
        text = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
        if attempts >= self.settings.max_attempts:
            retry_in = self.settings.irrevocable_retry_interval
            irrevocable = True
        else:
            retry_in = self.settings.backoff(attempts)
            irrevocable = False
        telemetry.revocation_failed(self._mount_point(row.mount_uuid), irrevocable)
        log.warning(
            "lease revocation failed: lease_id=%s attempt=%d irrevocable=%s error=%s",
            row.lease_id,
            attempts,
            irrevocable,
            text,
        )
        self.storage.release_claim(
            row.lease_id,
            claimant,
            attempts=attempts,
            retry_in=retry_in,
            irrevocable=irrevocable,
            last_error=text,
        )

    def _mount_point(self, mount_uuid: str) -> str:
        if mount_uuid == "token":
            return "auth/token/"
        entry = self.core.router.entry_by_uuid(mount_uuid)
        return entry.full_path if entry is not None else ""

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
        due = self.storage.due_lease_ids(
            self.settings.batch_size, owner=self._sweeper, owner_timeout=self.settings.owner_timeout
        )
        for lease_id in due:
            if self._stop.is_set():
                break
            if self.attempt(lease_id) == REVOKED:
                revoked += 1
        return revoked

    def start(self) -> None:
        """Register this process as a claim owner (freeing dead neighbours' claims), then sweep."""
        if self._thread is not None:
            return
        self.owner.start()
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
            self.owner.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.core.follow_seal_mark():
                    self.sweep_once()
            except Exception:  # noqa: BLE001 - the sweeper must survive storage hiccups
                log.exception("lease sweep failed")
            self._wake.wait(max(self.settings.sweep_interval, MIN_SWEEP_INTERVAL))
            self._wake.clear()


class RevocationIncomplete(VaultError):
    """A synchronous revoke that could not confirm every lease revoked (they stay queued).

    400 when the engine refused (Vault answers 400 here too); 502 when an upstream
    service failed transiently; 503 when another server process still holds a lease
    after ``sync_revoke_wait``. Vault's clients and Terraform retry the 5xx ones.
    """

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class RevocationOutcome:
    failed: dict[str, Exception | None] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)

    def add(self, lease_id: str, result: str, error: Exception | None) -> None:
        if result == FAILED:
            self.failed[lease_id] = error
        elif result == BUSY:
            self.busy.append(lease_id)

    @property
    def not_revoked(self) -> list[str]:
        return [*self.failed, *self.busy]

    def error(self) -> RevocationIncomplete:
        ids = self.not_revoked
        listed = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "")
        if self.busy:
            return RevocationIncomplete(
                503,
                f"{len(self.busy)} of {len(ids)} unrevoked lease(s) are still being revoked by another "
                f"server process; they stay queued and will be retried: {listed}",
            )
        transient = any(isinstance(e, VaultError) and e.status >= 500 for e in self.failed.values())
        detail = next((str(e) for e in self.failed.values() if e is not None and str(e)), "")
        return RevocationIncomplete(
            502 if transient else 400,
            f"failed to revoke {len(ids)} lease(s); they stay queued and will be retried: {listed}"
            + (f" (last error: {detail[:MAX_ERROR_TEXT]})" if detail else ""),
        )


def _random_id() -> str:
    return random_base62(LEASE_ID_RANDOM_LENGTH)


def _capped_warning(requested: int, cap: int) -> str:
    return (
        f'TTL of "{format_go_duration(requested)}" exceeded the effective max_ttl of '
        f'"{format_go_duration(cap)}"; TTL value is capped accordingly'
    )
