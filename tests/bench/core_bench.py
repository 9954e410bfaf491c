"""The calls clients make most, vaultlet vs OpenBao in the same run: non-root
lookup-self, token create, renew-self, a policy-checked read with a file audit
device, AppRole login; then the same calls in process (core_inprocess.py)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import core_inprocess, goals
from bench.hey import LoadResult, run_hey
from bench.openbao_raft import start_openbao_raft
from support.processes import ServerProcess, http, openbao_file_audit_args, start_openbao_dev

READER_POLICY = 'path "bench-kv/*" { capabilities = ["read"] }'


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


def against_raft(
    goal: str,
    ours: LoadResult,
    dev: LoadResult,
    raft: ServerProcess,
    path: str,
    *,
    token: str,
    method: str = "GET",
    body: dict | None = None,
    duration: str,
) -> None:
    """The same load on OpenBao with raft storage; prints both ratios and records the
    goal (>= 1.0x raft) and the gap to the in-memory dev server."""
    theirs = run_hey(
        "openbao raft " + ours.name.removeprefix("vaultlet "),
        f"{raft.address}/v1/{path}",
        token=token,
        method=method,
        body=json.dumps(body) if body is not None else None,
        duration=duration,
    )
    print(theirs.row() + (f"  ({theirs.errors} non-2xx)" if theirs.errors else ""))
    to_raft = ours.requests_per_second / theirs.requests_per_second
    to_dev = ours.requests_per_second / dev.requests_per_second
    print(
        f"{'  ratio vaultlet/openbao raft':<48} {to_raft:>9.2f}x throughput,"
        f" p50 {ours.p50_ms / theirs.p50_ms:.2f}x, p99 {ours.p99_ms / theirs.p99_ms:.2f}x"
    )
    clean = not (ours.errors or theirs.errors or dev.errors)
    goals.record(
        f"{goal} >= 1.0x OpenBao raft",
        f"{to_raft:.2f}x ({ours.requests_per_second:.0f} vs {theirs.requests_per_second:.0f}/s)"
        + ("" if clean else " with non-2xx answers"),
        to_raft >= 1.0 and clean,
    )
    goals.record(
        f"{goal}: gap to OpenBao dev (in memory)",
        f"{to_dev:.2f}x ({ours.requests_per_second:.0f} vs {dev.requests_per_second:.0f}/s)",
        None,
    )


def _ok(server: ServerProcess, method: str, path: str, body: dict | None = None) -> dict | None:
    status, parsed, text = http(server, method, path, body)
    assert status in (200, 204), f"{server.kind} {method} {path}: {status} {text}"
    return parsed


def _renewable_token(server: ServerProcess) -> str:
    return _ok(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "1h"})["auth"][
        "client_token"
    ]


def _prepare_read(server: ServerProcess) -> str:
    """A kv v1 mount with one secret and a non-root token whose policy may read it."""
    _ok(server, "POST", "sys/mounts/bench-kv", {"type": "kv"})
    _ok(server, "PUT", "bench-kv/app", {"password": "hunter2", "user": "app"})
    _ok(server, "PUT", "sys/policies/acl/bench-reader", {"policy": READER_POLICY})
    reply = _ok(server, "POST", "auth/token/create", {"policies": ["bench-reader"], "ttl": "2h"})
    return reply["auth"]["client_token"]


def _prepare_approle(server: ServerProcess) -> str:
    """An AppRole role, its role ID and one unlimited secret ID: the login body, as JSON."""
    _ok(server, "POST", "sys/auth/bench-approle", {"type": "approle"})
    _ok(server, "POST", "auth/bench-approle/role/bench", {"token_policies": ["default"], "token_ttl": "10m"})
    role_id = _ok(server, "GET", "auth/bench-approle/role/bench/role-id")["data"]["role_id"]
    secret_id = _ok(server, "POST", "auth/bench-approle/role/bench/secret-id")["data"]["secret_id"]
    return json.dumps({"role_id": role_id, "secret_id": secret_id})


def _audited_read(vaultlet: ServerProcess, workdir: Path, duration: str, with_raft: bool = True) -> None:
    """OpenBao declares audit devices in its config: a second dev server with a file
    device; vaultlet gets one through the API for this pair only."""
    openbao_dir = workdir / "openbao-audited"
    openbao_dir.mkdir(parents=True, exist_ok=True)
    audited = start_openbao_dev(openbao_dir, extra_args=openbao_file_audit_args(openbao_dir))
    raft = start_openbao_raft(workdir / "openbao-raft-audited", audit=True) if with_raft else None
    _ok(
        vaultlet,
        "PUT",
        "sys/audit/bench",
        {"type": "file", "options": {"file_path": str(workdir / "audit.log")}},
    )
    try:
        tokens = {vaultlet.address: _prepare_read(vaultlet), audited.address: _prepare_read(audited)}
        ours, theirs = _pair(
            "GET bench-kv/app (ACL + file audit)",
            vaultlet,
            audited,
            "bench-kv/app",
            duration=duration,
            token_of=lambda s: tokens[s.address],
        )
        report(ours, theirs)
        if raft is not None:
            against_raft(
                "policy-checked read + file audit",
                ours,
                theirs,
                raft,
                "bench-kv/app",
                token=_prepare_read(raft),
                duration=duration,
            )
    finally:
        _ok(vaultlet, "DELETE", "sys/audit/bench")
        audited.stop()
        if raft is not None:
            raft.stop()


def run(
    vaultlet: ServerProcess,
    openbao: ServerProcess,
    duration: str,
    workdir: Path | None = None,
    raft: ServerProcess | None = None,
) -> None:
    print(
        "\n## core: token-authenticated calls (non-root service token for lookup-self);"
        " OpenBao dev (in memory) and, where started, OpenBao with raft storage"
    )
    ours, theirs = _pair(
        "GET auth/token/lookup-self",
        vaultlet,
        openbao,
        "auth/token/lookup-self",
        duration=duration,
        token_of=_child_token,
    )
    report(ours, theirs)
    if raft is not None:
        against_raft(
            "non-root lookup-self",
            ours,
            theirs,
            raft,
            "auth/token/lookup-self",
            token=_child_token(raft),
            duration=duration,
        )
    create = {"policies": ["default"], "ttl": "10m"}
    ours, theirs = _pair(
        "POST auth/token/create",
        vaultlet,
        openbao,
        "auth/token/create",
        method="POST",
        body=create,
        duration=duration,
    )
    report(ours, theirs)
    if raft is not None:
        against_raft(
            "token create",
            ours,
            theirs,
            raft,
            "auth/token/create",
            token=raft.root_token,
            method="POST",
            body=create,
            duration=duration,
        )
    renewers = {vaultlet.address: _renewable_token(vaultlet), openbao.address: _renewable_token(openbao)}
    report(
        *_pair(
            "POST auth/token/renew-self (non-root)",
            vaultlet,
            openbao,
            "auth/token/renew-self",
            method="POST",
            body={},
            duration=duration,
            token_of=lambda s: renewers[s.address],
        )
    )
    logins = {vaultlet.address: _prepare_approle(vaultlet), openbao.address: _prepare_approle(openbao)}
    ours = run_hey(
        "vaultlet POST auth/approle/login",
        f"{vaultlet.address}/v1/auth/bench-approle/login",
        token="",
        method="POST",
        body=logins[vaultlet.address],
        duration=duration,
    )
    theirs = run_hey(
        "openbao  POST auth/approle/login",
        f"{openbao.address}/v1/auth/bench-approle/login",
        token="",
        method="POST",
        body=logins[openbao.address],
        duration=duration,
    )
    report(ours, theirs)
    if workdir is not None:
        _audited_read(vaultlet, workdir, duration, with_raft=raft is not None)
        core_inprocess.run(workdir / "inprocess")
