"""A write-ahead log on a backend's storage view (Vault's framework.PutWAL and friends).

A backend writes an entry *before* it creates something outside vaultlet (an IAM
user, a key) and removes the entry once the thing is accounted for elsewhere (a
lease). An entry that outlives its writer is rolled back by the backend's periodic
function. Every change after ``put`` is a compare-and-set on the record version,
so the writer and the rollbacks of several worker processes can race safely:

* ``claim`` marks an entry as being handled by one process for a while; others
  skip it until the claim lapses (the claimant may have died).
* ``touch`` is the writer's "still mine": it fails once a rollback has claimed or
  removed the entry, which tells the writer that its work is being undone.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaultlet.storage.barrier import StorageView

WAL_PREFIX = "wal/"
# As long and as random as a lease id's tail, so an id can double as one.
WAL_ID_LENGTH = 24
_ALPHABET = string.ascii_letters + string.digits


def new_wal_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(WAL_ID_LENGTH))


@dataclass
class WALEntry:
    id: str
    kind: str
    data: dict[str, Any]
    created_at: float
    # When the writer last showed progress (put or touch); rollbacks age entries by it.
    updated_at: float
    claimed_by: str = ""
    claimed_until: float = 0.0
    # The storage record version this entry was read at (for compare-and-set).
    version: int | None = field(default=None, repr=False)

    def age(self, now: float) -> float:
        return now - self.updated_at

    def is_claimed(self, now: float) -> bool:
        return bool(self.claimed_by) and self.claimed_until > now

    def _record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "data": self.data,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "claimed_by": self.claimed_by,
            "claimed_until": self.claimed_until,
        }


class WriteAheadLog:
    def __init__(self, storage: StorageView, clock: Callable[[], float] = time.time):
        self.storage = storage
        self.clock = clock

    def put(self, kind: str, data: dict[str, Any]) -> str:
        """Record an intent; returns its id (fresh and random, never reused)."""
        now = self.clock()
        wal_id = new_wal_id()
        entry = WALEntry(wal_id, kind, data, created_at=now, updated_at=now)
        if not self.storage.put_if_version(WAL_PREFIX + wal_id, entry._record(), None):
            raise RuntimeError("write-ahead log id collision")  # 143 random bits: never in practice
        return wal_id

    def get(self, wal_id: str) -> WALEntry | None:
        record, version = self.storage.get_with_version(WAL_PREFIX + wal_id)
        if record is None:
            return None
        return WALEntry(
            id=wal_id,
            kind=record["kind"],
            data=record["data"],
            created_at=record["created_at"],
            updated_at=record["updated_at"],
            claimed_by=record.get("claimed_by", ""),
            claimed_until=record.get("claimed_until", 0.0),
            version=version,
        )

    def exists(self, wal_id: str) -> bool:
        return self.storage.version(WAL_PREFIX + wal_id) is not None

    def touch(self, entry: WALEntry) -> bool:
        """The writer's compare-and-set "still mine": resets the entry's age.

        False when a rollback holds a claim on it, or it changed since it was read, or is gone.
        """
        if entry.is_claimed(self.clock()):
            return False
        updated = WALEntry(**{**entry.__dict__, "updated_at": self.clock(), "version": None})
        return self._replace(entry, updated)

    def claim(self, entry: WALEntry, owner: str, seconds: float) -> WALEntry | None:
        """Take an entry for ``seconds``; None when someone else changed it first."""
        now = self.clock()
        if entry.is_claimed(now) and entry.claimed_by != owner:
            return None
        claimed = WALEntry(**{**entry.__dict__, "claimed_by": owner, "claimed_until": now + seconds})
        if not self._replace(entry, claimed):
            return None
        return self.get(entry.id)

    def release(self, entry: WALEntry) -> bool:
        """Give a claimed entry back (its rollback failed and will be retried)."""
        released = WALEntry(**{**entry.__dict__, "claimed_by": "", "claimed_until": 0.0})
        return self._replace(entry, released)

    def delete(self, wal_id: str) -> None:
        self.storage.delete(WAL_PREFIX + wal_id)

    def ids(self) -> list[str]:
        return self.storage.keys(WAL_PREFIX)

    def entries(self) -> list[WALEntry]:
        found = (self.get(key[len(WAL_PREFIX) :]) for key in self.ids())
        return [entry for entry in found if entry is not None]

    def older_than(self, age: float) -> list[WALEntry]:
        """Entries idle for more than ``age`` seconds that no live claim holds."""
        now = self.clock()
        return [e for e in self.entries() if e.age(now) > age and not e.is_claimed(now)]

    def _replace(self, current: WALEntry, updated: WALEntry) -> bool:
        if current.version is None:
            return False
        return self.storage.put_if_version(WAL_PREFIX + current.id, updated._record(), current.version)
