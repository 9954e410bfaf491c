"""Live-lease scale: start-up, worker RSS, lease count/list and revoke-prefix with
100 k and 1 M leases in the database (issue 10).

The leases are written straight into a stopped production server's SQLite file
through vaultlet's own storage layer and barrier (rows exactly as
``ExpirationManager.register`` writes them for an aws ``sts/<role>`` lease), in big
transactions: going through HTTP would take hours for 1 M. They are STS leases of a
real aws mount, which revoke without calling AWS (as in Vault), so revoke-prefix
measures vaultlet alone.

Environment: ``BENCH_SCALE`` (lease counts, default ``100000,1000000``),
``BENCH_REVOKE_LEASES`` (how many of them revoke-prefix revokes, default all of them) and
``BENCH_REVOKE_SECONDS`` (cap on the revoke phase, default 600; when capped the rate
and the projected total are printed) and ``BENCH_REVOKE_SYNC`` (the revoke-prefix
``sync`` values to measure, one refill each, default ``true,false``). It also prints
bytes per lease row, before and after the row diet, on 20 k rows written side by side,
and a revoke-prefix of ``BENCH_TOKEN_LEASES`` (default 5000; 0 skips it) token leases
on vaultlet and on OpenBao's dev server in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

from bench import goals
from bench.openbao_raft import start_openbao_raft
from support.processes import ServerProcess, http, start_openbao_dev, start_vaultlet_production

MOUNT = "aws-scale"
REVOKE_ROLE = "revoke"  # the leases revoke-prefix removes
HOLD_ROLE = "hold"  # the rest of the N leases, untouched
ROLE_ARN = "arn:aws:iam::123456789012:role/bench-scale"
LEASE_TTL = 12 * 3600  # far beyond the run: the sweeper leaves them alone
FILL_CHUNK = 50_000
WORKERS = 2


REVOKE_GOAL_RATE = 5000  # the goals: 100 k in <= 20 s, 1 M in <= 200 s
START_GOAL_S = 2.0  # with 1 M leases
RSS_GOAL_MIB = 300  # per worker
LOOKUP_P99_GOAL_MS = 50  # lookup-self while revoke-prefix runs


def _settings() -> tuple[list[int], int, float]:
    scales = [int(n) for n in os.environ.get("BENCH_SCALE", "100000,1000000").split(",") if n.strip()]
    revoke = int(os.environ.get("BENCH_REVOKE_LEASES", "0")) or max(scales, default=0)
    cap = float(os.environ.get("BENCH_REVOKE_SECONDS", "600"))
    return sorted(scales), revoke, cap


def _percentile(samples: list[float], percent: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(percent / 100 * (len(ordered) - 1))))]


def _line(label: str, value: str) -> None:
    print(f"{label:<56} {value}", flush=True)


# -- server lifecycle ------------------------------------------------------


def _start(workdir: Path) -> tuple[ServerProcess, float]:
    """Start the server; seconds from process start until sys/health answers 200 (unsealed)."""
    started = time.monotonic()
    server = start_vaultlet_production(workdir, workers=WORKERS)
    deadline = started + 300
    while time.monotonic() < deadline:
        status, body, _ = http(server, "GET", "sys/health", token=None)
        if status == 200 and body and not body["sealed"]:
            return server, time.monotonic() - started
        time.sleep(0.02)
    server.kill()
    raise RuntimeError(f"vaultlet did not unseal within 300 s:\n{server.log_text()}")


def _prepare_mount(server: ServerProcess) -> str:
    """The aws mount and its two assumed_role roles; returns the mount's uuid."""
    assert http(server, "POST", f"sys/mounts/{MOUNT}", {"type": "aws"})[0] == 204
    role = {"credential_type": "assumed_role", "role_arns": [ROLE_ARN]}
    for name in (REVOKE_ROLE, HOLD_ROLE):
        assert http(server, "POST", f"{MOUNT}/roles/{name}", role)[0] == 204
    return http(server, "GET", f"sys/mounts/{MOUNT}")[1]["data"]["uuid"]


# -- filling the lease table offline ---------------------------------------


