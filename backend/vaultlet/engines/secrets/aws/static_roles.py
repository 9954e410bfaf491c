"""``static-roles/:name`` and ``static-creds/:name``: rotated keys of existing IAM users.

A static role adopts an IAM user vaultlet did not create and keeps one access key of
it, replaced every ``rotation_period``. The rotation queue lives in storage (one
record, ``static-rotation-queue``: role name → next rotation time), so every worker
process sees the same queue and a restart loses nothing; on its first periodic tick
each process also reconciles the queue with the stored roles, repairing whatever a
crash between two writes left behind (Vault rebuilds its in-memory queue the same
way, VAULT-30877). A due item is claimed by pushing its time forward with a
compare-and-set, so exactly one process rotates it.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vaultlet.engines.secrets.aws.client import AwsError, IamApi, NoSuchEntity
from vaultlet.engines.secrets.aws.errors import reported_as
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import DURATION, STRING, Field
from vaultlet.framework.path import GENERIC_NAME_WITH_AT, Path, named
from vaultlet.framework.request import CREATE, DELETE, LIST, READ, UPDATE, Request, Response, list_response

if TYPE_CHECKING:
    from vaultlet.engines.secrets.aws.backend import AwsBackend
    from vaultlet.framework.fields import FieldData
    from vaultlet.storage.barrier import StorageView

STATIC_ROLE_PREFIX = "static-roles/"
STATIC_CREDS_PREFIX = "static-creds/"
ROTATION_QUEUE_KEY = "static-rotation-queue"

MIN_ROTATION_PERIOD = 60
MAX_KEYS_PER_USER = 2  # IAM's quota
ROTATION_CLAIM_SECONDS = 60  # a failed rotation is retried after this

log = logging.getLogger("vaultlet.backend.aws")


@dataclass
class StaticRole:
    name: str
    username: str
    rotation_period: int
    id: str = ""  # the IAM UserId seen at creation: a re-created user of the same name is not adopted

    def to_response(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "username": self.username,
            "rotation_period": self.rotation_period,
            "assume_role_arn": "",
            "assume_role_session_name": "",
            "external_id": "",
        }


@dataclass
class StaticCredentials:
    access_key: str
    secret_key: str
    expiration: float

    def to_response(self) -> dict[str, Any]:
        return {
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "expiration": datetime.fromtimestamp(self.expiration, UTC).isoformat().replace("+00:00", "Z"),
        }


def load_static_role(storage: StorageView, name: str) -> StaticRole | None:
    record = storage.get(STATIC_ROLE_PREFIX + name)
    return StaticRole(**record) if record else None


def load_static_credentials(storage: StorageView, name: str) -> StaticCredentials | None:
    record = storage.get(STATIC_CREDS_PREFIX + name)
    return StaticCredentials(**record) if record else None


# -- the persisted rotation queue -------------------------------------------------


class RotationQueue:
    """Role name → next rotation (unix time), in one storage record changed by compare-and-set."""

    def __init__(self, storage: StorageView):
        self.storage = storage

    def items(self) -> dict[str, float]:
        return dict((self.storage.cached(ROTATION_QUEUE_KEY) or {}).get("items", {}))

    def due(self, now: float) -> list[str]:
        return sorted((name for name, at in self.items().items() if at <= now), key=self.items().get)

    def schedule(self, name: str, at: float) -> None:
        self._change(lambda items: {**items, name: at})

    def remove(self, name: str) -> None:
        self._change(lambda items: {k: v for k, v in items.items() if k != name})

    def claim(self, name: str, now: float, seconds: float) -> bool:
        """Push a due item ``seconds`` into the future; only one process succeeds."""
        record, version = self.storage.get_with_version(ROTATION_QUEUE_KEY)
        items = dict((record or {}).get("items", {}))
        if name not in items or items[name] > now:
            return False
        items[name] = now + seconds
        return self.storage.put_if_version(ROTATION_QUEUE_KEY, {"items": items}, version)

    def rebuild(self, storage: StorageView) -> None:
        """Make the queue hold exactly the stored roles, due when their keys expire."""
        names = [key for key in storage.list(STATIC_ROLE_PREFIX) if not key.endswith("/")]

        def reconcile(items: dict[str, float]) -> dict[str, float]:
            rebuilt = {}
            for name in names:
                credentials = load_static_credentials(storage, name)
                rebuilt[name] = items.get(name, credentials.expiration if credentials else time.time())
            return rebuilt

        self._change(reconcile)

    def _change(self, change) -> None:
        for _attempt in range(50):
            record, version = self.storage.get_with_version(ROTATION_QUEUE_KEY)
            items = change(dict((record or {}).get("items", {})))
            if self.storage.put_if_version(ROTATION_QUEUE_KEY, {"items": items}, version):
                return
        raise RuntimeError("could not update the static rotation queue: too much contention")


# -- key rotation -----------------------------------------------------------------


def create_credential(backend: AwsBackend, role: StaticRole) -> StaticCredentials:
    """Vault's createCredential: check the user, make room (IAM allows two keys), create, store."""
    iam = backend.aws().iam
    _check_user(iam, role)
    keys = iam.list_access_keys(role.username)
    if len(keys) >= MAX_KEYS_PER_USER:
        oldest = min(keys, key=lambda k: k.create_date)
        iam.delete_access_key(oldest.access_key_id, role.username)
    key = iam.create_access_key(role.username)
    credentials = StaticCredentials(
        key.access_key_id, key.secret_access_key, time.time() + role.rotation_period
    )
    backend.storage.put(STATIC_CREDS_PREFIX + role.name, asdict(credentials))
    return credentials


