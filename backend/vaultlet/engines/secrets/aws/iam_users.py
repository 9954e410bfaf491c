"""Issuing iam_user credentials without ever losing track of a user.

The bookkeeping, step by step (a crash may happen between any two):

1. A write-ahead entry ``wal/<id>`` {username, lease_path} is stored first. ``<id>``
   is 24 random base62 characters and becomes the lease id's last segment too
   (``LeaseRequest.lease_id_suffix``), so the lease for this user will be exactly
   ``<lease_path>/<id>`` and anyone can check whether it exists.
2. CreateUser carries the role's iam_tags plus ``vaultlet-issuer=<mount uuid>`` and
   ``vaultlet-lease-ref=<id>``: the user is recognisable as ours from its first moment.
3. Policies, groups and the access key are added. Any failure tears the user down
   at once (best effort); the entry stays until that teardown has succeeded.

Answers can be lost after AWS acted (a 500 after the side effect, a timeout), and
botocore then retries. The entry is therefore dropped on a failed CreateUser only
when AWS refused the one and only attempt; ``EntityAlreadyExists`` for the name we
generated, on a user tagged with this entry, means our own lost attempt made it, and
issuance simply goes on. Attach/PutUserPolicy and AddUserToGroup are idempotent; a
CreateAccessKey retried after a lost answer leaves an extra key, which is deleted.
4. Optionally, wait until the new key works (``verify_credentials``).
5. The handler "touches" its entry (a compare-and-set). That fails if the rollback
   has claimed the entry meanwhile (the request was slower than rollback_min_age);
   then the user is being deleted and the request fails instead of returning keys.
6. The core registers the lease ``<lease_path>/<id>``.

The entry is not deleted by the handler: the handler cannot know whether step 6
happened. The rollback (rollback.py) settles every entry once it is older than
rollback_min_age: if the lease exists, the lease owns the user and the entry is
dropped; otherwise the user is torn down. Revoking the lease drops the entry too.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vaultlet import faults
from vaultlet.engines.secrets.aws.client import (
    AccessKey,
    AwsError,
    AwsTransientError,
    IamApi,
    NoSuchEntity,
    StsApi,
)
from vaultlet.engines.secrets.aws.config_lease import LeaseConfig
from vaultlet.engines.secrets.aws.errors import aws_failure, reported_as
from vaultlet.engines.secrets.aws.roles import RoleEntry
from vaultlet.engines.secrets.aws.secret import ACCESS_KEYS
from vaultlet.engines.secrets.aws.teardown import delete_iam_user
from vaultlet.engines.secrets.aws.username_template import TemplateError, render_username
from vaultlet.errors import InternalError, UserError
from vaultlet.framework.request import LeaseRequest, Request, Response

if TYPE_CHECKING:
    from vaultlet.engines.secrets.aws.backend import AwsBackend

log = logging.getLogger("vaultlet.backend.aws")

USER_WAL_KIND = "user"
ISSUER_TAG = "vaultlet-issuer"
LEASE_REF_TAG = "vaultlet-lease-ref"

# Crash-test points (vaultlet.faults): right after CreateUser, and with the key made.
FAULT_AFTER_CREATE_USER = "aws-iam-user-created"
FAULT_AFTER_CREATE_ACCESS_KEY = "aws-iam-access-key-created"

VERIFY_STREAK = 3  # STS must accept the key this many times in a row
VERIFY_INTERVAL = 0.5


def issue_iam_user(backend: AwsBackend, request: Request, role_name: str, role: RoleEntry) -> Response:
    config = backend.root_config()
    try:
        username = render_username(
            config.username_template, type="IAM", display_name=request.display_name, policy_name=role_name
        )
    except TemplateError as error:
        raise UserError(str(error)) from None
    with reported_as(""):
        iam = backend.aws().iam
    lease_path = request.path.rstrip("/")
    wal_id = backend.wal.put(USER_WAL_KIND, {"username": username, "lease_path": lease_path})
    _create_user(backend, iam, username, role, wal_id)
    faults.point(FAULT_AFTER_CREATE_USER)
    try:
        key = _equip_user(iam, username, role_name, role)
        faults.point(FAULT_AFTER_CREATE_ACCESS_KEY)
        warnings = (
            _verify_key(backend, username, key, role.verify_credentials_timeout)
            if role.verify_credentials
            else []
        )
        _hand_over(backend, wal_id)
    except Exception:
        _undo(backend, iam, username, wal_id)
        raise
    lease = LeaseConfig.load(backend.storage)
    return Response(
        data={
            "access_key": key.access_key_id,
            "secret_key": key.secret_access_key,
            "security_token": None,
            "session_token": None,
        },
        secret=LeaseRequest(
            ACCESS_KEYS,
            internal={"username": username, "role": role_name, "is_sts": False, "wal_id": wal_id},
            ttl=lease.lease,
            max_ttl=lease.lease_max,
            renewable=True,
            lease_id_suffix=wal_id,
        ),
        warnings=warnings,
    )


def _create_user(backend: AwsBackend, iam: IamApi, username: str, role: RoleEntry, wal_id: str) -> None:
    tags = {**(role.iam_tags or {}), ISSUER_TAG: backend.context.mount_uuid, LEASE_REF_TAG: wal_id}
    try:
        iam.create_user(
            username,
            path=role.user_path or "/",
            permissions_boundary=role.permissions_boundary_arn,
            tags=tags,
        )
    except AwsError as error:
        if error.code == "EntityAlreadyExists" and _made_by(backend, iam, username, wal_id):
            # An earlier attempt of this very call created the user and its answer was
            # lost (a 500 after the fact, a timeout); botocore's retry then heard
            # "already exists". The user carries this entry's tag: it is ours, finish it.
            log.info("IAM user %s was created by a retried CreateUser whose answer was lost", username)
            return
        if not isinstance(error, AwsTransientError) and not error.retries:
            # AWS refused the one and only attempt: nothing was created (an
            # EntityAlreadyExists user is someone else's, never ours to delete).
            backend.wal.delete(wal_id)
        # Otherwise the user may exist: the entry stays, and the rollback settles it.
        raise aws_failure("Error creating IAM user", error) from None


def _made_by(backend: AwsBackend, iam: IamApi, username: str, wal_id: str) -> bool:
    """Does ``username`` carry this mount's and this entry's tags? (Errors keep the entry.)"""
    try:
        tags = iam.list_user_tags(username)
    except NoSuchEntity:
        return False
    except AwsError as error:
        raise aws_failure("Error creating IAM user", error) from None
    return tags.get(ISSUER_TAG) == backend.context.mount_uuid and tags.get(LEASE_REF_TAG) == wal_id


def _equip_user(iam: IamApi, username: str, role_name: str, role: RoleEntry) -> AccessKey:
    """Vault's order: managed policies, the inline policy (named after the role), groups, the key."""
    with reported_as("Error attaching user policy"):
        for policy_arn in role.policy_arns or []:
            iam.attach_user_policy(username, policy_arn)
    if role.policy_document:
        with reported_as("Error putting user policy"):
            iam.put_user_policy(username, role_name, role.policy_document)
    with reported_as("Error adding user to group"):
        for group in role.iam_groups or []:
            iam.add_user_to_group(username, group)
    with reported_as("Error creating access keys"):
        key = iam.create_access_key(username)
        if key.retried:
            _drop_other_keys(iam, username, key)
    return key