def _open_storage(workdir: Path):
    """vaultlet's storage and barrier on the stopped server's files, unsealed from its seal file."""
    from vaultlet.storage.barrier import Barrier, decode_root_key
    from vaultlet.storage.sql import SQLStorage

    storage = SQLStorage(f"sqlite:///{workdir / 'vaultlet.db'}")
    barrier = Barrier(storage)
    assert barrier.unseal(decode_root_key((workdir / "seal.key").read_text())), "seal key does not unseal"
    return storage, barrier


def _lease_row(barrier, mount_uuid: str, role: str, now: float, *, old_format: bool = False) -> dict:
    """One row as ExpirationManager.register writes it for GET <mount>/sts/<role>
    (``old_format``: as versions before the row diet wrote it)."""
    from vaultlet.core.tokens import random_base62

    path = f"{MOUNT}/sts/{role}"
    lease_id = f"{path}/{random_base62(24)}"
    internal = {"username": f"vault-bench-{lease_id[-8:]}", "policy": ROLE_ARN, "is_sts": True}
    if old_format:
        plain = {"kind": "secret", "secret_type": "access_keys", "internal": internal, "path": path}
        data = json.dumps(plain).encode()
    else:
        from vaultlet.core.expiration import _pack

        data = _pack({"t": "access_keys", "i": internal})
    return {
        "lease_id": lease_id,
        "mount_uuid": mount_uuid,
        "token_hash": None,
        "issue_time": now,
        "expire_time": now + LEASE_TTL,
        "max_expire_time": now + LEASE_TTL,
        "last_renewal": None,
        "renewable": False,
        "due_at": now + LEASE_TTL,
        "data": barrier.encrypt("lease/" + lease_id, data),
        "version": 1,
        "attempts": 0,
        "irrevocable": False,
    }


def _fill(workdir: Path, mount_uuid: str, wanted: dict[str, int]) -> tuple[int, float]:
    """Top the roles' lease counts up to ``wanted``; returns (rows written, seconds)."""
    storage, barrier = _open_storage(workdir)
    started = time.monotonic()
    written = 0
    try:
        for role, target in wanted.items():
            missing = target - storage.lease_count(f"{MOUNT}/sts/{role}/")
            while missing > 0:
                now = time.time()
                rows = [_lease_row(barrier, mount_uuid, role, now) for _ in range(min(FILL_CHUNK, missing))]
                columns = ", ".join(rows[0])
                placeholders = ", ".join(f":{name}" for name in rows[0])
                sql = f"INSERT INTO vault_leases ({columns}) VALUES ({placeholders})"
                with storage.transaction() as connection:  # the same INSERT as lease_insert, batched
                    connection.exec_driver_sql(sql, rows)
                written += len(rows)
                missing -= len(rows)
        _unqueue(storage)
    finally:
        storage.close()
    return written, time.monotonic() - started


def _unqueue(storage) -> None:
    """A capped revoke left claimed, due-now leases behind (the server was stopped in the
    middle): give them back their expiry so the next start's sweeper does not race the
    measurements."""
    with storage.transaction() as connection:
        connection.exec_driver_sql(
            "UPDATE vault_leases SET due_at = expire_time, claim_owner = NULL, claim_until = NULL"
            " WHERE claim_owner IS NOT NULL OR due_at < expire_time"
        )


# -- lease row size --------------------------------------------------------

ROW_SAMPLE = 20_000


def _table_bytes(database: Path) -> dict[str, int]:
    """Bytes of the lease table and of each of its indexes (SQLite's dbstat)."""
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        names = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'vault_leases'")
        ]
        return {
            name: connection.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (name,)).fetchone()[0]
            or 0
            for name in names
        }
    finally:
        connection.close()


