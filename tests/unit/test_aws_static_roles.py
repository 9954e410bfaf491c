"""static-roles/ and static-creds/: adoption, validation, the persisted rotation queue, deletion."""

from __future__ import annotations

import time
from datetime import datetime

import boto3
import pytest
from moto import mock_aws

from support.aws_engine import REGION, call, configure_mock_root, make_backend
from vaultlet.engines.secrets.aws.static_roles import ROTATION_QUEUE_KEY, RotationQueue
from vaultlet.errors import NotFound, UserError


@pytest.fixture()
def aws():
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="app-user")
        yield iam


@pytest.fixture()
def backend(tmp_path, aws):
    backend = make_backend(tmp_path)
    configure_mock_root(backend)
    return backend


def rejected(backend, data: dict, name: str = "s") -> str:
    with pytest.raises(UserError) as caught:
        call(backend, "update", f"static-roles/{name}", data)
    return caught.value.messages[0]


def keys_of(aws, username: str = "app-user") -> list[str]:
    return [k["AccessKeyId"] for k in aws.list_access_keys(UserName=username)["AccessKeyMetadata"]]


def test_validation(backend):
    assert rejected(backend, {"rotation_period": "1h"}) == 'missing "username" parameter'
    assert rejected(backend, {"username": "app-user"}) == 'missing "rotation_period" parameter'
    assert rejected(backend, {"username": "app-user", "rotation_period": 59}) == (
        "role rotation period out of range: must be greater than 60.00 seconds"
    )
    assert rejected(backend, {"username": "ghost", "rotation_period": "1h"}).startswith(
        "unable to validate username 'ghost': NoSuchEntity:"
    )
    assert "not supported" in rejected(
        backend, {"username": "app-user", "rotation_period": "1h", "assume_role_arn": "arn:aws:iam::1:role/x"}
    )


def test_create_read_and_static_creds(backend, aws):
    data = call(backend, "update", "static-roles/s", {"username": "app-user", "rotation_period": "1h"}).data
    user_id = aws.get_user(UserName="app-user")["User"]["UserId"]
    assert data == {
        "name": "s",
        "id": user_id,
        "username": "app-user",
        "rotation_period": 3600,
        "assume_role_arn": "",
        "assume_role_session_name": "",
        "external_id": "",
    }
    assert call(backend, "read", "static-roles/s").data == data
    creds = call(backend, "read", "static-creds/s")
    assert creds.secret is None
    assert keys_of(aws) == [creds.data["access_key"]]
    expiration = datetime.fromisoformat(creds.data["expiration"].replace("Z", "+00:00")).timestamp()
    assert abs(expiration - (time.time() + 3600)) < 10
    assert call(backend, "list", "static-roles/").data["keys"] == ["s"]


def test_a_user_with_two_keys_loses_the_oldest(backend, aws):
    oldest = aws.create_access_key(UserName="app-user")["AccessKey"]["AccessKeyId"]
    newer = aws.create_access_key(UserName="app-user")["AccessKey"]["AccessKeyId"]
    call(backend, "update", "static-roles/s", {"username": "app-user", "rotation_period": "1h"})
    current = call(backend, "read", "static-creds/s").data["access_key"]
    assert set(keys_of(aws)) == {newer, current} and oldest not in keys_of(aws)


def test_due_roles_are_rotated_and_requeued(backend, aws):
    call(backend, "update", "static-roles/s", {"username": "app-user", "rotation_period": 120})
    before = call(backend, "read", "static-creds/s").data["access_key"]
    queue = RotationQueue(backend.storage)
    queue.schedule("s", time.time() - 1)
    backend.periodic()
    after = call(backend, "read", "static-creds/s").data["access_key"]
    assert after != before and after in keys_of(aws)
    assert queue.items()["s"] > time.time() + 100


def test_only_one_process_claims_a_due_item(backend):
    queue = RotationQueue(backend.storage)
    queue.schedule("s", time.time() - 1)
    now = time.time()
    assert queue.claim("s", now, 60) is True
    assert queue.claim("s", now, 60) is False


def test_the_queue_is_rebuilt_from_storage(backend):
    call(backend, "update", "static-roles/s", {"username": "app-user", "rotation_period": "1h"})
    backend.storage.delete(ROTATION_QUEUE_KEY)  # as if a crash lost it
    backend.periodic()  # the first tick of a process rebuilds
    expiration = backend.storage.get("static-creds/s")["expiration"]
    assert RotationQueue(backend.storage).items() == {"s": expiration}


def test_a_new_rotation_period_starts_now(backend):
    call(backend, "update", "static-roles/s", {"username": "app-user", "rotation_period": "10h"})
    call(backend, "update", "static-roles/s", {"rotation_period": "2h"})
    assert abs(RotationQueue(backend.storage).items()["s"] - (time.time() + 7200)) < 10
    assert call(backend, "read", "static-roles/s").data["rotation_period"] == 7200


def test_delete_removes_the_key_but_not_the_user(backend, aws):
    call(backend, "update", "static-roles/s", {"username": "app-user", "rotation_period": "1h"})
    call(backend, "delete", "static-roles/s")
    assert keys_of(aws) == [] and aws.get_user(UserName="app-user")
    for path in ("static-roles/s", "static-creds/s"):
        with pytest.raises(NotFound):
            call(backend, "read", path)
    assert "s" not in RotationQueue(backend.storage).items()
    call(backend, "delete", "static-roles/s")  # again: still fine
