"""Leases end to end: hvac and the bao CLI against real IAM-user leases in moto,
and the revocation retry / irrevocable machinery against an AWS that goes away."""

from __future__ import annotations

import json
import time

import hvac
import pytest

from support.aws_engine import access_key_user, mount_aws, unmount, user_exists, wait_for
from support.processes import bao, http, start_moto, start_vaultlet_production


@pytest.fixture()
def aws(server, moto):
    mount = mount_aws(server, moto, http)
    assert http(server, "POST", f"{mount.path}/config/lease", {"lease": "30m", "lease_max": "1h"})[0] == 204
    assert http(server, "POST", f"{mount.path}/roles/app", {"credential_type": "iam_user"})[0] == 204
    yield mount
    unmount(server, http, mount)


def _issue(server, mount):
    status, body, text = http(server, "GET", f"{mount.path}/creds/app")
    assert status == 200, text
    return body


def _username(moto, access_key):
    return access_key_user(moto, access_key)


def test_hvac_lease_calls(server, moto, aws):
    client = hvac.Client(url=server.address, token=server.root_token)
    secret = _issue(server, aws)
    lease_id = secret["lease_id"]
    assert lease_id.startswith(f"{aws.path}/creds/app/") and len(lease_id.rsplit("/", 1)[1]) == 24
    assert (secret["renewable"], secret["lease_duration"]) == (True, 1800)
    username = _username(moto, secret["data"]["access_key"])

    looked_up = client.sys.read_lease(lease_id)["data"]
    assert looked_up["id"] == lease_id and looked_up["renewable"] is True
    assert looked_up["path"] == f"{aws.path}/creds/app" and 1790 <= looked_up["ttl"] <= 1800
    assert looked_up["last_renewal"] is None

    listed = client.sys.list_leases(f"{aws.path}/creds/app")["data"]["keys"]
    assert lease_id.rsplit("/", 1)[1] in listed

    renewed = client.sys.renew_lease(lease_id, increment=600)
    assert (renewed["lease_id"], renewed["lease_duration"], renewed["renewable"]) == (lease_id, 600, True)
    assert client.sys.read_lease(lease_id)["data"]["last_renewal"] is not None
    capped = client.sys.renew_lease(lease_id, increment=7200)
    assert capped["lease_duration"] <= 3600
    assert 'exceeded the effective max_ttl of "' in capped["warnings"][0]

    client.sys.revoke_lease(lease_id)
    assert not user_exists(moto, username)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        client.sys.read_lease(lease_id)

    first, second = _issue(server, aws), _issue(server, aws)
    users = [_username(moto, s["data"]["access_key"]) for s in (first, second)]
    client.sys.revoke_prefix(f"{aws.path}/creds/app")
    assert not any(user_exists(moto, u) for u in users)
    assert http(server, "LIST", f"sys/leases/lookup/{aws.path}/creds/app")[0] == 404

    # revoke-force still calls the engine (as Vault): the IAM key stops working.
    forced = _issue(server, aws)
    forced_key = forced["data"]["access_key"]
    forced_user = _username(moto, forced_key)
    client.sys.revoke_force(f"{aws.path}/creds/app")
    assert http(server, "PUT", "sys/leases/lookup", {"lease_id": forced["lease_id"]})[0] == 400
    assert not user_exists(moto, forced_user), "revoke-force must call the engine's revoke"
    assert access_key_user(moto, forced_key) is None


