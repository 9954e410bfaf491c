"""``vaultlet server -dev -dev-aws=moto``: a local stand-in for AWS, ready to use.

Starts ``moto_server`` on a free loopback port (stopped when the server exits),
creates in it an IAM user for the broker and a role ``vault-demo-role`` that the
user may assume, then mounts ``aws/`` and writes ``aws/config/root`` and a demo
role ``demo`` (assumed_role) through the core, as the root token would. It runs
once, in the master process, before the gunicorn workers fork.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from vaultlet.engines.secrets.aws.client import ClientSettings, build_clients
from vaultlet.framework.request import UPDATE, Request

log = logging.getLogger("vaultlet.devaws")

REGION = "us-east-1"
BROKER_USER = "vaultlet-broker"
DEMO_ROLE = "vault-demo-role"
DEMO_VAULT_ROLE = "demo"
# moto accepts any key until IAM authorization is switched on; these create the broker.
BOOTSTRAP_SETTINGS = {"access_key": "testing", "secret_key": "testing", "region": REGION}
ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def configure_dev_aws(core, root_token: str) -> str:
    """Start moto, provision the broker identity in it, configure ``aws/``; returns moto's URL."""
    endpoint = start_moto_server()
    settings = ClientSettings(iam_endpoint=endpoint, sts_endpoint=endpoint, **BOOTSTRAP_SETTINGS)
    iam = build_clients(settings).iam
    broker = iam.create_user(BROKER_USER)
    iam.put_user_policy(BROKER_USER, "admin", ADMIN_POLICY)
    key = iam.create_access_key(BROKER_USER)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": broker.arn}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(DEMO_ROLE, json.dumps(trust))
    iam.put_role_policy(DEMO_ROLE, "demo", ADMIN_POLICY)

    _write(core, root_token, "sys/mounts/aws", {"type": "aws", "description": "AWS (moto, dev mode)"})
    _write(
        core,
        root_token,
        "aws/config/root",
        {
            "access_key": key.access_key_id,
            "secret_key": key.secret_access_key,
            "region": REGION,
            "iam_endpoint": endpoint,
            "sts_endpoint": endpoint,
        },
    )
    _write(
        core,
        root_token,
        f"aws/roles/{DEMO_VAULT_ROLE}",
        {"credential_type": "assumed_role", "role_arns": [role_arn], "default_sts_ttl": "1h"},
    )
    print(
        f"    AWS (moto) is at {endpoint}; aws/ is configured with the role '{DEMO_VAULT_ROLE}' "
        f"(assumed_role on {role_arn}).\n",
        file=sys.stderr,
        flush=True,
    )
    return endpoint


def start_moto_server() -> str:
    port = _free_port()
    executable = Path(sys.executable).with_name("moto_server")
    argv = [str(executable)] if executable.exists() else [sys.executable, "-m", "moto.server"]
    process = subprocess.Popen(
        [*argv, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the terminal reaches vaultlet, which stops moto itself
    )
    owner = os.getpid()
    # Forked gunicorn workers inherit this handler; only the process that started moto stops it.
    atexit.register(_stop, process, owner)
    endpoint = f"http://127.0.0.1:{port}"
    _wait_until_up(endpoint, process)
    return endpoint


def _stop(process: subprocess.Popen, owner: int) -> None:
    if os.getpid() != owner or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_until_up(endpoint: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer at {endpoint} within {timeout:.0f}s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write(core, root_token: str, path: str, data: dict) -> None:
    core.handle(Request(operation=UPDATE, path=path, data=data, client_token=root_token))
