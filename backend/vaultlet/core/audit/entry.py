"""Audit entries in Vault's JSON format, with secrets replaced by salted HMACs.

One ``request`` entry before the backend runs and one ``response`` entry after,
sharing ``request.id`` (layout: openbao-captures/audit_file_device.jsonl).
Every string in request and response data, and every client token and
accessor, goes through the device's :class:`Hasher`; numbers, booleans, nulls,
policies, metadata, display names, paths, mount fields and the lease id of a
response stay readable, as in Vault's ``audit/hashstructure.go``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vaultlet import __version__
from vaultlet.errors import VaultError
from vaultlet.framework.request import CREATE, LIST, READ, UPDATE

if TYPE_CHECKING:
    from vaultlet.core.tokens import TokenEntry
    from vaultlet.framework.request import Request, Response, WrapInfo

HASH_PREFIX = "hmac-sha256:"
_RUNNING_VERSION = f"v{__version__}+builtin.vaultlet"
_NAMESPACE = {"id": "root"}


class Hasher:
    """HMAC-SHA256 under one device's salt; ``salt=None`` logs raw values (``log_raw``).

    The keyed HMAC state is built once per device and copied per value (copying skips
    the key schedule). :meth:`for_request` gives a hasher that remembers what it hashed
    for one request: the caller's token and accessor appear in both of its entries,
    and the request section (with its data) is written twice.
    """

    def __init__(self, salt: bytes | None, hmac_accessor: bool = True):
        self._salt = salt
        self._keyed = hmac.new(salt, digestmod=hashlib.sha256) if salt is not None else None
        self._hmac_accessor = hmac_accessor
        self._memo: dict[str, str] | None = None

    def for_request(self) -> Hasher:
        """The same hasher with a memo that lives as long as one request's entries."""
        scoped = Hasher.__new__(Hasher)
        scoped._salt, scoped._keyed, scoped._hmac_accessor = self._salt, self._keyed, self._hmac_accessor
        scoped._memo = {}
        return scoped

    def __call__(self, value: str) -> str:
        if self._keyed is None:
            return value
        memo = self._memo
        if memo is not None:
            known = memo.get(value)
            if known is not None:
                return known
        mac = self._keyed.copy()
        mac.update(value.encode())
        hashed = HASH_PREFIX + mac.hexdigest()
        if memo is not None:
            memo[value] = hashed
        return hashed

    def accessor(self, value: str) -> str:
        return self(value) if self._hmac_accessor else value

    def structure(self, value: Any, plain_keys: frozenset[str] = frozenset(), key: str | None = None) -> Any:
        """Every string inside a JSON-like value, hashed; other scalars untouched.

        ``plain_keys``: a mount's ``audit_non_hmac_*_keys``. As in Vault's hashstructure
        walker, a string stays in clear when the nearest map key above it is one of them
        (at any depth, case-sensitive; list items take their list's key)."""
        kind = type(value)  # the exact JSON types first: most values are one of them
        if kind is str:
            return value if key is not None and key in plain_keys else self(value)
        if kind is dict:  # sorted, as Go encodes maps
            return {name: self.structure(value[name], plain_keys, name) for name in sorted(value)}
        if kind is list or kind is tuple:
            return [self.structure(item, plain_keys, key) for item in value]
        if kind is int or kind is bool or kind is float or value is None:
            return value
        if isinstance(value, str):
            return value if key is not None and key in plain_keys else self(value)
        if isinstance(value, dict):
            return {name: self.structure(value[name], plain_keys, name) for name in sorted(value)}
        if isinstance(value, (list, tuple)):
            return [self.structure(item, plain_keys, key) for item in value]
        if isinstance(value, (bool, int, float)):
            return value
        return self.structure(str(value), plain_keys, key)


# -- the pieces of an entry ----------------------------------------------------


