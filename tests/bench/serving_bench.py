"""The serving model, chosen by measurement: the same vaultlet under several HTTP
servers and pool sizes, side by side with OpenBao's dev server in the same run.

Every variant is a real `vaultlet server -config` (SQLite, seal file) started with its
own `http_server`, `workers` and `threads`, then loaded with hey (keep-alive clients)
on the calls clients make most:

* non-root lookup-self, token create (CPU-bound: a big thread pool only adds GIL
  contention);
* a policy-checked KV read with a file audit device on;
* assumed-role issuance against tests/bench/sts_stub.py answering at once, and
  answering after BENCH_STS_DELAY_MS (default 40 ms, as real STS) with 64 clients: here
  the number of requests a worker keeps in flight caps the rate (in-flight / latency).

Ratios are against OpenBao in the same run (an audit-enabled OpenBao for the audited
read); the STS rows print issuances/s. ``BENCH_SERVING`` picks variants by name
(comma-separated), e.g. ``BENCH_SERVING=granian-2x32,gunicorn-gthread-2x16``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.acl_bench import SECRET, _ok, _openbao_with_audit, _reader_token
from bench.core_bench import _child_token
from bench.hey import LoadResult, run_hey
from support.processes import ServerProcess, free_port, http, start_openbao_dev, start_vaultlet_production

STS_ROLE = {"credential_type": "assumed_role", "role_arns": ["arn:aws:iam::123456789012:role/stub-role"]}
SLOW_CLIENTS = 64


@dataclass
class Variant:
    name: str
    http_server: str
    workers: int
    threads: int

    def extra(self) -> str:
        return f'http_server = "{self.http_server}"\nthreads = {self.threads}\n'


VARIANTS = [
    Variant("gunicorn-gthread-2x16", "gunicorn", 2, 16),  # vaultlet's model before this bench
    Variant("gunicorn-gthread-2x4", "gunicorn", 2, 4),
    Variant("gunicorn-gthread-4x8", "gunicorn", 4, 8),
    Variant("gunicorn-sync-4x1", "gunicorn", 4, 1),
    Variant("granian-2x2", "granian", 2, 2),
    Variant("granian-2x8", "granian", 2, 8),
    Variant("granian-2x16", "granian", 2, 16),
    Variant("granian-2x32", "granian", 2, 32),  # vaultlet's default (README "How it is built")
    Variant("granian-4x16", "granian", 4, 16),
    Variant("granian-2x64", "granian", 2, 64),
]

WORKLOADS = [
    "lookup-self",
    "lookup-self c64",
    "token create",
    "read + ACL + audit",
    "STS instant",
    "STS slow",
]


def _stub(delay_ms: float) -> tuple[subprocess.Popen, str]:
    from support.processes import wait_for_http

    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-m", "bench.sts_stub", str(port), str(delay_ms)],
        cwd=Path(__file__).resolve().parents[1],
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_for_http(endpoint, process=stub)
    return stub, endpoint


def _aws_mount(server: ServerProcess, path: str, endpoint: str) -> None:
    _ok(http(server, "POST", f"sys/mounts/{path}", {"type": "aws"}))
    config = {"access_key": "AKIASTUB", "secret_key": "stub", "region": "us-east-1", "sts_endpoint": endpoint}
    _ok(http(server, "POST", f"{path}/config/root", config))
    _ok(http(server, "POST", f"{path}/roles/deploy", STS_ROLE))


def _load(name: str, server: ServerProcess, path: str, token: str, duration: str, **kwargs) -> LoadResult:
    return run_hey(name, f"{server.address}/v1/{path}", token=token, duration=duration, **kwargs)


def _openbao_figures(workdir: Path, duration: str) -> dict[str, LoadResult]:
    figures = {}
    openbao = start_openbao_dev(workdir / "serving-openbao")
    try:
        child = _child_token(openbao)
        figures["lookup-self"] = _load("openbao", openbao, "auth/token/lookup-self", child, duration)
        figures["token create"] = _create(openbao, openbao.root_token, duration)
    finally:
        openbao.stop()
    audited = _openbao_with_audit(workdir / "serving-openbao-audit")
    try:
        figures["read + ACL + audit"] = _load("openbao", audited, SECRET, _reader_token(audited), duration)
    finally:
        audited.stop()
    return figures


def _create(server: ServerProcess, token: str, duration: str) -> LoadResult:
    body = json.dumps({"policies": ["default"], "ttl": "10m"})
    return _load("create", server, "auth/token/create", token, duration, method="POST", body=body)


def _vaultlet_figures(variant: Variant, workdir: Path, stubs: dict[str, str], duration: str):
    server = start_vaultlet_production(
        workdir / f"serving-{variant.name}", workers=variant.workers, extra=variant.extra()
    )
    try:
        figures = {}
        child = _child_token(server)
        figures["lookup-self"] = _load(variant.name, server, "auth/token/lookup-self", child, duration)
        # 64 clients fill a 32-thread pool: what many runnable threads cost a CPU-bound call.
        switches = _context_switches(server)
        figures["lookup-self c64"] = crowded = _load(
            variant.name, server, "auth/token/lookup-self", child, duration, concurrency=SLOW_CLIENTS
        )
        total = crowded.requests_per_second * _seconds(duration)
        figures["switches"] = (_context_switches(server) - switches) / total if total else float("nan")
        figures["token create"] = _create(server, server.root_token, duration)
        for label, endpoint in stubs.items():
            _aws_mount(server, f"aws-{label.split()[1]}", endpoint)
        root = server.root_token
        figures["STS instant"] = _load(variant.name, server, "aws-instant/creds/deploy", root, duration)
        figures["STS slow"] = _load(
            variant.name, server, "aws-slow/creds/deploy", root, duration, concurrency=SLOW_CLIENTS
        )
        reader = _reader_token(server)
        log = server.workdir / "audit.log"
        _ok(http(server, "PUT", "sys/audit/file", {"type": "file", "options": {"file_path": str(log)}}))
        figures["read + ACL + audit"] = _load(variant.name, server, SECRET, reader, duration)
        return figures
    finally:
        server.stop()


def _seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


def _context_switches(server: ServerProcess) -> int:
    """Voluntary and involuntary context switches of every thread of every worker."""
    total = 0
    for pid in set(re.findall(r"Booting worker with pid: (\d+)", server.log_text())):
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue  # a thread that ended meanwhile
            total += sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", text))
    return total


def _cell(workload: str, ours: LoadResult, baseline: dict[str, LoadResult]) -> str:
    errors = f" ({ours.errors} non-2xx)" if ours.errors else ""
    if workload in baseline:
        ratio = ours.requests_per_second / baseline[workload].requests_per_second
        return f"{ours.requests_per_second:>6.0f}/s {ratio:>5.2f}x p99 {ours.p99_ms:>6.1f}ms{errors}"
    return f"{ours.requests_per_second:>6.0f}/s        p99 {ours.p99_ms:>6.1f}ms{errors}"


def run(workdir: Path, duration: str) -> dict[str, dict[str, LoadResult]]:
    delay_ms = float(os.environ.get("BENCH_STS_DELAY_MS", "40"))
    chosen = [name for name in os.environ.get("BENCH_SERVING", "").split(",") if name]
    variants = [variant for variant in VARIANTS if not chosen or variant.name in chosen]
    print(
        f"\n## serving model: vaultlet under each HTTP server and pool size (hey -c 32 -z {duration};"
        f" STS slow: stub answers after {delay_ms:.0f} ms, hey -c {SLOW_CLIENTS});"
        " ratio = vaultlet / OpenBao dev (mean of a run before and one after the variants)"
    )
    before = _openbao_figures(workdir / "before", duration)
    stubs, processes = {}, []
    for label, delay in (("aws instant", 0.0), ("aws slow", delay_ms)):
        stub, endpoint = _stub(delay)
        processes.append(stub)
        stubs[label] = endpoint
    results = {}
    try:
        for variant in variants:
            results[variant.name] = _vaultlet_figures(variant, workdir, stubs, duration)
            print(f"  measured {variant.name}", flush=True)
    finally:
        for stub in processes:
            stub.terminate()
            stub.wait(timeout=10)
    after = _openbao_figures(workdir / "after", duration)
    baseline = {}
    for workload, first in before.items():
        second = after[workload]
        print(
            f"openbao dev {workload:<24} {first.requests_per_second:>6.0f}/s before,"
            f" {second.requests_per_second:>6.0f}/s after; p99 {first.p99_ms:.1f} / {second.p99_ms:.1f} ms"
        )
        rate = (first.requests_per_second + second.requests_per_second) / 2
        baseline[workload] = LoadResult("openbao", rate, first.p50_ms, first.p99_ms, 0)
    baseline["lookup-self c64"] = baseline["lookup-self"]
    for name, figures in results.items():
        variant = next(v for v in variants if v.name == name)
        print(f"{name} ({variant.http_server}, {variant.workers} workers x {variant.threads} threads)")
        for workload in WORKLOADS:
            print(f"  {workload:<24} {_cell(workload, figures[workload], baseline)}")
        print(f"  {'context switches/request at 64 clients (lookup-self)':<24} {figures['switches']:.1f}")
    _summary(results, baseline)
    return results


def _summary(results: dict[str, dict[str, LoadResult]], baseline: dict[str, LoadResult]) -> None:
    print(
        "\nsummary (x OpenBao dev, 32 clients, for lookup-self both ways, create and read;"
        " issuances/s for STS; context switches per request at 64 clients):"
    )
    print(f"{'variant':<24}" + "".join(f"{w:>20}" for w in [*WORKLOADS, "switches/req c64"]))
    for name, figures in results.items():
        cells = []
        for workload in WORKLOADS:
            rate = figures[workload].requests_per_second
            cells.append(
                f"{rate / baseline[workload].requests_per_second:.2f}x"
                if workload in baseline
                else f"{rate:.0f}"
            )
        cells.append(f"{figures['switches']:.1f}")
        print(f"{name:<24}" + "".join(f"{c:>20}" for c in cells))
