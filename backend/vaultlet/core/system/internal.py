"""sys/internal/ui: the mount listing and preflight (agents, `bao kv`, UIs), the resultant ACL, and
sys/internal/specs/openapi."""

from __future__ import annotations

import re

from vaultlet import SERVER_VERSION
from vaultlet.core.authorization import has_access_under
from vaultlet.core.mounts import AUTH_CLASS
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework import openapi
from vaultlet.framework.fields import BOOL, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response


def ui_mounts_list(backend, request, fields) -> Response:
    """Vault's mount listing for UIs: without a token, only the mounts tuned
    ``listing_visibility=unauth`` (type, description, options); with one, every mount
    the token may touch something under, described in full."""
    core = backend.core
    token = _caller(core, request, required=False)
    listed: dict[str, dict] = {"auth": {}, "secret": {}}
    for entry in core.router.all_entries():
        group = listed["auth" if entry.mount_class == AUTH_CLASS else "secret"]
        visible = entry.listing_visibility == "unauth"
        if token is not None and (visible or _has_access(core, token, entry.full_path)):
            group[entry.path] = entry.describe()
        elif token is None and visible:
            group[entry.path] = {
                "description": entry.description,
                "options": entry.options,
                "type": entry.type,
            }
    return Response(data={name: dict(sorted(group.items())) for name, group in listed.items()})


def ui_mount_read(backend, request, fields) -> Response:
    """Vault checks the token itself here: any capability at or under the mount
    is enough (an agent with read on one secret must learn its mount's type)."""
    core = backend.core
    token = _caller(core, request, required=True)
    path = fields["path"].lstrip("/")
    path = path if path.endswith("/") else path + "/"
    entry = core.router.match_entry(path)
    # The same answer whether or not a mount exists there: no mount enumeration.
    if entry is None or not _has_access(core, token, entry.full_path):
        raise PermissionDenied(
            "preflight capability check returned 403, please ensure client's policies grant access "
            f'to path "{path}"'
        )
    return Response(data={**entry.describe(), "path": entry.path})


def resultant_acl(backend, request, fields) -> Response:
    """What the caller's policies grant, merged as the ACL merges them (for UIs)."""
    token = request.token
    core = backend.core
    if token.is_root:
        return Response(data={"root": True})
    acl = core.policies.acl(token.policies)
    exact, glob = acl.resultant()
    return Response(data={"exact_paths": exact, "glob_paths": glob, "root": False})


def _has_access(core, token, prefix: str) -> bool:
    if token.is_root:
        return True
    capabilities = core.policies.acl(token.policies).capabilities(prefix)
    return has_access_under(core.policies.policies(token.policies), capabilities, prefix)


def _caller(core, request, *, required: bool):
    """The request's token, checked as the core would (these paths are unauthenticated so
    that their handlers can answer without one): a bad token is refused, never ignored."""
    token = request.token
    if token is None and (required or request.client_token):
        raise PermissionDenied()
    if token is not None and not core.authorizer.bound_address_ok(token, request.remote_addr):
        raise PermissionDenied()
    return token


def openapi_read(backend, request, fields) -> Response:
    """The document of every mount the caller may see, as Vault builds it: the mounts
    ``sys/internal/ui/mounts`` would list (any capability under the mount; without a
    token, those with ``listing_visibility = "unauth"``), each backend's declared paths."""
    core = backend.core
    _caller(core, request, required=False)  # a token that is not one (here): refused, as in Vault
    if fields["context"]:
        # Vault appends it to every operationId; vaultlet's ids do not take it, so it is refused
        # rather than silently left out.
        raise UserError("the OpenAPI 'context' parameter is not supported by vaultlet")
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
    # As sys/internal/ui/mounts lists them: unauth-listed mounts for everyone, and with a
    # token, every mount it may touch something under (OpenBao answers the same).
    token = request.token
    if entry.listing_visibility == "unauth":
        return True
    return token is not None and _has_access(core, token, entry.full_path)


def _builtin(entry) -> bool:
    """Mounts whose place is fixed (Vault keeps them literal with generic_mount_paths)."""
    return entry.uuid in ("system", "token", "cubbyhole")


def _tag(entry) -> str:
    if entry.uuid == "system":
        return "system"
    return "auth" if entry.mount_class == AUTH_CLASS else "secrets"


PATHS = [
    Path(
        pattern="internal/ui/mounts/?",
        operations={READ: ui_mounts_list},
        unauthenticated=True,  # the handler checks a token when one is sent
        synopsis="The mounts a caller may use (unauthenticated: those listed as unauth).",
    ),
    Path(
        pattern="internal/ui/resultant-acl",
        operations={READ: resultant_acl},
        synopsis="The merged ACL of the caller's policies.",
    ),
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
            "context": Field(STRING, "Context string for operationIds: not supported, refused when given"),
        },
        operations={READ: openapi_read},
        unauthenticated=True,  # the handler filters by the caller's token itself
        synopsis="The OpenAPI document of every mounted backend, generated from the path declarations.",
    ),
]
