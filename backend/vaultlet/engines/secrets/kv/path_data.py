"""``data/<path>``: read (a version), write (a new version, with check-and-set), patch, delete latest."""

from __future__ import annotations

import time
from typing import Any

from vaultlet.engines.secrets.kv.store import SecretRecord
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import INT, MAP, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, PATCH, READ, UPDATE, Response


def data_exists(backend, request, fields) -> bool:
    return backend.kv.secret(fields["path"]) is not None


def data_read(backend, request, fields) -> Response:
    record = backend.kv.secret(fields["path"])
    number = fields["version"] or (record.current_version if record else 0)
    if record is None or number not in record.versions:
        raise NotFound()
    version = record.versions[number]
    body = {"data": version.data if version.readable(time.time()) else None}
    body["metadata"] = record.version_metadata(number)
    # A deleted or destroyed version answers 404 with its metadata, as Vault does.
    return Response(data=body, status=None if body["data"] is not None else 404)


def data_write(backend, request, fields) -> Response:
    data = _required_data(fields)
    cas = _cas(fields)
    config = backend.kv.config()

    def write(current: SecretRecord | None) -> SecretRecord:
        record = current or SecretRecord()
        check_cas(record, cas, config.cas_required)
        record.add_version(data, config, time.time())
        return record

    record = backend.kv.update(fields["path"], write)
    return Response(data=record.version_metadata(record.current_version))


def data_patch(backend, request, fields) -> Response:
    patch = _required_data(fields)
    cas = _cas(fields)
    config = backend.kv.config()
    now = time.time()

    def apply(current: SecretRecord | None) -> SecretRecord:
        latest = current.versions.get(current.current_version) if current else None
        if latest is None or not latest.readable(now):
            raise NotFound()
        check_cas(current, cas, config.cas_required)
        current.add_version(merge_patch(latest.data or {}, patch), config, now)
        return current

    try:
        record = backend.kv.update(fields["path"], apply)
    except NotFound:
        # Vault answers a patch of a missing or deleted secret 404 with an empty body.
        return Response(status=404)
    return Response(data=record.version_metadata(record.current_version))


def data_delete(backend, request, fields) -> None:
    """Soft-delete the latest version (undelete brings it back)."""
    now = time.time()

    def delete_latest(current: SecretRecord | None) -> SecretRecord | None:
        latest = current.versions.get(current.current_version) if current else None
        if latest is None or latest.destroyed or latest.deleted(now):
            return None
        latest.deletion_time = now
        return current

    backend.kv.update(fields["path"], delete_latest)


def check_cas(record: SecretRecord, cas: int | None, engine_requires_cas: bool) -> None:
    if cas is None:
        if record.cas_required or engine_requires_cas:
            raise UserError("check-and-set parameter required for this call")
        return
    if cas != record.current_version:
        raise UserError("check-and-set parameter did not match the current version")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, ``null`` removes a key."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _required_data(fields) -> dict[str, Any]:
    if "data" not in fields.raw or fields.raw["data"] is None:
        raise UserError("no data provided")
    return fields["data"]


def _cas(fields) -> int | None:
    options = fields["options"] or {}
    if "cas" not in options:
        return None
    value = options["cas"]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UserError("error parsing check-and-set parameter")
    try:
        return int(value)
    except ValueError:
        raise UserError("error parsing check-and-set parameter") from None


PATHS = [
    Path(
        pattern="data/(?P<path>.*)",
        fields={
            "path": Field(STRING, "Location of the secret", in_path=True),
            "version": Field(INT, "The version to read (default: the latest)"),
            "data": Field(MAP, "The secret's key/value pairs"),
            "options": Field(MAP, 'Write options; "cas" is the version the write expects to replace'),
        },
        operations={
            READ: data_read,
            CREATE: data_write,
            UPDATE: data_write,
            PATCH: data_patch,
            DELETE: data_delete,
        },
        exists=data_exists,
        synopsis="Write, patch, read or soft-delete the latest version of a secret.",
    )
]
