"""Assumed-role issuance: vaultlet's overhead over a raw boto3 AssumeRole against the
same moto, then the broker's own throughput against an STS that answers instantly."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

import boto3

from bench import goals
from bench.hey import run_hey
from support.aws_engine import create_admin_user, moto_client, mount_aws
from support.processes import ServerProcess, free_port, http, start_moto, wait_for_http

ROLE_NAME = "bench-deploy"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


def _percentile(samples: list[float], percent: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(percent / 100 * (len(ordered) - 1))))]


def _summary(label: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{label:<48} p50 {statistics.median(ms):>7.2f} ms  p99 {_percentile(ms, 99):>7.2f} ms  (n={len(ms)})"
    )


def _time_interleaved(actions, runs: int) -> list[list[float]]:
    """Each action ``runs`` times, taking turns: on a shared machine the load moves
    during a run, and taking turns gives every action the same share of it."""
    for action in actions:
        action()  # warm: connections, caches
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, found in zip(actions, samples, strict=True):
            started = time.perf_counter()
            action()
            found.append(time.perf_counter() - started)
    return samples


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the gunicorn master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _seconds(duration: str) -> float:
    """hey's -z duration (``10s``, ``1m``) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if duration.endswith(suffix):
            return float(duration[: -len(suffix)]) * units[suffix]
    return float(duration)


def _vaultlet_reader(server: ServerProcess, path: str):
    request = urllib.request.Request(
        f"{server.address}/v1/{path}", headers={"X-Vault-Token": server.root_token}
    )

    def read() -> None:
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
            response.read()

    return read


def _vaultlet_keepalive_reader(server: ServerProcess, path: str):
    """The same read over one kept-alive connection, as SDKs (hvac, the Go client) do."""
    address = urllib.parse.urlsplit(server.address)
    connection = HTTPConnection(address.hostname, address.port, timeout=60)
    headers = {"X-Vault-Token": server.root_token}

    def read() -> None:
        connection.request("GET", f"/v1/{path}", headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200

    return read


def bench_overhead(server: ServerProcess, workdir: Path, runs: int = 300) -> None:
    moto = start_moto(workdir / "moto")
    try:
        mount = mount_aws(server, moto, http, path="aws-bench")
        role_arn = moto_client(moto, "iam").create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=TRUST)[
            "Role"
        ]["Arn"]
        body = {"credential_type": "assumed_role", "role_arns": [role_arn]}
        assert http(server, "POST", f"{mount.path}/roles/deploy", body)[0] == 204
        broker = create_admin_user(moto, "bench-direct")
        sts = boto3.client(
            "sts",
            endpoint_url=moto.endpoint,
            region_name="us-east-1",
            aws_access_key_id=broker["AccessKeyId"],
            aws_secret_access_key=broker["SecretAccessKey"],
        )
        direct, brokered, kept_alive = _time_interleaved(
            [
                lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="bench"),
                _vaultlet_reader(server, f"{mount.path}/creds/deploy"),
                _vaultlet_keepalive_reader(server, f"{mount.path}/creds/deploy"),
            ],
            runs,
        )
    finally:
        moto.stop()
    print(_summary("raw boto3 sts:AssumeRole → moto", direct))
    for label, samples in (("new connection each", brokered), ("keep-alive", kept_alive)):
        print(_summary(f"vaultlet GET aws/creds/<assumed_role> ({label})", samples))
        overhead = statistics.median(samples) / statistics.median(direct) - 1
        print(
            f"{'  vaultlet overhead at p50':<48} {overhead * 100:+.0f} %"
            f" ({'meets' if overhead <= 0.15 else 'MISSES'} the ≤ 15 % goal); p99 ratio"
            f" {_percentile(samples, 99) / _percentile(direct, 99):.2f}x"
        )
        # SDKs (hvac, the Go client, Terraform's provider) keep their connection alive:
        # that row is the goal; a new connection per request is shown beside it.
        goals.record(
            f"STS overhead over raw boto3 at p50 <= +15 % ({label})",
            f"{overhead * 100:+.0f} % ({statistics.median(samples) * 1000:.2f}"
            f" vs {statistics.median(direct) * 1000:.2f} ms)",
            overhead <= 0.15 if label == "keep-alive" else None,
        )


def bench_throughput(
    server: ServerProcess, duration: str, *, delay_ms: float = 0.0, concurrency: int = 32
) -> None:
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-m", "bench.sts_stub", str(port), str(delay_ms)],
        cwd=Path(__file__).resolve().parents[1],
    )
    mount = f"aws-stub-{delay_ms:.0f}ms"
    stub_label = f"STS stub answering after {delay_ms:.0f} ms" if delay_ms else "instant STS stub"
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for_http(endpoint, process=stub)
        assert http(server, "POST", f"sys/mounts/{mount}", {"type": "aws"})[0] == 204
        config = {
            "access_key": "AKIASTUB",
            "secret_key": "stub",
            "region": "us-east-1",
            "sts_endpoint": endpoint,
        }
        assert http(server, "POST", f"{mount}/config/root", config)[0] == 204
        role = {"credential_type": "assumed_role", "role_arns": ["arn:aws:iam::123456789012:role/stub-role"]}
        assert http(server, "POST", f"{mount}/roles/deploy", role)[0] == 204
        cpu_before = _tree_cpu_seconds(server.process.pid)
        result = run_hey(
            f"vaultlet GET aws/creds/<assumed_role> → STS {delay_ms:.0f} ms",
            f"{server.address}/v1/{mount}/creds/deploy",
            token=server.root_token,
            duration=duration,
            concurrency=concurrency,
        )
        cpu_used = _tree_cpu_seconds(server.process.pid) - cpu_before
    finally:
        stub.terminate()
        stub.wait(timeout=10)
    print(result.row() + (f"  ({result.errors} non-2xx)" if result.errors else ""))
    met = result.requests_per_second >= 600 and not result.errors
    print(
        f"{f'  issuances/s with {concurrency} clients':<48} {result.requests_per_second:>9.0f}"
        f" ({'meets' if met else 'MISSES'} the ≥ 600/s goal)"
    )
    goals.record(
        f"assumed-role issuance >= 600/s, {stub_label}, {concurrency} clients",
        f"{result.requests_per_second:.0f}/s (p99 {result.p99_ms:.0f} ms"
        + (f", {result.errors} non-2xx)" if result.errors else ")"),
        met,
    )
    issued = result.requests_per_second * _seconds(duration)
    if issued:
        # CPU per issuance holds still when other work shares the cores; req/s does not.
        per_issuance = cpu_used / issued
        print(
            f"{'  server CPU per issuance (all workers)':<48} {per_issuance * 1000:>9.2f} ms"
            f" (at most {(os.cpu_count() or 1) / per_issuance:.0f}/s on {os.cpu_count()} idle cores)"
        )


def run(server: ServerProcess, workdir: Path, duration: str) -> None:
    print("\n## aws: assumed-role issuance, vaultlet vs raw boto3 against the same moto (sequential)")
    bench_overhead(server, workdir)
    clients = 64  # the goal's client count, against both stubs
    print(f"\n## aws: broker throughput against an STS stub that answers at once (hey -c {clients})")
    bench_throughput(server, duration, concurrency=clients)
    delay = float(os.environ.get("BENCH_STS_DELAY_MS", "50"))
    print(
        f"\n## aws: broker throughput against an STS stub answering after {delay:.0f} ms (hey -c {clients})"
    )
    bench_throughput(server, duration, delay_ms=delay, concurrency=clients)
