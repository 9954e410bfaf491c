"""sys/remount: move a secrets engine or an auth method to another path, as Vault does.

Vault moves a mount in the background and answers with a migration id at once; the
status is read at ``sys/remount/status/:id``. vaultlet moves it before answering (a
move is a mount-table update plus the revocations), so the status is final by the time
the client asks; the answer keeps Vault's shape, warning included.

As in Vault, every lease of the mount is revoked through its backend first (an auth
mount's tokens too): credentials issued under the old path do not survive the move.
The configuration and the stored data stay (storage belongs to the mount, not the path).
"""

from __future__ import annotations

import logging
import posixpath
import time
import uuid

from vaultlet.core.mounts import AUTH_CLASS, PROTECTED_PREFIXES, MountEntry
from vaultlet.core.system.mounts import revoke_leases
from vaultlet.errors import NotFound, UserError, VaultError
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, Response

log = logging.getLogger("vaultlet.mounts.migration")

MIGRATION_PREFIX = "core/migrations/"
IN_PROGRESS, SUCCESS, FAILURE = "in-progress", "success", "failure"
_PROTECTED_AUTH = ("auth/token",)
QUEUED_WARNING = (
    "Mount move has been queued. Progress will be reported in vaultlet's server log, "
    "tagged with the returned migration_id"
)


def _sanitized(path: str) -> str:
    """Vault's sanitizePath: no leading slash, one trailing slash."""
    path = path.lstrip("/")
    return path if path.endswith("/") else path + "/"


def _check_paths(source: str, target: str) -> None:
    """Vault's checks, in Vault's order and words."""
    cleaned = posixpath.normpath(target) + "/"
    if cleaned != target:
        raise UserError(f"invalid destination mount: path '{target}' does not match cleaned path '{cleaned}'")
    if source.startswith("auth/"):
        if not target.startswith("auth/"):
            raise UserError(f'cannot remount auth mount to non-auth mount "{target}"')
        if source.startswith(_PROTECTED_AUTH):
            raise UserError(f'cannot remount "{source}"')
        if target.startswith(_PROTECTED_AUTH):
            raise UserError(f'cannot remount to destination "{target}"')
        return
    for protected in PROTECTED_PREFIXES:
        if source.startswith(protected):
            raise UserError(f'cannot remount "{source}"')
        if target.startswith(protected):
            raise UserError(f"cannot remount to destination {target}")


def _conflict(router, target: str) -> str:
    """Vault's MountConflict: a mount at, above or below the target path."""
    for entry in router.all_entries():
        if target.startswith(entry.full_path) or entry.full_path.startswith(target):
            return entry.full_path
    return ""


def remount(backend, request, fields) -> Response:
    source_raw, target_raw = fields["from"], fields["to"]
    if not source_raw or not target_raw:
        raise UserError("both 'from' and 'to' path must be specified as a string")
    for name, value in (("from", source_raw), ("to", target_raw)):
        if value != value.strip(" "):
            raise UserError(f"'{name}' path cannot contain trailing whitespace")
    source, target = _sanitized(source_raw), _sanitized(target_raw)
    _check_paths(source, target)
    core = backend.core
    entry = core.router.match_entry(source)
    if entry is None or entry.uuid == "system":
        raise UserError(f'no matching mount at "{source}"')
    conflict = _conflict(core.router, target)
    if conflict:
        raise UserError(f'path already in use at "{conflict}"')
    migration_id = str(uuid.uuid4())
    _set_status(core, migration_id, source, target, IN_PROGRESS)
    status = SUCCESS
    try:
        _move(core, migration_id, entry, source, target)
    except VaultError as error:
        status = FAILURE
        log.error("remount failed: migration_id=%s error=%s", migration_id, "; ".join(error.messages))
    _set_status(core, migration_id, source, target, status)
    # Vault repeats this answer at the top level (sys/remount is one of its "inject" routes).
    return Response(data={"migration_id": migration_id}, warnings=[QUEUED_WARNING], data_at_top_level=True)


def _move(core, migration_id: str, entry: MountEntry, source: str, target: str) -> None:
    if entry.full_path != source:
        # Vault accepts a path under a mount, then fails the migration: it moves mounts only.
        raise UserError(f"no mount at {source}")
    log.info("starting to revoke leases and update the mount table: migration_id=%s", migration_id)
    revoke_leases(core, entry, "the mount stays where it is")
    auth = entry.mount_class == AUTH_CLASS
    table = core.router.auth_mounts if auth else core.router.secret_mounts
    table.move(entry.path, target[len("auth/") :] if auth else target)
    core.router.forget_backend(entry.uuid)
    core.quotas.move_mount(source, target)
    log.info("completed mount move operations: migration_id=%s from=%s to=%s", migration_id, source, target)


def _set_status(core, migration_id: str, source: str, target: str, status: str) -> None:
    # Stored, not kept in memory as Vault does: another worker may answer the status read.
    core.store.put(
        MIGRATION_PREFIX + migration_id,
        {"source_mount": source, "target_mount": target, "status": status, "time": time.time()},
    )


def remount_status(backend, request, fields) -> Response:
    migration_id = fields["migration_id"]
    record = backend.core.store.get(MIGRATION_PREFIX + migration_id) if migration_id else None
    if record is None:
        raise NotFound()
    info = {key: record[key] for key in ("source_mount", "target_mount", "status")}
    return Response(data={"migration_id": migration_id, "migration_info": info})


PATHS = [
    Path(
        pattern="remount",
        fields={
            "from": Field(STRING, "The mount to move (auth methods as auth/<path>)"),
            "to": Field(STRING, "The path to move it to"),
        },
        operations={UPDATE: remount},
        sudo=True,  # a root path in Vault
        synopsis="Move a secrets engine or auth method to a new path.",
        description="Every lease of the mount is revoked first, as in Vault; its configuration stays.",
    ),
    Path(
        pattern=r"remount/status/(?P<migration_id>.+)",
        fields={"migration_id": Field(STRING, "The migration id sys/remount answered with", in_path=True)},
        operations={READ: remount_status},
        synopsis="The status of a mount move.",
    ),
]