def _check_user(iam: IamApi, role: StaticRole) -> None:
    user = iam.get_user(role.username)
    if user.name != role.username or (role.id and user.user_id != role.id):
        raise UserError(f"unable to validate username {role.username!r}: the IAM user id changed")


def rotate_due_credentials(backend: AwsBackend) -> None:
    """Rotate every static role whose time has come (called each periodic tick)."""
    queue = RotationQueue(backend.storage)
    now = time.time()
    for name in queue.due(now):
        if not queue.claim(name, now, ROTATION_CLAIM_SECONDS):
            continue
        role = load_static_role(backend.storage, name)
        if role is None:
            queue.remove(name)
            continue
        try:
            credentials = create_credential(backend, role)
        except (AwsError, UserError) as error:
            log.warning("rotation of static role %s failed, will retry: %s", name, error)
            continue
        queue.schedule(name, credentials.expiration)
        log.info("rotated the access key of static role %s", name)


# -- handlers ---------------------------------------------------------------------


def static_role_exists(backend: AwsBackend, request: Request, fields: FieldData) -> bool:
    return backend.storage.version(STATIC_ROLE_PREFIX + fields["name"]) is not None


def static_roles_list(backend: AwsBackend, request: Request, fields: FieldData) -> Response:
    return list_response(backend.storage.list(STATIC_ROLE_PREFIX))


def static_roles_read(backend: AwsBackend, request: Request, fields: FieldData) -> dict[str, Any]:
    role = load_static_role(backend.storage, fields["name"])
    if role is None:
        raise NotFound()
    return role.to_response()


def static_roles_write(backend: AwsBackend, request: Request, fields: FieldData) -> dict[str, Any]:
    name = fields["name"]
    for unsupported in ("assume_role_arn", "assume_role_session_name", "external_id"):
        if fields[unsupported]:
            raise UserError(f"{unsupported}: cross-account static roles are not supported by vaultlet")
    existing = load_static_role(backend.storage, name)
    role = _merged_static_role(name, existing, fields)
    with reported_as(f"unable to validate username {role.username!r}"):
        user = backend.aws().iam.get_user(role.username)
    if existing is not None and existing.id and existing.id != user.user_id:
        raise UserError(f"unable to validate username {role.username!r}: the IAM user id changed")
    role.id = user.user_id
    backend.storage.put(STATIC_ROLE_PREFIX + name, asdict(role))
    queue = RotationQueue(backend.storage)
    credentials = load_static_credentials(backend.storage, name)
    if credentials is None:
        with reported_as(f"failed to create new credentials for role {name!r}"):
            credentials = create_credential(backend, role)
    elif "rotation_period" in fields:
        # A new period starts now (hashicorp/vault#21967: the old schedule was kept).
        credentials.expiration = time.time() + role.rotation_period
        backend.storage.put(STATIC_CREDS_PREFIX + name, asdict(credentials))
    queue.schedule(name, credentials.expiration)
    return role.to_response()


