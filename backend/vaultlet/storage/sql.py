"""Physical storage: SQLAlchemy Core over SQLite (default) or PostgreSQL.

Three tables. ``vault_kv`` holds opaque, already-encrypted records with a record
version that changes on every write (readers use it to invalidate caches and
writers use it for compare-and-set). ``vault_leases`` is the lease index: the
expiry sweeper finds due leases through the ``due_at`` index instead of keeping a
timer per lease in memory, and claims each one with a conditional UPDATE so that
exactly one process revokes it even when several share the database.
``vault_owners`` lists the server processes that may hold such claims, with a
heartbeat: a claim is only respected while its owner is alive (see
core/expiration.py for the protocol). On PostgreSQL every claim and heartbeat
time is the database's clock, so nodes with skewed clocks agree on who owns what.

Nothing in this module sees plaintext: callers hand in ciphertext.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    create_engine,
    delete,
    event,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url

log = logging.getLogger("vaultlet.storage")

metadata = MetaData()

# Keys are compared as byte strings: prefix ranges and ordering must not follow a
# linguistic collation (PostgreSQL's default en_US would ignore "/" when sorting).
KeyString = String(1024).with_variant(String(1024, collation="C"), "postgresql")

kv_table = Table(
    "vault_kv",
    metadata,
    Column("key", KeyString, primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False),
)

lease_table = Table(
    "vault_leases",
    metadata,
    Column("lease_id", KeyString, primary_key=True),
    Column("mount_uuid", String(64), nullable=False),
    # The issuing token's hash: NULL for token leases (their token is in the lease id)
    # and indexed only where set (the index would otherwise hold a row per lease).
    Column("token_hash", String(128), nullable=True),
    Column("issue_time", Float, nullable=False),
    Column("expire_time", Float, nullable=True),
    Column("max_expire_time", Float, nullable=True),
    Column("last_renewal", Float, nullable=True),
    Column("renewable", Boolean, nullable=False, default=False),
    Column("irrevocable", Boolean, nullable=False, default=False),
    # When the sweeper should next act on the lease: its expiry, or the next
    # retry of a failed revocation. NULL for leases that never expire.
    Column("due_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claim_owner", String(128), nullable=True),
    Column("claim_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("data", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False),
    Index("ix_vault_leases_due", "due_at"),
    Index(
        "ix_vault_leases_token_hash",
        "token_hash",
        sqlite_where=text("token_hash IS NOT NULL"),
        postgresql_where=text("token_hash IS NOT NULL"),
    ),
    # Only the irrevocable leases (few): counting and listing them reads no table.
    Index(
        "ix_vault_leases_irrevocable",
        "mount_uuid",
        sqlite_where=text("irrevocable = 1"),
        postgresql_where=text("irrevocable = true"),
    ),
)

# Rate-limit quota counters: one row per (quota, client address), one fixed window each.
quota_counter_table = Table(
    "vault_quota_counters",
    metadata,
    Column("counter_key", KeyString, primary_key=True),
    Column("window_index", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("last_allowed", Integer, nullable=False),
    Column("blocked_until", Float, nullable=False),
)

# One statement per counted request: SQLite and PostgreSQL both evaluate the SET
# expressions against the row as it was, and both lock the row for the upsert, so
# concurrent requests from any process or server each see their own count.
_QUOTA_HIT_SQL = """
INSERT INTO vault_quota_counters (counter_key, window_index, hits, last_allowed, blocked_until)
VALUES (:key, :window, 1, :first_allowed, 0)
ON CONFLICT (counter_key) DO UPDATE SET
  hits = CASE
    WHEN vault_quota_counters.window_index <> :window THEN
      CASE WHEN vault_quota_counters.blocked_until > :now THEN 0 ELSE 1 END
    WHEN vault_quota_counters.blocked_until > :now OR vault_quota_counters.hits >= :rate
      THEN vault_quota_counters.hits
    ELSE vault_quota_counters.hits + 1 END,
  last_allowed = CASE
    WHEN vault_quota_counters.blocked_until > :now THEN 0
    WHEN vault_quota_counters.window_index <> :window THEN :first_allowed
    WHEN vault_quota_counters.hits >= :rate THEN 0
    ELSE 1 END,
  blocked_until = CASE
    WHEN vault_quota_counters.blocked_until > :now THEN vault_quota_counters.blocked_until
    WHEN :block > 0 AND vault_quota_counters.window_index = :window AND vault_quota_counters.hits >= :rate
      THEN :blocked_until
    ELSE vault_quota_counters.blocked_until END,
  window_index = :window
RETURNING hits, last_allowed, blocked_until
"""

owner_table = Table(
    "vault_owners",
    metadata,
    Column("owner_id", String(128), primary_key=True),
    # Where the process runs: hostname, boot id and PID namespace, so that a PID is
    # only ever compared with the PIDs of the same kernel's namespace.
    Column("host", String(512), nullable=False),
    Column("pid", Integer, nullable=False),
    # The process's start time in clock ticks since boot (/proc/<pid>/stat): a PID
    # reused by a later process does not pass for the dead owner.
    Column("process_start", String(32), nullable=False, default=""),
    Column("heartbeat_at", Float, nullable=False),
)

# A claim is "<owner id>:<claimant>": the owner (a process) lives or dies for all its
# claimants (the sweeper thread, each synchronous revoke), which must not take each
# other's claims. Owner ids have this fixed length so SQL can cut them out.
OWNER_ID_LENGTH = 16

# Lease ids per statement in batched lease writes: SQLite allows 32766 bound
# parameters, and a few hundred rows keep each write transaction to milliseconds.
CHUNK = 500

SCHEMA_LOCK_ID = 0x7661756C  # "vaul": the PostgreSQL advisory lock taken while creating tables


@dataclass
class LeaseRow:
    lease_id: str
    mount_uuid: str
    token_hash: str | None
    issue_time: float
    expire_time: float | None
    max_expire_time: float | None
    last_renewal: float | None
    renewable: bool
    irrevocable: bool
    due_at: float | None
    attempts: int
    claim_owner: str | None
    claim_until: float | None
    last_error: str | None
    data: bytes
    version: int


def _select_rows():
    """SELECT of whole lease rows in LeaseRow's field order (building a LeaseRow from
    a tuple is many times cheaper than from SQLAlchemy's row mapping)."""
    return select(*(lease_table.c[name] for name in LeaseRow.__dataclass_fields__))


