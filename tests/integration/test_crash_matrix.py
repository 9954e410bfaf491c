"""Crash matrix: a production-mode server on SQLite and on PostgreSQL, killed with
SIGKILL at random moments and at vaultlet's own fault points while a client issues
and revokes iam_user credentials, then restarted on the same database.

After the dust settles, moto's users of the mount are exactly the users of
vaultlet's leases, every lease a client holds still exists with its key, no user has
a key nothing tracks, and a revoke-prefix right after a crash and restart answers
204 only once every leased user is gone (defect 1: a dead worker's claims are taken
over at once, not after claim_timeout).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import urllib.error
from collections import Counter
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import pytest

from support.aws_engine import (
    S3_GET_ONLY_POLICY,
    access_key_user,
    moto_client,
    mount_aws,
    user_exists,
    wait_for,
)
from support.processes import ServerProcess, http, start_vaultlet_production
from vaultlet.core.expiration import FAULT_LEASE_CLAIMED
from vaultlet.engines.secrets.aws.iam_users import FAULT_AFTER_CREATE_ACCESS_KEY, FAULT_AFTER_CREATE_USER

SEED = 1201
# Per backend: random worker kills, whole-server kills, one trip per fault point, and
# the final kill mid revoke-prefix: 12 per backend.
WORKER_KILLS = 6
SERVER_KILLS = 1
CLIENT_THREADS = 3
FAULT_POINTS = (FAULT_AFTER_CREATE_USER, FAULT_AFTER_CREATE_ACCESS_KEY, FAULT_LEASE_CLAIMED)
CLAIM_TIMEOUT = 90.0  # the default claim_timeout, which a takeover must not wait for
BACKGROUND = """
periodic_interval = "1s"
rollback_min_age  = "2s"
lease_revocation {
  sweep_interval = "0.2s"
  retry_base     = "0.3s"
  retry_cap      = "1s"
  max_attempts   = 50
}
"""
DOWN = (urllib.error.URLError, HTTPException, ConnectionError, TimeoutError)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request) -> str:
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres").new_database()


class Node:
    """One database and seal file; the server on it is killed in three ways:

    * ``kill_worker``: SIGKILL to one worker (the master starts a new one);
    * ``trip``: arm a vaultlet fault point (VAULTLET_FAULT_FILE) until a worker dies
      there, mid-request, then disarm it;
    * ``kill_server``: SIGKILL to the master and every worker at once, then a fresh
      server process on the same database.
    """

    def __init__(self, workdir, storage_url: str):
        self.workdir, self.storage_url = workdir, storage_url
        self.fault_file = workdir / "fault"
        self.fault_file.write_text("")
        self.server: ServerProcess | None = None
        self.kills = Counter()

    def start(self, fault: str = "") -> ServerProcess:
        """A server process; ``fault`` arms a fault point for its whole life."""
        env = {"VAULTLET_FAULT_FILE": str(self.fault_file), "VAULTLET_FAULT": fault}
        self.server = start_vaultlet_production(
            self.workdir,
            extra=BACKGROUND,
            env=env,
            workers=2,
            storage_url=self.storage_url,
        )
        assert wait_for(lambda: len(self.workers()) == 2, timeout=30)
        return self.server

    def workers(self) -> set[int]:
        pid = self.server.process.pid
        try:
            return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
        except OSError:
            return set()

    def _respawned(self, before: set[int]) -> bool:
        now = self.workers()
        return len(now) == 2 and now != before

    def kill_worker(self, rng: random.Random) -> None:
        before = self.workers()
        os.kill(rng.choice(sorted(before)), signal.SIGKILL)
        self.kills["worker"] += 1
        assert wait_for(lambda: self._respawned(before), timeout=30), "the server did not replace the worker"

    def trip(self, fault: str) -> None:
        before = self.workers()
        self.fault_file.write_text(fault)
        try:
            assert wait_for(lambda: len(self.workers() & before) < 2, timeout=30), f"{fault} never reached"
        finally:
            self.fault_file.write_text("")
        self.kills[fault] += 1
        assert wait_for(lambda: self._respawned(before), timeout=30), "the server did not replace the worker"

    def kill_server(self, fault: str = "") -> None:
        self.server.kill()
        self.kills["server"] += 1
        self.start(fault)

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values())


@dataclass
class Client:
    """Issues and revokes in a loop (from several threads), whatever state the server
    is in; remembers what it holds."""

    node: Node
    mount_path: str
    rng: random.Random
    held: dict[str, str] = field(default_factory=dict)  # lease id -> access key id
    uncertain: dict[str, str] = field(default_factory=dict)  # revoke sent, answer lost
    revoked: set[str] = field(default_factory=set)
    false_revokes: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    lost_answers: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def loop(self, moto) -> None:
        while not self.stop.is_set():
            try:
                with self.lock:
                    revoke = self.held and self.rng.random() < 0.4
                if revoke:
                    self.revoke_one(moto)
                else:
                    self.issue()
            except DOWN:
                with self.lock:
                    self.lost_answers += 1
                time.sleep(0.05)

    def issue(self) -> None:
        status, body, text = http(self.node.server, "GET", f"{self.mount_path}/creds/app")
        with self.lock:
            if status == 200:
                self.held[body["lease_id"]] = body["data"]["access_key"]
            else:
                self.errors.append((status, text[:200]))

    def revoke_one(self, moto) -> None:
        with self.lock:
            if not self.held:
                return
            lease_id = self.rng.choice(sorted(self.held))
            key = self.uncertain[lease_id] = self.held.pop(lease_id)
        status, _, text = http(self.node.server, "PUT", "sys/leases/revoke", {"lease_id": lease_id})
        still_works = status == 204 and access_key_user(moto, key) is not None
        with self.lock:
            del self.uncertain[lease_id]
            if status == 204:
                self.revoked.add(lease_id)
                if still_works:
                    self.false_revokes.append(lease_id)
            else:
                self.held[lease_id] = key  # still queued: the client still holds it
                self.errors.append((status, text[:200]))


def _mount_users(moto, mount_uuid: str) -> dict[str, tuple[str, set[str]]]:
    """lease reference tag -> (user name, access key ids) of every user the mount made."""
    iam = moto_client(moto, "iam")
    found = {}
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        try:
            tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]}
            if tags.get("vaultlet-issuer") == mount_uuid:
                keys = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
                found[tags["vaultlet-lease-ref"]] = (name, keys)
        except iam.exceptions.NoSuchEntityException:
            continue  # deleted (by a rollback, a revocation) while we were looking
    return found


def _lease_suffixes(server, mount_path: str) -> set[str]:
    status, body, _ = http(server, "LIST", f"sys/leases/lookup/{mount_path}/creds/app")
    return set(body["data"]["keys"]) if status == 200 else set()


def _settled(node: Node, moto, mount) -> bool:
    return set(_mount_users(moto, mount.uuid)) == _lease_suffixes(node.server, mount.path)


def test_random_kills_lose_no_lease_and_leak_no_user(tmp_path, moto, storage_url):
    rng = random.Random(f"{SEED}-{bool(storage_url)}")
    node = Node(tmp_path, storage_url)
    node.start()
    mount = mount_aws(node.server, moto, http)
    role = {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY}
    assert http(node.server, "POST", f"{mount.path}/roles/app", role)[0] == 204
    client = Client(node, mount.path, random.Random(rng.random()))
    threads = [threading.Thread(target=client.loop, args=(moto,), daemon=True) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    schedule = ["worker"] * WORKER_KILLS + ["server"] * SERVER_KILLS + list(FAULT_POINTS)
    rng.shuffle(schedule)
    try:
        for kind in schedule:
            time.sleep(rng.uniform(1.0, 2.5))  # the client works against the running server
            if kind == "worker":
                node.kill_worker(rng)
            elif kind == "server":
                node.kill_server()
            else:
                node.trip(kind)
    finally:
        client.stop.set()
        for thread in threads:
            thread.join(timeout=90)

    try:
        assert wait_for(lambda: _settled(node, moto, mount), timeout=60), (
            _mount_users(moto, mount.uuid),
            _lease_suffixes(node.server, mount.path),
        )
        users = _mount_users(moto, mount.uuid)
        leases = _lease_suffixes(node.server, mount.path)
        for lease_id, key in client.held.items():
            suffix = lease_id.rsplit("/", 1)[1]
            assert suffix in leases, f"client-held lease lost: {lease_id}"
            assert users[suffix][1] == {key}, f"the user of {lease_id} lost or gained keys"
        for lease_id, key in client.uncertain.items():  # a revoke cut off by a kill: all or nothing
            suffix = lease_id.rsplit("/", 1)[1]
            assert (suffix in leases) == (suffix in users) == (access_key_user(moto, key) is not None)
        for suffix, (name, keys) in users.items():
            # Every key is on a leased user (users whose issuing answer a kill cut off
            # are leased but unknown to the client), one key per user.
            assert suffix in leases and len(keys) <= 1, (name, keys)
        assert client.false_revokes == [], "a revoke answered 204 while the key still worked"
        assert len(client.held) + len(client.revoked) >= 4, "the client loop barely ran"

        # The last crash lands mid revoke-prefix (the claim is taken, the engine not called yet).
        leased_users = {name for name, _ in users.values()}
        assert leased_users, "nothing to revoke"
        node.fault_file.write_text(FAULT_LEASE_CLAIMED)
        with pytest.raises(DOWN):
            http(node.server, "PUT", f"sys/leases/revoke-prefix/{mount.path}/creds/app")
        node.fault_file.write_text("")
        node.kills[FAULT_LEASE_CLAIMED] += 1
        node.kill_server()
        started = time.monotonic()
        status, _, text = http(node.server, "PUT", f"sys/leases/revoke-prefix/{mount.path}/creds/app")
        took = time.monotonic() - started
        assert status == 204, text
        assert not any(user_exists(moto, name) for name in leased_users), "204 while leased users exist"
        assert took < CLAIM_TIMEOUT / 3, f"the dead worker's claim was waited for ({took:.1f}s)"
        assert _lease_suffixes(node.server, mount.path) == set()
        assert wait_for(lambda: _mount_users(moto, mount.uuid) == {}, timeout=30)  # rollbacks too
    finally:
        print(
            f"crash matrix ({'postgresql' if storage_url else 'sqlite'}): {node.total_kills} SIGKILLs "
            f"{dict(node.kills)}, "
            f"{len(client.held)} leases held, {len(client.revoked)} revoked, "
            f"{client.lost_answers} answers lost to kills, errors: {client.errors[:5]}"
        )
        node.server.stop()
    assert node.total_kills >= 12


def test_a_revoke_never_answers_204_while_a_dead_workers_claim_hides_the_user(tmp_path, moto):
    """Defect 1: a worker killed mid synchronous revoke leaves its claim; after a
    restart the claim is taken over at once and the revoke really revokes."""
    node = Node(tmp_path, "")
    # Armed for the server's whole life: every worker (the replacements too)
    # dies as soon as it has claimed the lease, so the claim outlives them all.
    node.start(FAULT_LEASE_CLAIMED)
    try:
        mount = mount_aws(node.server, moto, http)
        role = {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY}
        assert http(node.server, "POST", f"{mount.path}/roles/app", role)[0] == 204
        status, issued, text = http(node.server, "GET", f"{mount.path}/creds/app")
        assert status == 200, text
        username = access_key_user(moto, issued["data"]["access_key"])
        assert username
        with pytest.raises(DOWN):  # the worker dies holding the claim
            http(node.server, "PUT", "sys/leases/revoke", {"lease_id": issued["lease_id"]})
        time.sleep(1)  # replacement workers claim it again, and die again
        assert user_exists(moto, username)
        before_restart = node.server.log_text()
        node.kill_server()  # a clean server on the same database
        started = time.monotonic()
        status, _, text = http(node.server, "PUT", "sys/leases/revoke", {"lease_id": issued["lease_id"]})
        took = time.monotonic() - started
        assert status == 204, text
        assert not user_exists(moto, username), "204 while the user still exists"
        assert took < 10, f"took {took:.1f}s: the dead worker's claim was waited out"
        # The dead worker's claim was freed by a reaper: a replacement worker of the first
        # server (when one booted before the kill) or a worker of the new one.
        logs = before_restart + node.server.log_text()
        assert "took over the lease claims of dead server processes" in logs
    finally:
        node.server.stop()