def _row_bytes(workdir: Path, *, old_format: bool) -> tuple[float, dict[str, int]]:
    """Fill a fresh database with ROW_SAMPLE STS lease rows through vaultlet's storage
    layer (in random id order, as issuance does) and measure bytes per lease."""
    from vaultlet.storage.barrier import Barrier
    from vaultlet.storage.sql import SQLStorage

    database = workdir / ("rows-old.db" if old_format else "rows-new.db")
    for suffix in ("", "-wal", "-shm", ".writelock"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    storage = SQLStorage(f"sqlite:///{database}")
    try:
        barrier = Barrier(storage)
        key = os.urandom(32)
        barrier.initialize(key)
        barrier.unseal(key)
        if old_format:  # the schema before: every row in the token_hash index
            with storage.transaction() as connection:
                connection.exec_driver_sql("DROP INDEX ix_vault_leases_token_hash")
                connection.exec_driver_sql(
                    "CREATE INDEX ix_vault_leases_token_hash ON vault_leases (token_hash)"
                )
        now = time.time()
        for _ in range(0, ROW_SAMPLE, 1000):  # many transactions, ids in random order
            rows = [
                _lease_row(
                    barrier, "5d9f6a1e-0000-4000-8000-bench0scale00", REVOKE_ROLE, now, old_format=old_format
                )
                for _ in range(1000)
            ]
            columns = ", ".join(rows[0])
            placeholders = ", ".join(f":{name}" for name in rows[0])
            with storage.transaction() as connection:
                connection.exec_driver_sql(
                    f"INSERT INTO vault_leases ({columns}) VALUES ({placeholders})", rows
                )
    finally:
        storage.close()
    sizes = _table_bytes(database)
    return sum(sizes.values()) / ROW_SAMPLE, sizes


def _row_size_report(workdir: Path) -> None:
    old, old_sizes = _row_bytes(workdir, old_format=True)
    new, new_sizes = _row_bytes(workdir, old_format=False)
    _line(
        f"  bytes per STS lease, before (table + indexes, {ROW_SAMPLE} rows)",
        f"{old:.0f} B  {_per_row(old_sizes)}",
    )
    _line("  bytes per STS lease, now", f"{new:.0f} B  {_per_row(new_sizes)}  ({new / old:.2f}× before)")


def _per_row(sizes: dict[str, int]) -> str:
    short = {"vault_leases": "table", "sqlite_autoindex_vault_leases_1": "id index"}
    return (
        "("
        + ", ".join(f"{short.get(name, name)} {size / ROW_SAMPLE:.0f}" for name, size in sizes.items())
        + ")"
    )


# -- measurements ----------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found += [int(c) for c in children]
        queue += [int(c) for c in children]
    return found


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _worker_pids(server: ServerProcess) -> list[int]:
    """The worker processes (the server's descendants with no children of their own)."""
    return [pid for pid in _descendants(server.process.pid) if not _descendants(pid)]


def _worker_rss(server: ServerProcess) -> str:
    """RSS of each worker."""
    return (
        ", ".join(f"pid {pid} {_rss_mib(pid):.0f} MiB" for pid in _worker_pids(server)) or "no workers found"
    )


_PEAK_RSS: dict[int, float] = {}  # lease count -> the largest worker RSS seen (MiB)


def _note_rss(server: ServerProcess, total: int) -> None:
    for pid in _worker_pids(server):
        _PEAK_RSS[total] = max(_PEAK_RSS.get(total, 0.0), _rss_mib(pid))


def _timed(server: ServerProcess, method: str, path: str, runs: int = 5):
    samples, answer = [], None
    for _ in range(runs):
        started = time.perf_counter()
        status, body, text = http(server, method, path)
        samples.append(time.perf_counter() - started)
        assert status == 200, text[:300]
        answer = body
    return statistics.median(samples) * 1000, max(samples) * 1000, answer


class LookupSelfLoop:
    """A client calling auth/token/lookup-self back to back with a non-root token over one
    kept-alive connection (as SDKs do), recording latencies."""

    def __init__(self, server: ServerProcess, token: str):
        self._headers = {"X-Vault-Token": token}
        self._address = urlsplit(server.address)
        self.samples: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        connection = HTTPConnection(self._address.hostname, self._address.port, timeout=30)
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("GET", "/v1/auth/token/lookup-self", headers=self._headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    self.errors += 1
                    continue
                self.samples.append(time.perf_counter() - started)
            except OSError:
                self.errors += 1
                connection.close()  # reconnects at the next request
        connection.close()

    def p99_ms(self) -> float:
        return _percentile(self.samples, 99) * 1000 if self.samples else float("nan")

    def __enter__(self) -> LookupSelfLoop:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=35)

    def summary(self) -> str:
        if not self.samples:
            return f"no answers ({self.errors} errors)"
        ms = [s * 1000 for s in self.samples]
        return (
            f"p50 {statistics.median(ms):.2f} ms  p99 {_percentile(ms, 99):.2f} ms"
            f"  max {max(ms):.1f} ms  (n={len(ms)}, {self.errors} errors)"
        )


def _lease_count(server: ServerProcess) -> int:
    return http(server, "GET", "sys/leases/count")[1]["data"]["lease_count"]


def _revoke_prefix(server: ServerProcess, expected: int, cap: float, *, sync: bool = True) -> bool:
    """revoke-prefix of the revoke role's leases, with lookup-self running beside it.
    ``sync=false`` answers 202 at once: then the time until the last lease is gone counts."""
    # The client's token has a lease of its own: made before counting, so the count
    # falls by exactly the revoked leases.
    status, body, text = http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "2h"})
    assert status == 200, text[:300]
    token = body["auth"]["client_token"]
    before = _lease_count(server)
    with LookupSelfLoop(server, token) as idle:
        time.sleep(5)
    _line("  lookup-self, idle (one sequential client, 5 s)", idle.summary())
    outcome: dict = {}

    def revoke() -> None:
        request = urllib.request.Request(
            f"{server.address}/v1/sys/leases/revoke-prefix/{MOUNT}/sts/{REVOKE_ROLE}",
            data=json.dumps({"sync": sync}).encode(),
            headers={"X-Vault-Token": server.root_token},
            method="PUT",
        )
        try:  # longer than the cap: a capped revoke is abandoned, never timed out
            with urllib.request.urlopen(request, timeout=cap + 120) as response:
                outcome["status"], outcome["text"] = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            outcome["status"], outcome["text"] = error.code, error.read().decode()
        except OSError as error:  # a capped revoke: the server is killed under it
            outcome["status"], outcome["text"] = 0, str(error)

    request = threading.Thread(target=revoke, daemon=True)
    started = time.monotonic()
    answered = None
    with LookupSelfLoop(server, token) as loop:
        request.start()
        request.join(timeout=cap)
        answered = time.monotonic() - started
        if not sync and not request.is_alive():
            deadline = started + cap
            while _lease_count(server) > before - expected and time.monotonic() < deadline:
                time.sleep(0.2)
        elapsed = time.monotonic() - started
    revoked = before - _lease_count(server)
    label = f"  revoke-prefix sync={str(sync).lower()} of {expected} STS leases"
    _record_revoke(expected, sync, revoked, elapsed, cap, request.is_alive(), loop)
    if not sync and not request.is_alive():
        assert outcome["status"] == 202, outcome["text"][:300]
        _line(f"  revoke-prefix sync=false: answered {outcome['status']}", f"after {answered * 1000:.0f} ms")
        finished = revoked >= expected
        _line(
            label,
            f"{elapsed:.1f} s until the last was gone ({revoked} revoked, {revoked / elapsed:.0f} leases/s)"
            + ("" if finished else f" CAPPED at {cap:.0f} s"),
        )
        _line("  lookup-self while the sweepers revoke (one client)", loop.summary())
        return finished
    if request.is_alive():
        rate = revoked / elapsed
        _line(
            label,
            f"CAPPED at {elapsed:.0f} s: {revoked} revoked, {rate:.0f} leases/s,"
            f" projected total {expected / rate:.0f} s"
            if rate
            else f"CAPPED at {elapsed:.0f} s: none revoked",
        )
    else:
        assert outcome["status"] == 204, outcome["text"][:300]
        _line(label, f"{elapsed:.1f} s ({revoked} revoked, {revoked / elapsed:.0f} leases/s), answered 204")
        _line("  sys/leases/count afterwards", json.dumps(http(server, "GET", "sys/leases/count")[1]["data"]))
    _line("  lookup-self while revoke-prefix runs (one client)", loop.summary())
    return not request.is_alive()


