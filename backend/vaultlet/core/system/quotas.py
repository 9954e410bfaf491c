"""sys/quotas/config and sys/quotas/rate-limit/:name (Vault's rate-limit quotas).

Shapes and messages as OpenBao answers them; the enforcement is core/quotas.py.
"""

from __future__ import annotations

from vaultlet.core.mounts import AUTH_CLASS
from vaultlet.core.quotas import QuotaSettings, RateLimitQuota
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.backend import Backend
from vaultlet.framework.fields import BOOL, DURATION, FLOAT, STRING, STRING_SLICE, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, LIST, READ, UPDATE, Response, list_response


def config_read(backend, request, fields) -> Response:
    return Response(data=backend.core.quotas.settings().describe())


def config_write(backend, request, fields) -> None:
    """A write replaces every setting, as OpenBao's does (absent exempt paths: none)."""
    backend.core.quotas.save_settings(
        QuotaSettings(
            enable_rate_limit_response_headers=fields["enable_rate_limit_response_headers"],
            enable_rate_limit_audit_logging=fields["enable_rate_limit_audit_logging"],
            rate_limit_exempt_paths=[p.strip("/") for p in fields["rate_limit_exempt_paths"]],
        )
    )


def rate_limit_list(backend, request, fields) -> Response:
    return list_response(sorted(backend.core.quotas.quotas()))


def rate_limit_read(backend, request, fields) -> Response:
    quota = backend.core.quotas.quotas().get(fields["name"])
    if quota is None:
        raise NotFound()
    return Response(data=quota.describe())


def rate_limit_write(backend, request, fields) -> None:
    rate = fields["rate"]
    if rate <= 0:
        raise UserError("'rate' is invalid")
    core = backend.core
    path, mount = _normalize_path(core, fields["path"].strip())
    role = fields["role"].strip()
    if role:
        _check_role_mount(core, path, mount)
    name = fields["name"]
    for other in core.quotas.quotas().values():
        if other.name != name and other.path == path and other.role == role:
            raise UserError(f'quota rule with similar properties exists under the name "{other.name}"')
    inheritable = fields.supplied().get("inheritable", path == "")  # OpenBao: global rules inherit
    core.quotas.save_quota(
        RateLimitQuota(
            name=name,
            path=path,
            mount=mount,
            role=role,
            rate=rate,
            interval=fields["interval"] or 1,
            block_interval=fields["block_interval"],
            inheritable=inheritable,
        )
    )


def rate_limit_delete(backend, request, fields) -> None:
    backend.core.quotas.delete_quota(fields["name"])


def _normalize_path(core, path: str) -> tuple[str, str]:
    """(path as stored, its mount): a bare mount gains its slash (``auth/approle/``)."""
    path = path.lstrip("/")
    if not path:
        return "", ""
    entry = core.router.match_entry(path.rstrip("*"))
    if entry is None or entry.uuid == "system" and not path.startswith("sys/"):
        raise UserError(f'invalid mount path "{path}"')
    if path.rstrip("/") + "/" == entry.full_path:
        return entry.full_path, entry.full_path
    return path, entry.full_path


def _check_role_mount(core, path: str, mount: str) -> None:
    if path != mount:
        raise UserError(
            "Quotas cannot contain both a path suffix and a role. If a role is provided, path must be "
            "a valid auth mount with a concept of roles"
        )
    entry = core.router.match_entry(mount)
    if entry is None or entry.mount_class != AUTH_CLASS:
        raise UserError(
            f'Mount path "{mount}" is not a valid auth method and therefore unsuitable for use with '
            "role-based quotas"
        )
    backend = core.router.backend(entry)
    if type(backend).login_role is Backend.login_role:
        raise UserError(f'Mount path "{mount}" does not support use with role-based quotas')


def _exists(backend, request, fields) -> bool:
    return fields["name"] in backend.core.quotas.quotas()


_NAME = r"(?P<name>[^/]+)"

PATHS = [
    Path(
        pattern="quotas/config",
        fields={
            "enable_rate_limit_response_headers": Field(BOOL, "Add X-Ratelimit-* headers to answers"),
            "enable_rate_limit_audit_logging": Field(BOOL, "Audit requests refused by a quota"),
            "rate_limit_exempt_paths": Field(STRING_SLICE, "Paths no rate-limit quota applies to"),
        },
        operations={READ: config_read, UPDATE: config_write},
        synopsis="Settings of every quota.",
    ),
    Path(
        pattern="quotas/rate-limit/?",
        operations={LIST: rate_limit_list},
        synopsis="The names of the rate-limit quotas.",
    ),
    Path(
        pattern=f"quotas/rate-limit/{_NAME}",
        fields={
            "name": Field(STRING, "The quota's name", in_path=True),
            "path": Field(
                STRING, 'A mount ("aws/"), a path under one ("aws/creds/demo", "aws/creds/*"), or ""'
            ),
            "role": Field(STRING, "A role of the auth mount in path: limits logins with that role"),
            "rate": Field(FLOAT, "Requests allowed per interval, per client address"),
            "interval": Field(DURATION, "The window the rate applies to", default=1),
            "block_interval": Field(DURATION, "How long a client over the limit stays blocked"),
            "inheritable": Field(BOOL, "Applies to child namespaces too (vaultlet has only the root)"),
            "type": Field(STRING, "Accepted for compatibility"),
        },
        operations={
            READ: rate_limit_read,
            CREATE: rate_limit_write,
            UPDATE: rate_limit_write,
            DELETE: rate_limit_delete,
        },
        exists=_exists,
        synopsis="A rate-limit quota: rate, interval, the path or role it limits.",
    ),
]
