"""OpenBao with integrated (raft) storage: durable like vaultlet's SQLite, unlike the
in-memory `bao server -dev`. A real `bao server -config` with one raft node, a plain
TCP listener, initialised with one key share, unsealed, and its root token kept.

``BENCH_OPENBAO_PORT`` (default: a free port) gives the listener; the cluster port is
the next one up, as `bao server -dev` takes it too.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support.processes import VENV_BIN, ServerProcess, _clean_env, _launch, free_port, http

RAFT_CONFIG = """
storage "raft" {{
  path    = "{data}"
  node_id = "bench-{port}"
}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable     = true
}}
api_addr      = "http://127.0.0.1:{port}"
cluster_addr  = "http://127.0.0.1:{cluster_port}"
disable_mlock = true
ui            = false
{audit}
"""

AUDIT_BLOCK = """
audit "file" "file" {{
  options {{
    file_path = "{path}"
  }}
}}
"""

_NEXT_PORT = [int(os.environ.get("BENCH_OPENBAO_PORT", "0"))]


def _ports() -> tuple[int, int]:
    if _NEXT_PORT[0]:
        port = _NEXT_PORT[0]
        _NEXT_PORT[0] += 2
        return port, port + 1
    return free_port(), free_port()


def start_openbao_raft(workdir: Path, *, audit: bool = False) -> ServerProcess:
    """One raft node, initialised (1 share), unsealed; ``audit`` adds a file audit device
    (OpenBao 2.4+ declares audit devices in its config only)."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "raft"
    data.mkdir(exist_ok=True)
    port, cluster_port = _ports()
    config = workdir / "openbao-raft.hcl"
    config.write_text(
        RAFT_CONFIG.format(
            data=data,
            port=port,
            cluster_port=cluster_port,
            audit=AUDIT_BLOCK.format(path=workdir / "audit.log") if audit else "",
        )
    )
    env = _clean_env({"HOME": str(workdir)})
    argv = [str(VENV_BIN / "bao"), "server", f"-config={config}"]
    server = _launch("openbao-raft", argv, workdir, port, "", env, "openbao-raft")
    try:
        client = server.client_env(token="-")
        client.pop("VAULT_TOKEN")
        init = subprocess.run(
            [str(VENV_BIN / "bao"), "operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"],
            env=client,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        keys = json.loads(init.stdout)
        subprocess.run(
            [str(VENV_BIN / "bao"), "operator", "unseal", keys["unseal_keys_b64"][0]],
            env=client,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        server.root_token = keys["root_token"]
        _wait_active(server)
    except Exception:
        server.kill()
        raise
    return server


def _wait_active(server: ServerProcess, timeout: float = 60.0) -> None:
    """Unsealed is not yet usable: the single raft node must elect itself and become
    active (sys/health 200) before it takes writes."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, _ = http(server, "GET", "sys/health", token=None)
        if status == 200:
            status, _, _ = http(server, "GET", "auth/token/lookup-self")
            if status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"OpenBao raft did not become active:\n{server.log_text()}")
