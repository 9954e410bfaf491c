"""Terraform integration: what the credentials lookup adds to `terraform plan`, and the
credentials program's cold start. Against `vaultlet server -dev -dev-aws=moto`.

Plan figures compare examples/basic-sts with the same configuration given static keys
(tests/bench/terraform_static_keys), and examples/ephemeral-credentials (the provider
vaultlet/vaultlet, as installed from the project's filesystem mirror) with both. The
provider's own start time (process start to the go-plugin handshake line) is measured
on the frozen executable Terraform unpacks from the mirror.

The hashicorp/external provider here is the CI-only
Python stand-in, whose own start-up (~0.4 s, several times per command) a user's Go
provider does not have; so the lookup is also measured with the stand-in started once
and reattached (TF_REATTACH_PROVIDERS), which is close to what a native provider costs.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path

from support import processes
from support import terraform as tfkit

PLAN_RUNS = 5
EPHEMERAL_PLAN_RUNS = 3
PROVIDER_START_RUNS = 5
# The value every go-plugin host sets; the provider refuses to serve without it.
PLUGIN_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROGRAM_RUNS = 20
STATIC_KEYS_ROOT = Path(__file__).parent / "terraform_static_keys"
STANDIN = tfkit.VENV / "terraform" / "standin-external" / "terraform-provider-external"
PLAN_GOAL_SECONDS = 0.3
COLD_START_GOAL_MS = 60.0


def _timed(action, runs: int) -> list[float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def _row(label: str, seconds: list[float], unit: str = "ms") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    median = statistics.median(seconds) * scale
    worst = max(seconds) * scale
    return f"{label:<60} median {median:8.1f} {unit}   max {worst:8.1f} {unit}   (n={len(seconds)})"


def _start_broker(workdir: Path) -> tuple[processes.ServerProcess, str]:
    server = processes.start_vaultlet_dev(workdir, extra_args=["-dev-aws=moto"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(r"AWS \(moto\) is at (http://[\d.]+:\d+)", server.log_text())
        if found:
            return server, found.group(1)
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"vaultlet -dev-aws=moto did not report moto:\n{server.log_text()}")


def _program(env: dict[str, str], stdin: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["python3", "-I", "-S", str(tfkit.CREDENTIALS_PROGRAM)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
    )
    if check and result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result


def bench_cold_start(server: processes.ServerProcess, env: dict[str, str]) -> None:
    print("\n## credentials program: cold start (python3 -I -S, as the module runs it)")
    interpreter = _timed(
        lambda: subprocess.run(["python3", "-I", "-S", "-c", "pass"], env=env, check=True), PROGRAM_RUNS
    )
    to_decision = _timed(lambda: _program(env, "{}", check=False), PROGRAM_RUNS)
    query = json.dumps({"role": "demo"})
    full = _timed(lambda: _program(env, query), PROGRAM_RUNS)

    def warm_request() -> None:
        request = urllib.request.Request(
            f"{server.address}/v1/aws/creds/demo", headers={"X-Vault-Token": server.root_token}
        )
        with urllib.request.urlopen(request) as response:
            response.read()

    server_side = _timed(warm_request, PROGRAM_RUNS)
    print(_row("python3 -I -S -c pass (the interpreter alone)", interpreter))
    print(_row("program, no network (query rejected)", to_decision))
    print(_row("program, full lookup (vaultlet + moto AssumeRole)", full))
    print(_row("same GET from a warm in-process client", server_side))
    overhead = statistics.median(full) - statistics.median(server_side)
    verdict = "meets" if overhead * 1000 <= COLD_START_GOAL_MS else "MISSES"
    print(
        f"{'  program cold start = full lookup - warm GET':<60} {overhead * 1000:8.1f} ms"
        f"   ({verdict} the {COLD_START_GOAL_MS:.0f} ms goal)"
    )


def _reattached_standin(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The stand-in started once, for Terraform to reattach to (as a native provider's cost)."""
    # Programs inherit the provider's environment, so it gets the one Terraform would have had.
    process = subprocess.Popen([str(STANDIN), "--dev"], stdout=subprocess.PIPE, text=True, env=env)
    for line in process.stdout:
        found = re.search(r"TF_REATTACH_PROVIDERS='(.*)'", line)
        if found:
            return process, found.group(1)
    raise RuntimeError("the stand-in did not print its reattach configuration")


def bench_plan(
    server: processes.ServerProcess, moto_endpoint: str, env: dict[str, str], workdir: Path
) -> None:
    print(f"\n## terraform plan: examples/basic-sts vs the same config with static keys (n={PLAN_RUNS} each)")
    keys = json.loads(_program(env, json.dumps({"role": "demo"})).stdout)
    static = tfkit.TerraformRoot(
        STATIC_KEYS_ROOT,
        workdir / "static",
        env,
        variables={
            "access_key": keys["access_key"],
            "secret_key": keys["secret_key"],
            "security_token": keys["security_token"],
            "local_aws_endpoint": moto_endpoint,
        },
    )
    dynamic = tfkit.TerraformRoot(
        tfkit.EXAMPLES / "basic-sts",
        workdir / "basic-sts",
        env,
        variables={"vault_role": "demo", "local_aws_endpoint": moto_endpoint},
    )
    static.init()
    dynamic.init()
    static_plans = _timed(static.plan, PLAN_RUNS)
    dynamic_plans = _timed(dynamic.plan, PLAN_RUNS)
    provider, reattach = _reattached_standin(env)
    try:
        dynamic.env = {**env, "TF_REATTACH_PROVIDERS": reattach}
        reattached_plans = _timed(dynamic.plan, PLAN_RUNS)
    finally:
        provider.terminate()
        provider.wait()
    baseline = statistics.median(static_plans)
    print(_row("static keys (no lookup)", static_plans, "s"))
    print(_row("basic-sts, stand-in provider launched per command (CI)", dynamic_plans, "s"))
    print(_row("basic-sts, stand-in reattached (≈ a native provider)", reattached_plans, "s"))
    for label, plans in (("CI stand-in", dynamic_plans), ("reattached", reattached_plans)):
        extra = statistics.median(plans) - baseline
        verdict = "meets" if extra <= PLAN_GOAL_SECONDS else "MISSES"
        print(
            f"{'  ratio ' + label + ' / static':<60} {statistics.median(plans) / baseline:8.2f}x"
            f"   {extra:+.2f} s ({verdict} the +{PLAN_GOAL_SECONDS} s goal)"
        )


