"""Helpers for the AWS engine tests.

Unit tests drive an :class:`AwsBackend` directly: real encrypted SQLite storage in a
temporary directory, a stand-in for the core's SystemView (whose leases the test
controls), and moto's in-process mock behind boto3. Integration tests talk to a real
vaultlet server and a separate ``moto_server`` process; :func:`mount_aws` gives each
test its own mount configured with its own admin IAM user in moto.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3

from vaultlet.engines.secrets.aws import client as client_module
from vaultlet.engines.secrets.aws.backend import AwsBackend
from vaultlet.engines.secrets.aws.client import AwsError
from vaultlet.framework.backend import BackendContext
from vaultlet.framework.request import Request, Response
from vaultlet.storage.barrier import Barrier, SecureStore, StorageView, generate_key
from vaultlet.storage.sql import SQLStorage

MOUNT_UUID = "5d9f6a1e-unit-test-mount"
REGION = "us-east-1"
ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
S3_GET_ONLY_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
)


# -- unit tests -----------------------------------------------------------------------


@dataclass
class FakeSystemView:
    """The parts of the core's SystemView the engine uses; leases are whatever the test says."""

    rollback_min_age: float = 300.0
    default_lease_ttl: int = 768 * 3600
    max_lease_ttl: int = 768 * 3600
    leases: set[str] = field(default_factory=set)

    def lease_exists(self, lease_id: str) -> bool:
        return lease_id in self.leases

    def lease_ids(self, prefix: str) -> list[str]:
        return sorted(lease for lease in self.leases if lease.startswith(prefix))


def make_backend(
    tmp_path: Path, *, rollback_min_age: float = 300.0, mount_config: dict | None = None
) -> AwsBackend:
    storage = SQLStorage(f"sqlite:///{tmp_path}/aws-{uuid.uuid4().hex[:8]}.db")
    barrier = Barrier(storage)
    key = generate_key()
    barrier.initialize(key)
    barrier.unseal(key)
    context = BackendContext(
        storage=StorageView(SecureStore(barrier), f"logical/{MOUNT_UUID}/"),
        mount_path="aws/",
        mount_uuid=MOUNT_UUID,
        mount_type="aws",
        mount_config=mount_config or {},
        system=FakeSystemView(rollback_min_age=rollback_min_age),
        logger=logging.getLogger("vaultlet.backend.aws.test"),
    )
    return AwsBackend(context)


def call(
    backend: AwsBackend, operation: str, path: str, data: dict | None = None, display_name: str = "token"
):
    """One request straight into the backend, as the core would route it."""
    request = Request(operation=operation, path=backend.context.mount_path + path, data=dict(data or {}))
    request.mount_path = backend.context.mount_path
    request.relative_path = path
    request.token = SimpleNamespace(display_name=display_name)
    return backend.handle(request)


def issue(backend: AwsBackend, role: str, data: dict | None = None, lease: bool = True) -> Response:
    """Read creds/<role>; with ``lease``, register the lease in the fake SystemView as the core would."""
    response = call(backend, "read", f"creds/{role}", data)
    if lease and response.secret is not None and response.secret.lease_id_suffix:
        backend.context.system.leases.add(f"aws/creds/{role}/{response.secret.lease_id_suffix}")
    return response


def configure_mock_root(backend: AwsBackend, **extra: Any) -> None:
    """config/root for moto's in-process mock (any key is accepted)."""
    call(
        backend,
        "update",
        "config/root",
        {"access_key": "testing", "secret_key": "testing", "region": REGION, **extra},
    )


class FailingCalls:
    """Make chosen AWS operations fail, and record every call (patches the facades' ``_call``).

    ``failures[operation]`` is an error raised on every call, or a list of errors raised
    by the next calls, one each, after which the operation works again.
    """

    def __init__(self, monkeypatch):
        self.failures: dict[str, AwsError | list[AwsError]] = {}
        self.calls: list[str] = []
        self.observers: dict[str, Callable[[dict], None]] = {}
        original = client_module._Api._call

        def patched(api, operation, **params):
            self.calls.append(operation)
            if operation in self.observers:
                self.observers[operation](params)
            failure = self.failures.get(operation)
            if isinstance(failure, list):
                failure = failure.pop(0) if failure else None
            if failure is not None:
                raise failure
            return original(api, operation, **params)

        monkeypatch.setattr(client_module._Api, "_call", patched)


