"""The core's hot paths keep their contracts: storage versions and compare-and-set on
SQLite and PostgreSQL through the driver-level statements, the per-request version
snapshot, validation done once (and its quick checks never more lenient than the JSON
Schema), mount entries rebuilt when another worker changes them, audit hashing that
gives the same entries, and token ids drawn from the whole alphabet."""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest
from jsonschema import Draft202012Validator

from vaultlet.core.audit.entry import Hasher, request_entry, response_entry
from vaultlet.core.core import Core, CoreConfig
from vaultlet.core.tokens import TokenEntry, random_base62
from vaultlet.framework import fields as types
from vaultlet.framework.fields import Field
from vaultlet.framework.request import READ, UPDATE, Request, Response
from vaultlet.framework.schema import InputValidator, _accepts
from vaultlet.storage.sql import SQLStorage

# -- storage: versions, upserts, compare-and-set ---------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/hot.db"
    else:
        url = request.getfixturevalue("postgres").new_database()
    store = SQLStorage(url)
    yield store
    store.close()


def test_put_counts_versions_and_cas_checks_them(storage):
    assert storage.put("a", b"1") == 1
    assert storage.put("a", b"2") == 2
    assert storage.get("a") == (b"2", 2)
    assert not storage.put_if_version("a", b"x", None)  # exists already
    assert not storage.put_if_version("a", b"x", 1)  # stale
    assert storage.get("a") == (b"2", 2)
    assert storage.put_if_version("a", b"3", 2)
    assert storage.get("a") == (b"3", 3)
    assert storage.put_if_version("b", b"new", None)
    assert storage.get("b") == (b"new", 1)
    assert storage.delete("a") and not storage.delete("a")
    assert storage.versions(["a", "b"]) == {"b": 1}


def test_write_batch_is_one_transaction_with_its_lease_rows(storage):
    storage.put("t/1", b"old")
    now = time.time()
    lease = {
        "lease_id": "auth/token/create/hx",
        "mount_uuid": "token",
        "token_hash": None,
        "issue_time": now,
        "expire_time": now + 60,
        "max_expire_time": None,
        "last_renewal": None,
        "renewable": True,
        "due_at": now + 60,
        "data": b"sealed",
    }
    storage.write_batch({"t/1": b"new", "t/2": b"two"}, [lease])
    assert storage.get("t/1") == (b"new", 2) and storage.get("t/2") == (b"two", 1)
    assert storage.lease_get("auth/token/create/hx").data == b"sealed"
    # A duplicate lease id fails the whole batch: neither record moves.
    with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's IntegrityError
        storage.write_batch({"t/1": b"newer", "t/3": b"three"}, [lease])
    assert storage.get("t/1") == (b"new", 2) and storage.get("t/3") is None


def _lease(lease_id: str, now: float) -> dict:
    return {
        "lease_id": lease_id,
        "mount_uuid": "m",
        "token_hash": None,
        "issue_time": now,
        "expire_time": now + 60,
        "max_expire_time": now + 120,
        "last_renewal": None,
        "renewable": True,
        "due_at": now + 60,
        "data": b"d",
    }


def test_lease_update_bumps_the_version_and_honours_the_expected_one(storage):
    now = time.time()
    storage.lease_insert(_lease("aws/creds/r/x", now))
    assert storage.lease_update("aws/creds/r/x", expire_time=now + 90, due_at=now + 90)
    row = storage.lease_get("aws/creds/r/x")
    assert row.version == 2 and row.expire_time == pytest.approx(now + 90)
    assert not storage.lease_update("aws/creds/r/x", expected_version=1, last_renewal=now)
    assert storage.lease_update("aws/creds/r/x", expected_version=2, last_renewal=now)
    assert not storage.lease_update("aws/creds/nope", due_at=now)
    with pytest.raises(ValueError, match="unknown lease columns"):
        storage.lease_update("aws/creds/r/x", **{"due_at = 0; --": 1})


def test_single_statement_writes_are_committed_when_they_return(storage):
    """put (upsert ... RETURNING), lease_insert and lease_update run as one statement
    each: what they wrote is visible to another worker at once, and a failed one leaves
    no transaction open behind it."""
    other = SQLStorage(storage.url)
    try:
        now = time.time()
        row = _lease("aws/creds/r/one", now)
        assert storage.put("k", b"1") == 1 and storage.put("k", b"2") == 2
        storage.lease_insert(row)
        assert other.get("k") == (b"2", 2) and other.lease_get("aws/creds/r/one").data == b"d"
        with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's IntegrityError
            storage.lease_insert(row)
        assert storage.lease_update("aws/creds/r/one", due_at=now + 5)
        assert other.lease_get("aws/creds/r/one").version == 2
        if storage.is_sqlite:
            assert not storage._sqlite_writer.connection().in_transaction
        assert other.put("k", b"3") == 3  # nobody holds the database's write lock
    finally:
        other.close()