def _measure(
    server: ServerProcess, startup: float, total: int, revoke: int, cap: float, *, sync: bool
) -> bool:
    _line("  start-to-first-answer (sys/health 200, unsealed)", f"{startup:.2f} s")
    goals.record(
        f"start-to-first-answer with {total} leases <= {START_GOAL_S:g} s",
        f"{startup:.2f} s",
        startup <= START_GOAL_S,
    )
    time.sleep(1)  # let the second worker finish its own start-up
    _line("  worker RSS after start", _worker_rss(server))
    _note_rss(server, total)
    p50, worst, body = _timed(server, "GET", "sys/leases/count")
    _line("  GET sys/leases/count", f"p50 {p50:.1f} ms  max {worst:.1f} ms  → {body['data']['lease_count']}")
    assert body["data"]["lease_count"] >= total, body
    goals.record(
        f"  sys/leases/count with {total} leases (figure only)", f"p50 {p50:.1f} ms, max {worst:.1f} ms", None
    )
    p50, worst, body = _timed(server, "LIST", f"sys/leases/lookup/{MOUNT}/sts/")
    _line(
        f"  LIST sys/leases/lookup/{MOUNT}/sts/",
        f"p50 {p50:.1f} ms  max {worst:.1f} ms  → {body['data']['keys']}",
    )
    p50, worst, body = _timed(server, "LIST", f"sys/leases/lookup/{MOUNT}/sts/{REVOKE_ROLE}/", runs=3)
    _line(
        f"  LIST sys/leases/lookup/{MOUNT}/sts/{REVOKE_ROLE}/",
        f"p50 {p50:.1f} ms  max {worst:.1f} ms  → {len(body['data']['keys'])} keys",
    )
    goals.record(
        f"  LIST of {len(body['data']['keys'])} leases (figure only)",
        f"p50 {p50:.1f} ms, max {worst:.1f} ms",
        None,
    )
    _line("  worker RSS after the counts and lists", _worker_rss(server))
    _note_rss(server, total)
    finished = _revoke_prefix(server, revoke, cap, sync=sync)
    _line("  worker RSS after revoke-prefix", _worker_rss(server))
    _note_rss(server, total)
    return finished


