"""The calls clients make most, vaultlet vs OpenBao in the same run: non-root
lookup-self, token create, renew-self, a policy-checked read with a file audit
device, AppRole login; then the same calls in process (core_inprocess.py)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import core_inprocess
from bench.hey import LoadResult, run_hey
from support.processes import ServerProcess, http, start_openbao_dev

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


def _audited_read(vaultlet: ServerProcess, workdir: Path, duration: str) -> None:
    """OpenBao declares audit devices in its config: a second dev server with a file
    device; vaultlet gets one through the API for this pair only."""
    openbao_dir = workdir / "openbao-audited"
    openbao_dir.mkdir(parents=True, exist_ok=True)
    (openbao_dir / "audit.hcl").write_text(
        f'audit "file" "file" {{\n  options {{\n    file_path = "{openbao_dir / "audit.log"}"\n  }}\n}}\n'
    )
    audited = start_openbao_dev(openbao_dir, extra_args=[f"-config={openbao_dir / 'audit.hcl'}"])
    _ok(
        vaultlet,
        "PUT",
        "sys/audit/bench",
        {"type": "file", "options": {"file_path": str(workdir / "audit.log")}},
    )
    try:
        tokens = {vaultlet.address: _prepare_read(vaultlet), audited.address: _prepare_read(audited)}
        report(
            *_pair(
                "GET bench-kv/app (ACL + file audit)",
                vaultlet,
                audited,
                "bench-kv/app",
                duration=duration,
                token_of=lambda s: tokens[s.address],
            )
        )
    finally:
        _ok(vaultlet, "DELETE", "sys/audit/bench")
        audited.stop()


def run(vaultlet: ServerProcess, openbao: ServerProcess, duration: str, workdir: Path | None = None) -> None:
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
        _audited_read(vaultlet, workdir, duration)
        core_inprocess.run(workdir / "inprocess")
