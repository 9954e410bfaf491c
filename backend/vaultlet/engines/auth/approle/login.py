"""``login``: role ID + secret ID in, a token request out (the core mints the token).

A failed login says only ``invalid role or secret ID`` and costs the same
whether the role ID is unknown, the secret ID is wrong, expired or used up: an
unknown role ID is checked against a decoy role, so every path hashes both
values, reads a secret-ID record and compares digests in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import replace

from vaultlet.core.cidr import address_allowed, is_subset
from vaultlet.core.tokens import TokenRequest
from vaultlet.engines.auth.approle.store import SPENT, AppRoleStore, RoleEntry, SecretIdEntry
from vaultlet.errors import UserError
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import UPDATE, Response


class InvalidCredentials(UserError):
    """What every failed validation says; Vault's audit log records it as "invalid credentials"."""

    audit_error = "invalid credentials"

    def __init__(self):
        super().__init__("invalid role or secret ID")


_CLAIM_ATTEMPTS = 20
# Stands in for an unknown role ID; its name cannot be a real role's (those start with \w).
_DECOY = RoleEntry(name="-decoy-", role_id=secrets.token_hex(16))
_DECOY_SECRET_HMAC = secrets.token_hex(32)


def login(backend, request, fields) -> Response:
    store: AppRoleStore = backend.approle
    role_id = fields["role_id"]
    if not role_id:
        raise UserError("missing role_id")
    found = store.role_by_role_id(role_id)
    role = found if found is not None else _DECOY
    known = hmac.compare_digest(role.role_id.encode(), role_id.encode()) and found is not None
    if role.bind_secret_id and not fields["secret_id"]:
        raise UserError("missing secret_id")
    if role.secret_id_bound_cidrs and not address_allowed(request.remote_addr, role.secret_id_bound_cidrs):
        raise UserError(
            f'source address "{request.remote_addr}" unauthorized by CIDR restrictions on the role'
        )
    secret = (
        _use_secret_id(store, role, fields["secret_id"], request.remote_addr) if role.bind_secret_id else None
    )
    if not known or (role.bind_secret_id and secret is None):
        raise InvalidCredentials()
    return Response(auth=_token_request(backend, role, secret))


def _use_secret_id(
    store: AppRoleStore, role: RoleEntry, secret_id: str, remote_addr: str
) -> SecretIdEntry | None:
    """Validate a secret ID and count one use of it, atomically across processes.

    None means invalid (unknown, expired or used up). A limited secret ID is
    decremented with compare-and-set; its last use is claimed by marking it spent
    before it is deleted, so two concurrent logins can never both use it.
    """
    role_hmac, secret_hmac = store.hmac(role.name), store.hmac(secret_id)
    for _attempt in range(_CLAIM_ATTEMPTS):
        entry, version = store.secret_id(role_hmac, secret_hmac)
        matches = hmac.compare_digest(entry.secret_id_hmac if entry else _DECOY_SECRET_HMAC, secret_hmac)
        if entry is None or not matches or entry.secret_id_num_uses == SPENT:
            return None
        if entry.expired():
            store.delete_secret_id(role_hmac, secret_hmac)
            return None
        _check_cidrs(role, entry, remote_addr)
        if entry.secret_id_num_uses == 0:
            return entry
        remaining = entry.secret_id_num_uses - 1
        used = replace(entry, secret_id_num_uses=remaining or SPENT, last_updated_time=time.time())
        if store.replace_secret_id(role_hmac, used, version):
            if not remaining:
                store.delete_secret_id(role_hmac, secret_hmac)
            return entry
    return None  # lost the race that many times: someone else is using it up


def _check_cidrs(role: RoleEntry, entry: SecretIdEntry, remote_addr: str) -> None:
    if not entry.cidr_list:
        return
    # The role may have been narrowed since the secret ID was issued.
    if role.secret_id_bound_cidrs and not is_subset(entry.cidr_list, role.secret_id_bound_cidrs):
        raise UserError("failed to verify the CIDR restrictions set on the secret ID")
    if not address_allowed(remote_addr, entry.cidr_list):
        raise UserError(
            f'source address "{remote_addr}" unauthorized through CIDR restrictions on the secret ID'
        )


def _token_request(backend, role: RoleEntry, secret: SecretIdEntry | None) -> TokenRequest:
    metadata = dict(secret.metadata) if secret is not None else {}
    metadata["role_name"] = role.name
    return role.token_request(
        backend.context.mount_config,
        meta=metadata,
        bound_cidrs=secret.token_bound_cidrs if secret is not None else None,
    )


PATHS = [
    Path(
        pattern="login",
        fields={
            "role_id": Field(STRING, "The role ID"),
            "secret_id": Field(STRING, "The secret ID (required when the role binds secret IDs)"),
        },
        operations={UPDATE: login},
        unauthenticated=True,
        synopsis="Log in with a role ID and secret ID; answers with a token.",
    ),
]
