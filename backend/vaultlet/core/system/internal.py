"""sys/internal/ui/mounts (agent preflight) and sys/internal/specs/openapi (the API document)."""

from __future__ import annotations

import re

from vaultlet import SERVER_VERSION
from vaultlet.core.authorization import has_access_under
from vaultlet.core.mounts import AUTH_CLASS
from vaultlet.errors import NotFound, PermissionDenied
from vaultlet.framework import openapi
from vaultlet.framework.fields import BOOL, STRING, Field
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
    """The document of every mount the caller may see, as Vault builds it: the mounts
    ``sys/internal/ui/mounts`` would list (any capability under the mount; without a
    token, those with ``listing_visibility = "unauth"``), each backend's declared paths."""
    core = backend.core
    token = request.token
    if (request.client_token and token is None) or (
        token is not None and not core.authorizer.bound_address_ok(token, request.remote_addr)
    ):
        raise PermissionDenied()  # a token that is not one (here): refused, as in Vault
    generic = fields["generic_mount_paths"]
    paths: dict[str, dict] = {}
    schemas: dict[str, dict] = {}
    for entry in core.router.all_entries():
        if not _visible(core, request, entry):
            continue
        view = openapi.MountView(
            prefix=entry.full_path,
            tag=_tag(entry),
            generic=re.sub(r"\W", "_", entry.path.strip("/")) if generic and not _builtin(entry) else "",
            default_mount=entry.path.strip("/"),
        )
        for template, item in openapi.path_items(view, core.router.backend(entry).paths, schemas).items():
            paths.setdefault(template, item)
    return Response(raw=openapi.document(paths, schemas, SERVER_VERSION))


def _visible(core, request, entry) -> bool:
    token = request.token
    if token is None:
        return entry.config.get("listing_visibility") == "unauth"
    return _has_access(core, token, entry.full_path)


def _builtin(entry) -> bool:
    """Mounts whose place is fixed (Vault keeps them literal with generic_mount_paths)."""
    return entry.uuid in ("system", "token", "cubbyhole")


def _tag(entry) -> str:
    if entry.uuid == "system":
        return "system"
    return "auth" if entry.mount_class == AUTH_CLASS else "secrets"


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
        fields={
            "generic_mount_paths": Field(
                BOOL, "Use generic mount paths ({<mount>_mount_path}) instead of the mounts' real paths"
            ),
            "context": Field(STRING, "Context string appended to every operationId (accepted, unused)"),
        },
        operations={READ: openapi_read},
        unauthenticated=True,  # the handler filters by the caller's token itself
        synopsis="The OpenAPI document of every mounted backend, generated from the path declarations.",
    ),
]
