"""framework/wal.py: entries, ages, claims and the writer's compare-and-set."""

from __future__ import annotations

import pytest

from vaultlet.framework.wal import WAL_ID_LENGTH, WriteAheadLog
from vaultlet.storage.barrier import Barrier, SecureStore, StorageView, generate_key
from vaultlet.storage.sql import SQLStorage


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture()
def wal(tmp_path, clock):
    storage = SQLStorage(f"sqlite:///{tmp_path}/wal.db")
    barrier = Barrier(storage)
    key = generate_key()
    barrier.initialize(key)
    barrier.unseal(key)
    yield WriteAheadLog(StorageView(SecureStore(barrier), "logical/m/"), clock=clock)
    storage.close()


def test_put_get_delete(wal):
    wal_id = wal.put("user", {"username": "u"})
    assert len(wal_id) == WAL_ID_LENGTH and wal_id.isalnum()
    entry = wal.get(wal_id)
    assert (entry.kind, entry.data, entry.created_at) == ("user", {"username": "u"}, 1000.0)
    assert wal.exists(wal_id) and wal.ids() == [f"wal/{wal_id}"]
    wal.delete(wal_id)
    assert wal.get(wal_id) is None and not wal.exists(wal_id)


def test_entries_age_from_the_last_touch(wal, clock):
    wal_id = wal.put("user", {})
    clock.now += 10
    assert [e.id for e in wal.older_than(5)] == [wal_id]
    assert wal.touch(wal.get(wal_id))
    assert wal.older_than(5) == []
    clock.now += 6
    assert len(wal.older_than(5)) == 1


def test_one_claim_at_a_time_until_it_lapses(wal, clock):
    wal_id = wal.put("user", {})
    entry = wal.get(wal_id)
    claimed = wal.claim(entry, "worker-a", 30)
    assert claimed is not None and claimed.claimed_by == "worker-a"
    assert wal.claim(entry, "worker-b", 30) is None  # stale read: the version moved
    assert wal.claim(wal.get(wal_id), "worker-b", 30) is None  # live claim
    clock.now += 10
    assert wal.older_than(5) == []  # claimed entries are not handed out again
    clock.now += 30
    assert wal.claim(wal.get(wal_id), "worker-b", 30).claimed_by == "worker-b"
    assert wal.release(wal.get(wal_id))
    assert wal.get(wal_id).claimed_by == ""


def test_the_writer_loses_once_a_rollback_claimed_its_entry(wal):
    wal_id = wal.put("user", {})
    read_by_writer = wal.get(wal_id)
    wal.claim(wal.get(wal_id), "rollback", 30)
    assert wal.touch(read_by_writer) is False
    assert wal.touch(wal.get(wal_id)) is False  # even with a fresh read
    wal.delete(wal_id)
    assert wal.touch(read_by_writer) is False
