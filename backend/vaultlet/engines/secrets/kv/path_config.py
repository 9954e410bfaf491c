"""``config``: the engine-wide defaults for max_versions, cas_required and delete_version_after."""

from __future__ import annotations

from dataclasses import replace

from vaultlet.engines.secrets.kv.path_metadata import parse_delete_after
from vaultlet.errors import UserError
from vaultlet.framework.fields import BOOL, INT, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, READ, UPDATE, Response


def config_read(backend, request, fields) -> Response:
    return Response(data=backend.kv.config().describe())


def config_write(backend, request, fields) -> None:
    config = backend.kv.config()
    if "max_versions" in fields.raw:
        if fields["max_versions"] < 0:
            raise UserError("max_versions cannot be negative")
        config = replace(config, max_versions=fields["max_versions"])
    if "cas_required" in fields.raw:
        config = replace(config, cas_required=fields["cas_required"])
    if "delete_version_after" in fields.raw:
        config = replace(config, delete_version_after=parse_delete_after(fields.raw["delete_version_after"]))
    backend.kv.save_config(config)


PATHS = [
    Path(
        pattern="config",
        fields={
            "max_versions": Field(INT, "Versions to keep per secret (0 = 10)"),
            "cas_required": Field(BOOL, "Require check-and-set on every write"),
            "delete_version_after": Field(STRING, "Soft-delete each version this long after it is written"),
        },
        operations={READ: config_read, CREATE: config_write, UPDATE: config_write},
        synopsis="Configure the engine's defaults.",
    )
]
