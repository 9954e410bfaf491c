"""What a lease row stores (core/expiration.py): no derivable data, the engine data
compressed then encrypted under the lease id, and rows of older versions still read."""

from __future__ import annotations

import json
import time

import pytest

from vaultlet.core.core import Core, CoreConfig
from vaultlet.core.expiration import RevocationSettings, _pack, _unpack
from vaultlet.core.tokens import TokenRequest


@pytest.fixture()
def core(tmp_path):
    running = Core(CoreConfig(storage_url=f"sqlite:///{tmp_path}/rows.db"))
    running.initialize()
    yield running
    running.close()


def _row(core, lease_id: str, data: bytes) -> None:
    now = time.time()
    core.storage.lease_insert(
        {
            "lease_id": lease_id,
            "mount_uuid": "no-such-mount",
            "token_hash": None,
            "issue_time": now,
            "expire_time": now + 60,
            "max_expire_time": now + 60,
            "last_renewal": None,
            "renewable": False,
            "due_at": now + 60,
            "data": data,
        }
    )


def test_packed_engine_data_round_trips_and_is_smaller_than_json():
    data = {
        "t": "access_keys",
        "i": {"username": "vault-x-1", "policy": "arn:aws:iam::1:role/r", "is_sts": True},
    }
    packed = _pack(data)
    assert _unpack(packed) == data
    assert len(packed) < len(json.dumps(data, separators=(",", ":"))) * 0.7
    assert _unpack(json.dumps({"kind": "secret"}).encode()) == {"kind": "secret"}  # older rows: plain JSON


def test_a_token_lease_stores_no_data_and_is_read_from_its_id(core):
    _, entry, _ = core.tokens.create(None, TokenRequest(policies=["p"], ttl=3600))
    row = core.expiration.get(entry.lease_id)
    assert row.data == b"" and row.token_hash is None
    assert core.expiration._open_data(row) == {
        "kind": "token",
        "token_hash": entry.hash,
        "path": entry.lease_id.rsplit("/", 1)[0],
    }
    core.expiration.revoke(entry.lease_id)
    assert core.tokens.get_by_hash(entry.hash) is None and core.expiration.get(entry.lease_id) is None


def test_secret_data_is_encrypted_under_its_lease_id(core):
    lease_id = "aws/sts/app/abc"
    _row(
        core, lease_id, core.barrier.encrypt("lease/" + lease_id, _pack({"t": "access_keys", "i": {"x": 1}}))
    )
    row = core.expiration.get(lease_id)
    assert b"access_keys" not in row.data
    assert core.expiration._open_data(row) == {
        "kind": "secret",
        "secret_type": "access_keys",
        "internal": {"x": 1},
        "path": "aws/sts/app",
    }
    moved = "aws/sts/app/other"  # the same ciphertext under another id does not open
    _row(core, moved, row.data)
    with pytest.raises(Exception):  # noqa: B017 - the AEAD tag check, whatever its class
        core.expiration._open_data(core.expiration.get(moved))


def test_rows_of_older_versions_are_read_and_revoked(core):
    old = {"kind": "secret", "secret_type": "access_keys", "internal": {"is_sts": True}, "path": "gone/sts/r"}
    lease_id = "gone/sts/r/old"
    _row(core, lease_id, core.barrier.encrypt("lease/" + lease_id, json.dumps(old).encode()))
    assert core.expiration.lookup(lease_id)["path"] == "gone/sts/r"
    assert core.expiration.revoke_prefix("gone/sts") == 1  # its mount is gone: dropped
    assert core.expiration.get(lease_id) is None


def test_only_the_sweepers_attempts_advance_the_retry_schedule():
    settings = RevocationSettings(
        retry_base=10, retry_cap=320, max_attempts=3, irrevocable_retry_interval=86400
    )
    assert 5 <= settings.retry_delay(0) <= 15
    assert 20 <= settings.retry_delay(2) <= 60
    assert settings.retry_delay(3) == 86400


def test_a_prefix_of_only_slashes_revokes_nothing(core):
    """Vault matches "/" against no lease id; it must never mean "every lease"."""
    _, entry, _ = core.tokens.create(None, TokenRequest(policies=["p"], ttl=3600))
    assert core.expiration.revoke_prefix("/") == 0
    assert core.expiration.revoke_prefix("//", sync=False) == 0
    assert core.expiration.get(entry.lease_id) is not None
