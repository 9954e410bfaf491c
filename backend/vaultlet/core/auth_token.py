"""The token auth method mounted at ``auth/token/``."""

from __future__ import annotations

import re

from vaultlet.core import token_roles
from vaultlet.core.cidr import parse_cidrs
from vaultlet.core.token_roles import TokenRole, load_role, role_policies, role_token_type
from vaultlet.core.tokens import BATCH_TOKEN, DEFAULT_POLICY, SERVICE_TOKEN, TokenEntry, TokenRequest
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework.backend import Backend
from vaultlet.framework.fields import (
    BOOL,
    COMMA_STRING_SLICE,
    DURATION,
    INT,
    KV_PAIRS,
    STRING,
    STRING_SLICE,
    Field,
)
from vaultlet.framework.path import Path
from vaultlet.framework.request import LIST, READ, UPDATE, Response, list_response

_CREATE_FIELDS = {
    "id": Field(STRING, "Token id to use instead of a generated one (root or sudo only)"),
    # Vault decodes these weakly: a string is one name, commas included ("a,b" is one policy).
    "policies": Field(STRING_SLICE, "Policies of the token; defaults to the parent's"),
    "no_default_policy": Field(BOOL, "Do not add the default policy"),
    "no_parent": Field(BOOL, "Create an orphan token (root or sudo only)"),
    "ttl": Field(DURATION, "Initial TTL"),
    "lease": Field(DURATION, "Deprecated alias of ttl"),
    "explicit_max_ttl": Field(DURATION, "Hard cap on the token's lifetime"),
    "period": Field(DURATION, "Make the token periodic: renewals reset its TTL to this (root or sudo only)"),
    "renewable": Field(BOOL, "Allow renewal", default=True),
    "num_uses": Field(INT, "Number of uses before the token is revoked (0 = unlimited)"),
    "display_name": Field(STRING, "Display name of the token"),
    "meta": Field(KV_PAIRS, "Metadata stored with the token"),
    "bound_cidrs": Field(
        COMMA_STRING_SLICE, "CIDR blocks the token may be used from (vaultlet; Vault binds through roles)"
    ),
    "type": Field(STRING, 'Token type: "service" (the default) or "batch"'),
    "entity_alias": Field(STRING, "Entity alias (needs a token role; vaultlet has no identity store)"),
}
# Only the URL names a role, as in Vault: a body's role_name is ignored (with a warning).
_ROLE_CREATE_FIELDS = {
    **_CREATE_FIELDS,
    "role_name": Field(STRING, "Create the token through this token role", in_path=True),
}


_DISPLAY_UNSAFE = re.compile(r"[^a-zA-Z0-9-]")


def _display_name(requested: str) -> str:
    """Vault's: "token-" and the name, every other character a dash, less one trailing dash
    ("Web App" shows as "token-Web-App", "x." as "token-x")."""
    if not requested:
        return "token"
    return _DISPLAY_UNSAFE.sub("-", f"token-{requested}").removesuffix("-")


def _token_backend_core(backend):
    return backend.context.system._core


def create(backend, request, fields, *, orphan: bool = False, path: str = "auth/token/create") -> Response:
    """Build the TokenRequest; the core mints it (and revokes it if the answer cannot be audited)."""
    if request.token is not None and request.token.is_batch:
        raise UserError("batch tokens cannot create more tokens")
    if fields["num_uses"] < 0:
        raise UserError("number of uses cannot be negative")
    # Vault's isSudo: root, or sudo on the create path in the caller's ACL.
    sudo = bool(request.authorization and request.authorization.root_privs)
    role = _role_for(backend, fields)
    token_type = _token_type(fields, role)
    _check_entity_alias(fields, role)
    if fields["id"] and not sudo:
        raise UserError("root or sudo privileges required to specify token id")
    if role is None and fields["no_parent"] and not sudo:
        raise UserError("root or sudo privileges required to create orphan token")
    if role is None and fields["period"] and not sudo:
        raise UserError("root or sudo privileges required to create periodic token")
    token_request = TokenRequest(
        policies=fields.get("policies", None),
        no_default_policy=fields["no_default_policy"],
        ttl=fields["ttl"] or fields["lease"],
        explicit_max_ttl=fields["explicit_max_ttl"],
        period=fields["period"],
        renewable=fields["renewable"],
        num_uses=fields["num_uses"],
        display_name=_display_name(fields["display_name"]),
        display_prefix="",  # already in the name
        meta=fields["meta"],
        orphan=orphan or fields["no_parent"],
        path=path,
        token_id=fields["id"] or None,
        bound_cidrs=parse_cidrs(fields["bound_cidrs"], "bound_cidrs"),
        policies_vetted=sudo,
        type=token_type,
    )
    if token_type == BATCH_TOKEN:
        _refuse_batch_options(token_request)
    if role is not None:
        _apply_role(role, token_request, request.token)
    if token_type == BATCH_TOKEN:
        # A role's use count, period and cap are dropped silently for batch tokens, as in Vault.
        token_request.num_uses = token_request.period = token_request.explicit_max_ttl = 0
        token_request.renewable = False
    return Response(auth=token_request)


