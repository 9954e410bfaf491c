"""Assumed-role issuance: vaultlet's overhead over a raw boto3 AssumeRole against the
same moto, then the broker's own throughput against an STS that answers instantly."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

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


def _time_each(action, runs: int) -> list[float]:
    action()  # warm: connections, caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def _vaultlet_reader(server: ServerProcess, path: str):
    request = urllib.request.Request(
        f"{server.address}/v1/{path}", headers={"X-Vault-Token": server.root_token}
    )

    def read() -> None:
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
            response.read()

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
        direct = _time_each(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="bench"), runs)
        brokered = _time_each(_vaultlet_reader(server, f"{mount.path}/creds/deploy"), runs)
    finally:
        moto.stop()
    print(_summary("raw boto3 sts:AssumeRole → moto", direct))
    print(_summary("vaultlet GET aws/creds/<assumed_role> → moto", brokered))
    overhead = statistics.median(brokered) / statistics.median(direct) - 1
    print(
        f"{'  vaultlet overhead at p50':<48} {overhead * 100:+.0f} %"
        f" ({'meets' if overhead <= 0.15 else 'MISSES'} the ≤ 15 % goal); p99 ratio"
        f" {_percentile(brokered, 99) / _percentile(direct, 99):.2f}x"
    )


def bench_throughput(server: ServerProcess, duration: str) -> None:
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-m", "bench.sts_stub", str(port)], cwd=Path(__file__).resolve().parents[1]
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for_http(endpoint, process=stub)
        assert http(server, "POST", "sys/mounts/aws-stub", {"type": "aws"})[0] == 204
        config = {
            "access_key": "AKIASTUB",
            "secret_key": "stub",
            "region": "us-east-1",
            "sts_endpoint": endpoint,
        }
        assert http(server, "POST", "aws-stub/config/root", config)[0] == 204
        role = {"credential_type": "assumed_role", "role_arns": ["arn:aws:iam::123456789012:role/stub-role"]}
        assert http(server, "POST", "aws-stub/roles/deploy", role)[0] == 204
        result = run_hey(
            "vaultlet GET aws/creds/<assumed_role> → instant STS",
            f"{server.address}/v1/aws-stub/creds/deploy",
            token=server.root_token,
            duration=duration,
        )
    finally:
        stub.terminate()
        stub.wait(timeout=10)
    print(result.row() + (f"  ({result.errors} non-2xx)" if result.errors else ""))
    verdict = "meets" if result.requests_per_second >= 600 else "MISSES"
    print(
        f"{'  issuances/s with 32 clients':<48} {result.requests_per_second:>9.0f}"
        f" ({verdict} the ≥ 600/s goal)"
    )


def run(server: ServerProcess, workdir: Path, duration: str) -> None:
    print("\n## aws: assumed-role issuance, vaultlet vs raw boto3 against the same moto (sequential)")
    bench_overhead(server, workdir)
    print("\n## aws: broker throughput against an STS stub that answers at once (hey -c 32)")
    bench_throughput(server, duration)
