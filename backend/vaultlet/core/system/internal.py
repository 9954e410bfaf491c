"""sys/internal/ui/mounts (agent preflight) and sys/internal/specs/openapi."""

from __future__ import annotations

from vaultlet import SERVER_VERSION
from vaultlet.core.authorization import has_access_under
from vaultlet.errors import NotFound, PermissionDenied
from vaultlet.framework import openapi
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response


def ui_mount_read(backend, request, fields) -> Response:
    """Vault checks the token itself here: any capability at or under the mount
    is enough (an agent with read on one secret must learn its mount's type)."""
    token = request.token
    core = backend.core
    if token is None or not core.authorizer.bound_address_ok(token, request.remote_addr):
        raise PermissionDenied()
    path = fields["path"].lstrip("/")
    entry = core.router.match_entry(path)
    mounted = entry is not None and entry.uuid != "system" and bool(path)
    probe = entry.full_path if mounted else path.rstrip("/") + "/"
    if not _has_access(core, token, probe):
        # The same answer whether or not a mount exists there: no mount enumeration.
        raise PermissionDenied(
            "preflight capability check returned 403, please ensure client's policies grant access "
            f'to path "{path.rstrip("/")}/"'
        )
    if not mounted:
        raise NotFound()
    return Response(data={**entry.describe(), "path": entry.full_path})


def _has_access(core, token, prefix: str) -> bool:
    if token.is_root:
        return True
    capabilities = core.policies.acl(token.policies).capabilities(prefix)
    return has_access_under(core.policies.policies(token.policies), capabilities, prefix)


def openapi_read(backend, request, fields) -> Response:
    router = backend.core.router
    by_mount = {}
    for entry in router.all_entries():
        mounted = router.backend(entry)
        by_mount[entry.full_path] = openapi.path_items(entry.full_path, mounted.paths)
    return Response(raw=openapi.document(by_mount, SERVER_VERSION))


PATHS = [
    Path(
        pattern="internal/ui/mounts/(?P<path>.+)",
        fields={"path": Field(STRING, "A path under a mount", in_path=True)},
        operations={READ: ui_mount_read},
        unauthenticated=True,  # the handler checks the token and its ACL itself
        synopsis="The mount serving a path (used by agents and the KV CLI before reading).",
    ),
    Path(
        pattern="internal/specs/openapi",
        fields={"generic_mount_paths": Field(STRING, "Accepted for compatibility")},
        operations={READ: openapi_read},
        synopsis="The OpenAPI document of every mounted backend, generated from the path declarations.",
    ),
]