def test_bao_lease_commands(server, moto, aws):
    secret = json.loads(bao(server, "read", "-format=json", f"{aws.path}/creds/app").stdout)
    lease_id = secret["lease_id"]
    username = _username(moto, secret["data"]["access_key"])

    lookup = json.loads(bao(server, "lease", "lookup", "-format=json", lease_id).stdout)
    assert lookup["data"]["id"] == lease_id
    renewed = json.loads(bao(server, "lease", "renew", "-increment=20m", "-format=json", lease_id).stdout)
    assert renewed["lease_duration"] == 1200
    listed = bao(server, "list", f"sys/leases/lookup/{aws.path}/creds/app").stdout
    assert lease_id.rsplit("/", 1)[1] in listed

    revoked = bao(server, "lease", "revoke", lease_id)
    assert "All revocation operations queued successfully" in revoked.stdout
    assert wait_for(lambda: not user_exists(moto, username))

    users = []
    for _ in range(2):
        issued = json.loads(bao(server, "read", "-format=json", f"{aws.path}/creds/app").stdout)
        users.append(_username(moto, issued["data"]["access_key"]))
    bao(server, "lease", "revoke", "-prefix", f"{aws.path}/creds/app")
    assert wait_for(lambda: not any(user_exists(moto, u) for u in users))

    count = json.loads(bao(server, "read", "-format=json", "sys/leases/count", "type=all").stdout)
    assert isinstance(count["data"]["lease_count"], int)
    unknown = bao(server, "lease", "renew", f"{aws.path}/creds/app/nope", check=False)
    assert unknown.returncode == 2 and "lease not found" in unknown.stderr


def test_failed_revocations_retry_then_turn_irrevocable_and_are_still_retried(tmp_path):
    """AWS goes away: revocation is retried with backoff, marked irrevocable after the
    configured attempts, listed and counted as such, and retried again until it succeeds."""
    moto = start_moto(tmp_path / "moto")
    server = start_vaultlet_production(
        tmp_path / "vaultlet",
        extra="""
rollback_min_age = "1s"
lease_revocation {
  sweep_interval             = "0.1s"
  retry_base                 = "0.2s"
  retry_cap                  = "0.5s"
  max_attempts               = 3
  irrevocable_retry_interval = "3s"
}
""",
    )
    try:
        mount = mount_aws(server, moto, http, max_retries=0)
        assert http(server, "POST", f"{mount.path}/roles/app", {"credential_type": "iam_user"})[0] == 204
        lease_id = _issue(server, mount)["lease_id"]
        moto.stop()  # AWS is unreachable from now on

        status, _, _ = http(server, "PUT", "sys/leases/revoke", {"lease_id": lease_id, "sync": False})
        assert status == 202

        def irrevocable():
            status, body, _ = http(server, "GET", "sys/leases?type=irrevocable")
            return body["data"]["leases"] if status == 200 and body["data"]["lease_count"] else None

        assert wait_for(lambda: bool(irrevocable()), timeout=30)
        entry = irrevocable()[0]
        assert entry["lease_id"] == lease_id and entry["attempts"] == 3
        assert entry["error"], "the last error is kept for the operator"
        assert http(server, "GET", "sys/leases/count?type=irrevocable")[1]["data"]["lease_count"] == 1
        log = server.log_text()
        assert log.count(f"lease revocation failed: lease_id={lease_id}") >= 3

        # AWS comes back (empty: the user vanished with it): the daily-style retry
        # finishes the job, and NoSuchEntity on a lease older than the grace age is done.
        moto = start_moto(tmp_path / "moto2")
        assert (
            http(
                server,
                "POST",
                f"{mount.path}/config/root",
                {"iam_endpoint": moto.endpoint, "sts_endpoint": moto.endpoint},
            )[0]
            == 204
        )
        assert wait_for(
            lambda: http(server, "PUT", "sys/leases/lookup", {"lease_id": lease_id})[0] == 400, timeout=30
        )
        assert http(server, "GET", "sys/leases/count?type=irrevocable")[1]["data"]["lease_count"] == 0
        assert f"lease revoked: lease_id={lease_id}" in server.log_text()
    finally:
        server.stop()
        moto.stop()


