"""``subkeys/<path>``: a version's key structure with every leaf value replaced by null."""

from __future__ import annotations

import time
from typing import Any

from vaultlet.errors import NotFound
from vaultlet.framework.fields import INT, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response


def subkeys(value: dict[str, Any], depth: int, level: int = 1) -> dict[str, Any]:
    """Nested objects are walked to ``depth`` levels (0 = all); everything else becomes null."""
    return {
        key: subkeys(item, depth, level + 1)
        if isinstance(item, dict) and (not depth or level < depth)
        else None
        for key, item in value.items()
    }


def subkeys_read(backend, request, fields) -> Response:
    record = backend.kv.secret(fields["path"])
    number = fields["version"] or (record.current_version if record else 0)
    if record is None or number not in record.versions:
        raise NotFound()
    version = record.versions[number]
    if not version.readable(time.time()):
        return Response(data={"subkeys": None, "metadata": record.version_metadata(number)}, status=404)
    return Response(
        data={
            "subkeys": subkeys(version.data or {}, fields["depth"]),
            "metadata": record.version_metadata(number),
        }
    )


PATHS = [
    Path(
        pattern="subkeys/(?P<path>.+)",
        fields={
            "path": Field(STRING, "Location of the secret", in_path=True),
            "version": Field(INT, "The version (default: the latest)"),
            "depth": Field(INT, "How deep to walk nested objects (0 = all the way)"),
        },
        operations={READ: subkeys_read},
        synopsis="Read a secret's key structure without its values.",
    )
]
