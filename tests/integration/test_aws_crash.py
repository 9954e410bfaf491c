"""Crash safety: a server killed mid-issuance leaves no IAM user behind once it is back,
and the orphan sweeper removes users of the mount that nothing accounts for.

A production-mode server (SQLite file, seal-key file, two worker processes) with a
short periodic interval and rollback_min_age; crashes are real SIGKILLs at
vaultlet.faults points.
"""

from __future__ import annotations

import time
import urllib.error
from http.client import HTTPException
from pathlib import Path

import pytest

from support.aws_engine import (
    S3_GET_ONLY_POLICY,
    moto_client,
    mount_aws,
    unique,
    unmount,
    user_exists,
    users_tagged,
    wait_for,
)
from support.metrics import scrape, total, value
from support.processes import http, start_vaultlet_production
from vaultlet.engines.secrets.aws.iam_users import FAULT_AFTER_CREATE_ACCESS_KEY, FAULT_AFTER_CREATE_USER

FAST_BACKGROUND = """
periodic_interval = "1s"
rollback_min_age = "2s"
lease_revocation {
  sweep_interval = "1s"
  retry_base     = "1s"
  max_attempts   = 3
}
"""


class Node:
    """One database and seal file, run by a server process that tests may kill and restart."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.server = None

    def start(self, fault: str = ""):
        env = {"VAULTLET_FAULT": fault} if fault else {}
        # Two workers: both run the rollback and the sweeper, which must coordinate.
        self.server = start_vaultlet_production(self.workdir, extra=FAST_BACKGROUND, env=env, workers=2)
        return self.server

    def kill(self) -> None:
        """SIGKILL the whole process group: no worker gets to clean up."""
        self.server.kill()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    running = Node(tmp_path_factory.mktemp("aws-crash"))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def mount(node, moto):
    mounted = mount_aws(node.server, moto, http)
    status, _, text = http(
        node.server,
        "POST",
        f"{mounted.path}/roles/app",
        {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY},
    )
    assert status == 204, text
    yield mounted
    unmount(node.server, http, mounted, moto)


def crash_while_issuing(node, mount, fault: str) -> None:
    """Restart the server armed with ``fault``, ask for creds, and see it die."""
    node.kill()
    server = node.start(fault=fault)
    with pytest.raises((urllib.error.URLError, HTTPException, ConnectionError)):
        http(server, "GET", f"{mount.path}/creds/app")
    node.kill()


@pytest.mark.parametrize("fault", [FAULT_AFTER_CREATE_USER, FAULT_AFTER_CREATE_ACCESS_KEY])
def test_a_crash_mid_issuance_is_rolled_back_after_restart(node, moto, mount, fault):
    crash_while_issuing(node, mount, fault)
    (username,) = users_tagged(moto, mount.uuid)  # the user was created, then the server died
    node.start()
    assert wait_for(lambda: not user_exists(moto, username), timeout=30), node.server.log_text()[-3000:]
    assert users_tagged(moto, mount.uuid) == []
    # The restarted server counted its one rollback (its metrics start empty).
    assert total(scrape(node.server), "vaultlet_wal_rollbacks_total", mount_point=f"{mount.path}/") == 1


def test_issued_credentials_survive_the_rollback(node, moto, mount):
    status, issued, text = http(node.server, "GET", f"{mount.path}/creds/app")
    assert status == 200, text
    (username,) = users_tagged(moto, mount.uuid)
    time.sleep(4)  # well past rollback_min_age, several periodic ticks: the entry is settled, not rolled back
    assert user_exists(moto, username)
    status, _, _ = http(node.server, "PUT", "sys/leases/revoke", {"lease_id": issued["lease_id"]})
    assert status == 204 and not user_exists(moto, username)


def test_orphan_sweeper_removes_only_this_mounts_unaccounted_users(node, moto, mount):
    status, _, text = http(node.server, "POST", f"{mount.path}/config/root", {"orphan_sweep_interval": "1s"})
    assert status == 204, text
    iam = moto_client(moto, "iam")
    orphan, bystander = unique("orphan"), unique("bystander")
    iam.create_user(
        UserName=orphan,
        Tags=[
            {"Key": "vaultlet-issuer", "Value": mount.uuid},
            {"Key": "vaultlet-lease-ref", "Value": "lost"},
        ],
    )
    iam.put_user_policy(UserName=orphan, PolicyName="p", PolicyDocument=S3_GET_ONLY_POLICY)
    iam.create_access_key(UserName=orphan)
    iam.create_user(UserName=bystander, Tags=[{"Key": "team", "Value": "x"}])
    try:
        assert wait_for(lambda: not user_exists(moto, orphan), timeout=30), node.server.log_text()[-3000:]
        assert user_exists(moto, bystander)
        deleted = scrape(node.server)
        assert (
            value(deleted, "vaultlet_orphan_sweeper_deleted_users_total", mount_point=f"{mount.path}/") == 1
        )
    finally:
        iam.delete_user(UserName=bystander)
        http(node.server, "POST", f"{mount.path}/config/root", {"orphan_sweep_interval": "10m"})
