"""Policy-checked KV reads with a file audit device on, vaultlet next to OpenBao.

Both servers read the same KV v1 secret for a non-root token whose only grant is a
`read` rule on it (plus `default`), with a file audit device writing both the request and
the response entry of every call: the ACL and the audit log are on the measured path. A
last row shows vaultlet with no audit device, to put a number on what auditing costs.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.core_bench import report
from bench.hey import LoadResult, run_hey
from support.acl_cases import synthetic_paths, synthetic_policies
from support.processes import (
    ServerProcess,
    http,
    openbao_file_audit_args,
    start_openbao_dev,
    start_vaultlet_production,
)
from vaultlet.core.acl import ACL

SECRET = "bench-kv/app"
POLICY = f'path "{SECRET}" {{ capabilities = ["read"] }}'


def _ok(answer: tuple) -> dict | None:
    status, body, text = answer
    assert status in (200, 204), f"{status}: {text}"
    return body


def _reader_token(server: ServerProcess) -> str:
    """A KV v1 secret, a policy that reads only it, and a token holding that policy."""
    _ok(http(server, "POST", "sys/mounts/bench-kv", {"type": "kv", "options": {"version": "1"}}))
    _ok(http(server, "PUT", SECRET, {"username": "app", "password": "bench-secret"}))
    _ok(http(server, "PUT", "sys/policies/acl/bench-reader", {"policy": POLICY}))
    body = _ok(http(server, "POST", "auth/token/create", {"policies": ["bench-reader"], "ttl": "2h"}))
    return body["auth"]["client_token"]


def _read(name: str, server: ServerProcess, token: str, duration: str) -> LoadResult:
    result = run_hey(name, f"{server.address}/v1/{SECRET}", token=token, duration=duration)
    assert result.errors == 0, f"{name}: {result.errors} non-2xx answers"
    return result


def _openbao_with_audit(workdir: Path) -> ServerProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    return start_openbao_dev(workdir, extra_args=openbao_file_audit_args(workdir))


def run(workdir: Path, duration: str) -> None:
    print("\n## access control: policy-checked KV v1 read, non-root token, file audit device on")
    vaultlet = start_vaultlet_production(workdir / "acl-vaultlet", workers=2)
    openbao = _openbao_with_audit(workdir / "acl-openbao")
    try:
        ours_token, theirs_token = _reader_token(vaultlet), _reader_token(openbao)
        unaudited = _read("vaultlet GET kv (ACL, no audit device)", vaultlet, ours_token, duration)
        log = workdir / "acl-vaultlet" / "audit.log"
        _ok(http(vaultlet, "PUT", "sys/audit/file", {"type": "file", "options": {"file_path": str(log)}}))
        ours = _read("vaultlet GET kv (ACL + audit)", vaultlet, ours_token, duration)
        theirs = _read("openbao  GET kv (ACL + audit)", openbao, theirs_token, duration)
        report(ours, theirs)
        print(unaudited.row())
        lines = sum(1 for _ in log.open())
        print(f"{'  vaultlet audit lines written':<48} {lines:>9}")
    finally:
        vaultlet.stop()
        openbao.stop()


def check_rate() -> None:
    """In-process `ACL.check` over 20 policies × 10 rules of four shapes (no HTTP, no storage)."""
    acl = ACL(synthetic_policies())
    paths = synthetic_paths(1000)
    operations = ["read", "list", "update"]
    calls = 100_000
    started = time.perf_counter()
    allowed = sum(acl.check(paths[i % 1000], operations[i % 3]).allowed for i in range(calls))
    elapsed = time.perf_counter() - started
    print(
        f"ACL.check in process: {calls / elapsed:,.0f} calls/s ({elapsed / calls * 1e6:.2f} µs each,"
        f" {allowed} of {calls} allowed)"
    )
