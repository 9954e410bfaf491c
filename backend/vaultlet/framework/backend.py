"""A backend is a table of Path declarations plus its secret types.

The core hands a backend a :class:`BackendContext` (its own encrypted storage
view, its mount and a few services of the core) and routes requests to it by
path relative to the mount. Routing, validation, help and the OpenAPI document
all come from the same declarations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaultlet import SERVER_VERSION
from vaultlet.errors import NotFound, UnsupportedOperation
from vaultlet.framework.openapi import backend_document
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, UPDATE, Request, Response, as_response

if TYPE_CHECKING:
    from vaultlet.storage.barrier import StorageView


@dataclass
class Lease:
    """What a secret type's renew/revoke callbacks get to see of a lease."""

    lease_id: str
    internal: dict[str, Any]
    issue_time: float
    expire_time: float | None
    renewable: bool
    ttl: int = 0
    increment: int = 0


@dataclass
class Renewal:
    """A secret type's answer to a renew: the new TTL and cap."""

    ttl: int
    max_ttl: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SecretType:
    """A kind of leased secret with its renew and revoke callbacks.

    ``renew(backend, lease) -> Renewal | None`` (None: not renewable) and
    ``revoke(backend, lease) -> None`` (raise to make the core retry).
    """

    name: str
    revoke: Callable[[Any, Lease], None]
    renew: Callable[[Any, Lease], Renewal | None] | None = None
    # ``revoke_is_local(backend, lease) -> bool``: True when revoking this lease calls
    # no upstream service (the core then revokes it inline in bulk instead of on its
    # bounded pool of upstream calls). None: assume it goes upstream.
    revoke_is_local: Callable[[Any, Lease], bool] | None = None


@dataclass
class BackendContext:
    storage: StorageView
    mount_path: str
    mount_uuid: str
    mount_type: str
    mount_config: dict[str, Any]
    system: Any  # the core's SystemView: default/max TTLs, clock, lease lookup
    logger: logging.Logger