def _frozen_provider(workdir: Path) -> Path:
    """The provider executable exactly as Terraform unpacks it from the mirror's zip."""
    mirror = tfkit.VENV / "terraform" / "mirror" / "registry.terraform.io" / "vaultlet" / "vaultlet"
    archive = next(mirror.glob("terraform-provider-vaultlet_*_linux_amd64.zip"))
    target = workdir / "provider-unpacked"
    with zipfile.ZipFile(archive) as unpacked:
        for member in unpacked.infolist():
            path = Path(unpacked.extract(member, target))
            path.chmod((member.external_attr >> 16) & 0o777 or 0o644)
    return next(target.glob("terraform-provider-vaultlet_v*"))


def bench_provider_start(workdir: Path) -> None:
    print(f"\n## vaultlet/vaultlet provider: start to go-plugin handshake (n={PROVIDER_START_RUNS})")
    executable = _frozen_provider(workdir)
    env = {**os.environ, "TF_PLUGIN_MAGIC_COOKIE": PLUGIN_COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "6"}

    def start() -> None:
        process = subprocess.Popen(
            [str(executable)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        handshake = process.stdout.readline()
        process.kill()
        process.wait()
        if not handshake.startswith(b"1|6|"):
            raise RuntimeError(f"unexpected handshake {handshake!r}")

    print(
        _row(
            "frozen executable (PyInstaller onedir, from the mirror zip)",
            _timed(start, PROVIDER_START_RUNS),
            "s",
        )
    )


def bench_ephemeral_plan(moto_endpoint: str, env: dict[str, str], workdir: Path) -> None:
    runs = EPHEMERAL_PLAN_RUNS
    print(f'\n## terraform plan: ephemeral-credentials vs static keys vs data "external" (n={runs} each)')
    keys = json.loads(_program(env, json.dumps({"role": "demo"})).stdout)
    roots = {
        "static keys (no lookup)": tfkit.TerraformRoot(
            STATIC_KEYS_ROOT,
            workdir / "eph-static",
            env,
            variables={
                "access_key": keys["access_key"],
                "secret_key": keys["secret_key"],
                "security_token": keys["security_token"],
                "local_aws_endpoint": moto_endpoint,
            },
        ),
        'basic-sts (data "external", CI stand-in)': tfkit.TerraformRoot(
            tfkit.EXAMPLES / "basic-sts",
            workdir / "eph-basic-sts",
            env,
            variables={"vault_role": "demo", "local_aws_endpoint": moto_endpoint},
        ),
        "ephemeral-credentials (vaultlet/vaultlet)": tfkit.TerraformRoot(
            tfkit.EXAMPLES / "ephemeral-credentials",
            workdir / "eph-ephemeral",
            env,
            variables={"vault_role": "demo", "local_aws_endpoint": moto_endpoint},
        ),
    }
    for root in roots.values():
        root.init()
    # Interleaved, so that a load change on the shared machine hits all three alike.
    timings: dict[str, list[float]] = {label: [] for label in roots}
    for _ in range(runs):
        for label, root in roots.items():
            timings[label].extend(_timed(root.plan, 1))
    baseline = statistics.median(timings["static keys (no lookup)"])
    for label, plans in timings.items():
        print(_row(label, plans, "s"))
    for label, plans in list(timings.items())[1:]:
        ratio = statistics.median(plans) / baseline
        print(f"{'  ratio ' + label.split(' (')[0] + ' / static':<60} {ratio:8.2f}x")
    external = statistics.median(timings['basic-sts (data "external", CI stand-in)'])
    ephemeral = statistics.median(timings["ephemeral-credentials (vaultlet/vaultlet)"])
    print(f"{'  ratio ephemeral / external':<60} {ephemeral / external:8.2f}x")


def run(workdir: Path) -> None:
    tfkit.ensure_toolchain()
    server, moto_endpoint = _start_broker(workdir / "terraform-vaultlet")
    home = workdir / "terraform-home"
    home.mkdir(parents=True, exist_ok=True)
    env = tfkit.clean_environment(home, VAULT_ADDR=server.address, VAULT_TOKEN=server.root_token)
    try:
        bench_cold_start(server, env)
        bench_plan(server, moto_endpoint, env, workdir)
        bench_provider_start(workdir)
        bench_ephemeral_plan(moto_endpoint, env, workdir)
    finally:
        server.stop()


if __name__ == "__main__":  # this part alone: cd tests && ../.venv/bin/python -m bench.terraform_bench
    import tempfile

    run(Path(tempfile.mkdtemp(prefix="vaultlet-terraform-bench-")))
