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
import zlib
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
JOB_PREFIX = "sys/expire/revoke-prefix/"  # queued revoke-prefix jobs (barrier records)
JOB_SLICE_SECONDS = 5.0  # a sweeper works on jobs this long before its due leases


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
        return self.core.barrier.encrypt(_lease_data_key(lease_id), _pack(data))

    def _open_data(self, row: LeaseRow) -> dict[str, Any]:
        if not row.data and row.mount_uuid == TOKEN_MOUNT_UUID:
            last = row.lease_id.rsplit("/", 1)[-1]
            return {"kind": TOKEN_LEASE_KIND, "token_hash": last[1:], "path": _parent(row.lease_id)}
        data = _unpack(self.core.barrier.decrypt(_lease_data_key(row.lease_id), row.data))
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
        path = request.path.rstrip("/")
        lease_id = f"{path}/{secret.lease_id_suffix or _random_id()}"
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
        if irrevocable:
            by_mount = self.storage.lease_counts_by_mount(irrevocable=True)  # a small partial index
        else:
            by_mount = self._counts_by_mount_path()
        counts: dict[str, int] = {}
        for mount_uuid, number in by_mount.items():
            entry = self.core.router.entry_by_uuid(mount_uuid)
            accessor = entry.accessor if entry is not None else mount_uuid
            counts[accessor] = counts.get(accessor, 0) + number
        return {"counts": counts, "lease_count": sum(by_mount.values())}

    def _counts_by_mount_path(self) -> dict[str, int]:
        """Every lease id starts with its mount's path: one count over the id index per
        mount instead of a scan of the whole table. Should the counts not add up (a lease
        under no mount's path), fall back to grouping by mount."""
        total = self.storage.lease_count()
        by_mount: dict[str, int] = {}
        for entry in self.core.router.all_entries():
            path = "auth/token/" if entry.uuid == TOKEN_MOUNT_UUID else entry.full_path
            if path and entry.uuid not in by_mount:
                number = self.storage.lease_count(path if path.endswith("/") else path + "/")
                if number:
                    by_mount[entry.uuid] = number
        if sum(by_mount.values()) != total:
            return self.storage.lease_counts_by_mount()
        return by_mount

    def queued(self) -> int:
        """The sweepers' backlog: leases due now (expired, or queued by a revoke) and
        leases under a queued revoke-prefix."""
        return self.storage.lease_due_count() + self.queued_in_jobs()

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
        """Revoke every lease under ``prefix``; returns how many were revoked (queued,
        with ``sync=false``).

        As in Vault, a prefix without a trailing slash that is itself a lease id
        revokes that lease, and ``force`` is always synchronous and drops each lease
        whatever its engine answers.
        """
        exact = prefix.strip("/")
        if not exact:
            return 0  # "/" names no lease (in Vault too): never "every lease"
        if not prefix.endswith("/") and self.storage.lease_get(exact) is not None:
            if force:
                self._revoke_all([exact], force=True)
            else:
                self._revoke_ids([exact], sync=sync)
            return 1
        lower = exact + "/"
        if not sync and not force:
            return self._queue_prefix(lower)
        started = time.monotonic()
        log.info("revoke-prefix started: prefix=%s sync=True force=%s", lower, force)
        outcome = self._revoke_range(lower, claimant=self._claimant(), force=force)
        log.info(
            "revoke-prefix finished: prefix=%s revoked=%d not_revoked=%d seconds=%.1f",
            lower,
            outcome.revoked,
            len(outcome.not_revoked),
            time.monotonic() - started,
        )
        if outcome.not_revoked:
            raise outcome.error()
        return outcome.revoked

    # -- queued revoke-prefix jobs -------------------------------------------
    #
    # A revoke-prefix with sync=false is one record ("revoke every lease under P"),
    # written in one statement however many leases P holds. A sweeper takes the job
    # (compare-and-set on the record, naming its process as owner) and walks P in id
    # order batch by batch, saving its cursor as it goes; if its process dies, the
    # job's owner is seen dead and another sweeper resumes from the cursor.

    def _queue_prefix(self, prefix: str) -> int:
        total = self.storage.lease_count(prefix)
        job = {"prefix": prefix, "owner": "", "after": "", "queued_at": time.time()}
        self.core.store.put(JOB_PREFIX + _random_id(), job)
        log.info("revoke-prefix queued: prefix=%s leases=%d sync=False", prefix, total)
        self.wake()
        return total

    def queued_in_jobs(self) -> int:
        jobs = [self.core.store.get(key) for key in self.core.store.keys(JOB_PREFIX)]
        return sum(self.storage.lease_count(job["prefix"]) for job in jobs if job)

    def run_jobs(self, budget: float = JOB_SLICE_SECONDS) -> int:
        """Work on the queued revoke-prefix jobs this process owns or can take, for
        about ``budget`` seconds; returns how many leases were revoked."""
        revoked, deadline = 0, time.monotonic() + budget
        for key in self.core.store.keys(JOB_PREFIX):
            if self._stop.is_set() or time.monotonic() >= deadline:
                break
            job, version = self.core.store.get_with_version(key)
            if job is None:
                continue
            owner = job["owner"]
            if (
                owner
                and owner != self.owner.id
                and self.storage.owner_alive(owner, self.settings.owner_timeout)
            ):
                continue  # a live process is on it
            if owner != self.owner.id:
                job["owner"] = self.owner.id
                if not self.core.store.put_if_version(key, job, version):
                    continue  # another process took it first
                if owner:
                    log.info("took over revoke-prefix job of a dead process: prefix=%s", job["prefix"])
            revoked += self._run_job(key, job, deadline)
        return revoked

    def _run_job(self, key: str, job: dict[str, Any], deadline: float) -> int:
        outcome = RevocationOutcome()
        progress = _Progress(job["prefix"])
        while not self._stop.is_set() and time.monotonic() < deadline:
            rows = self.storage.claimable_lease_rows(
                job["prefix"],
                after=job["after"],
                limit=self.settings.batch_size,
                owner=self._sweeper,
                owner_timeout=self.settings.owner_timeout,
            )
            if not rows:
                self.core.store.delete(key)
                log.info(
                    "revoke-prefix job finished: prefix=%s seconds=%.1f",
                    job["prefix"],
                    time.time() - job["queued_at"],
                )
                return outcome.revoked
            job["after"] = rows[-1].lease_id
            # The sweeper's attempts (they count); a lease in backoff keeps its schedule.
            fresh = [row for row in rows if row.attempts == 0]
            self._revoke_rows(fresh, self._sweeper, outcome, counted=True)
            progress.note(outcome.revoked)
            time.sleep(0)  # let this process's request threads have the GIL
        self.core.store.put(key, job)  # the cursor, for the next slice or a successor
        return outcome.revoked

    def revoke_for_token(self, token_hash: str) -> None:
        ids = self.storage.lease_ids_for_token(token_hash)
        if ids:
            self._revoke_all(ids)

    def revoke_issued_leases(self, lease_ids: list[str]) -> None:
        """The leases issued under tokens being revoked (tokens.revoke_trees)."""
        self._revoke_all(lease_ids)

    def revoke_for_mount(self, mount_uuid: str, prefix: str = "") -> list[str]:
        """Revoke every lease of a mount now, and every lease under ``prefix`` (an auth
        mount's path: the tokens it issued are leased under it, in the token store's
        name); returns the ids that could not be revoked."""
        ids = self.storage.lease_ids_for_mount(mount_uuid)
        if prefix:
            ids += [i for i in self.storage.lease_ids(prefix.strip("/") + "/") if i not in set(ids)]
        outcome = self._revoke_all(ids)
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

    def _revoke_all(self, ids: list[str], *, force: bool = False) -> RevocationOutcome:
        """Revoke these leases batch by batch (queued and claimed first where the engine
        goes upstream: if this process dies, the sweepers finish at once), then wait
        for those another live process holds."""
        claimant = self._claimant()
        outcome = RevocationOutcome()
        for start in range(0, len(ids), self.settings.batch_size):
            chunk = ids[start : start + self.settings.batch_size]
            rows = self.storage.lease_rows(chunk, claimable_by=(claimant, self.settings.owner_timeout))
            self._revoke_rows(rows, claimant, outcome, counted=False, force=force, due_now=True)
            found = {row.lease_id for row in rows}
            missing = [lease_id for lease_id in chunk if lease_id not in found]
            outcome.busy += [row.lease_id for row in self.storage.lease_rows(missing)]
        busy, outcome.busy = sorted(set(outcome.busy)), []
        deadline = time.monotonic() + self.settings.sync_revoke_wait  # for all of them together
        for lease_id in busy:
            outcome.add(lease_id, *self._wait_for_other_owner(lease_id, claimant, deadline, force=force))
        return outcome

    def _revoke_range(self, prefix: str, *, claimant: str, force: bool = False) -> RevocationOutcome:
        """Revoke every lease under ``prefix`` from this request: take the next batch
        nobody else holds (walking the ids in order), revoke it, repeat; then wait for
        the leases other live processes (the sweepers) hold, until none is left or no
        progress was made for ``sync_revoke_wait``."""
        outcome = RevocationOutcome()
        progress = _Progress(prefix)
        deadline = time.monotonic() + self.settings.sync_revoke_wait
        while True:
            after = ""
            while rows := self.storage.claimable_lease_rows(
                prefix,
                after=after,
                limit=self.settings.batch_size,
                owner=claimant,
                owner_timeout=self.settings.owner_timeout,
            ):
                after = rows[-1].lease_id
                before = outcome.revoked
                rows = [row for row in rows if row.lease_id not in outcome.failed]
                self._revoke_rows(rows, claimant, outcome, counted=False, force=force, due_now=True)
                if outcome.revoked > before:
                    deadline = time.monotonic() + self.settings.sync_revoke_wait
                progress.note(outcome.revoked)
                time.sleep(0)  # let this process's request threads have the GIL
            outcome.busy = []
            busy = set(self.storage.lease_ids(prefix)) - set(outcome.failed)
            if not busy:
                return outcome
            if time.monotonic() >= deadline:
                outcome.busy = sorted(busy)
                return outcome
            time.sleep(SYNC_POLL_INTERVAL)

    def _wait_for_other_owner(
        self, lease_id: str, claimant: str, deadline: float, *, force: bool = False
    ) -> tuple[str, Exception | None]:
        """Another live process holds the lease: wait for its verdict, or take over if it dies."""
        while True:
            if self.storage.lease_get(lease_id) is None:
                return REVOKED, None  # the other process revoked it
            result, error = self._attempt(lease_id, claimant, counted=False, force=force)
            if result != BUSY or time.monotonic() >= deadline:
                return result, error
            time.sleep(SYNC_POLL_INTERVAL)

    def attempt(self, lease_id: str) -> str:
        """Revoke one lease as the sweeper does: REVOKED (or already gone), FAILED
        (recorded, will be retried) or BUSY (another live owner holds it)."""
        return self._attempt(lease_id, self._sweeper, counted=True)[0]

    def _attempt(
        self, lease_id: str, claimant: str, *, counted: bool, force: bool = False
    ) -> tuple[str, Exception | None]:
        rows = self.storage.lease_rows([lease_id], claimable_by=(claimant, self.settings.owner_timeout))
        if not rows:
            return (REVOKED if self.storage.lease_get(lease_id) is None else BUSY), None
        outcome = RevocationOutcome()
        self._revoke_rows(rows, claimant, outcome, counted=counted, force=force)
        if lease_id in outcome.failed:
            return FAILED, outcome.failed[lease_id]
        return (BUSY if outcome.busy else REVOKED), None

    # A batch of leases splits in two. Those whose revocation calls nothing outside
    # vaultlet (STS leases, tokens: idempotent) are revoked inline and then deleted
    # in one statement unless a live owner has claimed them meanwhile: no claim
    # write. Those whose engine goes upstream (an IAM user to delete) are claimed in
    # one statement first, so exactly one process calls AWS, and run on a bounded
    # pool of threads.

    def _revoke_rows(
        self,
        rows: list[LeaseRow],
        claimant: str,
        outcome: RevocationOutcome,
        *,
        counted: bool,
        force: bool = False,
        due_now: bool = False,
    ) -> None:
        backends: dict[str, Any] = {}
        local, upstream, tokens = [], [], []
        for row in rows:
            if not row.data and row.mount_uuid == TOKEN_MOUNT_UUID:
                tokens.append(row)  # revoked together below
                continue
            try:
                call, remote = self._revoke_call(row, backends)
            except Exception as error:  # noqa: BLE001 - corrupt data: recorded under a claim, retried
                upstream.append((row, _raising(error)))
                continue
            (upstream if remote else local).append((row, call))
        if upstream:
            self._revoke_upstream(upstream, claimant, outcome, counted=counted, force=force, due_now=due_now)
        if tokens or local:
            faults.point(FAULT_LEASE_CLAIMED)  # picked, no engine called yet (no claim: see above)
        if tokens:
            hashes = [self._open_data(row)["token_hash"] for row in tokens]
            keep = frozenset(row.lease_id for row in tokens)
            error, _ = _run(lambda: self.core.tokens.revoke_trees(hashes, keep_leases=keep))
            local += [(row, None if error is None else _raising(error)) for row in tokens]
        if local:
            self._revoke_local(local, claimant, outcome, counted=counted, force=force)

    def _revoke_upstream(self, items, claimant: str, outcome: RevocationOutcome, **how) -> None:
        ids = [row.lease_id for row, _ in items]
        self.storage.claim_leases(
            ids, claimant, self.settings.claim_seconds, self.settings.owner_timeout, due_now=how["due_now"]
        )
        held = {row.lease_id: row for row in self.storage.claimed_lease_rows(ids, claimant)}
        outcome.busy += [row.lease_id for row in self.storage.lease_rows([i for i in ids if i not in held])]
        faults.point(FAULT_LEASE_CLAIMED)
        calls = [(held[row.lease_id], call) for row, call in items if row.lease_id in held]
        if len(calls) > 1:
            results = list(self._pool().map(lambda item: (item[0], *_run(item[1])), calls))
        else:
            results = [(row, *_run(call)) for row, call in calls]
        revoked = self._settle(
            results, claimant, outcome, counted=how["counted"], force=how["force"], held=True
        )
        if revoked:
            self.storage.delete_claimed_leases([row.lease_id for row in revoked], claimant)
            self._revoked(revoked, claimant, outcome)

    def _revoke_local(self, items, claimant: str, outcome: RevocationOutcome, **how) -> None:
        results = [(row, *_run(call)) for row, call in items]
        revoked = self._settle(
            results, claimant, outcome, counted=how["counted"], force=how["force"], held=False
        )
        if not revoked:
            return
        ids = [row.lease_id for row in revoked]
        deleted = self.storage.delete_unclaimed_leases(ids, claimant, self.settings.owner_timeout)
        if len(deleted) < len(ids):
            # Not deleted here: gone (another process revoked it too and deleted it
            # first: its revocation, not ours), or claimed by a live owner meanwhile,
            # which will finish it.
            left = [lease_id for lease_id in ids if lease_id not in deleted]
            outcome.busy += [row.lease_id for row in self.storage.lease_rows(left)]
        self._revoked([row for row in revoked if row.lease_id in deleted], claimant, outcome)

    def _settle(
        self, results, claimant: str, outcome: RevocationOutcome, *, counted, force, held
    ) -> list[LeaseRow]:
        """The revoked rows of a batch's results; failures are recorded (or, forced, ignored)."""
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
                outcome.failed[row.lease_id] = error
                if not held:  # release_claim records a failure on a claimed row only
                    if not self.storage.claim_lease(
                        row.lease_id, claimant, self.settings.claim_seconds, self.settings.owner_timeout
                    ):
                        continue
                    row = self.storage.claimed_lease_rows([row.lease_id], claimant)[0]
                self._record_failure(row, claimant, error, counted=counted)
        return revoked

    def _revoked(self, rows: list[LeaseRow], claimant: str, outcome: RevocationOutcome) -> None:
        outcome.revoked += len(rows)
        for row in rows:  # one line per lease: the trail of which process revoked what
            log.info("lease revoked: lease_id=%s owner=%s", row.lease_id, claimant)
        if len(rows) > 1:
            log.info("leases revoked: %d in one batch owner=%s", len(rows), claimant)

    def _revoke_call(self, row: LeaseRow, backends: dict[str, Any]):
        """What revoking ``row`` takes: (a callable or None, whether it goes upstream)."""
        data = self._open_data(row)
        if data["kind"] == TOKEN_LEASE_KIND:
            return (lambda: self.core.tokens.revoke_tree(data["token_hash"])), False
        if row.mount_uuid not in backends:
            backends[row.mount_uuid] = self.core.router.backend_for_uuid(row.mount_uuid)
        backend = backends[row.mount_uuid]
        if backend is None:
            log.warning("lease dropped: its mount no longer exists: lease_id=%s", row.lease_id)
            return None, False
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
        # Every failed attempt is counted in the metrics; only the sweeper's can mark the
        # lease irrevocable.
        telemetry.revocation_failed(self._mount_point(row.mount_uuid), irrevocable and counted)
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
        """A slice of the queued revoke-prefix jobs, then due leases batch by batch
        until none is due (or the sweeper stops)."""
        revoked = self.run_jobs()
        return revoked + self._sweep_due()

    def _sweep_due(self) -> int:
        revoked, progress = 0, _Progress("")
        while not self._stop.is_set():
            rows = self.storage.due_lease_rows(
                self.settings.batch_size,
                owner=self._sweeper,
                owner_timeout=self.settings.owner_timeout,
                newest_first=random.random() < 0.5,
            )
            if not rows:
                break
            outcome = RevocationOutcome()
            self._revoke_rows(rows, self._sweeper, outcome, counted=True)
            revoked += outcome.revoked
            progress.note(revoked, self.queued)
            if not outcome.revoked:
                break  # failed (now in backoff) or held by others: until the next sweep
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
                if not self.core.follow_seal_mark() and self.sweep_once():
                    continue  # a backlog: keep at it
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


