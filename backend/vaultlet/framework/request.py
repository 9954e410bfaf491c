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
    # X-Vault-Wrap-TTL in seconds (Go durations may be fractional: "500ms"); 0: no wrapping.
    wrap_ttl: float = 0.0
    # The caller's token's use count before this request used it (audited as remaining_uses).
    remaining_uses: int = 0
    # Headers the core adds to the HTTP answer, success or error (rate-limit quotas).
    response_headers: dict[str, str] = field(default_factory=dict)
    # The mount's audit_non_hmac_request_keys / _response_keys: data keys audited in clear.
    audit_plain_request_keys: frozenset[str] = frozenset()
    audit_plain_response_keys: frozenset[str] = frozenset()
    # The mount's allowed_response_headers: the backend's own response headers it lets through.
    allowed_response_headers: tuple[str, ...] = ()
    # The backend's validation of ``data`` (path, data, fields, warnings), made by the
    # existence check and reused by the handler: a request's data is validated once.
    validated: Any = field(default=None, repr=False, compare=False)

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
class WrapInfo:
    """Vault's wrap_info: a backend sets ``ttl`` (and ``creation_path``) to ask for its answer
    to be wrapped; the core fills in the rest when it wraps."""

    ttl: float
    creation_path: str = ""
    token: str = ""
    accessor: str = ""
    creation_time: str = ""
    wrapped_accessor: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "token": self.token,
            "accessor": self.accessor,
            "ttl": int(self.ttl),
            "creation_time": self.creation_time,
            "creation_path": self.creation_path,
        }
        if self.wrapped_accessor:
            wire["wrapped_accessor"] = self.wrapped_accessor
        return wire


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
    # Set when the answer is (to be) response-wrapped: the envelope then carries only this.
    wrap_info: WrapInfo | None = None
    # What the audit devices record instead of this response (an unwrap's raw body is
    # audited as the response it holds, as Vault does).
    audit_view: Response | None = None
    # HTTP headers a backend sets on its answer; the core keeps only those the mount's
    # allowed_response_headers name, as Vault's router does.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        if self.wrap_info is not None and self.wrap_info.token:
            return False
        return self.data is None and self.auth is None and not self.warnings and not self.lease_id

    def envelope(self, request_id: str) -> dict[str, Any]:
        """Vault's JSON envelope (what the HTTP layer sends, and what a wrapping token holds)."""
        if self.wrap_info is not None and self.wrap_info.token:
            # A wrapped answer carries nothing but the wrapping token (and warnings).
            return {
                "request_id": "",
                "lease_id": "",
                "renewable": False,
                "lease_duration": 0,
                "data": None,
                "wrap_info": self.wrap_info.to_wire(),
                "warnings": self.warnings or None,
                "auth": None,
            }
        body: dict[str, Any] = {
            "request_id": request_id,
            "lease_id": self.lease_id,
            "renewable": self.renewable,
            "lease_duration": self.lease_duration,
            "data": self.data,
            "wrap_info": None,
            "warnings": self.warnings or None,
            "auth": self.auth,
        }
        if self.mount_type:
            body["mount_type"] = self.mount_type
        return body

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
