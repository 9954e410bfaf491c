"""Lease claims and their owners (storage/sql.py, core/lease_owner.py, core/expiration.py)
on a real SQLite database: a live owner's claim holds, a dead one's is free at once,
claimants of one process never take each other's claims, and a synchronous revoke
that cannot finish says so instead of answering success."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from vaultlet.core.core import Core, CoreConfig
from vaultlet.core.expiration import REVOKED, RevocationIncomplete, RevocationSettings
from vaultlet.core.lease_owner import LeaseOwner, process_alive, process_start
from vaultlet.core.tokens import TokenRequest
from vaultlet.storage.sql import SQLStorage, lease_table, owner_table

HOLD = 90.0
TIMEOUT = 10.0


@pytest.fixture()
def storage(tmp_path):
    store = SQLStorage(f"sqlite:///{tmp_path}/claims.db")
    yield store
    store.close()


def _lease(storage: SQLStorage, lease_id: str = "aws/creds/app/x") -> str:
    now = time.time()
    storage.lease_insert(
        {
            "lease_id": lease_id,
            "mount_uuid": "m",
            "token_hash": None,
            "issue_time": now,
            "expire_time": now + 3600,
            "max_expire_time": now + 3600,
            "last_renewal": None,
            "renewable": True,
            "due_at": now + 3600,
            "data": b"x",
        }
    )
    return lease_id


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_live_owners_claim_holds_and_a_forgotten_owners_claim_is_free_at_once(storage):
    lease_id = _lease(storage)
    first, second = LeaseOwner(storage, 1, TIMEOUT), LeaseOwner(storage, 1, TIMEOUT)
    first.beat()
    second.beat()
    assert storage.claim_lease(lease_id, first.claimant("sweeper"), HOLD, TIMEOUT)
    assert not storage.claim_lease(lease_id, second.claimant("sweeper"), HOLD, TIMEOUT)
    assert not storage.claim_lease(lease_id, first.claimant("request"), HOLD, TIMEOUT), "same process"
    assert storage.claim_lease(lease_id, first.claimant("sweeper"), HOLD, TIMEOUT), "its own claim again"
    storage.forget_owners([first.id])  # what reaping a dead process does
    assert storage.claim_lease(lease_id, second.claimant("sweeper"), HOLD, TIMEOUT)


def test_a_silent_owners_claim_lapses_after_owner_timeout(storage):
    lease_id = _lease(storage)
    silent, other = LeaseOwner(storage, 1, TIMEOUT), LeaseOwner(storage, 1, TIMEOUT)
    silent.beat()
    other.beat()
    assert storage.claim_lease(lease_id, silent.claimant("s"), HOLD, TIMEOUT)
    with storage.transaction() as conn:  # its last heartbeat was 11 s ago
        conn.execute(
            owner_table.update()
            .where(owner_table.c.owner_id == silent.id)
            .values(heartbeat_at=time.time() - TIMEOUT - 1)
        )
    assert storage.claim_lease(lease_id, other.claimant("s"), HOLD, TIMEOUT)
    row = storage.lease_get(lease_id)
    assert row.claim_owner.startswith(other.id) and row.claim_until > time.time() + HOLD - 5


def test_claims_of_unknown_owners_are_free(storage):
    lease_id = _lease(storage)
    with storage.transaction() as conn:  # a claim from before owners existed
        conn.execute(lease_table.update().values(claim_owner="host:123:abc", claim_until=time.time() + HOLD))
    owner = LeaseOwner(storage, 1, TIMEOUT)
    owner.beat()
    assert storage.claim_lease(lease_id, owner.claimant("s"), HOLD, TIMEOUT)


def test_owners_on_this_host_whose_process_died_are_reaped(storage):
    live = LeaseOwner(storage, 1, TIMEOUT)
    live.beat()
    dead = LeaseOwner(storage, 1, TIMEOUT)
    dead.pid = _dead_pid()
    dead.beat()
    reused = LeaseOwner(storage, 1, TIMEOUT)  # this very PID, but another process start
    reused._started = "1"
    reused.beat()
    assert not process_alive(dead.pid, "")
    assert process_alive(live.pid, process_start(live.pid))
    assert sorted(live.reap_dead_neighbours()) == sorted([dead.id, reused.id])
    assert [row[0] for row in storage.owners_on_host(live.host)] == [live.id]


def test_due_leases_skip_live_claims_and_include_dead_ones(storage):
    lease_id = _lease(storage)
    storage.queue_leases([lease_id])
    holder, sweeper = LeaseOwner(storage, 1, TIMEOUT), LeaseOwner(storage, 1, TIMEOUT)
    holder.beat()
    sweeper.beat()
    assert storage.claim_lease(lease_id, holder.claimant("request"), HOLD, TIMEOUT)
    due = storage.due_lease_ids(10, owner=sweeper.claimant("sweeper"), owner_timeout=TIMEOUT)
    assert due == []
    storage.forget_owners([holder.id])
    due = storage.due_lease_ids(10, owner=sweeper.claimant("sweeper"), owner_timeout=TIMEOUT)
    assert due == [lease_id]


@pytest.fixture()
def core(tmp_path):
    settings = RevocationSettings(sync_revoke_wait=0.5)
    running = Core(CoreConfig(storage_url=f"sqlite:///{tmp_path}/core.db", revocation=settings))
    running.initialize()
    yield running
    running.close()


def test_a_sync_revoke_of_a_lease_another_live_process_holds_is_503_and_stays_queued(core):
    _, entry, _ = core.tokens.create(None, TokenRequest(policies=["p"], ttl=3600))
    lease_id = entry.lease_id
    other = LeaseOwner(core.storage, 1, TIMEOUT)
    other.beat()
    assert core.storage.claim_lease(lease_id, other.claimant("busy"), HOLD, TIMEOUT)
    started = time.monotonic()
    with pytest.raises(RevocationIncomplete) as caught:
        core.expiration.revoke(lease_id)
    assert caught.value.status == 503 and "still being revoked by another server process" in str(caught.value)
    assert 0.4 < time.monotonic() - started < 5  # it waited sync_revoke_wait for the other process
    assert core.expiration.get(lease_id) is not None, "still queued"
    other.stop()  # the other process goes away (or dies and is reaped): the revoke now succeeds
    core.expiration.revoke(lease_id)
    assert core.expiration.get(lease_id) is None
    assert core.tokens.get_by_hash(entry.hash) is None


def test_a_sync_revoke_waits_for_the_other_process_to_finish(core):
    _, entry, _ = core.tokens.create(None, TokenRequest(policies=["p"], ttl=3600))
    other = LeaseOwner(core.storage, 1, TIMEOUT)
    other.beat()
    claimant = other.claimant("sweeper")
    assert core.storage.claim_lease(entry.lease_id, claimant, HOLD, TIMEOUT)
    core.expiration.settings.sync_revoke_wait = 5.0

    def the_other_process_finishes():
        time.sleep(0.5)
        core.storage.delete_claimed_lease(entry.lease_id, claimant)

    threading.Thread(target=the_other_process_finishes).start()
    core.expiration.revoke(entry.lease_id)  # no error: it was confirmed revoked
    assert core.expiration.get(entry.lease_id) is None
    assert core.expiration.attempt(entry.lease_id) == REVOKED  # gone counts as revoked


def test_on_postgresql_a_node_with_a_skewed_clock_cannot_take_a_live_claim(postgres, monkeypatch):
    """Claims and heartbeats use PostgreSQL's clock: a node whose own clock runs an hour
    ahead sees the claim of a live owner as live, and its heartbeat is not "from the future"."""
    url = postgres.new_database().replace("postgresql://", "postgresql+psycopg://")
    storage = SQLStorage(url)
    try:
        lease_id = _lease(storage)
        holder, skewed = LeaseOwner(storage, 1, TIMEOUT), LeaseOwner(storage, 1, TIMEOUT)
        holder.beat()
        assert storage.claim_lease(lease_id, holder.claimant("s"), HOLD, TIMEOUT)
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
        skewed.beat()
        assert not storage.claim_lease(lease_id, skewed.claimant("s"), HOLD, TIMEOUT)
        assert abs(storage.database_time() - real_time()) < 60
        row = storage.lease_get(lease_id)
        assert row.claim_until - real_time() < HOLD + 60  # written from the database's clock
    finally:
        storage.close()