def test_irrevocable_leases_can_be_force_revoked(tmp_path):
    moto = start_moto(tmp_path / "moto")
    server = start_vaultlet_production(
        tmp_path / "vaultlet",
        extra='lease_revocation {\n sweep_interval = "0.1s"\n retry_base = "0.1s"\n max_attempts = 1\n}\n',
    )
    try:
        mount = mount_aws(server, moto, http, max_retries=0)
        assert http(server, "POST", f"{mount.path}/roles/app", {"credential_type": "iam_user"})[0] == 204
        lease_id = _issue(server, mount)["lease_id"]
        moto.stop()
        status, body, _ = http(server, "PUT", "sys/leases/revoke", {"lease_id": lease_id})
        # AWS unreachable is worth retrying: 502 (Vault answers 400; see the README).
        assert status == 502 and "failed to revoke 1 lease(s)" in body["errors"][0]
        assert wait_for(
            lambda: http(server, "GET", "sys/leases/count?type=irrevocable")[1]["data"]["lease_count"] == 1
        )
        bao(server, "lease", "revoke", "-force", "-prefix", f"{mount.path}/creds/app")
        assert http(server, "GET", "sys/leases/count?type=irrevocable")[1]["data"]["lease_count"] == 0
        # The engine was called and failed (AWS is down); force dropped the lease anyway.
        log = server.log_text()
        assert f"lease force-revoked although its engine failed to revoke it: lease_id={lease_id}" in log
    finally:
        server.stop()
        moto.stop()


def test_expired_lease_is_revoked_by_the_sweeper(server, moto, aws):
    assert http(server, "POST", f"{aws.path}/config/lease", {"lease": "2s", "lease_max": "2s"})[0] == 204
    secret = _issue(server, aws)
    assert secret["lease_duration"] == 2
    username = _username(moto, secret["data"]["access_key"])
    assert wait_for(lambda: not user_exists(moto, username), timeout=20)
    time.sleep(0.2)
    assert http(server, "PUT", "sys/leases/lookup", {"lease_id": secret["lease_id"]})[0] == 400


def test_revokes_by_hand_do_not_advance_the_irrevocable_schedule(tmp_path):
    """Defect 4: only the sweeper's attempts count toward irrevocable. An operator
    retrying a failing revoke (sync, or queued again) neither counts attempts nor
    brings the sweeper's next retry forward."""
    moto = start_moto(tmp_path / "moto")
    server = start_vaultlet_production(
        tmp_path / "vaultlet",
        extra="""
lease_revocation {
  sweep_interval = "0.1s"
  retry_base     = "1h"
  max_attempts   = 2
}
""",
    )
    try:
        mount = mount_aws(server, moto, http, max_retries=0)
        assert http(server, "POST", f"{mount.path}/roles/app", {"credential_type": "iam_user"})[0] == 204
        lease_id = _issue(server, mount)["lease_id"]
        moto.stop()  # AWS is unreachable from now on
        for _ in range(4):
            status, body, _ = http(server, "PUT", "sys/leases/revoke", {"lease_id": lease_id})
            assert status == 502 and "failed to revoke 1 lease(s)" in body["errors"][0]
        # Queued again by hand: the first one is the sweeper's first attempt (counted),
        # the later ones leave the lease in its hour-long backoff.
        for _ in range(3):
            assert http(server, "PUT", "sys/leases/revoke", {"lease_id": lease_id, "sync": False})[0] == 202
            time.sleep(0.5)
        irrevocable = http(server, "GET", "sys/leases/count?type=irrevocable")[1]["data"]
        assert irrevocable["lease_count"] == 0, "7 revokes by hand made the lease irrevocable"
        log = server.log_text()
        failed = f"lease revocation failed: lease_id={lease_id}"
        assert log.count(f"{failed} attempt=0 (by hand: not counted)") == 4
        assert log.count(f"{failed} attempt=1 irrevocable=False") == 1
        assert f"lease_id={lease_id} attempt=2" not in log
        assert http(server, "PUT", "sys/leases/lookup", {"lease_id": lease_id})[0] == 200, "still queued"
    finally:
        server.stop()
        moto.stop()
