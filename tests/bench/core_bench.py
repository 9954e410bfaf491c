"""Token-authenticated lookup-self and token creation, vaultlet vs OpenBao."""

from __future__ import annotations

import json

from bench.hey import LoadResult, run_hey
from support.processes import ServerProcess, http


def _child_token(server: ServerProcess) -> str:
    status, body, text = http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "2h"})
    assert status == 200, text
    return body["auth"]["client_token"]


def _pair(
    name: str,
    vaultlet: ServerProcess,
    openbao: ServerProcess,
    path: str,
    *,
    method: str = "GET",
    body: dict | None = None,
    duration: str,
    token_of=lambda s: s.root_token,
) -> tuple[LoadResult, LoadResult]:
    payload = json.dumps(body) if body is not None else None
    ours = run_hey(
        f"vaultlet {name}",
        f"{vaultlet.address}/v1/{path}",
        token=token_of(vaultlet),
        method=method,
        body=payload,
        duration=duration,
    )
    theirs = run_hey(
        f"openbao  {name}",
        f"{openbao.address}/v1/{path}",
        token=token_of(openbao),
        method=method,
        body=payload,
        duration=duration,
    )
    return ours, theirs


def report(ours: LoadResult, theirs: LoadResult) -> None:
    print(ours.row() + (f"  ({ours.errors} non-2xx)" if ours.errors else ""))
    print(theirs.row() + (f"  ({theirs.errors} non-2xx)" if theirs.errors else ""))
    print(
        f"{'  ratio vaultlet/openbao':<48}"
        f" {ours.requests_per_second / theirs.requests_per_second:>9.2f}x throughput,"
        f" p50 {ours.p50_ms / theirs.p50_ms:.2f}x, p99 {ours.p99_ms / theirs.p99_ms:.2f}x"
    )


def run(vaultlet: ServerProcess, openbao: ServerProcess, duration: str) -> None:
    print("\n## core: token-authenticated calls (non-root service token for lookup-self)")
    report(
        *_pair(
            "GET auth/token/lookup-self",
            vaultlet,
            openbao,
            "auth/token/lookup-self",
            duration=duration,
            token_of=_child_token,
        )
    )
    report(
        *_pair(
            "POST auth/token/create",
            vaultlet,
            openbao,
            "auth/token/create",
            method="POST",
            body={"policies": ["default"], "ttl": "10m"},
            duration=duration,
        )
    )