def _raising(error: Exception):
    def call() -> None:
        raise error

    return call


def _run(call) -> tuple[Exception | None, float]:
    """Run one engine revoke call (None: nothing to call): (its error or None, when it started)."""
    started = time.perf_counter()
    if call is None:
        return None, started
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


# Lease data is compressed before it is encrypted: raw deflate primed with the
# keys and values most rows share, which halves an STS lease's data (127 → 48
# bytes). The dictionary is part of the stored format: never change it, add a new
# format byte instead. (Compressing before encrypting leaks lengths only, and
# the data holds no secret a length could betray: role and user names.)
_FORMAT_DEFLATE_1 = b"\x01"
_ZDICT_1 = (
    b'{"t":"access_keys","i":{"username":"vault-","policy":"arn:aws:iam::",'
    b'"role":"","is_sts":false,"wal_id":"},"is_sts":true}'
)


def _pack(data: dict[str, Any]) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_ZDICT_1)
    raw = json.dumps(data, separators=(",", ":")).encode()
    return _FORMAT_DEFLATE_1 + compressor.compress(raw) + compressor.flush()


def _unpack(plain: bytes) -> dict[str, Any]:
    if plain[:1] == _FORMAT_DEFLATE_1:
        decompressor = zlib.decompressobj(-15, zdict=_ZDICT_1)
        plain = decompressor.decompress(plain[1:]) + decompressor.flush()
    return json.loads(plain)  # JSON as older versions wrote it


def _parent(lease_id: str) -> str:
    return lease_id.rsplit("/", 1)[0]


def _random_id() -> str:
    return random_base62(LEASE_ID_RANDOM_LENGTH)


def _capped_warning(requested: int, cap: int) -> str:
    return (
        f'TTL of "{format_go_duration(requested)}" exceeded the effective max_ttl of '
        f'"{format_go_duration(cap)}"; TTL value is capped accordingly'
    )