def _prefix_range(column, prefix: str):
    """``column LIKE prefix%`` as an index-friendly range, without LIKE escaping."""
    if not prefix:
        return column.isnot(None)
    return and_(column >= prefix, column < prefix + "\U0010ffff")


class SQLStorage:
    """Key/value records and the lease index in one SQL database."""

    def __init__(self, url: str, *, pool_size: int = 16):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _make_sqlite_files_private(make_url(url).database or "")
        # Two pools: readers run in autocommit (each statement sees a consistent
        # snapshot, no transaction held open), writers in explicit transactions.
        self.engine = self._create_engine(url, pool_size, writer=True)
        self._read_engine = self._create_engine(url, pool_size, writer=False)
        # SQLite has one writer at a time. Queue this process's writers on a lock
        # instead of letting them spin in SQLite's busy handler (which sleeps in
        # growing steps and wrecks throughput); other processes still wait in
        # busy_timeout.
        self._write_lock = _SQLiteWriteLock(url) if self.is_sqlite else contextlib.nullcontext()
        self._fast_readers = _ThreadReaders(self._read_engine) if self.is_sqlite else None
        # SQLite: this process's one writing connection, for the hot writes (writers
        # are serialised by the lock above anyway).
        self._sqlite_writer = _SQLiteWriter(self.engine) if self.is_sqlite else None
        # SQLite: concurrent lease inserts (one per issuance) share a commit.
        self._lease_inserts = _GroupCommit(self._raw_transaction) if self.is_sqlite else None
        # Per thread: the version snapshots of the requests it is serving (see request_scope).
        self._scopes = threading.local()
        self._upsert_returns = not self.is_sqlite or sqlite3.sqlite_version_info >= (3, 35)
        self._create_schema()

    def _create_schema(self) -> None:
        """Create the tables once, even when several workers start at the same moment
        (``create_all`` checks, then creates: two processes can both decide to create)."""
        if self.is_sqlite:
            with self._write_lock, self.engine.begin() as connection:
                metadata.create_all(connection)
                _add_lease_indexes(connection)
            return
        with self.engine.begin() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_ID})")
            metadata.create_all(connection)
            _add_lease_indexes(connection)

    def _create_engine(self, url: str, pool_size: int, *, writer: bool) -> Engine:
        if not self.is_sqlite:
            options = {} if writer else {"isolation_level": "AUTOCOMMIT"}
            return create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **options
            )
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection, _record):
            # Autocommit at the driver level: pysqlite's implicit BEGIN is DEFERRED,
            # which turns read-then-write races into immediate "database is locked".
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            if writer:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        if not writer:
            # Nothing to commit or roll back on a reader: skip the driver calls.
            @event.listens_for(engine, "reset")
            def _reset(_dbapi_connection, _record, _state):
                return None

        return engine

    def close(self) -> None:
        if self._fast_readers is not None:
            self._fast_readers.close()
        if self._sqlite_writer is not None:
            self._sqlite_writer.close()
        if isinstance(self._write_lock, _SQLiteWriteLock):
            self._write_lock.close()
        self.engine.dispose()
        self._read_engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        self._forget_snapshots()
        with self._write_lock, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _raw_transaction(self) -> Iterator[_RawTransaction]:
        """A write transaction on the driver's own connection, for the per-request
        writes: SQLAlchemy's Connection, events and result objects cost several times
        what SQLite takes to run these statements. PostgreSQL gets a pooled connection
        (pre-pinged, as every checkout) and psycopg's own cursor."""
        self._forget_snapshots()
        if self._sqlite_writer is not None:
            with self._write_lock:
                connection = self._sqlite_writer.connection()
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield _RawTransaction(connection.execute, to_driver=None)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            return
        pooled = self.engine.raw_connection()
        try:
            with pooled.cursor() as cursor:
                yield _RawTransaction(cursor.execute, to_driver=_pyformat)
            pooled.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                pooled.rollback()
            raise
        finally:
            pooled.close()

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        with self._read_engine.connect() as connection:
            yield connection

    # -- request-scoped record versions --------------------------------------
    #
    # Every request checks the versions of the same few records (seal mark, mount
    # tables, audit table, quotas) to validate its caches. ``request_scope`` reads
    # them in one query when the request starts and answers ``versions`` from that
    # snapshot until it ends: the request sees those records as they were when it
    # began, as if it had run a moment earlier. Any write by the same thread drops
    # the snapshot, so a request always sees its own writes.

    @contextmanager
    def request_scope(self, keys: Sequence[str]) -> Iterator[None]:
        stack = getattr(self._scopes, "stack", None)
        if stack is None:
            stack = self._scopes.stack = []
        found = self._fetch_versions(keys)
        stack.append({key: found.get(key) for key in keys})
        try:
            yield
        finally:
            stack.pop()

    def _forget_snapshots(self) -> None:
        for snapshot in getattr(self._scopes, "stack", ()):
            snapshot.clear()

    # -- key/value records -------------------------------------------------
    #
    # The per-request statements are plain SQL run through the driver: building
    # and compiling SQLAlchemy expressions costs more than executing them, and
    # these few statements are the same text on SQLite and PostgreSQL.

    def _sql(self, text: str) -> str:
        """``:name`` placeholders (SQLite's named style) → psycopg's ``%(name)s``."""
        if self.is_sqlite:
            return text
        return _pyformat(text)

    def _query(self, sql: str, params: dict) -> list[tuple]:
        """A read on the hot path. SQLite: the calling thread's own driver connection
        (checking a connection out of SQLAlchemy's pool costs more than the query).
        PostgreSQL: a pooled driver connection, without SQLAlchemy's result layer."""
        if self._fast_readers is not None:
            return self._fast_readers.connection().execute(sql, params).fetchall()
        pooled = self._read_engine.raw_connection()
        try:
            with pooled.cursor() as cursor:
                cursor.execute(_pyformat(sql), params)
                return [tuple(row) for row in cursor.fetchall()]
        finally:
            pooled.close()

    def get(self, key: str) -> tuple[bytes, int] | None:
        rows = self._query("SELECT value, version FROM vault_kv WHERE key = :key", {"key": key})
        return (bytes(rows[0][0]), rows[0][1]) if rows else None

    def versions(self, keys: Sequence[str]) -> dict[str, int]:
        """Current record versions of several keys in one query (cache validation);
        inside a request scope, the scope's snapshot answers for the keys it holds."""
        stack = getattr(self._scopes, "stack", None)
        if stack:
            snapshot = stack[-1]
            if all(key in snapshot for key in keys):
                return {key: snapshot[key] for key in keys if snapshot[key] is not None}
        return self._fetch_versions(keys)

    def _fetch_versions(self, keys: Sequence[str]) -> dict[str, int]:
        names = {f"k{i}": key for i, key in enumerate(keys)}
        placeholders = ", ".join(f":{name}" for name in names)
        rows = self._query(f"SELECT key, version FROM vault_kv WHERE key IN ({placeholders})", names)
        return {row[0]: row[1] for row in rows}

    # One statement per record write: insert, or bump the version of the row that is
    # there (SQLite >= 3.24 and PostgreSQL both have this upsert; RETURNING needs 3.35).
    _UPSERT = (
        "INSERT INTO vault_kv (key, value, version) VALUES (:key, :value, 1)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = vault_kv.version + 1"
    )

    def put(self, key: str, value: bytes, *, connection: Connection | None = None) -> int:
        """Insert or replace a record; returns its new version."""
        if connection is not None:
            current = self._current_version(connection, key)
            self._write(connection, key, value, current)
            return 1 if current is None else current + 1
        with self._raw_transaction() as tx:
            if self._upsert_returns:
                return tx.execute(
                    self._UPSERT + " RETURNING version", {"key": key, "value": value}
                ).fetchone()[0]
            tx.execute(self._UPSERT, {"key": key, "value": value})
            return tx.execute("SELECT version FROM vault_kv WHERE key = :key", {"key": key}).fetchone()[0]

    def _current_version(self, conn: Connection, key: str) -> int | None:
        row = conn.exec_driver_sql(
            self._sql("SELECT version FROM vault_kv WHERE key = :key"), {"key": key}
        ).first()
        return row[0] if row else None

    def _write(self, conn: Connection, key: str, value: bytes, current: int | None) -> None:
        params = {"key": key, "value": value, "version": 1 if current is None else current + 1}
        if current is None:
            sql = "INSERT INTO vault_kv (key, value, version) VALUES (:key, :value, :version)"
        else:
            sql = "UPDATE vault_kv SET value = :value, version = :version WHERE key = :key"
        conn.exec_driver_sql(self._sql(sql), params)

    def write_batch(self, records: dict[str, bytes], leases: Sequence[dict] = ()) -> None:
        """Several records (and lease rows) in one transaction: all or nothing."""
        with self._raw_transaction() as tx:
            for key, value in records.items():
                tx.execute(self._UPSERT, {"key": key, "value": value})
            for row in leases:
                tx.execute(*_lease_insert_statement(row))

    def put_if_version(self, key: str, value: bytes, expected_version: int | None) -> bool:
        """Compare-and-set: write only if the record is still at ``expected_version``
        (``None`` = must not exist). One statement, so the check and the write are atomic
        on both databases (PostgreSQL re-checks the WHERE clause after the row lock)."""
        with self._raw_transaction() as tx:
            if expected_version is None:
                sql = (
                    "INSERT INTO vault_kv (key, value, version) VALUES (:key, :value, 1)"
                    " ON CONFLICT (key) DO NOTHING"
                )
                params = {"key": key, "value": value}
            else:
                sql = (
                    "UPDATE vault_kv SET value = :value, version = version + 1"
                    " WHERE key = :key AND version = :expected"
                )
                params = {"key": key, "value": value, "expected": expected_version}
            return tx.execute(sql, params).rowcount == 1

    def insert_new(self, records: dict[str, bytes]) -> bool:
        """Insert every record in one transaction, or none if any of them exists already."""
        with self.transaction() as conn:
            if any(self._current_version(conn, key) is not None for key in records):
                return False
            for key, value in records.items():
                self._write(conn, key, value, None)
        return True

    def delete(self, key: str, *, connection: Connection | None = None) -> bool:
        if connection is not None:
            result = connection.exec_driver_sql(
                self._sql("DELETE FROM vault_kv WHERE key = :key"), {"key": key}
            )
            return result.rowcount > 0
        with self._raw_transaction() as tx:
            return tx.execute("DELETE FROM vault_kv WHERE key = :key", {"key": key}).rowcount > 0

    def delete_prefix(self, prefix: str) -> int:
        with self.transaction() as conn:
            return conn.execute(delete(kv_table).where(_prefix_range(kv_table.c.key, prefix))).rowcount

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (recursive), sorted."""
        with self._reader() as connection:
            rows = connection.execute(
                select(kv_table.c.key).where(_prefix_range(kv_table.c.key, prefix)).order_by(kv_table.c.key)
            ).all()
        return [row.key for row in rows]

    def list(self, prefix: str) -> list[str]:
        """Vault's one-level listing: children of ``prefix``, folders as ``name/``."""
        return one_level(prefix, self.keys(prefix))

    # -- rate-limit quota counters ------------------------------------------

    def quota_hit(
        self, key: str, *, window: int, now: float, rate: float, block_seconds: float
    ) -> tuple[int, bool, float]:
        """Count one request in ``key``'s window: (hits in the window, allowed, blocked until)."""
        params = {
            "key": key,
            "window": window,
            "now": now,
            "rate": rate,
            "first_allowed": 1 if rate >= 1 else 0,
            "block": block_seconds,
            "blocked_until": now + block_seconds,
        }
        with self.transaction() as conn:
            hits, allowed, blocked_until = conn.exec_driver_sql(self._sql(_QUOTA_HIT_SQL), params).one()
        return int(hits), bool(allowed), float(blocked_until)

    def quota_forget(self, prefix: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                delete(quota_counter_table).where(_prefix_range(quota_counter_table.c.counter_key, prefix))
            )

    # -- lease index -------------------------------------------------------

    def lease_insert(self, row: dict, *, connection: Connection | None = None) -> None:
        sql, values = _lease_insert_statement(row)
        if connection is not None:
            connection.exec_driver_sql(self._sql(sql), values)
            return
        if self._lease_inserts is not None:
            self._forget_snapshots()
            self._lease_inserts.run(sql, values)
            return
        with self._raw_transaction() as tx:
            tx.execute(sql, values)

    def lease_get(self, lease_id: str) -> LeaseRow | None:
        with self._reader() as connection:
            row = connection.execute(_select_rows().where(lease_table.c.lease_id == lease_id)).first()
        return LeaseRow(*row) if row else None

    def lease_update(self, lease_id: str, expected_version: int | None = None, **values) -> bool:
        """Update a lease row; with ``expected_version`` only if nobody changed it since."""
        sql = _lease_update_sql(tuple(values), expected_version is not None)
        params = {**values, "where_lease_id": lease_id, "where_version": expected_version}
        with self._raw_transaction() as tx:
            return tx.execute(sql, params).rowcount > 0

    def lease_delete(self, lease_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute(delete(lease_table).where(lease_table.c.lease_id == lease_id)).rowcount > 0

    def lease_ids(
        self, prefix: str = "", *, irrevocable: bool | None = None, limit: int | None = None
    ) -> list[str]:
        query = select(lease_table.c.lease_id).where(_prefix_range(lease_table.c.lease_id, prefix))
        if irrevocable is not None:
            query = query.where(lease_table.c.irrevocable == (true() if irrevocable else false()))
        query = query.order_by(lease_table.c.lease_id)
        if limit is not None:
            query = query.limit(limit)
        with self._reader() as connection:
            return [row.lease_id for row in connection.execute(query)]

    def lease_rows(
        self, lease_ids: Sequence[str], *, claimable_by: tuple[str, float] | None = None
    ) -> list[LeaseRow]:
        """Rows of these leases; with ``claimable_by=(owner, owner_timeout)`` only those
        no other live owner holds."""
        rows: list[LeaseRow] = []
        with self._reader() as connection:
            for start in range(0, len(lease_ids), CHUNK):
                chunk = list(lease_ids[start : start + CHUNK])
                query = _select_rows().where(lease_table.c.lease_id.in_(chunk))
                if claimable_by is not None:
                    query = query.where(self._claimable(self.clock(), *claimable_by))
                rows += [LeaseRow(*row) for row in connection.execute(query)]
        return rows

    def lease_count(self, prefix: str = "", *, irrevocable: bool | None = None) -> int:
        query = (
            select(func.count()).select_from(lease_table).where(_prefix_range(lease_table.c.lease_id, prefix))
        )
        if irrevocable is not None:
            query = query.where(lease_table.c.irrevocable == (true() if irrevocable else false()))
        with self._reader() as connection:
            return connection.execute(query).scalar_one()

    def lease_counts_by_mount(self, *, irrevocable: bool | None = None) -> dict[str, int]:
        query = select(lease_table.c.mount_uuid, func.count()).group_by(lease_table.c.mount_uuid)
        if irrevocable is not None:
            query = query.where(lease_table.c.irrevocable == (true() if irrevocable else false()))
        with self._reader() as connection:
            return {row[0]: row[1] for row in connection.execute(query)}

    def lease_due_count(self) -> int:
        """Leases due now: expired, or queued for revocation (the sweepers' backlog)."""
        query = select(func.count()).select_from(lease_table).where(lease_table.c.due_at <= self.clock())
        with self._reader() as connection:
            return connection.execute(query).scalar_one()

    def lease_ids_for_token(self, token_hash: str) -> list[str]:
        with self._reader() as connection:
            rows = connection.execute(
                select(lease_table.c.lease_id).where(lease_table.c.token_hash == token_hash)
            )
            return [row.lease_id for row in rows]

    def lease_ids_for_tokens(self, token_hashes: Sequence[str]) -> list[str]:
        """The leases issued under any of these tokens (their own token leases aside)."""
        found: list[str] = []
        for start in range(0, len(token_hashes), CHUNK):
            chunk = list(token_hashes[start : start + CHUNK])
            names = {f"t{i}": token_hash for i, token_hash in enumerate(chunk)}
            placeholders = ", ".join(f":{name}" for name in names)
            sql = f"SELECT lease_id FROM vault_leases WHERE token_hash IN ({placeholders})"
            found += [row[0] for row in self._query(sql, names)]
        return found

    # Bulk token revocation (core/tokens.py revoke_trees): plain statements, run many
    # times per transaction, so a batch of tokens costs a few statements, not several
    # transactions per token.

    def keys_under(self, prefixes: Sequence[str]) -> dict[str, list[str]]:
        """Every key under each prefix (recursive, sorted), one indexed range read each."""
        sql = "SELECT key FROM vault_kv WHERE key >= :low AND key < :high ORDER BY key"
        return {
            prefix: [row[0] for row in self._query(sql, {"low": prefix, "high": prefix + "\U0010ffff"})]
            for prefix in prefixes
        }

    def delete_many(
        self, keys: Sequence[str], *, prefixes: Sequence[str] = (), lease_ids: Sequence[str] = ()
    ) -> None:
        """Delete records, every record under some prefixes, and lease rows: one transaction."""
        with self.transaction() as conn:
            if keys:
                conn.exec_driver_sql(
                    self._sql("DELETE FROM vault_kv WHERE key = :key"), [{"key": key} for key in keys]
                )
            if prefixes:
                conn.exec_driver_sql(
                    self._sql("DELETE FROM vault_kv WHERE key >= :low AND key < :high"),
                    [{"low": prefix, "high": prefix + "\U0010ffff"} for prefix in prefixes],
                )
            if lease_ids:
                conn.exec_driver_sql(
                    self._sql("DELETE FROM vault_leases WHERE lease_id = :lease_id"),
                    [{"lease_id": lease_id} for lease_id in lease_ids],
                )

    def lease_ids_for_mount(self, mount_uuid: str) -> list[str]:
        with self._reader() as connection:
            rows = connection.execute(
                select(lease_table.c.lease_id).where(lease_table.c.mount_uuid == mount_uuid)
            )
            return [row.lease_id for row in rows]

    # -- claims and their owners -------------------------------------------
    #
    # A claim (claim_owner, claim_until) is respected only while its owner is alive:
    # a row in vault_owners with a heartbeat younger than ``owner_timeout``. A dead
    # owner's claims can be taken at once, however long their claim_until runs;
    # claim_until still bounds a live owner that hangs.

    def clock(self):
        """ "Now" as a SQL expression: PostgreSQL's own clock (shared by every node);
        on SQLite, which one host serves, this process's clock."""
        if self.is_sqlite:
            return literal(time.time())
        return func.extract("epoch", func.clock_timestamp())

    def database_time(self) -> float:
        with self._reader() as connection:
            return float(connection.execute(select(self.clock())).scalar_one())

    def _claimable(self, now, owner: str, owner_timeout: float):
        """``owner`` is the claimant ("<owner id>:<who>"): its own claims are claimable again."""
        live_owner = exists(
            select(owner_table.c.owner_id)
            .where(owner_table.c.owner_id == func.substr(lease_table.c.claim_owner, 1, OWNER_ID_LENGTH))
            .where(owner_table.c.heartbeat_at >= now - owner_timeout)
        )
        return or_(
            lease_table.c.claim_owner.is_(None),
            lease_table.c.claim_owner == owner,
            lease_table.c.claim_until < now,
            ~live_owner,
        )

    def due_lease_ids(self, limit: int, *, owner: str, owner_timeout: float) -> list[str]:
        """Leases whose ``due_at`` has passed and that no live owner holds a claim on."""
        now = self.clock()
        query = (
            select(lease_table.c.lease_id)
            .where(lease_table.c.due_at <= now)
            .where(self._claimable(now, owner, owner_timeout))
            .order_by(lease_table.c.due_at)
            .limit(limit)
        )
        with self._reader() as connection:
            return [row.lease_id for row in connection.execute(query)]

    def claim_lease(self, lease_id: str, owner: str, hold_seconds: float, owner_timeout: float) -> bool:
        """Atomically take the revocation claim on a lease; False if a live owner holds it.

        The conditional UPDATE is the whole protocol: SQLite serialises writers and
        PostgreSQL re-checks the WHERE clause after the row lock, so at most one
        claimant sees rowcount 1 while a claim is live.
        """
        return self.claim_leases([lease_id], owner, hold_seconds, owner_timeout) == 1

    def claim_leases(
        self,
        lease_ids: Sequence[str],
        owner: str,
        hold_seconds: float,
        owner_timeout: float,
        *,
        due_now: bool = False,
    ) -> int:
        """Claim several leases in one statement per chunk (those a live owner holds are
        left alone); with ``due_now`` they are also queued for revocation, so that if this
        owner dies the sweepers finish the job at once. A lease whose revocation already
        failed keeps its retry time: revoking it by hand must not make the sweeper retry
        (and count attempts) sooner than its backoff says. Returns how many were claimed."""
        claimed = 0
        for start in range(0, len(lease_ids), CHUNK):
            chunk = list(lease_ids[start : start + CHUNK])
            now = self.clock()
            values = {"claim_owner": owner, "claim_until": now + hold_seconds}
            if due_now:
                values["due_at"] = case((lease_table.c.attempts == 0, now), else_=lease_table.c.due_at)
            with self.transaction() as conn:
                result = conn.execute(
                    update(lease_table)
                    .where(lease_table.c.lease_id.in_(chunk))
                    .where(self._claimable(now, owner, owner_timeout))
                    .values(version=lease_table.c.version + 1, **values)
                )
            claimed += result.rowcount
        return claimed

    def claimed_lease_rows(self, lease_ids: Sequence[str], owner: str) -> list[LeaseRow]:
        """The rows among ``lease_ids`` that ``owner`` holds the claim on (after claim_leases)."""
        rows: list[LeaseRow] = []
        with self._reader() as connection:
            for start in range(0, len(lease_ids), CHUNK):
                query = (
                    _select_rows()
                    .where(lease_table.c.lease_id.in_(list(lease_ids[start : start + CHUNK])))
                    .where(lease_table.c.claim_owner == owner)
                )
                rows += [LeaseRow(*row) for row in connection.execute(query)]
        return rows

    def claimable_lease_rows(
        self, prefix: str, *, after: str, limit: int, owner: str, owner_timeout: float
    ) -> list[LeaseRow]:
        """The next ``limit`` leases under ``prefix`` (in id order, after ``after``)
        that no live owner holds: a revoke-prefix walks its range with this cursor."""
        now = self.clock()
        query = _select_rows().where(_prefix_range(lease_table.c.lease_id, prefix))
        if after:
            query = query.where(lease_table.c.lease_id > after)
        query = query.where(self._claimable(now, owner, owner_timeout))
        with self._reader() as connection:
            return [
                LeaseRow(*row)
                for row in connection.execute(query.order_by(lease_table.c.lease_id).limit(limit))
            ]

    def due_lease_rows(
        self, limit: int, *, owner: str, owner_timeout: float, newest_first: bool = False
    ) -> list[LeaseRow]:
        """Due leases no live owner holds. Sweepers of different processes pick their
        end of the backlog at random, so that they seldom work on the same batch."""
        now = self.clock()
        order = lease_table.c.due_at.desc() if newest_first else lease_table.c.due_at
        query = (
            _select_rows()
            .where(lease_table.c.due_at <= now)
            .where(self._claimable(now, owner, owner_timeout))
            .order_by(order)
            .limit(limit)
        )
        with self._reader() as connection:
            return [LeaseRow(*row) for row in connection.execute(query)]

    def delete_unclaimed_leases(self, lease_ids: Sequence[str], owner: str, owner_timeout: float) -> set[str]:
        """Delete leases unless a live owner (other than ``owner``) holds them: the bulk
        path for leases whose revocation calls nothing outside (it is idempotent, so a
        claim would only cost a write). Returns the ids this call deleted: of two
        processes that revoked the same lease, exactly one deletes it."""
        deleted: set[str] = set()
        for start in range(0, len(lease_ids), CHUNK):
            now = self.clock()
            with self.transaction() as conn:
                result = conn.execute(
                    delete(lease_table)
                    .where(lease_table.c.lease_id.in_(list(lease_ids[start : start + CHUNK])))
                    .where(self._claimable(now, owner, owner_timeout))
                    .returning(lease_table.c.lease_id)
                )
                deleted.update(row[0] for row in result)
        return deleted

    def queue_leases(self, lease_ids: Sequence[str]) -> None:
        """Make leases due now (database clock): the sweepers revoke them next. Leases
        whose revocation already failed keep their backoff (see claim_leases)."""
        for start in range(0, len(lease_ids), CHUNK):
            with self.transaction() as conn:
                conn.execute(
                    update(lease_table)
                    .where(lease_table.c.lease_id.in_(list(lease_ids[start : start + CHUNK])))
                    .where(lease_table.c.attempts == 0)
                    .values(due_at=self.clock(), version=lease_table.c.version + 1)
                )

    def queue_lease_prefix(self, prefix: str, *, page: int = CHUNK) -> int:
        """Queue every lease under ``prefix`` (as queue_leases), one short write
        transaction per ``page`` ids so other writers are never held up for long;
        returns how many leases the prefix holds."""
        total, after = 0, ""
        while True:
            query = select(lease_table.c.lease_id).where(_prefix_range(lease_table.c.lease_id, prefix))
            if after:
                query = query.where(lease_table.c.lease_id > after)
            with self._reader() as connection:
                ids = [
                    row.lease_id
                    for row in connection.execute(query.order_by(lease_table.c.lease_id).limit(page))
                ]
            if not ids:
                return total
            now = self.clock()
            with self.transaction() as conn:
                # By id (the primary key): given a range and "due_at > now", SQLite
                # would walk the due_at index instead, which holds every lease.
                conn.execute(
                    update(lease_table)
                    .where(lease_table.c.lease_id.in_(ids))
                    .where(lease_table.c.attempts == 0)
                    .where(or_(lease_table.c.due_at.is_(None), lease_table.c.due_at > now))
                    .values(due_at=now, version=lease_table.c.version + 1)
                )
            total += len(ids)
            after = ids[-1]

    def delete_claimed_leases(self, lease_ids: Sequence[str], owner: str) -> int:
        """Delete the revoked leases of a batch that ``owner`` still holds, one statement per chunk."""
        deleted = 0
        for start in range(0, len(lease_ids), CHUNK):
            with self.transaction() as conn:
                deleted += conn.execute(
                    delete(lease_table)
                    .where(lease_table.c.lease_id.in_(list(lease_ids[start : start + CHUNK])))
                    .where(lease_table.c.claim_owner == owner)
                ).rowcount
        return deleted

    def release_claim(self, lease_id: str, owner: str, *, retry_in: float | None = None, **values) -> bool:
        """Give a claim back; ``retry_in`` seconds from now (database clock) it is due again."""
        if retry_in is not None:
            values["due_at"] = self.clock() + retry_in
        with self.transaction() as conn:
            result = conn.execute(
                update(lease_table)
                .where(lease_table.c.lease_id == lease_id)
                .where(lease_table.c.claim_owner == owner)
                .values(claim_owner=None, claim_until=None, version=lease_table.c.version + 1, **values)
            )
        return result.rowcount == 1

    def delete_claimed_lease(self, lease_id: str, owner: str) -> bool:
        with self.transaction() as conn:
            result = conn.execute(
                delete(lease_table)
                .where(lease_table.c.lease_id == lease_id)
                .where(lease_table.c.claim_owner == owner)
            )
        return result.rowcount == 1

    def owner_heartbeat(self, owner: str, host: str, pid: int, process_start: str) -> None:
        """Register ``owner`` or renew its heartbeat (database clock)."""
        now = self.clock()
        with self.transaction() as conn:
            renewed = conn.execute(
                update(owner_table).where(owner_table.c.owner_id == owner).values(heartbeat_at=now)
            ).rowcount
            if not renewed:
                conn.execute(
                    owner_table.insert().values(
                        owner_id=owner, host=host, pid=pid, process_start=process_start, heartbeat_at=now
                    )
                )

    def owner_alive(self, owner: str, owner_timeout: float) -> bool:
        """Whether this owner id is registered with a heartbeat younger than ``owner_timeout``."""
        now = self.clock()
        query = (
            select(owner_table.c.owner_id)
            .where(owner_table.c.owner_id == owner)
            .where(owner_table.c.heartbeat_at >= now - owner_timeout)
        )
        with self._reader() as connection:
            return connection.execute(query).first() is not None

    def owners_on_host(self, host: str) -> list[tuple[str, int, str]]:
        """(owner id, pid, process start) of every registered owner on ``host``."""
        with self._reader() as connection:
            rows = connection.execute(
                select(owner_table.c.owner_id, owner_table.c.pid, owner_table.c.process_start).where(
                    owner_table.c.host == host
                )
            )
            return [(row.owner_id, row.pid, row.process_start) for row in rows]

    def forget_owners(self, owners: Sequence[str]) -> None:
        """Drop owner rows (dead processes, or this one shutting down): their claims lapse."""
        if owners:
            with self.transaction() as conn:
                conn.execute(delete(owner_table).where(owner_table.c.owner_id.in_(list(owners))))

    def forget_stale_owners(self, older_than: float) -> None:
        """Housekeeping: rows of owners silent for ``older_than`` seconds."""
        now = self.clock()
        with self.transaction() as conn:
            conn.execute(delete(owner_table).where(owner_table.c.heartbeat_at < now - older_than))


def _add_lease_indexes(connection: Connection) -> None:
    """Lease indexes added since the table was first created (create_all only makes
    the indexes of tables it creates)."""
    for index in lease_table.indexes:
        index.create(connection, checkfirst=True)


_LEASE_COLUMNS = frozenset(column.name for column in lease_table.columns)


def _lease_insert_statement(row: dict) -> tuple[str, dict]:
    values = {"version": 1, "attempts": 0, "irrevocable": False, **row}
    return _lease_insert_sql(tuple(values)), values


@functools.lru_cache(maxsize=64)
def _lease_insert_sql(columns: tuple[str, ...]) -> str:
    unknown = set(columns) - _LEASE_COLUMNS
    if unknown:  # names go into the SQL text: only the table's own columns may
        raise ValueError(f"unknown lease columns: {sorted(unknown)}")
    placeholders = ", ".join(f":{name}" for name in columns)
    return f"INSERT INTO vault_leases ({', '.join(columns)}) VALUES ({placeholders})"


@functools.lru_cache(maxsize=64)
def _lease_update_sql(columns: tuple[str, ...], check_version: bool) -> str:
    unknown = set(columns) - _LEASE_COLUMNS
    if unknown:
        raise ValueError(f"unknown lease columns: {sorted(unknown)}")
    assignments = "".join(f", {name} = :{name}" for name in columns)
    sql = f"UPDATE vault_leases SET version = version + 1{assignments} WHERE lease_id = :where_lease_id"
    return sql + (" AND version = :where_version" if check_version else "")


@functools.lru_cache(maxsize=256)
def _pyformat(text: str) -> str:
    """``:name`` placeholders (SQLite's named style) → psycopg's ``%(name)s``, once per statement text."""
    return re.sub(r":(\w+)", r"%(\1)s", text)


class _RawTransaction:
    """What the hot writes need of a driver transaction: ``execute`` returning a cursor."""

    __slots__ = ("_execute", "_to_driver")

    def __init__(self, execute, to_driver):
        self._execute = execute
        self._to_driver = to_driver

    def execute(self, sql: str, params: dict):
        """A cursor with the statement's ``rowcount`` and rows (sqlite3's execute makes a
        new cursor, psycopg's returns the one it ran on)."""
        if self._to_driver is not None:
            sql = self._to_driver(sql)
        return self._execute(sql, params)


SQLITE_FILE_MODE = 0o600
_SQLITE_SIBLINGS = ("", "-wal", "-shm", "-journal", ".writelock")


def _make_sqlite_files_private(database: str) -> None:
    """The database file and its siblings readable by the server's user only (0600,
    like the seal file). Values are encrypted, but the files still reveal keys, lease
    ids and timing. SQLite gives -wal/-shm the database file's own mode, so creating
    that file first with 0600 covers them; files an older version left 0644 are
    tightened."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    os.close(os.open(database, os.O_RDWR | os.O_CREAT, SQLITE_FILE_MODE))
    for suffix in _SQLITE_SIBLINGS:
        try:
            os.chmod(database + suffix, SQLITE_FILE_MODE)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("cannot make %s private (mode 0600): not its owner", database + suffix)


class _SQLiteWriteLock:
    """Serialises writers to one SQLite file: threads on a mutex, processes on ``flock``.

    SQLite's own busy handler makes a waiting writer sleep in growing steps (up to
    100 ms) and poll, so two busy worker processes hand the lock over slowly and
    unfairly; a kernel lock on a sidecar file wakes the next writer at once.
    """

    def __init__(self, url: str):
        self._threads = threading.Lock()
        database = url.split("///", 1)[-1]
        self._path = f"{database}.writelock" if database and database != ":memory:" else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._path is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class _ThreadReaders:
    """One autocommit SQLite connection per thread, for the per-request reads.

    Reads in WAL mode never block on writers, and an autocommit statement sees a
    consistent snapshot; the connections come from the reader engine's own
    settings (busy timeout, WAL).
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()

    def connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            pooled = self._engine.raw_connection()
            pooled.detach()  # this thread keeps it; the pool forgets it
            connection = pooled.dbapi_connection
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                with contextlib.suppress(Exception):
                    connection.close()
            self._all.clear()


