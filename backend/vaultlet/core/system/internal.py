"""sys/internal/ui/mounts (agent preflight) and sys/internal/specs/openapi."""

from __future__ import annotations

from vaultlet import __version__
from vaultlet.errors import NotFound
from vaultlet.framework import openapi
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response


def ui_mount_read(backend, request, fields) -> Response:
    path = fields["path"].lstrip("/")
    entry = backend.core.router.match_entry(path)
    if entry is None or entry.uuid in ("system",) or not path:
        raise NotFound()
    return Response(data={**entry.describe(), "path": entry.full_path})


def openapi_read(backend, request, fields) -> Response:
    router = backend.core.router
    by_mount = {}
    for entry in router.all_entries():
        mounted = router.backend(entry)
        by_mount[entry.full_path] = openapi.path_items(entry.full_path, mounted.paths)
    return Response(raw=openapi.document(by_mount, __version__))


PATHS = [
    Path(
        pattern="internal/ui/mounts/(?P<path>.+)",
        fields={"path": Field(STRING, "A path under a mount", in_path=True)},
        operations={READ: ui_mount_read},
        synopsis="The mount serving a path (used by agents and the KV CLI before reading).",
    ),
    Path(
        pattern="internal/specs/openapi",
        fields={"generic_mount_paths": Field(STRING, "Accepted for compatibility")},
        operations={READ: openapi_read},
        synopsis="The OpenAPI document of every mounted backend, generated from the path declarations.",
    ),
]
