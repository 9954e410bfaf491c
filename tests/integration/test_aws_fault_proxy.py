"""AWS misbehaves: hundreds of issue/revoke cycles through a proxy that injects 500s,
throttling, answers lost after the side effect, dropped connections and delays.

A production-mode server (SQLite, two workers) talks to moto only through
support.fault_proxy; the orphan sweeper is off, so only the write-ahead log and the
lease revocations can clean up. Every answer must be a success or a clean Vault
error (documented statuses, Vault's error envelope, no traceback); every "204" of a
revoke must mean the IAM user is gone; once faults stop, every lease revokes and no
IAM user of the mount is left.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.aws_engine import (
    S3_GET_ONLY_POLICY,
    access_key_user,
    moto_client,
    mount_aws,
    unique,
    users_tagged,
)
from support.fault_proxy import FaultProxy
from support.processes import http, start_vaultlet_production

SEED = 20261201
CYCLES_PER_TYPE = 100  # iam_user and assumed_role: 200 cycles in all
CLIENTS = 6
# 400: AWS refused (e.g. a key quota hit by lost CreateAccessKey answers); 502: AWS
# failed or throttled past botocore's retries; 503: a revoke still in progress elsewhere.
CLEAN_ERROR_STATUSES = {400, 502, 503}

BACKGROUND = """
periodic_interval = "1s"
rollback_min_age  = "6s"
lease_revocation {
  sweep_interval = "0.2s"
  retry_base     = "0.2s"
  retry_cap      = "1s"
  max_attempts   = 50
}
"""


@pytest.fixture(scope="module")
def proxy(moto):
    running = FaultProxy(moto.endpoint, rate=0.2, seed=SEED).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_vaultlet_production(tmp_path_factory.mktemp("fault-proxy"), extra=BACKGROUND, workers=2)
    yield running
    running.stop()


def _assume_role_arn(moto) -> str:
    iam = moto_client(moto, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    name = unique("deploy")
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


class Cycles:
    """The client side: issue, then revoke; records every answer."""

    def __init__(self, server, moto, mount):
        self.server, self.moto, self.mount = server, moto, mount
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.unclean: list[tuple[str, int, str]] = []
        self.false_revokes: list[str] = []
        self.pending: list[str] = []  # leases whose revoke did not answer 204
        self.samples: dict[tuple[str, int], str] = {}  # one error text per (call, status)

    def check(self, what: str, status: int, body, text: str) -> None:
        self.statuses[(what, status)] += 1
        if status in (200, 204):
            return
        self.samples.setdefault((what, status), text[:200])
        clean = (
            status in CLEAN_ERROR_STATUSES
            and isinstance(body, dict)
            and isinstance(body.get("errors"), list)
            and body["errors"]
            and all(isinstance(e, str) and e for e in body["errors"])
            and "Traceback" not in text
        )
        if not clean:
            self.unclean.append((what, status, text[:300]))

    def run(self, role: str) -> None:
        status, body, text = http(self.server, "GET", f"{self.mount.path}/creds/{role}")
        self.check(f"issue {role}", status, body, text)
        if status != 200:
            return
        lease_id = body["lease_id"]
        status, revoked, text = http(self.server, "PUT", "sys/leases/revoke", {"lease_id": lease_id})
        self.check("revoke", status, revoked, text)
        if status != 204:
            self.pending.append(lease_id)
        elif role == "user" and access_key_user(self.moto, body["data"]["access_key"]) is not None:
            self.false_revokes.append(lease_id)


def test_issue_and_revoke_through_a_faulty_aws_leaves_nothing_behind(server, moto, proxy):
    mount = mount_aws(server, moto, http)
    config = {"iam_endpoint": proxy.endpoint, "sts_endpoint": proxy.endpoint, "orphan_sweep_interval": 0}
    assert http(server, "POST", f"{mount.path}/config/root", config)[0] == 204
    assert http(server, "GET", f"{mount.path}/config/root")[1]["data"]["orphan_sweep_interval"] == 0
    user_role = {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY}
    assert http(server, "POST", f"{mount.path}/roles/user", user_role)[0] == 204
    sts_role = {"credential_type": "assumed_role", "role_arns": _assume_role_arn(moto)}
    assert http(server, "POST", f"{mount.path}/roles/sts", sts_role)[0] == 204

    cycles = Cycles(server, moto, mount)
    roles = ["user"] * CYCLES_PER_TYPE + ["sts"] * CYCLES_PER_TYPE
    random.Random(SEED).shuffle(roles)
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(cycles.run, roles))
    elapsed = time.monotonic() - started

    proxy.enabled = False  # AWS behaves again: everything must settle
    for lease_id in cycles.pending:
        deadline = time.monotonic() + 30
        while http(server, "PUT", "sys/leases/revoke", {"lease_id": lease_id})[0] != 204:
            assert time.monotonic() < deadline, f"{lease_id} never revoked:\n{server.log_text()[-3000:]}"
            time.sleep(0.5)

    def nothing_left():
        return users_tagged(moto, mount.uuid) == []

    deadline = time.monotonic() + 45  # rollback_min_age and a few periodic ticks
    while not nothing_left():
        assert time.monotonic() < deadline, (users_tagged(moto, mount.uuid), server.log_text()[-4000:])
        time.sleep(1)
    status, listed, _ = http(server, "LIST", f"sys/leases/lookup/{mount.path}/creds/user")
    assert status == 404, listed

    print(
        f"fault proxy: {len(roles)} cycles in {elapsed:.1f}s, faults {dict(proxy.injected)}, "
        f"answers {dict(cycles.statuses)}, revokes retried after faults: {len(cycles.pending)}, "
        f"errors seen: {cycles.samples}"
    )
    assert cycles.unclean == []
    assert cycles.false_revokes == [], "a revoke answered 204 while the key still existed"
    assert sum(proxy.injected.values()) >= 100, proxy.injected  # the faults really happened
    assert set(proxy.injected) == {"error", "throttle", "lost", "dropped", "delay"}
    assert cycles.statuses[("issue user", 200)] >= CYCLES_PER_TYPE // 2
    assert cycles.statuses[("issue sts", 200)] >= CYCLES_PER_TYPE // 2
    assert "Traceback" not in server.log_text()
