"""The logical request and response that flow between the HTTP layer, the core
and the backends. No Flask here: the HTTP layer translates at its edge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

# Logical operations, as Vault names them.
CREATE = "create"
READ = "read"
UPDATE = "update"
DELETE = "delete"
LIST = "list"
PATCH = "patch"
HELP = "help"
OPERATIONS = (CREATE, READ, UPDATE, DELETE, LIST, PATCH)


@dataclass
class Request:
    operation: str
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    client_token: str | None = None
    remote_addr: str = ""
    remote_port: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Filled in by the core while routing.
    mount_path: str = ""
    mount_type: str = ""
    mount_accessor: str = ""
    mount_class: str = ""
    relative_path: str = ""
    token: Any = None  # the caller's TokenEntry, when authenticated
    # The ACL decision (vaultlet.core.acl.AuthorizationResult); None on unauthenticated
    # paths. Audit records it; token creation asks it whether the caller holds sudo.
    authorization: Any = None
    help: bool = False
    wrap_ttl: int = 0
    # Headers the core adds to the HTTP answer, success or error (rate-limit quotas).
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return self.token.display_name if self.token is not None else ""


@dataclass
class LeaseRequest:
    """What a backend asks for when its response creates a lease.

    ``internal`` travels inside the lease (encrypted) and is handed back to the
    secret type's renew/revoke callbacks; it never goes to the client.
    """

    secret_type: str
    internal: dict[str, Any]
    ttl: int = 0
    max_ttl: int = 0
    renewable: bool = True
    # The random last segment of the lease id, when the backend must know the id
    # before the lease exists (an engine that tags what it creates in the cloud with
    # it, so a sweeper can tell a leased resource from an orphan). It must be as
    # unguessable as the core's own (24 base62 characters); empty: the core picks.
    lease_id_suffix: str = ""


@dataclass
class Response:
    data: dict[str, Any] | None = None
    secret: LeaseRequest | None = None
    auth: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    status: int | None = None
    # A bare JSON body without Vault's envelope (sys/health, sys/seal-status, ...).
    raw: dict[str, Any] | None = None
    # A body that is not JSON at all (sys/metrics?format=prometheus), with its media type.
    text: str | None = None
    content_type: str = ""
    # Some sys/ endpoints repeat their data at the top level of the envelope.
    data_at_top_level: bool = False
    # Filled by the core when a lease was registered.
    lease_id: str = ""
    lease_duration: int = 0
    renewable: bool = False
    mount_type: str = ""

    @property
    def is_empty(self) -> bool:
        return self.data is None and self.auth is None and not self.warnings and not self.lease_id

    def add_warning(self, text: str) -> None:
        self.warnings.append(text)


def as_response(result: Response | dict | None) -> Response:
    """Handlers may return a Response, a plain data dict, or nothing (204)."""
    if result is None:
        return Response()
    if isinstance(result, Response):
        return result
    return Response(data=result)


def list_response(keys: list[str]) -> Response:
    """A list answer; an empty list is Vault's 404 with no errors."""
    from vaultlet.errors import NotFound

    if not keys:
        raise NotFound()
    return Response(data={"keys": keys})