def _merged_static_role(name: str, existing: StaticRole | None, fields: FieldData) -> StaticRole:
    if existing is None:
        if "username" not in fields or not fields["username"]:
            raise UserError('missing "username" parameter')
        if "rotation_period" not in fields:
            raise UserError('missing "rotation_period" parameter')
    supplied = fields.supplied()
    username = supplied.get("username", existing.username if existing else "")
    period = supplied.get("rotation_period", existing.rotation_period if existing else 0)
    if period < MIN_ROTATION_PERIOD:
        raise UserError(
            f"role rotation period out of range: must be greater than {MIN_ROTATION_PERIOD:.2f} seconds"
        )
    return StaticRole(
        name=name, username=username, rotation_period=period, id=existing.id if existing else ""
    )


def static_roles_delete(backend: AwsBackend, request: Request, fields: FieldData) -> None:
    """Forget the role and delete the key vaultlet holds; the IAM user itself stays."""
    name = fields["name"]
    role = load_static_role(backend.storage, name)
    credentials = load_static_credentials(backend.storage, name)
    if role is not None and credentials is not None:
        with reported_as(f"failed to delete the access key of static role {name!r}"), suppress(NoSuchEntity):
            backend.aws().iam.delete_access_key(credentials.access_key, role.username)
    backend.storage.delete(STATIC_CREDS_PREFIX + name)
    RotationQueue(backend.storage).remove(name)
    backend.storage.delete(STATIC_ROLE_PREFIX + name)


def static_creds_read(backend: AwsBackend, request: Request, fields: FieldData) -> dict[str, Any]:
    credentials = load_static_credentials(backend.storage, fields["name"])
    if credentials is None:
        raise NotFound()
    return credentials.to_response()


_NAME = Field(STRING, "The name of this role.", in_path=True)

paths = [
    Path(
        pattern="static-roles/?",
        operations={LIST: static_roles_list},
        synopsis="List the static roles of this backend.",
        description="Static roles are listed by name.",
    ),
    Path(
        pattern="static-roles/" + named("name", GENERIC_NAME_WITH_AT),
        fields={
            "name": _NAME,
            "username": Field(STRING, "The IAM user to adopt as a static role."),
            "rotation_period": Field(
                DURATION, "Period by which to rotate the adopted user's access key (at least 1m)."
            ),
            "assume_role_arn": Field(STRING, "Cross-account role to assume (Enterprise; not supported)."),
            "assume_role_session_name": Field(STRING, "Session name for assume_role_arn (not supported)."),
            "external_id": Field(STRING, "External ID for assume_role_arn (not supported)."),
        },
        operations={
            READ: static_roles_read,
            CREATE: static_roles_write,
            UPDATE: static_roles_write,
            DELETE: static_roles_delete,
        },
        exists=static_role_exists,
        synopsis="Manage static roles for AWS.",
        description="""
This path lets you manage static roles (existing IAM users) for the AWS secrets
engine. On creation vaultlet makes a new access key for the user (deleting the
oldest first if the user already has two); the key is replaced every
rotation_period. Deleting the role deletes the key vaultlet holds, not the user.
""",
    ),
    Path(
        pattern="static-creds/" + named("name", GENERIC_NAME_WITH_AT),
        fields={"name": _NAME},
        operations={READ: static_creds_read},
        synopsis="Retrieve the current static credentials of a static role.",
        description="The current access key of the role's IAM user and when it will be rotated. No lease.",
    ),
]
