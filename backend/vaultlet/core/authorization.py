"""Authorization: the caller's token against the ACL of its policies.

Runs after token validation and the existence check (which turns a write into
``create`` or ``update``) and before the request is audited and executed, in
Vault's order. The result is kept on the request: the audit log records which
policies granted it, and token creation asks whether the caller holds ``sudo``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaultlet.core.acl import DENY, AuthorizationResult, Policy, RuleKind
from vaultlet.core.cidr import address_allowed
from vaultlet.errors import PermissionDenied

if TYPE_CHECKING:
    from vaultlet.core.core import Core
    from vaultlet.core.tokens import TokenEntry
    from vaultlet.framework.backend import Backend
    from vaultlet.framework.request import Request

_ROOT_RESULT = AuthorizationResult(allowed=True, root_privs=True, granting_policies=["root"], is_root=True)
_HELP_RESULT = AuthorizationResult(allowed=True, root_privs=False, granting_policies=[])


class Authorizer:
    """Decides whether ``request.token`` may perform ``request.operation`` on the path."""

    def __init__(self, core: Core):
        self.core = core

    def authorize(self, request: Request, backend: Backend, sudo_required: bool) -> None:
        token = request.token
        if token is None or not self.bound_address_ok(token, request.remote_addr):
            raise PermissionDenied()
        result = self.check(
            token,
            request.path,
            request.operation,
            help_request=request.help,
            data=request.data,
            wrap_ttl=request.wrap_ttl,
        )
        request.authorization = result
        if not result.allowed or (sudo_required and not result.root_privs):
            raise PermissionDenied()

    def check(
        self,
        token: TokenEntry,
        path: str,
        operation: str,
        *,
        help_request: bool = False,
        data=None,
        wrap_ttl: float = 0,
    ):
        if token.is_root:
            return _ROOT_RESULT
        if help_request:
            return _HELP_RESULT  # Vault answers ?help to any valid token
        return self.core.policies.acl(token.policies).check(path, operation, data, wrap_ttl=wrap_ttl)

    @staticmethod
    def bound_address_ok(token: TokenEntry, remote_address: str) -> bool:
        """A CIDR-bound token works only from its blocks (a root token without TTL is exempt, as in Vault)."""
        if not token.bound_cidrs or (token.is_root and token.expire_time is None):
            return True
        return address_allowed(remote_address, token.bound_cidrs)


def has_access_under(policies: list[Policy], acl_capabilities: list[str], prefix: str) -> bool:
    """Vault's ``hasMountAccess``: any capability on the prefix itself, or a
    non-deny rule for some path under it (the UI preflight of agents and ``kv``)."""
    if acl_capabilities != ["deny"]:
        return True
    merged: dict[tuple[RuleKind, str], int] = {}
    for policy in policies:
        for rule in policy.rules:
            if rule.templated:
                continue
            key = (rule.kind, rule.pattern)
            bits = merged.get(key, 0)
            merged[key] = DENY if (bits | rule.bits) & DENY else bits | rule.bits
    return any(
        bits and not bits & DENY and _pattern_under(kind, pattern, prefix)
        for (kind, pattern), bits in merged.items()
    )


def _pattern_under(kind: RuleKind, pattern: str, prefix: str) -> bool:
    if kind is not RuleKind.SEGMENT:
        return pattern.startswith(prefix)
    # `+` stands for any one segment: compare the prefix's segments one by one.
    wanted = prefix.rstrip("/").split("/")
    have = pattern.rstrip("*").split("/")
    if len(have) < len(wanted):
        return False
    return all(h == "+" or h == w for h, w in zip(have, wanted, strict=False))
