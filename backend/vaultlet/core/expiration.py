"""Leases: registration, lookup, renewal, revocation and the expiry sweeper.

Leases live in an indexed table, not in memory: start-up costs nothing however
many leases exist, and every server process runs the same sweeper. A sweeper
*claims* due leases with a conditional UPDATE before calling the engine's
revoke, so exactly one worker revokes each lease. It works in batches: one
statement claims a batch, one reads it, one deletes the revoked leases, and the
engine calls of a batch that go upstream (deleting an IAM user) run on a small
bounded thread pool while local ones (STS leases, tokens) run inline. A failed
revocation is retried with capped exponential backoff and jitter; after the
configured number of attempts the lease is marked irrevocable and is still
retried, daily. Only the sweeper's attempts count: a revoke asked for by hand
that fails leaves the attempt count alone and never brings the next retry
forward.

A claim belongs to an owner that others can see die (core/lease_owner.py): a
claim of a crashed process is taken over at once. ``sys/leases/revoke`` and
``revoke-prefix`` first queue their leases (due now; a lease in backoff keeps its
retry time). With ``sync=false`` that is all (202): the sweepers of every process
revoke the backlog in batches. With ``sync=true`` (the API's default, as in
Vault) the request also revokes them itself, batch by batch, waiting for leases
another live process is revoking (up to ``sync_revoke_wait`` without progress).
It answers success only when every lease is confirmed revoked: otherwise
:class:`RevocationIncomplete` says which are still queued (400 when the engine
refused, 502 when upstream failed transiently, 503 when another process still
holds a lease), and the sweepers keep at it. ``revoke-force`` calls the engine
too, but drops the lease whatever the engine answers (Vault's recovery tool).

A lease row stores no more than it must: the path is the lease id without its
last segment, a token lease names its token in its id (``.../h<hash>``), so only
a secret lease's engine data (secret type and internal data) is stored,
encrypted by the barrier with the lease id as associated data.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
TOKEN_MOUNT_UUID = "token"  # the token store's mount entry
SECRET_LEASE_KIND = "secret"
MAX_ERROR_TEXT = 240
MIN_SWEEP_INTERVAL = 0.01  # a zero interval would spin a core
SYNC_POLL_INTERVAL = 0.1
# Outcomes of one revocation attempt.
REVOKED, FAILED, BUSY = "revoked", "failed", "busy"
# Crash-test point (vaultlet.faults): a lease claimed, its engine not yet called.
FAULT_LEASE_CLAIMED = "lease-revoke-claimed"
PROGRESS_LOG_INTERVAL = 5.0  # seconds between progress lines of a long revoke
LOG_EACH_UP_TO = 10  # a batch revoking more leases logs one line, not one per lease


@dataclass
class RevocationSettings:
    """Vault's defaults: 6 attempts, 2^n × 10 s ± 50 %, then irrevocable, retried daily."""

    sweep_interval: float = 1.0
    batch_size: int = 500  # leases claimed, read and deleted per statement
    # Engine calls that go upstream (an IAM user to delete) in flight at once per
    # process: enough to hide IAM's latency, few enough not to be throttled.
    revoke_parallelism: int = 8
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

    def retry_delay(self, attempts: int) -> float:
        """When the sweeper tries again after ``attempts`` failed attempts."""
        if attempts >= self.max_attempts:
            return self.irrevocable_retry_interval
        return self.backoff(attempts)


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
        self._pool_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # -- lease data (encrypted column) -------------------------------------
    #
    # A secret lease stores {"t": secret type, "i": engine internal data} (plus "p"
    # when its path is not its id's parent), sealed by the barrier under the lease
    # id; a token lease stores nothing (its id names the token). Rows written by
    # older versions hold {"kind", "secret_type", "internal", "path"[, "token_hash"]}
    # and are read as they are.

    def _seal_data(self, lease_id: str, secret_type: str, internal: dict[str, Any], path: str) -> bytes:
        data: dict[str, Any] = {"t": secret_type, "i": internal}
        if path != _parent(lease_id):
            data["p"] = path
        return self.core.barrier.encrypt(
            _lease_data_key(lease_id), json.dumps(data, separators=(",", ":")).encode()
        )

    def _open_data(self, row: LeaseRow) -> dict[str, Any]:
        if not row.data and row.mount_uuid == TOKEN_MOUNT_UUID:
            last = row.lease_id.rsplit("/", 1)[-1]
            return {"kind": TOKEN_LEASE_KIND, "token_hash": last[1:], "path": _parent(row.lease_id)}
        data = json.loads(self.core.barrier.decrypt(_lease_data_key(row.lease_id), row.data))
        if "kind" in data:  # written by an older version
            return data
        return {
            "kind": SECRET_LEASE_KIND,
            "secret_type": data["t"],
            "internal": data["i"],
            "path": data.get("p") or _parent(row.lease_id),
        }

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
        path = request.path.rstrip("/")
        lease_id = f"{path}/{secret.lease_id_suffix or _random_id()}"
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
                "data": self._seal_data(lease_id, secret.secret_type, secret.internal, path),
            }
        )
        response.lease_id = lease_id
        response.lease_duration = ttl
        response.renewable = secret.renewable

    def token_lease_row(self, entry: TokenEntry) -> dict[str, Any]:
        """The lease index row of a token with a TTL (the token store inserts it
        in the same transaction as the token itself). Its id ends in ``h<token hash>``:
        nothing else needs storing."""
        if entry.lease_id.rsplit("/", 1)[-1] != "h" + entry.hash:
            raise ValueError("a token lease id must end in h<token hash>")
        return {
            "lease_id": entry.lease_id,
            "mount_uuid": TOKEN_MOUNT_UUID,
            "token_hash": None,  # the token's own lease is removed with the token
            "issue_time": entry.creation_time,
            "expire_time": entry.expire_time,
            "max_expire_time": entry.max_expire_time,
            "last_renewal": None,
            "renewable": entry.renewable,
            "due_at": entry.expire_time,
            "data": b"",
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

    def counts(self, irrevocable: bool | None = None) -> dict[str, Any]:
        """Vault's count answer: the total and the count per mount accessor."""
        by_mount = self.storage.lease_counts_by_mount(irrevocable=irrevocable)
        counts: dict[str, int] = {}
        for mount_uuid, number in by_mount.items():
            entry = self.core.router.entry_by_uuid(mount_uuid)
            accessor = entry.accessor if entry is not None else mount_uuid
            counts[accessor] = counts.get(accessor, 0) + number
        return {"counts": counts, "lease_count": sum(by_mount.values())}

    def queued(self) -> int:
        """Leases due now: expired, or queued by a revoke (the sweepers' backlog)."""
        return self.storage.lease_due_count()

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
        """Revoke every lease under ``prefix``; returns how many there were.

        As in Vault, a prefix without a trailing slash that is itself a lease id
        revokes that lease. ``force`` is always synchronous (as in Vault) and drops
        each lease whatever its engine answers.
        """
        exact = prefix.strip("/")
        if not prefix.endswith("/") and exact and self.storage.lease_get(exact) is not None:
            if force:
                self._force_one(exact)
            else:
                self._revoke_ids([exact], sync=sync)
            return 1
        lower = exact + "/" if exact else ""
        if force:
            log.warning("revoke-force started: prefix=%s (engine errors are ignored)", lower)
            outcome = self._revoke_range(lower, claimant=self._claimant(), force=True)
            return outcome.revoked
        started = time.monotonic()
        total = self.storage.queue_lease_prefix(lower)
        log.info("revoke-prefix queued: prefix=%s leases=%d sync=%s", lower, total, sync)
        self.wake()
        if not sync or not total:
            return total
        outcome = self._revoke_range(lower, claimant=self._claimant())
        log.info(
            "revoke-prefix finished: prefix=%s revoked=%d not_revoked=%d seconds=%.1f",
            lower,
            outcome.revoked,
            len(outcome.not_revoked),
            time.monotonic() - started,
        )
        if outcome.not_revoked:
            raise outcome.error()
        return total

    def revoke_for_token(self, token_hash: str) -> None:
        ids = self.storage.lease_ids_for_token(token_hash)
        if ids:
            self._revoke_all(ids)

    def revoke_for_mount(self, mount_uuid: str) -> list[str]:
        """Revoke every lease of a mount now; returns the ids that could not be revoked."""
        outcome = self._revoke_all(self.storage.lease_ids_for_mount(mount_uuid))
        return outcome.not_revoked

    def _claimant(self) -> str:
        self.owner.ensure_registered()
        return self.owner.claimant()

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
        dead owner's due claims and finish at once), then revoke them batch by batch;
        wait for those another live process holds."""
        claimant = self._claimant()
        self.storage.claim_leases(
            ids, claimant, self.settings.claim_seconds, self.settings.owner_timeout, due_now=True
        )
        outcome = RevocationOutcome()
        for start in range(0, len(ids), self.settings.batch_size):
            chunk = ids[start : start + self.settings.batch_size]
            rows = self.storage.claimed_lease_rows(chunk, claimant)
            self._revoke_batch(rows, claimant, outcome, counted=False)
            held = {row.lease_id for row in rows}
            outcome.busy += [lease_id for lease_id in chunk if lease_id not in held]
        busy, outcome.busy = outcome.busy, []
        deadline = time.monotonic() + self.settings.sync_revoke_wait  # for all of them together
        for lease_id in busy:
            outcome.add(lease_id, *self._wait_for_other_owner(lease_id, claimant, deadline))
        return outcome

    def _force_one(self, lease_id: str) -> None:
        claimant = self._claimant()
        if self.storage.claim_lease(
            lease_id, claimant, self.settings.claim_seconds, self.settings.owner_timeout
        ):
            rows = self.storage.claimed_lease_rows([lease_id], claimant)
            self._revoke_batch(rows, claimant, RevocationOutcome(), counted=False, force=True)
        else:  # a live process is revoking it: as Vault, force drops it anyway
            self.storage.lease_delete(lease_id)

    def _revoke_range(self, prefix: str, *, claimant: str, force: bool = False) -> RevocationOutcome:
        """Revoke every lease under ``prefix`` from this request: claim the next batch
        nobody else holds (walking the ids in order), revoke it, repeat; then wait for
        the leases other live processes (the sweepers) hold, until none is left or no
        progress was made for ``sync_revoke_wait``."""
        outcome = RevocationOutcome()
        progress = _Progress(prefix)
        deadline = time.monotonic() + self.settings.sync_revoke_wait
        while True:
            after = ""
            while ids := self.storage.claimable_lease_ids(
                prefix,
                after=after,
                limit=self.settings.batch_size,
                owner=claimant,
                owner_timeout=self.settings.owner_timeout,
            ):
                after = ids[-1]
                ids = [lease_id for lease_id in ids if lease_id not in outcome.failed]
                self.storage.claim_leases(
                    ids, claimant, self.settings.claim_seconds, self.settings.owner_timeout, due_now=True
                )
                rows = self.storage.claimed_lease_rows(ids, claimant)
                if rows:
                    self._revoke_batch(rows, claimant, outcome, counted=False, force=force)
                    deadline = time.monotonic() + self.settings.sync_revoke_wait
                    progress.note(outcome.revoked)
                    time.sleep(0)  # let this process's request threads have the GIL
            busy = set(self.storage.lease_ids(prefix)) - set(outcome.failed)
            if not busy:
                return outcome
            if time.monotonic() >= deadline:
                outcome.busy = sorted(busy)
                return outcome
            time.sleep(SYNC_POLL_INTERVAL)

    def _wait_for_other_owner(
        self, lease_id: str, claimant: str, deadline: float
    ) -> tuple[str, Exception | None]:
        """Another live process holds the lease: wait for its verdict, or take over if it dies."""
        while True:
            if self.storage.lease_get(lease_id) is None:
                return REVOKED, None  # the other process revoked it
            result, error = self._attempt(lease_id, claimant, counted=False)
            if result != BUSY or time.monotonic() >= deadline:
                return result, error
            time.sleep(SYNC_POLL_INTERVAL)

    def attempt(self, lease_id: str) -> str:
        """Claim and revoke one lease as the sweeper does: REVOKED (or already gone),
        FAILED (recorded, will be retried) or BUSY (another live owner holds it)."""
        return self._attempt(lease_id, self._sweeper, counted=True)[0]

    def _attempt(self, lease_id: str, claimant: str, *, counted: bool) -> tuple[str, Exception | None]:
        if not self.storage.claim_lease(
            lease_id, claimant, self.settings.claim_seconds, self.settings.owner_timeout
        ):
            return (REVOKED if self.storage.lease_get(lease_id) is None else BUSY), None
        rows = self.storage.claimed_lease_rows([lease_id], claimant)
        if not rows:
            return REVOKED, None
        outcome = RevocationOutcome()
        self._revoke_batch(rows, claimant, outcome, counted=counted)
        if lease_id in outcome.failed:
            return FAILED, outcome.failed[lease_id]
        return REVOKED, None

    def _revoke_batch(
        self,
        rows: list[LeaseRow],
        claimant: str,
        outcome: RevocationOutcome,
        *,
        counted: bool,
        force: bool = False,
    ) -> None:
        """Revoke claimed leases: engine calls (upstream ones in parallel), then one
        DELETE for every revoked lease; failures are recorded one by one."""
        faults.point(FAULT_LEASE_CLAIMED)
        backends: dict[str, Any] = {}
        upstream, results = [], []
        for row in rows:
            try:
                call = self._revoke_call(row, backends)
            except Exception as error:  # noqa: BLE001 - corrupt data: recorded, retried
                results.append((row, error, time.perf_counter()))
                continue
            if call is None:
                results.append((row, None, time.perf_counter()))
            elif call[1]:
                upstream.append((row, call[0]))
            else:
                results.append((row, *_run(call[0])))
        if upstream:
            results += self._pool().map(lambda item: (item[0], *_run(item[1])), upstream)
        revoked = []
        for row, error, started in results:
            if error is None:
                revoked.append(row)
                telemetry.lease_revoked(started)
            elif force:
                log.warning(
                    "lease force-revoked although its engine failed to revoke it: lease_id=%s error=%s",
                    row.lease_id,
                    f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT],
                )
                revoked.append(row)
            else:
                self._record_failure(row, claimant, error, counted=counted)
                outcome.failed[row.lease_id] = error
        if revoked:
            self.storage.delete_claimed_leases([row.lease_id for row in revoked], claimant)
            outcome.revoked += len(revoked)
            if len(revoked) <= LOG_EACH_UP_TO:
                for row in revoked:
                    log.info("lease revoked: lease_id=%s owner=%s", row.lease_id, claimant)
            else:
                log.info(
                    "leases revoked: %d in one batch (first %s) owner=%s",
                    len(revoked),
                    revoked[0].lease_id,
                    claimant,
                )

    def _revoke_call(self, row: LeaseRow, backends: dict[str, Any]):
        """What revoking ``row`` takes: None (nothing to call), or (callable, goes upstream)."""
        data = self._open_data(row)
        if data["kind"] == TOKEN_LEASE_KIND:
            return (lambda: self.core.tokens.revoke_tree(data["token_hash"])), False
        if row.mount_uuid not in backends:
            backends[row.mount_uuid] = self.core.router.backend_for_uuid(row.mount_uuid)
        backend = backends[row.mount_uuid]
        if backend is None:
            log.warning("lease dropped: its mount no longer exists: lease_id=%s", row.lease_id)
            return None
        lease = self._lease_view(row, data)
        secret_type = data["secret_type"]
        local = backend.revoke_is_local(secret_type, lease)
        return (lambda: backend.revoke_secret(secret_type, lease)), not local

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, self.settings.revoke_parallelism), thread_name_prefix="lease-revoke"
                )
            return self._executor

    def _record_failure(self, row: LeaseRow, claimant: str, error: Exception, *, counted: bool) -> None:
        """A failed attempt. The sweeper's (``counted``) moves the lease along its
        backoff toward irrevocable; one asked for by hand only records the error and
        puts the next sweeper retry no earlier than it already was."""
        text = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
        attempts = row.attempts + 1 if counted else row.attempts
        irrevocable = attempts >= self.settings.max_attempts
        retry_in = self.settings.retry_delay(attempts)
        if not counted and row.attempts and row.due_at is not None:
            retry_in = max(retry_in, row.due_at - time.time())
        if counted:
            telemetry.revocation_failed(self._mount_point(row.mount_uuid), irrevocable)
        log.warning(
            "lease revocation failed: lease_id=%s attempt=%d%s irrevocable=%s error=%s",
            row.lease_id,
            attempts,
            "" if counted else " (by hand: not counted)",
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
        if mount_uuid == TOKEN_MOUNT_UUID:
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
        """Revoke due leases batch by batch until none is due (or the sweeper stops)."""
        revoked, progress = 0, _Progress("")
        while not self._stop.is_set():
            due = self.storage.due_lease_ids(
                self.settings.batch_size, owner=self._sweeper, owner_timeout=self.settings.owner_timeout
            )
            if not due:
                break
            self.storage.claim_leases(
                due, self._sweeper, self.settings.claim_seconds, self.settings.owner_timeout
            )
            rows = self.storage.claimed_lease_rows(due, self._sweeper)
            if not rows:
                continue  # another process claimed this batch first: take the next one
            outcome = RevocationOutcome()
            self._revoke_batch(rows, self._sweeper, outcome, counted=True)
            revoked += outcome.revoked
            progress.note(revoked, self.queued)
            if outcome.failed and len(rows) < self.settings.batch_size:
                break  # the rest are in backoff now
            time.sleep(0)  # let this process's request threads have the GIL
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
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

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
    revoked: int = 0

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


def _run(call) -> tuple[Exception | None, float]:
    """Run one engine revoke call: (its error or None, when it started)."""
    started = time.perf_counter()
    try:
        call()
    except Exception as error:  # noqa: BLE001 - any backend failure is retried
        return error, started
    return None, started


class _Progress:
    """Progress lines of a long revocation, every PROGRESS_LOG_INTERVAL seconds."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.started = time.monotonic()
        self.last = self.started

    def note(self, revoked: int, backlog=None) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_LOG_INTERVAL:
            return
        self.last = now
        rate = revoked / max(now - self.started, 1e-9)
        if self.prefix:
            log.info("revoke-prefix progress: prefix=%s revoked=%d rate=%.0f/s", self.prefix, revoked, rate)
        else:
            log.info("lease sweep progress: revoked=%d rate=%.0f/s still_due=%d", revoked, rate, backlog())


def _parent(lease_id: str) -> str:
    return lease_id.rsplit("/", 1)[0]


def _random_id() -> str:
    return random_base62(LEASE_ID_RANDOM_LENGTH)


def _capped_warning(requested: int, cap: int) -> str:
    return (
        f'TTL of "{format_go_duration(requested)}" exceeded the effective max_ttl of '
        f'"{format_go_duration(cap)}"; TTL value is capped accordingly'
    )
