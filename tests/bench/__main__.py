"""`make bench`: vaultlet next to a real OpenBao on the same machine, same run.

Every figure is measured here and now; ratios compare against the OpenBao
baseline measured in the same process run, never against a stored number.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (  # noqa: E402
    acl_bench,
    aws_bench,
    core_bench,
    core_inprocess,
    goals,
    jwt_bench,
    kube_bench,
    scale_bench,
    serving_bench,
    terraform_bench,
)
from bench.openbao_raft import start_openbao_raft  # noqa: E402
from support import processes  # noqa: E402


def main() -> int:
    duration = os.environ.get("BENCH_DURATION", "10s")
    workdir = Path(tempfile.mkdtemp(prefix="vaultlet-bench-"))
    # Benches that start their own servers, run alone with BENCH_ONLY=<name>.
    standalone = {
        "scale": lambda: scale_bench.run(workdir),  # the live-lease scale bench (minutes)
        "core-inprocess": lambda: core_inprocess.run(workdir),  # Core.handle without HTTP
        "serving": lambda: serving_bench.run(workdir, duration),  # the serving models compared
    }
    only = os.environ.get("BENCH_ONLY", "")
    if only in standalone:
        try:
            standalone[only]()
            goals.print_summary()
        finally:
            processes.cleanup_dir(workdir)
        return 0
    vaultlet = processes.start_vaultlet_production(workdir / "vaultlet", workers=2)
    if os.environ.get("BENCH_ONLY") == "aws":  # the STS path alone (about a minute)
        try:
            aws_bench.run(vaultlet, workdir, duration)
            goals.print_summary()
        finally:
            vaultlet.stop()
            processes.cleanup_dir(workdir)
        return 0
    openbao = processes.start_openbao_dev(workdir / "openbao")
    # OpenBao with raft storage: durable, as vaultlet's SQLite is (the goals' baseline).
    raft = start_openbao_raft(workdir / "openbao-raft")
    try:
        print(
            f"# vaultlet bench ({os.cpu_count()} cores, hey -c 32 -z {duration}, keep-alive;"
            " the load generator shares the cores)"
        )
        core_bench.run(vaultlet, openbao, duration, workdir, raft=raft)
        if os.environ.get("BENCH_ONLY") == "core":  # the core's calls alone, HTTP and in process
            goals.print_summary()
            return 0
        # BENCH_SKIP=terraform,serving,... leaves parts out of the full run.
        skip = set(os.environ.get("BENCH_SKIP", "").split(","))
        parts = [
            ("jwt", lambda: jwt_bench.run(vaultlet, openbao, duration)),
            ("aws", lambda: aws_bench.run(vaultlet, workdir, duration)),
            ("acl", lambda: (acl_bench.run(workdir, duration), acl_bench.check_rate())),
            ("kube", lambda: kube_bench.run(vaultlet, openbao, workdir, duration)),
            ("terraform", lambda: terraform_bench.run(workdir)),
            ("serving", lambda: serving_bench.run(workdir, duration)),
            ("scale", lambda: scale_bench.run(workdir)),
        ]
        for name, part in parts:
            if name not in skip:
                part()
        goals.print_summary()
    finally:
        vaultlet.stop()
        openbao.stop()
        raft.stop()
        processes.cleanup_dir(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
