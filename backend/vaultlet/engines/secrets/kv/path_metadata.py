"""``metadata/<path>``: a secret's settings and version history; LIST walks the tree; DELETE drops all."""

from __future__ import annotations

import time

from vaultlet.durations import DurationError, parse_duration
from vaultlet.engines.secrets.kv.store import SecretRecord
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import BOOL, INT, MAP, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, LIST, PATCH, READ, UPDATE, Response, list_response

_SETTINGS = ("max_versions", "cas_required", "delete_version_after", "custom_metadata")


def metadata_exists(backend, request, fields) -> bool:
    return backend.kv.secret(fields["path"]) is not None


def metadata_read(backend, request, fields) -> Response:
    record = backend.kv.secret(fields["path"])
    if record is None:
        raise NotFound()
    return Response(data=record.describe())


def metadata_list(backend, request, fields) -> Response:
    return list_response(backend.kv.list(fields["path"]))


def metadata_write(backend, request, fields) -> None:
    """POST replaces the settings it names (custom_metadata whole); PATCH merges custom_metadata."""
    settings = _settings(fields)
    merge = request.operation == PATCH

    def change(current: SecretRecord | None) -> SecretRecord:
        if current is None and merge:
            raise NotFound()
        record = current or SecretRecord()
        for name, value in settings.items():
            if name == "custom_metadata" and merge:
                value = {**(record.custom_metadata or {}), **value}
                value = {k: v for k, v in value.items() if v is not None}
            setattr(record, name, value)
        record.current_metadata_version += 1
        record.updated_time = time.time()
        record.trim(backend.kv.config())
        return record

    backend.kv.update(fields["path"], change)


def metadata_delete(backend, request, fields) -> None:
    backend.kv.delete(fields["path"])


def _settings(fields) -> dict:
    settings = {name: fields[name] for name in _SETTINGS if name in fields.raw}
    if settings.get("max_versions", 0) < 0:
        raise UserError("max_versions cannot be negative")
    if "delete_version_after" in settings:
        settings["delete_version_after"] = parse_delete_after(fields.raw["delete_version_after"])
    if "custom_metadata" in settings:
        settings["custom_metadata"] = _custom_metadata(settings["custom_metadata"])
    return settings


def parse_delete_after(value) -> int:
    try:
        seconds = parse_duration(value)
    except DurationError as error:
        raise UserError(f"invalid delete_version_after: {error}") from None
    return max(seconds, 0)


def _custom_metadata(value: dict) -> dict[str, str | None]:
    """Vault's limits: string values only, at most 64 keys of 128 bytes and values of 512."""
    if len(value) > 64:
        raise UserError("custom_metadata can only contain 64 keys")
    for key, item in value.items():
        if item is not None and not isinstance(item, str):
            raise UserError(f'custom_metadata value for key "{key}" must be a string')
        if len(key.encode()) > 128 or (item is not None and len(item.encode()) > 512):
            raise UserError(f'custom_metadata key "{key}" or its value is too long')
    return value or None


_PATH_FIELD = {"path": Field(STRING, "Location of the secret", in_path=True)}

PATHS = [
    Path(
        pattern="metadata/?",
        fields={"path": Field(STRING, "Location of the secret", in_path=True)},
        operations={LIST: metadata_list},
        synopsis="List the secrets at the root of the mount.",
    ),
    Path(
        pattern="metadata/(?P<path>.+)",
        fields={
            **_PATH_FIELD,
            "max_versions": Field(INT, "Versions to keep (0 = the engine's setting)"),
            "cas_required": Field(BOOL, "Require check-and-set on every write"),
            "delete_version_after": Field(STRING, "Soft-delete each version this long after it is written"),
            "custom_metadata": Field(MAP, "User-provided key/value metadata"),
        },
        operations={
            READ: metadata_read,
            CREATE: metadata_write,
            UPDATE: metadata_write,
            PATCH: metadata_write,
            DELETE: metadata_delete,
            LIST: metadata_list,
        },
        exists=metadata_exists,
        synopsis="Read or configure a secret's metadata; delete removes every version.",
    ),
]
