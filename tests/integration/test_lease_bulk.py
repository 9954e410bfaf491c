"""Bulk revocation end to end (issue 13): revoke-prefix claims, revokes and deletes in
batches; ``sync=false`` answers 202 with the work queued and the sweepers of every
worker finish it (also after a crash); ``sync=true`` waits; IAM-user leases go to IAM
in parallel; ``sys/leases/count`` shows the counts per mount accessor (as OpenBao) and
the backlog. Real gunicorn servers, moto as a separate server."""

from __future__ import annotations

import sqlite3
import time
from http.client import RemoteDisconnected

import pytest

from support.aws_engine import mount_aws, user_exists, wait_for
from support.processes import http, start_moto, start_vaultlet_production

# Small batches so that a few hundred leases take many of them.
BULK_CONFIG = """
lease_revocation {
  sweep_interval     = "0.2s"
  batch_size         = 40
  revoke_parallelism = 4
}
"""
TOKENS = 300


@pytest.fixture()
def bulk(tmp_path):
    moto = start_moto(tmp_path / "moto")
    server = start_vaultlet_production(tmp_path / "vaultlet", workers=2, extra=BULK_CONFIG)
    yield server, moto
    server.stop()
    moto.stop()


def _tokens(server, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        status, body, text = http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "1h"})
        assert status == 200, text
        tokens.append(body["auth"]["client_token"])
    return tokens


def _alive(server, token: str) -> bool:
    return http(server, "GET", "auth/token/lookup-self", token=token)[0] == 200


def _leases_under(server, prefix: str) -> int:
    status, body, _ = http(server, "LIST", f"sys/leases/lookup/{prefix}")
    return len(body["data"]["keys"]) if status == 200 else 0


def _lease_rows(database) -> int:
    """Leases in a stopped server's database (its workers kept dying: no API to ask)."""
    connection = sqlite3.connect(database)
    try:
        return connection.execute("SELECT count(*) FROM vault_leases").fetchone()[0]
    finally:
        connection.close()


def _token_accessor(server) -> str:
    return http(server, "GET", "sys/auth")[1]["data"]["token/"]["accessor"]