class Backend:
    """Subclasses set ``paths`` and ``secret_types``; handlers are plain functions
    ``handler(backend, request, fields)`` so path tables can live in modules."""

    paths: list[Path] = []
    secret_types: list[SecretType] = []
    help: str = ""

    def __init__(self, context: BackendContext):
        self.context = context
        self.storage = context.storage
        self.logger = context.logger
        self._secret_types = {secret.name: secret for secret in self.secret_types}
        # relative path -> what ``match`` found: a request asks up to five times (routing,
        # unauthenticated, sudo, existence check, handling), each a scan of the regexes.
        self._matches: dict[str, tuple[Path, dict[str, str]] | None] = {}

    def login_role(self, request: Request) -> str | None:
        """The role a login request names, for role-based quotas (auth methods with
        roles override this; None: the method has no roles)."""
        return None

    # -- routing -----------------------------------------------------------

    def match(self, relative_path: str) -> tuple[Path, dict[str, str]] | None:
        """The declaration serving a path. A LIST arrives with a trailing slash; if
        only the slash-less form is declared, that path answers (with a 405).
        Callers must not change the parameters dict: it is shared."""
        found = self._matches.get(relative_path, _UNMATCHED)
        if found is _UNMATCHED:
            found = self._scan(relative_path)
            if len(self._matches) >= _MATCH_CACHE_SIZE:
                self._matches.clear()  # paths come from clients: keep the memo bounded
            self._matches[relative_path] = found
        return found

    def _scan(self, relative_path: str) -> tuple[Path, dict[str, str]] | None:
        for candidate in (
            (relative_path, relative_path[:-1]) if relative_path.endswith("/") else (relative_path,)
        ):
            for path in self.paths:
                found = path.regex.match(candidate)
                if found:
                    return path, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    def help_text(self) -> str:
        """The backend's help (``GET <mount>/?help=1``): its description and its paths."""
        lines = ["## DESCRIPTION", "", self.help.strip(), "", "## PATHS", "", _PATHS_PREAMBLE, ""]
        for path in sorted(self.paths, key=lambda p: p.pattern):
            lines += [f"    ^{path.pattern}$", f"        {path.synopsis.strip()}", ""]
        return "\n".join(lines).rstrip("\n")

    def help_response(self, request: Request, path: Path | None) -> Response:
        """Vault's help answer: the text, an OpenAPI document of the path (or of the whole
        backend) relative to the mount, and ``see_also``; a bare body, no envelope."""
        tag = "system" if self.context.mount_type == "system" else _TAGS.get(request.mount_class, "secrets")
        if path is None:
            text, paths = self.help_text(), self.paths
        else:
            text, paths = path.help_text(request.relative_path), [path]
        return Response(
            raw={"help": text, "openapi": backend_document(paths, tag, SERVER_VERSION), "see_also": None}
        )

    def is_unauthenticated(self, relative_path: str) -> bool:
        found = self.match(relative_path)
        return bool(found and found[0].unauthenticated)

    def is_sudo(self, relative_path: str) -> bool:
        found = self.match(relative_path)
        return bool(found and found[0].sudo)

    def resolve_write_operation(self, request: Request) -> str:
        """Vault's existence check: a write to something absent is a ``create``."""
        found = self.match(request.relative_path)
        if not found or found[0].exists is None:
            return UPDATE
        path, params = found
        fields, _warnings = self._validated(request, path, params)
        return UPDATE if path.exists(self, request, fields) else CREATE

    def _validated(self, request: Request, path: Path, params: dict[str, str]):
        """The request's fields for ``path``, validated once: the existence check
        and the handler see the same data, so the handler reuses the check's result."""
        done = request.validated
        if done is not None and done[0] is path and done[1] is request.data:
            return done[2], done[3]
        # URL parameters win over body parameters of the same name, as in Vault.
        fields, warnings = path.validator({**request.data, **params})
        request.validated = (path, request.data, fields, warnings)
        return fields, warnings

    def handle(self, request: Request) -> Response:
        found = self.match(request.relative_path)
        if found is None and request.help:
            return self.help_response(request, None)
        if found is None:
            raise UnsupportedPathError(request.path)
        path, params = found
        if request.help:
            return self.help_response(request, path)
        operation = path.operation(request.operation)
        if operation is None and request.operation == CREATE:
            operation = path.operation(UPDATE)
        if operation is None and request.operation == UPDATE:
            operation = path.operation(CREATE)
        if operation is None:
            raise UnsupportedOperation()
        fields, warnings = self._validated(request, path, params)
        response = as_response(operation.handler(self, request, fields))
        replaced = sorted(name for name in params if request.data.get(name) is not None)
        if replaced and not response.is_empty:
            # Vault says so only in an answer that has a body (a 204 stays a 204).
            warnings.append(
                "Endpoint replaced the value of these parameters with the values captured from the "
                f"endpoint's path: [{' '.join(replaced)}]"
            )
        response.warnings = warnings + response.warnings
        return response

    # -- secrets -----------------------------------------------------------

    def secret_type(self, name: str) -> SecretType:
        secret = self._secret_types.get(name)
        if secret is None:
            raise KeyError(f"backend has no secret type {name!r}")
        return secret

    def renew_secret(self, type_name: str, lease: Lease) -> Renewal | None:
        secret = self.secret_type(type_name)
        return secret.renew(self, lease) if secret.renew else None

    def revoke_secret(self, type_name: str, lease: Lease) -> None:
        self.secret_type(type_name).revoke(self, lease)

    def revoke_is_local(self, type_name: str, lease: Lease) -> bool:
        secret = self._secret_types.get(type_name)
        return bool(secret and secret.revoke_is_local and secret.revoke_is_local(self, lease))

    # -- lifecycle hooks (overridden by engines that need them) -------------

    def periodic(self) -> None:
        """Called by the core's background loop (rollback, rotation, sweeps)."""

    def cleanup(self) -> None:
        """Called when the mount is disabled, after its leases are revoked."""


_TAGS = {"auth": "auth", "secret": "secrets"}
_PATHS_PREAMBLE = """The following paths are supported by this backend. To view help for
any of the paths below, use the help command with any route matching
the path pattern. Note that depending on the policy of your auth token,
you may or may not be able to access certain paths."""
_UNMATCHED = object()
_MATCH_CACHE_SIZE = 1024


class UnsupportedPathError(NotFound):
    def __init__(self, path: str):
        super().__init__(f'no handler for route "{path}". route entry not found.')