def _record_revoke(expected: int, sync: bool, revoked: int, elapsed: float, cap, running: bool, loop) -> None:
    budget = expected / REVOKE_GOAL_RATE
    finished = revoked >= expected and not running
    figure = (
        f"{elapsed:.1f} s ({revoked / elapsed:.0f}/s)"
        if finished
        else f"capped at {elapsed:.0f} s, {revoked} revoked ({revoked / elapsed:.0f}/s)"
    )
    goals.record(
        f"revoke-prefix sync={str(sync).lower()} of {expected} STS leases <= {budget:g} s (5,000/s)",
        figure,
        finished and elapsed <= budget,
    )
    goals.record(
        f"  lookup-self p99 meanwhile <= {LOOKUP_P99_GOAL_MS} ms (sync={str(sync).lower()}, N={expected})",
        f"{loop.p99_ms():.1f} ms (n={len(loop.samples)}, {loop.errors} errors)",
        loop.p99_ms() <= LOOKUP_P99_GOAL_MS and not loop.errors,
    )


# -- token leases: vaultlet against OpenBao in the same run -----------------


def _token_leases(server: ServerProcess, count: int) -> float:
    """Create ``count`` tokens with a TTL (each has a lease) from 8 clients; seconds taken."""
    started = time.monotonic()

    def create(_index: int) -> None:
        status, _, text = http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "12h"})
        assert status == 200, text[:300]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(count)))
    return time.monotonic() - started


def _timed_revoke(server: ServerProcess, prefix: str) -> float:
    started = time.monotonic()
    status, _, text = http(server, "PUT", f"sys/leases/revoke-prefix/{prefix}", {"sync": True})
    assert status == 204, text[:300]
    return time.monotonic() - started


