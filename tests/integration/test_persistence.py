"""State lives in the database: restarts, shared databases, encryption at rest."""

from __future__ import annotations

import collections
import re
import time

import hvac

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


def _token_lease_keys(server) -> list[str]:
    status, body, _ = http(server, "LIST", "sys/leases/lookup/auth/token/create")
    return body["data"]["keys"] if status == 200 else []


def test_tokens_and_leases_survive_restart_and_expiry_is_swept_after(tmp_path):
    server = start_vaultlet_production(tmp_path, extra=FAST_SWEEP)
    client = hvac.Client(url=server.address, token=server.root_token)
    lasting = client.auth.token.create(policies=["p"], ttl="1h")["auth"]["client_token"]
    brief = client.auth.token.create(policies=["p"], ttl="3s")["auth"]["client_token"]
    assert len(_token_lease_keys(server)) == 2
    server.stop()
    time.sleep(3.5)  # the short token expires while no server runs

    restarted = start_vaultlet_production(tmp_path, port=free_port(), extra=FAST_SWEEP)
    try:
        client = hvac.Client(url=restarted.address, token=restarted.root_token)
        assert client.auth.token.lookup(lasting)["data"]["ttl"] > 3000
        _wait_until(lambda: len(_token_lease_keys(restarted)) == 1)
        assert not hvac.Client(url=restarted.address, token=brief).is_authenticated()
        assert "lease revoked: lease_id=auth/token/create/h" in restarted.log_text()
    finally:
        restarted.stop()


def test_two_processes_on_one_database_never_revoke_a_lease_twice(tmp_path):
    first = start_vaultlet_production(tmp_path, extra=FAST_SWEEP, name="first")
    second = start_vaultlet_production(tmp_path, extra=FAST_SWEEP, name="second", root_token=first.root_token)
    try:
        client = hvac.Client(url=first.address, token=first.root_token)
        count = 60
        for _ in range(count):
            client.auth.token.create(policies=["p"], ttl="2s")
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


def test_known_secrets_never_reach_the_database_in_plaintext(tmp_path):
    server = start_vaultlet_production(tmp_path)
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
    files = [p for p in tmp_path.iterdir() if p.name.startswith("vaultlet.db")]
    assert files, list(tmp_path.iterdir())
    for path in files:
        content = path.read_bytes()
        for secret in (sentinel, token, accessor, server.root_token):
            assert secret.encode() not in content, f"{secret[:6]}... found in {path.name}"