def _refuse_batch_options(token_request: TokenRequest) -> None:
    """What a batch token cannot carry, asked for by the caller: nothing stored could count
    its uses or extend it."""
    if token_request.num_uses:
        raise UserError('batch tokens cannot have "num_uses" set')
    if token_request.period:
        raise UserError('batch tokens cannot have "period" set')
    if token_request.explicit_max_ttl:
        raise UserError('batch tokens cannot have "explicit_max_ttl" set')


def _token_type(fields, role: TokenRole | None) -> str:
    """The type asked for (``type``), as the role allows: a role's ``service`` or ``batch``
    is forced, its ``default-*`` is used when the request names none (Vault's rules)."""
    requested = fields["type"]
    if requested not in ("", SERVICE_TOKEN, BATCH_TOKEN):
        raise UserError("invalid 'token_type' value")
    if role is not None:
        return role_token_type(role, requested)
    return requested or SERVICE_TOKEN


def _check_entity_alias(fields, role: TokenRole | None) -> None:
    alias = fields["entity_alias"]
    if not alias:
        return
    if role is None:
        raise UserError("'entity_alias' is only allowed in combination with token role")
    allowed = role.allowed_entity_aliases or []
    if not token_roles.glob_any(allowed, alias.lower()) and alias not in allowed:
        raise UserError("invalid 'entity_alias' value")
    # Vault would create (or reuse) an identity entity here; vaultlet has no identity store,
    # so it refuses rather than mint a token without the entity the caller asked for.
    raise UserError("'entity_alias' is not supported: vaultlet has no identity store")


def _role_for(backend, fields) -> TokenRole | None:
    name = fields.get("role_name", "")
    if not name:
        return None
    role = load_role(backend, name)
    if role is None:
        raise UserError(f"unknown role {name}")
    return role


def _apply_role(role: TokenRole, token_request: TokenRequest, parent: TokenEntry) -> None:
    """What a token role decides for the tokens created through it (Vault's token store)."""
    token_request.orphan = role.orphan
    token_request.role = role.name
    suffix = role.path_suffix.strip("/")
    token_request.path = f"auth/token/create/{role.name}" + (f"/{suffix}" if suffix else "")
    if role.restricts_policies:
        policies = role_policies(role, token_request.policies or [], token_request.no_default_policy, parent)
        token_request.policies = policies
        token_request.no_default_policy = DEFAULT_POLICY not in policies
        token_request.policies_vetted = True
    elif role.token_no_default_policy:
        token_request.no_default_policy = True
    if role.token_period:
        token_request.period = role.token_period
    caps = [c for c in (role.token_explicit_max_ttl, token_request.explicit_max_ttl) if c]
    token_request.explicit_max_ttl = min(caps) if caps else 0
    token_request.renewable = token_request.renewable and role.renewable
    if role.token_bound_cidrs:
        token_request.bound_cidrs = list(role.token_bound_cidrs)
    if role.token_num_uses and (not token_request.num_uses or token_request.num_uses > role.token_num_uses):
        token_request.num_uses = role.token_num_uses


def create_orphan(backend, request, fields) -> Response:
    return create(backend, request, fields, orphan=True, path="auth/token/create-orphan")


def _entry_for_token(backend, token_id: str) -> TokenEntry:
    if not token_id:
        raise UserError("missing token ID")
    entry = _token_backend_core(backend).tokens.lookup(token_id)
    if entry is None:
        raise PermissionDenied("bad token")
    return entry


def _entry_for_accessor(backend, accessor: str) -> TokenEntry:
    if not accessor:
        raise UserError("missing accessor")
    entry = _token_backend_core(backend).tokens.lookup_accessor(accessor)
    if entry is None:
        raise UserError("invalid accessor")
    return entry


def lookup(backend, request, fields) -> Response:
    if not fields["token"]:
        return lookup_self(backend, request, fields)  # Vault: no token means the caller's
    entry = _entry_for_token(backend, fields["token"])
    return Response(data=_token_backend_core(backend).tokens.lookup_data(entry, fields["token"]))


def lookup_self(backend, request, fields) -> Response:
    return Response(data=_token_backend_core(backend).tokens.lookup_data(request.token, request.client_token))


def lookup_accessor(backend, request, fields) -> Response:
    entry = _entry_for_accessor(backend, fields["accessor"])
    return Response(data=_token_backend_core(backend).tokens.lookup_data(entry, ""))


def _renew(backend, entry: TokenEntry, token_id: str, increment: int) -> Response:
    tokens = _token_backend_core(backend).tokens
    entry, warnings = tokens.renew(entry, increment)
    return Response(auth=tokens.auth_block(entry, token_id), warnings=warnings)


def renew(backend, request, fields) -> Response:
    if not fields["token"]:
        raise UserError("missing token ID")
    entry = _token_backend_core(backend).tokens.lookup(fields["token"])
    if entry is None:
        raise UserError("token not found")
    return _renew(backend, entry, fields["token"], fields["increment"])


