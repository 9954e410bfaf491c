"""sys/audit (list, enable, disable) and sys/audit-hash.

Enabling, disabling and listing devices needs ``sudo``, as in Vault (OpenBao
2.4+ refuses API creation outright; vaultlet follows Vault, whose walkthrough
enables the file device from the CLI).
"""

from __future__ import annotations

from vaultlet.core.audit import DeviceEntry
from vaultlet.errors import UserError
from vaultlet.framework.fields import BOOL, MAP, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import DELETE, READ, UPDATE, Response


def audit_list(backend, request, fields) -> Response:
    devices = {entry.path: entry.describe() for entry in backend.core.audit.entries()}
    return Response(data=devices, data_at_top_level=True)


def audit_enable(backend, request, fields) -> None:
    if not fields["type"]:
        raise UserError("backend type must be specified as a string")
    entry = DeviceEntry(
        path=fields["path"],
        type=fields["type"],
        options=dict(fields["options"]),
        description=fields["description"],
        local=fields["local"],
    )
    backend.core.audit.enable(entry)


def audit_disable(backend, request, fields) -> None:
    backend.core.audit.disable(fields["path"])


def audit_hash(backend, request, fields) -> Response:
    if not fields["input"]:
        raise UserError('the "input" parameter is empty')
    return Response(
        data={"hash": backend.core.audit.hash(fields["path"], fields["input"])}, data_at_top_level=True
    )


PATHS = [
    Path(
        pattern="audit/?",
        operations={READ: audit_list},
        sudo=True,
        synopsis="List the enabled audit devices.",
    ),
    Path(
        pattern="audit/(?P<path>.+)",
        fields={
            "path": Field(STRING, "Where to enable the device", in_path=True),
            "type": Field(STRING, 'Device type: "file"'),
            "description": Field(STRING, "User-friendly description of the device"),
            "options": Field(
                MAP,
                "String options: file_path (a path, stdout or discard), mode, log_raw, hmac_accessor, "
                "prefix, elide_list_responses, format",
            ),
            "local": Field(BOOL, "Mark the device as local (not replicated)"),
        },
        operations={UPDATE: audit_enable, DELETE: audit_disable},
        sudo=True,
        synopsis="Enable or disable an audit device.",
        description="A request is served only once at least one enabled device has recorded it.",
    ),
    Path(
        pattern="audit-hash/(?P<path>.+)",
        fields={
            "path": Field(STRING, "The audit device", in_path=True),
            "input": Field(STRING, "The value to hash"),
        },
        operations={UPDATE: audit_hash},
        synopsis="The HMAC a device would log for a value (to find it in the log).",
    ),
]