# -- integration tests ------------------------------------------------------------------


def moto_client(
    moto, service: str, access_key: str = "testing", secret_key: str = "testing", token: str | None = None
):
    return boto3.client(
        service,
        endpoint_url=moto.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
    )


@dataclass
class AwsMount:
    path: str  # without trailing slash, e.g. "aws-3f2a1b"
    admin_user: str
    admin_key: dict
    uuid: str
    # IAM roles a test created in moto for this mount; removed with it.
    roles: list[str] = field(default_factory=list)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_admin_user(moto, name: str) -> dict:
    iam = moto_client(moto, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    return iam.create_access_key(UserName=name)["AccessKey"]


def mount_aws(server, moto, http, path: str | None = None, **config: Any) -> AwsMount:
    """Enable an aws mount and point its config/root at moto with a fresh admin user."""
    path = path or unique("aws")
    admin = unique("broker")
    key = create_admin_user(moto, admin)
    status, _, text = http(server, "POST", f"sys/mounts/{path}", {"type": "aws"})
    assert status == 204, text
    body = {
        "access_key": key["AccessKeyId"],
        "secret_key": key["SecretAccessKey"],
        "region": REGION,
        "iam_endpoint": moto.endpoint,
        "sts_endpoint": moto.endpoint,
        **config,
    }
    status, _, text = http(server, "POST", f"{path}/config/root", body)
    assert status == 204, text
    status, mounts, _ = http(server, "GET", f"sys/mounts/{path}")
    return AwsMount(path, admin, key, mounts["data"]["uuid"])


def unmount(server, http, mount: AwsMount, moto=None) -> None:
    """Disable the mount (revoking its leases), then remove what the test made in moto."""
    status, _, text = http(server, "DELETE", f"sys/mounts/{mount.path}")
    assert status == 204, text
    if moto is not None:
        for role in mount.roles:
            delete_role(moto, role)
        delete_user(moto, mount.admin_user)


def delete_user(moto, username: str) -> None:
    iam = moto_client(moto, "iam")
    for key in iam.list_access_keys(UserName=username)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=username, AccessKeyId=key["AccessKeyId"])
    for name in iam.list_user_policies(UserName=username)["PolicyNames"]:
        iam.delete_user_policy(UserName=username, PolicyName=name)
    iam.delete_user(UserName=username)


def delete_role(moto, role_name: str) -> None:
    iam = moto_client(moto, "iam")
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role_name, PolicyName=name)
    iam.delete_role(RoleName=role_name)


def user_exists(moto, username: str) -> bool:
    try:
        moto_client(moto, "iam").get_user(UserName=username)
    except moto_client(moto, "iam").exceptions.NoSuchEntityException:
        return False
    return True


def access_key_user(moto, access_key_id: str) -> str | None:
    """The IAM user owning a key, or None if no user has it any more."""
    iam = moto_client(moto, "iam")
    for user in iam.list_users()["Users"]:
        try:
            keys = iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
        except iam.exceptions.NoSuchEntityException:
            continue  # deleted while we looked (a revocation or rollback running)
        if any(k["AccessKeyId"] == access_key_id for k in keys):
            return user["UserName"]
    return None


def caller_arn(moto, data: dict) -> str:
    sts = moto_client(moto, "sts", data["access_key"], data["secret_key"], data.get("security_token"))
    return sts.get_caller_identity()["Arn"]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def users_tagged(moto, mount_uuid: str) -> list[str]:
    iam = moto_client(moto, "iam")
    found = []
    for user in iam.list_users()["Users"]:
        try:
            tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user["UserName"])["Tags"]}
        except iam.exceptions.NoSuchEntityException:
            continue  # deleted while we looked
        if tags.get("vaultlet-issuer") == mount_uuid:
            found.append(user["UserName"])
    return found