def test_revoke_prefix_sync_false_answers_202_and_the_sweepers_revoke_every_token(bulk):
    server, _ = bulk
    tokens = _tokens(server, TOKENS)
    counted = http(server, "GET", "sys/leases/count")[1]["data"]
    assert counted["counts"][_token_accessor(server)] == TOKENS
    assert counted["lease_count"] == TOKENS and counted["queued"] == 0

    status, body, text = http(server, "PUT", "sys/leases/revoke-prefix/auth/token/create", {"sync": False})
    assert status == 202, text
    assert wait_for(lambda: _leases_under(server, "auth/token/create/") == 0, timeout=60)
    assert not any(_alive(server, token) for token in tokens[:: TOKENS // 20])
    counted = http(server, "GET", "sys/leases/count")[1]["data"]
    assert (counted["lease_count"], counted["queued"], counted["counts"]) == (0, 0, {})
    log = server.log_text()
    assert f"revoke-prefix queued: prefix=auth/token/create/ leases={TOKENS} sync=False" in log
    assert "leases revoked: 40 in one batch" in log, "the sweepers revoke in batches"


def test_revoke_prefix_sync_true_waits_until_every_iam_user_is_gone(bulk):
    server, moto = bulk
    mount = mount_aws(server, moto, http)
    assert http(server, "POST", f"{mount.path}/roles/app", {"credential_type": "iam_user"})[0] == 204
    issued = [http(server, "GET", f"{mount.path}/creds/app")[1] for _ in range(6)]
    users = {lease["data"]["access_key"]: lease for lease in issued}
    assert len(users) == 6
    names = [_user_of(moto, lease) for lease in issued]
    accessor = http(server, "GET", f"sys/mounts/{mount.path}")[1]["data"]["accessor"]
    assert http(server, "GET", "sys/leases/count?type=all")[1]["data"]["counts"][accessor] == 6

    status, _, text = http(server, "PUT", f"sys/leases/revoke-prefix/{mount.path}/creds/app")
    assert status == 204, text
    assert not any(user_exists(moto, name) for name in names), "204 while leased users exist"
    assert _leases_under(server, f"{mount.path}/creds/app/") == 0


def test_revoke_prefix_of_an_exact_lease_id_revokes_that_lease(bulk):
    """As Vault: a prefix without a trailing slash that is a lease id revokes that lease."""
    server, _ = bulk
    token = _tokens(server, 1)[0]
    lease_id = http(server, "GET", "auth/token/lookup-self", token=token)[1]["data"]["path"]
    lease_ids = http(server, "LIST", "sys/leases/lookup/auth/token/create/")[1]["data"]["keys"]
    assert len(lease_ids) == 1 and lease_id == "auth/token/create"
    status, _, text = http(server, "PUT", f"sys/leases/revoke-prefix/auth/token/create/{lease_ids[0]}")
    assert status == 204, text
    assert not _alive(server, token)


def _user_of(moto, lease: dict) -> str:
    from support.aws_engine import access_key_user

    name = access_key_user(moto, lease["data"]["access_key"])
    assert name
    return name


def test_queued_revocations_survive_workers_that_die_holding_their_claims(tmp_path):
    """sync=false queues (due now) without claiming; the sweepers claim batches. Workers
    killed mid-batch (fault point: claimed, engine not called yet) leave claims behind;
    a restarted server takes them over at once and finishes the queue."""
    fault_file = tmp_path / "fault"
    fault_file.write_text("")
    env = {"VAULTLET_FAULT_FILE": str(fault_file)}
    server = start_vaultlet_production(tmp_path / "vaultlet", workers=2, extra=BULK_CONFIG, env=env)
    try:
        tokens = _tokens(server, 120)
        fault_file.write_text("lease-revoke-claimed")
        try:
            status, _, text = http(
                server, "PUT", "sys/leases/revoke-prefix/auth/token/create", {"sync": False}
            )
            assert status == 202, text
        except (RemoteDisconnected, ConnectionResetError):
            # The sweeper in the answering worker can take the job it just committed and die at
            # the fault point before the 202 is written: the job is queued all the same (no job,
            # no claim, no fault), which the kill below and the final count show.
            pass
        assert wait_for(lambda: "SIGKILL" in server.log_text(), timeout=30), "no worker died on its claim"
        time.sleep(1)
        server.kill()  # still armed: no worker got past the fault point
        fault_file.write_text("")
        assert _lease_rows(tmp_path / "vaultlet" / "vaultlet.db") == 120, "nothing revoked while armed"
        server = start_vaultlet_production(tmp_path / "vaultlet", workers=2, extra=BULK_CONFIG, env=env)
        assert wait_for(lambda: _leases_under(server, "auth/token/create/") == 0, timeout=60)
        assert not any(_alive(server, token) for token in tokens[::10])
    finally:
        server.stop()


def test_lease_count_answers_as_openbao_for_irrevocable(server, openbao):
    """Vault counts only type=irrevocable: {"counts": {accessor: n}, "lease_count": n}."""
    ours = http(server, "GET", "sys/leases/count?type=irrevocable")
    theirs = http(openbao, "GET", "sys/leases/count?type=irrevocable")
    assert ours[0] == theirs[0] == 200
    assert set(ours[1]["data"]) == set(theirs[1]["data"]) == {"counts", "lease_count"}
    assert ours[1]["data"] == theirs[1]["data"] == {"counts": {}, "lease_count": 0}
    # Deliberate difference (README): without a type vaultlet counts every lease;
    # OpenBao answers 404.
    assert http(openbao, "GET", "sys/leases/count")[0] == 404
    everything = http(server, "GET", "sys/leases/count")
    assert everything[0] == 200 and set(everything[1]["data"]) == {"counts", "lease_count", "queued"}
