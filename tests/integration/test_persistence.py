"""State lives in the database: restarts, shared databases, encryption at rest — on
SQLite (one host) and on PostgreSQL (what several hosts share)."""

from __future__ import annotations

import collections
import re
import time

import hvac
import psycopg
import pytest

from support.aws_engine import access_key_user, mount_aws, user_exists
from support.processes import free_port, http, start_vaultlet_production

FAST_SWEEP = 'lease_revocation {\n  sweep_interval = "0.05s"\n}\n'


def _wait_until(condition, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request) -> str:
    """Empty for SQLite in the test's directory; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres").new_database()


def _token_lease_keys(server) -> list[str]:
    status, body, _ = http(server, "LIST", "sys/leases/lookup/auth/token/create")
    return body["data"]["keys"] if status == 200 else []


def test_tokens_and_leases_survive_restart_and_expiry_is_swept_after(tmp_path, storage_url):
    server = start_vaultlet_production(tmp_path, extra=FAST_SWEEP, storage_url=storage_url)
    client = hvac.Client(url=server.address, token=server.root_token)
    lasting = client.auth.token.create(policies=["p"], ttl="1h")["auth"]["client_token"]
    brief = client.auth.token.create(policies=["p"], ttl="3s")["auth"]["client_token"]
    assert len(_token_lease_keys(server)) == 2
    server.stop()
    time.sleep(3.5)  # the short token expires while no server runs

    restarted = start_vaultlet_production(
        tmp_path, port=free_port(), extra=FAST_SWEEP, storage_url=storage_url
    )
    try:
        client = hvac.Client(url=restarted.address, token=restarted.root_token)
        assert client.auth.token.lookup(lasting)["data"]["ttl"] > 3000
        _wait_until(lambda: len(_token_lease_keys(restarted)) == 1)
        assert not hvac.Client(url=restarted.address, token=brief).is_authenticated()
        assert "lease revoked: lease_id=auth/token/create/h" in restarted.log_text()
    finally:
        restarted.stop()


def test_two_processes_on_one_database_never_revoke_a_lease_twice(tmp_path, storage_url):
    first = start_vaultlet_production(tmp_path, extra=FAST_SWEEP, name="first", storage_url=storage_url)
    second = start_vaultlet_production(
        tmp_path, extra=FAST_SWEEP, name="second", root_token=first.root_token, storage_url=storage_url
    )
    try:
        client = hvac.Client(url=first.address, token=first.root_token)
        count = 60
        for _ in range(count):
            client.auth.token.create(policies=["p"], ttl="8s")  # outlives creating all 60 on a busy host
        assert len(_token_lease_keys(second)) == count  # the second process sees the first's leases
        _wait_until(lambda: not _token_lease_keys(first), timeout=30)
        time.sleep(0.5)
    finally:
        first.stop()
        second.stop()
    revoked = collections.Counter()
    per_process = {}
    for server in (first, second):
        ids = re.findall(r"lease revoked: lease_id=(\S+)", server.log_text())
        per_process[server.log_path.name] = len(ids)
        revoked.update(ids)
    assert len(revoked) == count, per_process
    assert set(revoked.values()) == {1}, [k for k, v in revoked.items() if v > 1]
    print("revocations per process:", per_process)


def _stored_bytes(tmp_path, storage_url: str) -> dict[str, bytes]:
    """Everything the database holds: the SQLite files, or every PostgreSQL row as text."""
    if not storage_url:
        files = [p for p in tmp_path.iterdir() if p.name.startswith("vaultlet.db")]
        assert files, list(tmp_path.iterdir())
        return {path.name: path.read_bytes() for path in files}
    with psycopg.connect(storage_url) as connection:
        tables = {}
        for table in ("vault_kv", "vault_leases"):
            rows = connection.execute(f"SELECT * FROM {table}").fetchall()
            tables[table] = b"".join(
                bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                for row in rows
                for v in row
            )
        assert tables["vault_kv"], "nothing stored?"
        return tables


def test_known_secrets_never_reach_the_database_in_plaintext(tmp_path, storage_url):
    server = start_vaultlet_production(tmp_path, storage_url=storage_url)
    sentinel = "SENTINEL-do-not-store-in-plaintext-7f3a9c"
    try:
        assert http(server, "POST", "sys/mounts/kv", {"type": "kv"})[0] == 204
        assert http(server, "PUT", "kv/app", {"password": sentinel})[0] == 204
        assert http(server, "GET", "kv/app")[1]["data"]["password"] == sentinel
        client = hvac.Client(url=server.address, token=server.root_token)
        created = client.auth.token.create(policies=["p"], ttl="1h", display_name=sentinel)["auth"]
        token, accessor = created["client_token"], created["accessor"]
    finally:
        server.stop()
    for where, content in _stored_bytes(tmp_path, storage_url).items():
        for secret in (sentinel, token, accessor, server.root_token):
            assert secret.encode() not in content, f"{secret[:6]}... found in {where}"


def test_aws_credentials_lifecycle_on_postgresql(tmp_path, postgres, moto):
    server = start_vaultlet_production(tmp_path, storage_url=postgres.new_database(), workers=2)
    try:
        mount = mount_aws(server, moto, http)
        assert http(server, "POST", f"{mount.path}/roles/app", {"credential_type": "iam_user"})[0] == 204
        status, secret, text = http(server, "GET", f"{mount.path}/creds/app")
        assert status == 200, text
        username = access_key_user(moto, secret["data"]["access_key"])
        assert username and user_exists(moto, username)
        assert http(server, "PUT", "sys/leases/revoke", {"lease_id": secret["lease_id"]})[0] == 204
        assert not user_exists(moto, username)
    finally:
        server.stop()