def _drop_other_keys(iam: IamApi, username: str, kept: AccessKey) -> None:
    """A retried CreateAccessKey whose first answer was lost made a key nobody knows
    the secret of: the user is brand new, so every key but the one we hold goes."""
    for key in iam.list_access_keys(username):
        if key.access_key_id != kept.access_key_id:
            log.info("deleting an access key of IAM user %s whose CreateAccessKey answer was lost", username)
            # NoSuchEntity: a retried DeleteAccessKey whose first answer was lost; gone already.
            with contextlib.suppress(NoSuchEntity):
                iam.delete_access_key(key.access_key_id, username)


def _verify_key(backend: AwsBackend, username: str, key: AccessKey, timeout: int) -> list[str]:
    sts = backend.aws().sts_with_keys(key.access_key_id, key.secret_access_key)
    if wait_until_usable(sts, timeout):
        return []
    log.warning("the new access key of IAM user %s was not yet accepted by STS after %ss", username, timeout)
    return [
        f"the new access key was not accepted by AWS STS {VERIFY_STREAK} times in a row within {timeout}s; "
        "IAM changes take a few seconds to propagate, so it may fail briefly"
    ]


def wait_until_usable(
    sts: StsApi,
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call sts:GetCallerIdentity with the new key until it succeeds VERIFY_STREAK times in a row.

    In a row, because right after creation some STS hosts know the key and others do
    not yet; one success alone says little about the next call the client makes.
    """
    deadline = clock() + timeout
    streak = 0
    while True:
        try:
            sts.get_caller_identity()
            streak += 1
        except AwsError:
            streak = 0
        if streak >= VERIFY_STREAK:
            return True
        if clock() + VERIFY_INTERVAL > deadline:
            return False
        sleep(VERIFY_INTERVAL)


def _hand_over(backend: AwsBackend, wal_id: str) -> None:
    """Prove the write-ahead entry is still ours (no rollback claimed it) right before answering."""
    entry = backend.wal.get(wal_id)
    if entry is None or not backend.wal.touch(entry):
        raise InternalError(
            "the new IAM user was rolled back before it could be handed out, because issuing it took longer "
            "than the server's rollback_min_age; retry the request"
        )


def _undo(backend: AwsBackend, iam: IamApi, username: str, wal_id: str) -> None:
    """Best-effort teardown of a half-made user; the write-ahead entry goes only once it succeeded."""
    try:
        delete_iam_user(iam, username, accept_missing=False)
    except AwsError as error:
        log.warning(
            "could not delete IAM user %s after a failed request (%s); the rollback will retry",
            username,
            error.code,
        )
        return
    backend.wal.delete(wal_id)
