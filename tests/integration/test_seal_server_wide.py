"""`sys/seal` seals the whole server: every gunicorn worker and every server sharing the
database, until `sys/unseal` with the key (a restart does not lift it). Also: the
SQLite files a production server writes are private (0600), like the seal file."""

from __future__ import annotations

import base64
import os
import re
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.processes import free_port, http, start_vaultlet_config, start_vaultlet_production

REQUESTS_PER_CHECK = 40  # fresh connections from 8 threads: both workers accept some


def _statuses(server, method: str, path: str, token: str | None = "") -> list[tuple[int, object]]:
    def one(_):
        status, body, _text = http(server, method, path, token=token)
        return status, body

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(REQUESTS_PER_CHECK)))


def _follower_seal_logged(server, timeout: float = 10.0) -> list[str]:
    """PIDs of workers that sealed themselves on seeing another worker's seal mark."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = re.findall(r"sealed by an operator \(sys/seal\); sealing worker (\d+)", server.log_text())
        if pids:
            return pids
        time.sleep(0.1)
    return []


def _unseal_key(workdir) -> str:
    key = base64.b64decode((workdir / "seal.key").read_text().strip())
    return base64.b64encode(key).decode()


def test_seal_reaches_every_worker_and_unseal_reopens_them_all(tmp_path):
    server = start_vaultlet_production(tmp_path, workers=2)
    try:
        assert {s for s, _ in _statuses(server, "GET", "auth/token/lookup-self")} == {200}

        assert http(server, "PUT", "sys/seal")[0] == 204
        answers = _statuses(server, "GET", "auth/token/lookup-self")
        assert answers == [(503, {"errors": ["Vault is sealed"]})] * REQUESTS_PER_CHECK
        statuses = _statuses(server, "GET", "sys/seal-status", token=None)
        assert all(status == 200 and body["sealed"] is True for status, body in statuses), statuses
        assert {s for s, _ in _statuses(server, "GET", "sys/health", token=None)} == {503}
        # The worker that did not answer sys/seal sealed itself too (request or sweeper).
        assert len(_follower_seal_logged(server)) == 1

        wrong = base64.b64encode(b"\x01" * 32).decode()
        status, body, _ = http(server, "PUT", "sys/unseal", {"key": wrong}, token=None)
        assert status == 400 and body == {"errors": ["Unseal failed, invalid key"]}
        assert {s for s, _ in _statuses(server, "GET", "auth/token/lookup-self")} == {503}

        status, body, _ = http(server, "PUT", "sys/unseal", {"key": _unseal_key(tmp_path)}, token=None)
        assert status == 200 and body["sealed"] is False
        assert {s for s, _ in _statuses(server, "GET", "auth/token/lookup-self")} == {200}
        statuses = _statuses(server, "GET", "sys/seal-status", token=None)
        assert all(body["sealed"] is False for _, body in statuses), statuses
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request) -> str:
    """Empty for SQLite in the test's directory; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres").new_database()


def test_two_servers_on_one_database_share_the_seal_and_a_restart_keeps_it(tmp_path, storage_url):
    first = start_vaultlet_production(tmp_path, name="first", storage_url=storage_url)
    second = start_vaultlet_production(
        tmp_path, name="second", root_token=first.root_token, storage_url=storage_url
    )
    try:
        assert http(second, "GET", "auth/token/lookup-self")[0] == 200

        assert http(first, "PUT", "sys/seal")[0] == 204
        assert http(second, "GET", "auth/token/lookup-self") == (
            503,
            {"errors": ["Vault is sealed"]},
            '{"errors": ["Vault is sealed"]}',
        )
        assert http(second, "GET", "sys/seal-status", token=None)[1]["sealed"] is True

        # An operator's seal outlives a restart, even with the key file in place.
        second.stop()
        second = start_vaultlet_production(
            tmp_path, port=free_port(), name="second", root_token=first.root_token, storage_url=storage_url
        )
        assert http(second, "GET", "auth/token/lookup-self")[0] == 503

        # Unsealed through the second server, the first follows from its key file.
        assert http(second, "PUT", "sys/unseal", {"key": _unseal_key(tmp_path)}, token=None)[0] == 200
        assert http(first, "GET", "auth/token/lookup-self")[0] == 200
        assert http(first, "GET", "sys/seal-status", token=None)[1]["sealed"] is False
    finally:
        first.stop()
        second.stop()


def test_the_database_files_are_private(tmp_path):
    server = start_vaultlet_production(tmp_path, workers=2)
    try:
        assert http(server, "POST", "sys/mounts/kv-modes", {"type": "kv"})[0] == 204
        assert http(server, "POST", "kv-modes/secret", {"value": "x"})[0] == 204
        names = ["vaultlet.db", "vaultlet.db-wal", "vaultlet.db-shm", "vaultlet.db.writelock", "seal.key"]
        modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in names}
        assert modes == dict.fromkeys(names, 0o600)
    finally:
        server.stop()


def test_files_left_readable_by_an_older_version_are_tightened(tmp_path):
    server = start_vaultlet_production(tmp_path)
    server.stop()
    for name in ("vaultlet.db", "vaultlet.db.writelock"):
        os.chmod(tmp_path / name, 0o644)
    server = start_vaultlet_production(tmp_path)
    try:
        assert http(server, "GET", "auth/token/lookup-self")[0] == 200
        for name in ("vaultlet.db", "vaultlet.db.writelock"):
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
    finally:
        server.stop()


NO_KEY_FILE_CONFIG = """
storage "sqlite" {{ path = "{db}" }}
listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
}}
workers = 2
"""


def test_without_a_key_file_the_key_given_to_one_worker_unseals_them_all(tmp_path):
    """No seal file, no VAULTLET_SEAL_KEY: the operator holds the key. The worker that
    answers sys/init or sys/unseal shares it with its siblings through memory only."""
    port = free_port()
    config = NO_KEY_FILE_CONFIG.format(db=tmp_path / "vaultlet.db", port=port)
    server = start_vaultlet_config(tmp_path, config, "", port, env={"VAULTLET_SEAL_KEY": ""})
    try:
        status, body, text = http(server, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        assert status == 200, text
        server.root_token, key = body["root_token"], body["keys_base64"][0]
        assert not (tmp_path / "seal.key").exists()
        assert {s for s, _ in _statuses(server, "GET", "auth/token/lookup-self")} == {200}

        assert http(server, "PUT", "sys/seal")[0] == 204
        assert {s for s, _ in _statuses(server, "GET", "auth/token/lookup-self")} == {503}
        assert http(server, "PUT", "sys/unseal", {"key": key}, token=None)[0] == 200
        assert {s for s, _ in _statuses(server, "GET", "auth/token/lookup-self")} == {200}
        statuses = _statuses(server, "GET", "sys/seal-status", token=None)
        assert all(body["sealed"] is False for _, body in statuses), statuses
    finally:
        server.stop()