def renew_self(backend, request, fields) -> Response:
    return _renew(backend, request.token, request.client_token, fields["increment"])


def renew_accessor(backend, request, fields) -> Response:
    entry = _entry_for_accessor(backend, fields["accessor"])
    return _renew(backend, entry, "", fields["increment"])


def _refuse_batch(entry: TokenEntry) -> None:
    # Not stored, so nothing to delete: a batch token ends with its TTL or its parent.
    if entry.is_batch:
        raise UserError("batch tokens cannot be revoked")


def revoke(backend, request, fields) -> None:
    tokens = _token_backend_core(backend).tokens
    if not fields["token"]:
        raise UserError("missing token ID")
    entry = tokens.lookup(fields["token"])
    if entry is not None:
        _refuse_batch(entry)
        tokens.revoke_tree(entry.hash)


def revoke_self(backend, request, fields) -> None:
    _refuse_batch(request.token)
    _token_backend_core(backend).tokens.revoke_tree(request.token.hash)


def revoke_accessor(backend, request, fields) -> Response | None:
    tokens = _token_backend_core(backend).tokens
    if not fields["accessor"]:
        raise UserError("missing accessor")
    entry = tokens.lookup_accessor(fields["accessor"])
    if entry is None:
        return Response(warnings=["No token found with this accessor"])
    tokens.revoke_tree(entry.hash)
    return None


def revoke_orphan(backend, request, fields) -> None:
    if not fields["token"]:
        raise UserError("missing token ID")
    entry = _token_backend_core(backend).tokens.lookup(fields["token"])
    if entry is None:
        raise UserError("token to revoke not found")
    _refuse_batch(entry)
    _token_backend_core(backend).tokens.revoke_orphan_children(entry.hash)


def accessors_list(backend, request, fields) -> Response:
    return list_response(_token_backend_core(backend).tokens.accessors())


def tidy(backend, request, fields) -> Response:
    _token_backend_core(backend).expiration.tidy()
    return Response(status=202, warnings=["Tidy operation successfully started."])


_TOKEN = {"token": Field(STRING, "The token")}
_ACCESSOR = {"accessor": Field(STRING, "The token's accessor")}
_INCREMENT = {"increment": Field(DURATION, "Requested TTL; 0 keeps the token's current TTL")}


class TokenBackend(Backend):
    paths = [
        Path(
            pattern="create-orphan",
            fields=_CREATE_FIELDS,
            operations={UPDATE: create_orphan},
            synopsis="Create an orphan token (no parent).",
        ),
        Path(
            pattern="create",
            fields=_CREATE_FIELDS,
            operations={UPDATE: create},
            synopsis="Create a child token of the caller.",
        ),
        Path(
            pattern=r"create/(?P<role_name>\w(?:[\w\-.]*\w)?)",
            fields=_ROLE_CREATE_FIELDS,
            operations={UPDATE: create},
            synopsis="Create a token through a token role.",
        ),
        Path(
            pattern="lookup",
            fields=_TOKEN,
            operations={READ: lookup, UPDATE: lookup},
            synopsis="Look up another token.",
        ),
        Path(
            pattern="lookup-self",
            fields=_TOKEN,
            operations={READ: lookup_self, UPDATE: lookup_self},
            synopsis="Look up the caller's token.",
        ),
        Path(
            pattern="lookup-accessor",
            fields=_ACCESSOR,
            operations={UPDATE: lookup_accessor},
            synopsis="Look up a token by its accessor.",
        ),
        Path(
            pattern="renew",
            fields={**_TOKEN, **_INCREMENT},
            operations={UPDATE: renew},
            synopsis="Renew another token.",
        ),
        Path(
            pattern="renew-self",
            fields={**_TOKEN, **_INCREMENT},
            operations={UPDATE: renew_self},
            synopsis="Renew the caller's token.",
        ),
        Path(
            pattern="renew-accessor",
            fields={**_ACCESSOR, **_INCREMENT},
            operations={UPDATE: renew_accessor},
            synopsis="Renew a token by its accessor.",
        ),
        Path(
            pattern="revoke",
            fields=_TOKEN,
            operations={UPDATE: revoke},
            synopsis="Revoke a token, its children and their leases.",
        ),
        Path(
            pattern="revoke-self",
            operations={UPDATE: revoke_self},
            synopsis="Revoke the caller's token, its children and their leases.",
        ),
        Path(
            pattern="revoke-accessor",
            fields=_ACCESSOR,
            operations={UPDATE: revoke_accessor},
            synopsis="Revoke a token by its accessor.",
        ),
        Path(
            pattern="revoke-orphan",
            fields=_TOKEN,
            operations={UPDATE: revoke_orphan},
            sudo=True,
            synopsis="Revoke a token but keep its children (they become orphans).",
        ),
        Path(
            pattern="accessors/?",
            operations={LIST: accessors_list},
            sudo=True,
            synopsis="List the accessors of all tokens.",
        ),
        Path(pattern="tidy", operations={UPDATE: tidy}, synopsis="Clean up leases of tokens that are gone."),
        *token_roles.PATHS,
    ]