def test_a_request_scope_reads_its_keys_once_and_sees_its_own_writes(storage, tmp_path):
    storage.put("core/mounts", b"v1")
    other = SQLStorage(storage.url)  # another worker on the same database
    try:
        with storage.request_scope(["core/mounts", "core/audit"]):
            other.put("core/mounts", b"v2")
            other.put("core/audit", b"a1")
            # The request goes on with the versions it started with ...
            assert storage.versions(["core/mounts", "core/audit"]) == {"core/mounts": 1}
            # ... keys outside the snapshot are read as they are now ...
            other.put("policy/x", b"p")
            assert storage.versions(["core/mounts", "policy/x"]) == {"core/mounts": 2, "policy/x": 1}
            # ... and a write of its own drops the snapshot.
            storage.put("cubbyhole/x", b"c")
            assert storage.versions(["core/mounts", "core/audit"]) == {"core/mounts": 2, "core/audit": 1}
        other.put("core/mounts", b"v3")
        assert storage.versions(["core/mounts"]) == {"core/mounts": 3}  # no scope: live
    finally:
        other.close()


def test_concurrent_lease_inserts_share_commits_and_each_caller_sees_its_own_outcome(tmp_path):
    """SQLite: lease inserts queued while another writer holds the lock are committed
    together. Every caller returns only once its row is visible to another process's
    connection, and a duplicate id fails only the caller that sent it."""
    storage = SQLStorage(f"sqlite:///{tmp_path}/group.db")
    other = SQLStorage(storage.url)
    commits = []
    original = storage._raw_transaction

    def counted():
        commits.append(1)
        return original()

    storage._lease_inserts._transaction = counted
    now = time.time()
    outcomes: dict[str, str] = {}

    def insert(lease_id: str) -> None:
        try:
            storage.lease_insert(_lease(lease_id, now))
        except Exception as error:  # noqa: BLE001 - the outcome is what the test compares
            outcomes[lease_id] = type(error).__name__
            return
        # Committed before returning: another connection (as another worker) sees it.
        outcomes[lease_id] = "visible" if other.lease_get(lease_id) is not None else "missing"

    def concurrently(ids: list[str]) -> None:
        with storage._write_lock:  # another write in progress: every insert queues
            threads = [threading.Thread(target=insert, args=(lease_id,)) for lease_id in ids]
            for thread in threads:
                thread.start()
            time.sleep(0.5)
        for thread in threads:
            thread.join(timeout=30)

    try:
        storage.lease_insert(_lease("aws/creds/r/taken", now))
        assert len(commits) == 1
        first = [f"aws/creds/r/a{n}" for n in range(40)]
        concurrently(first)
        assert {outcomes[i] for i in first} == {"visible"}
        assert len(commits) == 2  # the 40 queued inserts, one commit

        second = [f"aws/creds/r/b{n}" for n in range(10)] + ["aws/creds/r/taken"]
        concurrently(second)
        assert {outcomes[i] for i in second[:-1]} == {"visible"}
        assert outcomes["aws/creds/r/taken"] == "IntegrityError"
        assert len(commits) == 2 + 1 + 11  # the failed batch, then each statement alone
        assert len(other.lease_ids("aws/creds/r/")) == 51
        assert not storage._sqlite_writer.connection().in_transaction
    finally:
        other.close()
        storage.close()


# -- validation ------------------------------------------------------------------------

_SAMPLES = [
    "",
    "x",
    " 42 ",
    "-7",
    "+3",
    "1.5",
    ".5",
    "1e3",
    "10m",
    "1h30m",
    "-1s",
    "5µs",
    "true",
    "a,b",
    "k=v",
    '{"a": 1}',
    "42\n",
    0,
    1,
    -1,
    2**70,
    1.0,
    2.5,
    -0.5,
    float("inf"),
    True,
    False,
    [],
    ["a", 1, 2.5, True],
    ["a", None],
    [["nested"]],
    ["k=v"],
    {},
    {"a": "b", "n": 1, "t": True},
    {"a": None},
    {"a": {"deep": 1}},
    ("tuple",),
]
_TYPES = [
    types.STRING,
    types.LOWERCASE_STRING,
    types.INT,
    types.FLOAT,
    types.BOOL,
    types.DURATION,
    types.COMMA_STRING_SLICE,
    types.STRING_SLICE,
    types.KV_PAIRS,
    types.MAP,
    types.ANY,
]


@pytest.mark.parametrize("field_type", _TYPES, ids=lambda t: t.name)
def test_quick_checks_never_accept_what_the_schema_refuses(field_type):
    for field in (Field(type=field_type), Field(type=field_type, allowed_values=("x", 1, True, "10m"))):
        check = _accepts(field)
        assert check is not None, "every built-in type has a quick check"
        schema = Draft202012Validator(field.input_schema())
        accepted = [value for value in _SAMPLES if check(value)]
        assert accepted, "the quick check accepts something"
        for value in accepted:
            assert schema.is_valid(value), (field_type.name, value)


def test_fields_with_extra_constraints_always_go_to_the_schema():
    field = Field(type=types.STRING, constraints={"pattern": "^[a-z]+$"})
    assert _accepts(field) is None
    validator = InputValidator({"name": field})
    assert validator({"name": "abc"})[0]["name"] == "abc"
    with pytest.raises(Exception, match="expected type string"):
        validator({"name": "ABC"})


