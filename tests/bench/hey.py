"""Run `hey` against a URL and parse its summary (throughput, p50, p99)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass


@dataclass
class LoadResult:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int

    def row(self) -> str:
        return (
            f"{self.name:<48} {self.requests_per_second:>9.0f} req/s"
            f"  p50 {self.p50_ms:>7.2f} ms  p99 {self.p99_ms:>7.2f} ms"
        )


def run_hey(
    name: str,
    url: str,
    *,
    token: str,
    method: str = "GET",
    body: str | None = None,
    duration: str = "10s",
    concurrency: int = 32,
) -> LoadResult:
    argv = ["hey", "-z", duration, "-c", str(concurrency), "-m", method, "-H", f"X-Vault-Token: {token}"]
    if body is not None:
        argv += ["-d", body, "-T", "application/json"]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    return LoadResult(
        name=name,
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_percentile(output, 50),
        p99_ms=_percentile(output, 99),
        errors=_non_2xx(output),
    )


def _percentile(output: str, percent: int) -> float:
    match = re.search(rf"\s{percent}% in ([\d.]+) secs", output)
    return float(match.group(1)) * 1000 if match else float("nan")


def _non_2xx(output: str) -> int:
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", output)
    return sum(int(count) for code, count in codes if not code.startswith("2"))