class _GroupCommit:
    """Single-statement writes of concurrent threads committed in one transaction.

    Under load most of an SQLite insert's cost is its transaction: the write lock, the
    WAL frames of every page it touched (the table's and each index's leaf) and the
    checkpoints they bring. The first caller leads: once it holds the write lock it
    takes every queued statement, its own among them, and commits them together;
    callers arriving meanwhile queue, and when it is done the first of them leads the
    next batch. Every caller returns only once its own statement is committed (or
    raises its own error), as with a transaction per call. When a batch fails, each of
    its statements is retried alone, so one bad statement fails only its own caller.
    """

    def __init__(self, transaction):
        self._transaction = transaction  # the storage's _raw_transaction
        self._lock = threading.Lock()
        self._queue: list[_QueuedWrite] = []
        self._busy = False

    def run(self, sql: str, params: dict) -> None:
        write = _QueuedWrite(sql, params)
        with self._lock:
            self._queue.append(write)
            leads = not self._busy
            self._busy = True
        if not leads:
            write.turn.wait()  # committed by a leader, or made the next leader
        if not write.done:
            self._lead()
        if write.error is not None:
            raise write.error

    def _take(self) -> list[_QueuedWrite]:
        with self._lock:
            batch, self._queue = self._queue, []
        return batch

    def _lead(self) -> None:
        batch: list[_QueuedWrite] = []
        try:
            with self._transaction() as tx:
                batch = self._take()  # all that queued while the lock was awaited
                for write in batch:
                    tx.execute(write.sql, write.params)
        except BaseException as error:  # noqa: BLE001 - each caller re-raises its own
            batch = batch or self._take()
            self._one_by_one(batch, error)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._busy = successor is not None
            for write in batch:
                write.done = True
                write.turn.set()
            if successor is not None:
                successor.turn.set()

    def _one_by_one(self, batch: list[_QueuedWrite], error: BaseException) -> None:
        if len(batch) == 1:
            batch[0].error = error
            return
        for write in batch:
            try:
                with self._transaction() as tx:
                    tx.execute(write.sql, write.params)
            except BaseException as own:  # noqa: BLE001 - handed to its own caller
                write.error = own


class _QueuedWrite:
    __slots__ = ("sql", "params", "turn", "done", "error")

    def __init__(self, sql: str, params: dict):
        self.sql = sql
        self.params = params
        self.turn = threading.Event()
        self.done = False
        self.error: BaseException | None = None


class _SQLiteWriter:
    """The process's writing SQLite connection, made from the writer engine's settings
    (WAL, busy timeout, driver-level autocommit: transactions are begun explicitly).
    Used only under the write lock, so one connection serves every thread."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._connection = None
        self._lock = threading.Lock()

    def connection(self):
        if self._connection is None:
            with self._lock:
                if self._connection is None:
                    pooled = self._engine.raw_connection()
                    pooled.detach()
                    # SQLAlchemy opens file databases with check_same_thread=False.
                    self._connection = pooled.dbapi_connection
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    self._connection.close()
                self._connection = None


def one_level(prefix: str, keys: Sequence[str]) -> list[str]:
    """Collapse recursive keys under ``prefix`` into Vault's one-level list."""
    children: dict[str, None] = {}
    for key in keys:
        rest = key[len(prefix) :]
        if not rest:
            continue
        slash = rest.find("/")
        children[rest if slash < 0 else rest[: slash + 1]] = None
    return list(children)
