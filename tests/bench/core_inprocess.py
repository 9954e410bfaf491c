"""The core's hot paths without HTTP: ``Core.handle`` called in this process.

What the calls clients make most cost inside the core (routing, token lookup, ACL,
audit, storage, the backend), per call in microseconds, on a real SQLite file with a
file audit device enabled. The AWS read replaces only the STS call itself with an
instant answer: the engine side (role, lease, audit) runs for real.

Run alone: ``BENCH_ONLY=core-inprocess .venv/bin/python -m tests.bench``; with
``BENCH_PROFILE=path`` it also writes a cProfile dump of each call to ``path.<call>``.
"""

from __future__ import annotations

import cProfile
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from vaultlet.core.core import Core, CoreConfig
from vaultlet.engines.secrets.aws.client import StsApi, StsCredentials
from vaultlet.framework.request import READ, UPDATE, Request, Response

READER_POLICY = 'path "secret/*" { capabilities = ["read", "list"] }'
ROLE_ARN = "arn:aws:iam::123456789012:role/bench"


def call(
    core: Core, operation: str, path: str, data: dict | None = None, token: str | None = "root"
) -> Response:
    request = Request(operation=operation, path=path, data=dict(data or {}), client_token=token)
    request.remote_addr = "127.0.0.1"
    request.remote_port = 50000
    return core.handle(request)


def _instant_assume_role(self, role_arn, session_name, duration_seconds, **_kwargs) -> StsCredentials:
    """STS answering at once: what is left is the engine's own work."""
    return StsCredentials(
        access_key_id="ASIABENCHBENCHBENCH0",
        secret_access_key="bench-secret-access-key-bench-bench-bench",
        session_token="bench-session-token",
        expiration=datetime.fromtimestamp(time.time() + duration_seconds, UTC),
        assumed_role_arn=f"{role_arn.replace(':role/', ':assumed-role/')}/{session_name}",
    )


def build(workdir: Path) -> tuple[Core, dict[str, str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    core = Core(CoreConfig(storage_url=f"sqlite:///{workdir}/vaultlet.db"))
    core.initialize(root_token_id="root")
    core.start_background()
    call(
        core, UPDATE, "sys/audit/file", {"type": "file", "options": {"file_path": str(workdir / "audit.log")}}
    )
    call(core, UPDATE, "sys/mounts/secret", {"type": "kv"})
    call(core, UPDATE, "secret/app", {"password": "hunter2", "user": "app"})
    call(core, UPDATE, "sys/policies/acl/reader", {"policy": READER_POLICY})
    reader = call(core, UPDATE, "auth/token/create", {"policies": ["reader"], "ttl": "2h"})
    call(core, UPDATE, "sys/auth/approle", {"type": "approle"})
    call(core, UPDATE, "auth/approle/role/bench", {"token_policies": ["default"], "token_ttl": "10m"})
    role_id = call(core, READ, "auth/approle/role/bench/role-id").data["role_id"]
    secret_id = call(core, UPDATE, "auth/approle/role/bench/secret-id").data["secret_id"]
    call(core, UPDATE, "sys/mounts/aws", {"type": "aws"})
    call(
        core,
        UPDATE,
        "aws/config/root",
        {"access_key": "AKIABENCH", "secret_key": "bench", "region": "us-east-1"},
    )
    call(core, UPDATE, "aws/roles/deploy", {"credential_type": "assumed_role", "role_arns": ROLE_ARN})
    renewable = call(core, UPDATE, "auth/token/create", {"policies": ["default"], "ttl": "1h"})
    return core, {
        "reader": reader.auth["client_token"],
        "renewer": renewable.auth["client_token"],
        "role_id": role_id,
        "secret_id": secret_id,
    }


def calls(core: Core, tokens: dict[str, str]) -> dict[str, Callable[[], Response]]:
    return {
        "lookup-self (non-root)": lambda: call(core, READ, "auth/token/lookup-self", token=tokens["reader"]),
        "token create": lambda: call(
            core, UPDATE, "auth/token/create", {"policies": ["default"], "ttl": "10m"}
        ),
        "token renew-self": lambda: call(core, UPDATE, "auth/token/renew-self", token=tokens["renewer"]),
        "policy-checked kv read + audit": lambda: call(core, READ, "secret/app", token=tokens["reader"]),
        "approle login": lambda: call(
            core,
            UPDATE,
            "auth/approle/login",
            {"role_id": tokens["role_id"], "secret_id": tokens["secret_id"]},
            token=None,
        ),
        "aws sts creds read (STS stubbed)": lambda: call(core, READ, "aws/creds/deploy", token="root"),
    }


def measure(fn: Callable[[], Response], seconds: float) -> tuple[float, float, int]:
    """(wall µs, CPU µs) per call: medians of 50-call batches, so that other processes'
    load spikes on a shared machine weigh little. CPU time is this thread's own
    (``thread_time``): it does not grow when the machine is busy, wall time does."""
    for _ in range(50):
        fn()
    walls: list[float] = []
    cpus: list[float] = []
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(50):
            fn()
        cpus.append((time.thread_time() - cpu) / 50 * 1e6)
        walls.append((time.perf_counter() - wall) / 50 * 1e6)
        count += 50
    return statistics.median(walls), statistics.median(cpus), count


def run(workdir: Path, seconds: float = 3.0) -> dict[str, float]:
    original = StsApi.assume_role
    StsApi.assume_role = _instant_assume_role
    core, tokens = build(workdir)
    profile_to = os.environ.get("BENCH_PROFILE")
    results: dict[str, float] = {}
    try:
        print("\n## core in process: Core.handle without HTTP (SQLite, file audit device; µs per call)")
        for name, fn in calls(core, tokens).items():
            if profile_to:
                profiler = cProfile.Profile()
                profiler.enable()
            wall, cpu, count = measure(fn, seconds)
            if profile_to:
                profiler.disable()
                profiler.dump_stats(f"{profile_to}.{name.split()[0]}-{name.split()[1]}")
            results[name] = cpu
            print(f"{name:<40} {cpu:>8.0f} µs CPU  {wall:>8.0f} µs wall  ({count} calls)")
    finally:
        StsApi.assume_role = original
        core.close()
    return results


if __name__ == "__main__":
    import tempfile

    run(Path(tempfile.mkdtemp(prefix="vaultlet-core-")), float(os.environ.get("BENCH_SECONDS", "3")))