def _timestamp() -> str:
    # isoformat with a fixed precision is strftime("%Y-%m-%dT%H:%M:%S.%f") at half the cost.
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _issue_time(token: TokenEntry) -> str:
    return (
        datetime.fromtimestamp(token.creation_time, UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        + "Z"
    )


def _policy_results(request: Request, error: VaultError | None) -> dict[str, Any] | None:
    result = request.authorization
    if result is None:
        # No ACL decision: an unauthenticated path (a login) is allowed as such; a request
        # refused before its ACL check (bad token) carries no result, as in Vault.
        return {"allowed": True} if error is None else None
    section: dict[str, Any] = {"allowed": result.allowed}
    if result.granting_policies:
        section["granting_policies"] = [
            {"name": name, "namespace_id": "root", "type": "acl"} for name in result.granting_policies
        ]
    return section


def caller_auth(request: Request, hasher: Hasher, error: VaultError | None = None) -> dict[str, Any]:
    """The ``auth`` of an entry: the caller's token, when there is a valid one."""
    token = request.token
    results = _policy_results(request, error)
    if token is None:
        section: dict[str, Any] = {"token_type": "default"}
        if results is not None:
            section = {"policy_results": results, **section}
        return section
    section = {
        "client_token": hasher(request.client_token or ""),
        "accessor": hasher.accessor(token.accessor),
        "display_name": token.display_name,
        "policies": token.policies,
        "token_policies": token.policies,
    }
    if results is not None:
        section["policy_results"] = results
    if token.meta:
        section["metadata"] = dict(sorted(token.meta.items()))
    if request.remaining_uses > 0:
        section["remaining_uses"] = request.remaining_uses
    section["token_type"] = token.type
    if token.creation_ttl:
        section["token_ttl"] = token.creation_ttl
    section["token_issue_time"] = _issue_time(token)
    return section


def issued_auth(auth: dict[str, Any], hasher: Hasher, display_name: str) -> dict[str, Any]:
    """A token handed out by the response (login, token create, renew), hashed. The API's
    auth block has no display name; the caller looks it up in the token store."""
    section: dict[str, Any] = {
        "client_token": hasher(auth.get("client_token") or ""),
        "accessor": hasher.accessor(auth.get("accessor") or ""),
        "display_name": display_name,
        "policies": auth.get("policies"),
        "token_policies": auth.get("token_policies"),
    }
    if auth.get("metadata"):
        section["metadata"] = dict(sorted(auth["metadata"].items()))
    section["token_type"] = auth.get("token_type", "service")
    if auth.get("lease_duration"):
        section["token_ttl"] = auth["lease_duration"]
    return section


def wrap_info_section(wrap_info: WrapInfo, hasher: Hasher) -> dict[str, Any]:
    """A wrapped answer's wrap_info: the wrapping token is HMAC'd, and so are the accessors
    (unless the device logs accessors raw), as in Vault's audit/hashstructure.go."""
    section: dict[str, Any] = {
        "ttl": int(wrap_info.ttl),
        "token": hasher(wrap_info.token),
        "accessor": hasher.accessor(wrap_info.accessor),
        "creation_time": wrap_info.creation_time,
        "creation_path": wrap_info.creation_path,
    }
    if wrap_info.wrapped_accessor:
        section["wrapped_accessor"] = hasher.accessor(wrap_info.wrapped_accessor)
    return section


def _mount_fields(request: Request, version_key: str, routed: bool) -> dict[str, Any]:
    if not request.mount_path:
        return {}
    fields = {"mount_point": request.mount_path, "mount_type": request.mount_type}
    if routed:
        fields["mount_accessor"] = request.mount_accessor
    fields[version_key] = _RUNNING_VERSION
    fields["mount_class"] = request.mount_class
    return fields


def _routed(request: Request, error: VaultError | None) -> bool:
    """Whether Vault has the mount accessor yet when it logs this request: a write is
    routed once (for its existence check) before the request entry, a read only after;
    a request refused at its token never is."""
    admitted = request.token is not None or (request.authorization is None and error is None)
    return admitted and request.operation in (CREATE, UPDATE)


def client_id(token: TokenEntry) -> str:
    """Vault's client ID of a token without an identity entity: SHA-256 of its sorted
    policies and namespace, joined with Vault's non-printable delimiters."""
    text = "\x7f".join(sorted(token.policies)) + "\x00" + _NAMESPACE["id"]
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def request_section(request: Request, hasher: Hasher, routed: bool) -> dict[str, Any]:
    section: dict[str, Any] = {"id": request.id}
    if request.token is not None:
        section["client_id"] = client_id(request.token)
    section["operation"] = request.operation
    section.update(_mount_fields(request, "mount_running_version", routed))
    if request.client_token:
        section["client_token"] = hasher(request.client_token)
    if request.token is not None:
        section["client_token_accessor"] = hasher.accessor(request.token.accessor)
    section["namespace"] = _NAMESPACE
    section["path"] = request.path
    if request.data:
        section["data"] = hasher.structure(request.data, request.audit_plain_request_keys)
    if request.remote_addr:
        section["remote_address"] = request.remote_addr
        section["remote_port"] = request.remote_port
    if request.wrap_ttl:
        section["wrap_ttl"] = int(request.wrap_ttl)
    return section


def response_section(
    request: Request,
    response: Response | None,
    error: VaultError | None,
    hasher: Hasher,
    elide_lists: bool,
    issued_name: str,
    routed: bool,
) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if response is not None and isinstance(response.auth, dict):
        section["auth"] = issued_auth(response.auth, hasher, issued_name)  # first, as Vault orders it
    section.update(_mount_fields(request, "mount_running_plugin_version", routed))
    if response is not None:
        if response.lease_id:
            section["secret"] = {"lease_id": response.lease_id}  # plain: operators revoke by it
        elif response.lease_duration or _kv_read(request, response):
            section["secret"] = {}
        data = _response_data(request, response, hasher, elide_lists)
        if data is not None:
            section["data"] = data
        if response.warnings:
            section["warnings"] = list(response.warnings)
        if response.wrap_info is not None and response.wrap_info.token:
            section["wrap_info"] = wrap_info_section(response.wrap_info, hasher)
    elif error is not None and error.messages:
        section["data"] = {"error": hasher("; ".join(error.messages))}
    return section


def _kv_read(request: Request, response: Response) -> bool:
    # Vault's KV v1 answers every read with a secret (a lease without an id), ttl or not.
    return request.mount_type == "kv" and request.operation == READ and response.data is not None


def _response_data(request: Request, response: Response, hasher: Hasher, elide_lists: bool) -> Any:
    plain = request.audit_plain_response_keys
    if response.raw is not None:
        return hasher.structure(response.raw, plain)
    if response.data is not None:
        data = response.data
        if elide_lists and request.operation == LIST and isinstance(data.get("keys"), list):
            data = {**data, "keys": len(data["keys"])}
        return hasher.structure(data, plain)
    if response.status and response.status != 204:
        # A status-only answer (202 Accepted), logged the way Vault logs raw HTTP responses.
        return {"http_content_type": hasher("application/json"), "http_status_code": response.status}
    return None


def error_text(error: VaultError) -> str:
    """The error as Vault's multierror prints it. An error may name what Vault audits
    instead of its message (a failed login is audited as "invalid credentials")."""
    audited = getattr(error, "audit_error", None)
    if audited:
        return audited
    if not error.messages:
        return ""
    count = "1 error" if len(error.messages) == 1 else f"{len(error.messages)} errors"
    return f"{count} occurred:\n" + "".join(f"\t* {message}\n" for message in error.messages) + "\n"


# -- whole entries -------------------------------------------------------------


def request_entry(request: Request, hasher: Hasher, error: VaultError | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": _timestamp(),
        "type": "request",
        "auth": caller_auth(request, hasher, error),
        "request": request_section(request, hasher, _routed(request, error)),
    }
    if error is not None and error.messages:
        # Vault logs a bad token's refusal bare, an ACL refusal as its multierror.
        entry["error"] = error_text(error) if request.token is not None else "; ".join(error.messages)
    return entry


def response_entry(
    request: Request,
    response: Response | None,
    error: VaultError | None,
    hasher: Hasher,
    elide_lists: bool = False,
    issued_name: str = "",
    executed: bool = True,
) -> dict[str, Any]:
    """``issued_name``: the display name of the token the response hands out, if any;
    ``executed``: False for a request refused before it reached its backend."""
    # A login (an unauthenticated path) has no caller: the entry's auth is the token it issued.
    if request.authorization is None and response is not None and isinstance(response.auth, dict):
        auth = issued_auth(response.auth, hasher, issued_name)
    else:
        auth = caller_auth(request, hasher, error)
    routed = executed or _routed(request, error)
    entry: dict[str, Any] = {
        "time": _timestamp(),
        "type": "response",
        "auth": auth,
        "request": request_section(request, hasher, routed),
        "response": response_section(request, response, error, hasher, elide_lists, issued_name, routed),
    }
    if error is not None and error.messages:
        entry["error"] = error_text(error)
    return entry


def probe_entry(request_id: str) -> dict[str, Any]:
    """The line a device writes when it is enabled (Vault's audit test probe)."""
    return {
        "time": _timestamp(),
        "type": "request",
        "auth": {"token_type": "default"},
        "request": {
            "id": request_id,
            "operation": "update",
            "namespace": _NAMESPACE,
            "path": "sys/audit/test",
        },
    }