def _token_revoke_report(workdir: Path) -> None:
    """revoke-prefix sync=true of N token leases (auth/token/create/), vaultlet (production,
    SQLite, 2 workers) and OpenBao's dev server side by side."""
    count = int(os.environ.get("BENCH_TOKEN_LEASES", "5000"))
    vaultlet = start_vaultlet_production(workdir / "tokens-vaultlet", workers=WORKERS)
    openbao = start_openbao_dev(workdir / "tokens-openbao")
    raft = start_openbao_raft(workdir / "tokens-openbao-raft")
    try:
        figures = {}
        for name, server in (("vaultlet", vaultlet), ("openbao", openbao), ("raft", raft)):
            _token_leases(server, count)
            figures[name] = _timed_revoke(server, "auth/token/create")
        # (OpenBao's dev root token is itself a lease under auth/token/create/ and is
        # revoked with them: no more asking it anything.)
        assert http(vaultlet, "LIST", "sys/leases/lookup/auth/token/create/")[0] == 404
        ours, theirs, durable = figures["vaultlet"], figures["openbao"], figures["raft"]
        _line(
            f"  revoke-prefix sync=true of {count} token leases",
            f"vaultlet {ours:.2f} s ({count / ours:.0f}/s), OpenBao dev {theirs:.2f} s"
            f" ({count / theirs:.0f}/s): {theirs / ours:.2f}× OpenBao's rate",
        )
        _line(
            "    the same on OpenBao with raft storage",
            f"{durable:.2f} s ({count / durable:.0f}/s): vaultlet at {durable / ours:.2f}× its rate",
        )
        goals.record(
            f"revoke-prefix of {count} token leases, x OpenBao raft / x dev (figure only)",
            f"{durable / ours:.2f}x / {theirs / ours:.2f}x ({count / ours:.0f}/s)",
            None,
        )
    finally:
        vaultlet.stop()
        openbao.stop()
        raft.stop()


def _database_report(workdir: Path, total: int) -> None:
    database = workdir / "vaultlet.db"
    sizes = _table_bytes(database)
    _line(
        "  lease table + indexes per lease (this database)",
        f"{sum(sizes.values()) / total:.0f} B; file {database.stat().st_size / total:.0f} B per lease",
    )


def run(workdir: Path) -> None:
    scales, revoke, cap = _settings()
    modes = [
        m.strip() == "true" for m in os.environ.get("BENCH_REVOKE_SYNC", "true,false").split(",") if m.strip()
    ]
    print(
        f"\n## scale: live leases in SQLite (production server, {WORKERS} workers;"
        f" revoke phase capped at {cap:.0f} s)"
    )
    workdir = workdir / "scale"
    workdir.mkdir(parents=True, exist_ok=True)
    _row_size_report(workdir)
    if os.environ.get("BENCH_TOKEN_LEASES", "5000") != "0":
        _token_revoke_report(workdir)
    server, startup = _start(workdir)
    mount_uuid = _prepare_mount(server)
    _line("  N = 0: start-to-first-answer (fresh database)", f"{startup:.2f} s")
    server.stop()
    for total in scales:
        revoking = min(revoke, total)
        for index, sync in enumerate(modes):
            written, seconds = _fill(
                workdir, mount_uuid, {REVOKE_ROLE: revoking, HOLD_ROLE: total - revoking}
            )
            server, startup = _start(workdir)
            finished = False
            try:
                if index == 0:
                    print(
                        f"\n### N = {total} leases ({revoking} under {MOUNT}/sts/{REVOKE_ROLE}/)", flush=True
                    )
                    _line(
                        "  offline fill (storage layer, server stopped)", f"{written} rows in {seconds:.1f} s"
                    )
                    _database_report(workdir, total)
                    finished = _measure(server, startup, total, revoking, cap, sync=sync)
                else:
                    _line("  refill of the revoked role", f"{written} rows in {seconds:.1f} s")
                    finished = _revoke_prefix(server, revoking, cap, sync=sync)
            finally:
                if finished:
                    server.stop()
                else:
                    server.kill()  # a capped revoke is still running in a worker
        peak = _PEAK_RSS.get(total, float("nan"))
        goals.record(
            f"worker RSS with {total} leases <= {RSS_GOAL_MIB} MB (largest seen)",
            f"{peak:.0f} MiB",
            peak <= RSS_GOAL_MIB,
        )