def test_a_doubtful_value_still_gets_the_schema_error():
    validator = InputValidator({"ttl": Field(type=types.DURATION), "n": Field(type=types.INT)})
    with pytest.raises(Exception, match='time: invalid duration "soon"'):
        validator({"ttl": "soon"})
    assert validator({"ttl": "1h", "n": 2.0})[0]["n"] == 2  # an integral float: the schema's call


# -- the core in process ---------------------------------------------------------------


def _call(core: Core, operation: str, path: str, data: dict | None = None, token: str = "root") -> Response:
    request = Request(operation=operation, path=path, data=dict(data or {}), client_token=token)
    request.remote_addr = "127.0.0.1"
    return core.handle(request)


@pytest.fixture()
def cores(tmp_path):
    """Two cores on one database: two worker processes of one server."""
    url = f"sqlite:///{tmp_path}/vaultlet.db"
    first = Core(CoreConfig(storage_url=url))
    root_key = first.initialize(root_token_id="root").root_key
    second = Core(CoreConfig(storage_url=url))
    assert second.barrier.unseal(root_key)
    yield first, second
    first.close()
    second.close()


def test_a_request_validates_its_data_once(cores, monkeypatch):
    core, _ = cores
    _call(core, UPDATE, "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})
    calls = []
    original = InputValidator.__call__

    def counting(self, raw):
        calls.append(sorted(raw))
        return original(self, raw)

    monkeypatch.setattr(InputValidator, "__call__", counting)
    _call(core, UPDATE, "secret/data/app", {"data": {"password": "p"}})  # has an existence check
    assert len(calls) == 1
    assert _call(core, READ, "secret/data/app").data["data"] == {"password": "p"}


def test_a_mount_tuned_by_another_worker_rebuilds_the_backend_here(cores):
    first, second = cores
    _call(first, UPDATE, "sys/mounts/kv", {"type": "kv"})
    _call(first, UPDATE, "kv/app", {"a": "1"})
    entry = first.router.match_entry("kv/app")
    backend = first.router.backend(entry)
    assert first.router.backend(first.router.match_entry("kv/app")) is backend  # nothing changed
    _call(second, UPDATE, "sys/mounts/kv/tune", {"default_lease_ttl": "1h"})
    tuned = first.router.match_entry("kv/app")
    assert tuned.default_lease_ttl == 3600
    assert first.router.backend(tuned) is not backend
    assert first.router.backend(tuned).context.mount_config["default_lease_ttl"] == 3600
    # A mount enabled by the other worker answers here at once.
    _call(second, UPDATE, "sys/mounts/other", {"type": "kv"})
    _call(first, UPDATE, "other/x", {"b": "2"})
    assert _call(second, READ, "other/x").data == {"b": "2"}


# -- audit -----------------------------------------------------------------------------


def test_a_request_scoped_hasher_writes_the_same_entries():
    salt = b"s" * 32
    request = Request(
        operation=UPDATE,
        path="kv/app",
        data={"password": "pw", "again": "pw", "nested": {"list": ["a", "pw", 1]}},
        client_token="hvs.client",
        remote_addr="127.0.0.1",
    )
    request.mount_path, request.mount_type, request.mount_class = "kv/", "kv", "secret"
    request.token = TokenEntry(hash="h", accessor="acc", policies=["default"], creation_time=1_700_000_000)
    response = Response(data={"password": "pw", "token": "hvs.client"})
    plain, scoped = Hasher(salt), Hasher(salt).for_request()
    for build in (
        lambda hasher: request_entry(request, hasher),
        lambda hasher: response_entry(request, response, None, hasher),
    ):
        ours, reference = build(scoped), build(plain)
        ours.pop("time"), reference.pop("time")
        assert json.dumps(ours) == json.dumps(reference)
    assert "pw" not in json.dumps(response_entry(request, response, None, scoped))
    assert Hasher(None).for_request()("pw") == "pw"  # log_raw stays raw


# -- tokens ----------------------------------------------------------------------------


def test_random_ids_use_the_whole_alphabet_and_nothing_else():
    drawn = "".join(random_base62(24) for _ in range(400))
    assert len(random_base62(24)) == 24
    alphabet = set(itertools.chain("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"))
    assert set(drawn) == alphabet  # 9,600 draws: every one of the 62 shows up


# -- logging: records skip what no format shows ----------------------------------------


def test_log_records_skip_the_caller_lookup_and_both_formats_still_render(monkeypatch):
    import logging

    from vaultlet import logs

    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, name, getattr(logging, name))  # restored afterwards
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    logs.configure("info", "standard")
    captured: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = captured.append
    root.addHandler(handler)
    logging.getLogger("vaultlet.http.request").info(
        "request", extra={"fields": {"method": "GET", "status": 200}}
    )
    (record,) = captured
    assert record.funcName == "(unknown function)" and record.thread is None and record.process is None
    assert (
        logs.StandardFormatter()
        .format(record)
        .endswith("[INFO]  vaultlet.http.request: request: method=GET status=200")
    )
    assert json.loads(logs.JsonFormatter().format(record))["status"] == 200
