"""Token roles: ``auth/token/roles/<name>`` and what ``auth/token/create/<name>`` takes from them.

A role lets a caller mint tokens whose policies need not be a subset of its own
(within the role's allowed and disallowed lists), and fixes their orphan status,
period, caps, CIDR binding and lease path, as Vault's token store does.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from vaultlet.core.cidr import parse_cidrs
from vaultlet.core.tokens import BATCH_TOKEN, DEFAULT_POLICY, SERVICE_TOKEN, TokenEntry, normalize_policies
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import BOOL, COMMA_STRING_SLICE, DURATION, INT, STRING, Field
from vaultlet.framework.path import GENERIC_NAME, Path, named
from vaultlet.framework.request import DELETE, LIST, READ, UPDATE, Response, list_response

ROLE_PREFIX = "roles/"
_PATH_SUFFIX = re.compile(r"\w[\w\-.]+\w")
_PATH_SUFFIX_SHOWN = r"\w[\w-.]+\w"  # as Vault prints its (Go) pattern
# A role's token_type: "service"/"batch" force the type, "default-*" is used when the
# create request names none. (Vault stores "default" as "default-service" and refuses it
# when written.)
ROLE_TOKEN_TYPES = ("service", "batch", "default-service", "default-batch")


@dataclass
class TokenRole:
    name: str
    allowed_policies: list[str] = field(default_factory=list)
    disallowed_policies: list[str] = field(default_factory=list)
    allowed_policies_glob: list[str] = field(default_factory=list)
    disallowed_policies_glob: list[str] = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    path_suffix: str = ""
    token_period: int = 0
    token_explicit_max_ttl: int = 0
    token_bound_cidrs: list[str] = field(default_factory=list)
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    token_type: str = "default-service"
    allowed_entity_aliases: list[str] | None = None
    # The pre-"token_" spellings, reported as written (Vault keeps both, and a write with
    # the old name also sets the new one).
    period: int = 0
    explicit_max_ttl: int = 0
    bound_cidrs: list[str] = field(default_factory=list)

    @property
    def restricts_policies(self) -> bool:
        return bool(
            self.allowed_policies
            or self.disallowed_policies
            or self.allowed_policies_glob
            or self.disallowed_policies_glob
        )

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        # Vault shows these only when set.
        for key in ("bound_cidrs", "token_bound_cidrs", "token_num_uses"):
            if not data[key]:
                del data[key]
        return dict(sorted(data.items()))


def load_role(backend, name: str) -> TokenRole | None:
    record = backend.storage.get(ROLE_PREFIX + name.lower())
    if not record:
        return None
    role = TokenRole(**record)
    if role.token_type in ("default", ""):
        role.token_type = "default-service"  # as older vaultlet versions stored Vault's default
    return role


# -- policies of a token created through a role --------------------------------


def role_policies(
    role: TokenRole, requested: list[str], no_default_policy: bool, parent: TokenEntry
) -> list[str]:
    """Vault's rules when the role lists allowed or disallowed policies."""
    add_default = (
        not no_default_policy
        and not role.token_no_default_policy
        and DEFAULT_POLICY not in role.disallowed_policies
        and not _glob_any(role.disallowed_policies_glob, DEFAULT_POLICY)
    )
    final = normalize_policies(requested, add_default) if requested else []
    if role.allowed_policies or role.allowed_policies_glob:
        allowed = normalize_policies(role.allowed_policies, add_default)
        if not final:
            final = allowed
        for policy in final:
            if policy not in allowed and not _glob_any(role.allowed_policies_glob, policy):
                raise UserError(
                    f"token policies ({_go_list(final)}) must be subset of the role's allowed policies "
                    f"({_go_list(allowed)}) or glob policies ({_go_list(role.allowed_policies_glob)})"
                )
    elif not final:
        final = normalize_policies(parent.policies, add_default)
    for policy in final:
        if policy in role.disallowed_policies or _glob_any(role.disallowed_policies_glob, policy):
            raise UserError(f'token policy "{policy}" is disallowed by this role')
    return final


def role_token_type(role: TokenRole, requested: str) -> str:
    """The type of a token created through ``role`` when the request asks for ``requested``."""
    if role.token_type in (SERVICE_TOKEN, BATCH_TOKEN):
        return role.token_type
    return requested or role.token_type.removeprefix("default-")


def glob_any(patterns: list[str], value: str) -> bool:
    return _glob_any(patterns, value)


def _glob_any(patterns: list[str], value: str) -> bool:
    """go-glob matching as Vault uses it: ``*`` is the only wildcard."""
    return any(re.fullmatch(".*".join(map(re.escape, p.split("*"))), value) for p in patterns)


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(json.dumps(item) for item in items) + "]"


# -- endpoints -----------------------------------------------------------------


def roles_list(backend, request, fields) -> Response:
    return list_response([key for key in backend.storage.list(ROLE_PREFIX) if not key.endswith("/")])


def role_read(backend, request, fields) -> Response:
    role = load_role(backend, fields["role_name"])
    if role is None:
        raise NotFound()
    return Response(data=role.describe())


def role_exists(backend, request, fields) -> bool:
    return load_role(backend, fields["role_name"]) is not None


def role_write(backend, request, fields) -> None:
    name = fields["role_name"].lower()
    role = load_role(backend, name) or TokenRole(name=name)
    for key in (
        "allowed_policies",
        "disallowed_policies",
        "allowed_policies_glob",
        "disallowed_policies_glob",
    ):
        if key in fields:
            setattr(role, key, sorted({p.strip().lower() for p in fields[key] if p.strip()}))
    for key in ("orphan", "renewable", "path_suffix", "token_no_default_policy", "token_num_uses"):
        if key in fields:
            setattr(role, key, fields[key])
    _apply_legacy(role, fields, "token_period", "period")
    _apply_legacy(role, fields, "token_explicit_max_ttl", "explicit_max_ttl")
    if "bound_cidrs" in fields:
        role.bound_cidrs = parse_cidrs(fields["bound_cidrs"], "bound_cidrs")
    if "token_bound_cidrs" in fields or "bound_cidrs" in fields:
        cidrs = fields["token_bound_cidrs"] if "token_bound_cidrs" in fields else fields["bound_cidrs"]
        role.token_bound_cidrs = parse_cidrs(cidrs, "token_bound_cidrs")
    if "token_type" in fields:
        role.token_type = fields["token_type"]
    if "allowed_entity_aliases" in fields:
        role.allowed_entity_aliases = fields["allowed_entity_aliases"] or None
    _validate(role)
    backend.storage.put(ROLE_PREFIX + name, asdict(role))


def _apply_legacy(role: TokenRole, fields, name: str, legacy: str) -> None:
    if legacy in fields:
        setattr(role, legacy, fields[legacy])
    if name in fields:
        setattr(role, name, fields[name])
    elif legacy in fields:
        setattr(role, name, fields[legacy])


def _validate(role: TokenRole) -> None:
    # Vault's check is an unanchored match, so it only demands one three-character word.
    if role.path_suffix and not _PATH_SUFFIX.search(role.path_suffix):
        raise UserError(
            f"given role path suffix contains invalid characters; must match {_PATH_SUFFIX_SHOWN}"
        )
    if ".." in role.path_suffix:
        raise UserError("error: path_suffix cannot contain '..'")
    if role.token_num_uses < 0:
        raise UserError("'token_num_uses' cannot be negative")
    if role.token_type not in ROLE_TOKEN_TYPES:
        raise UserError(f"invalid 'token_type' value {json.dumps(role.token_type)}")
    if role.token_type == BATCH_TOKEN:
        _validate_batch(role)


def _validate_batch(role: TokenRole) -> None:
    """A role that forces batch tokens must not promise what a batch token cannot be (Vault's
    checks, in its order)."""
    problem = (
        "non-orphan"
        if not role.orphan
        else "periodic"
        if role.token_period or role.period
        else "renewable"
        if role.renewable
        else "explicit max TTL"
        if role.token_explicit_max_ttl or role.explicit_max_ttl
        else None
    )
    if problem:
        shown = "tokens with an explicit max TTL" if problem == "explicit max TTL" else f"{problem} tokens"
        raise UserError(f"'token_type' cannot be 'batch' when role is set to generate {shown}")


def role_delete(backend, request, fields) -> None:
    backend.storage.delete(ROLE_PREFIX + fields["role_name"].lower())


_ROLE_FIELDS = {
    "role_name": Field(STRING, "Name of the role", in_path=True),
    "allowed_policies": Field(COMMA_STRING_SLICE, "Policies a token created through the role may have"),
    "disallowed_policies": Field(
        COMMA_STRING_SLICE, "Policies a token created through the role must not have"
    ),
    "allowed_policies_glob": Field(COMMA_STRING_SLICE, "Allowed policies, as globs"),
    "disallowed_policies_glob": Field(COMMA_STRING_SLICE, "Disallowed policies, as globs"),
    "orphan": Field(BOOL, "Tokens created through the role have no parent"),
    "renewable": Field(BOOL, "Tokens created through the role may be renewed", default=True),
    "path_suffix": Field(
        STRING, "Appended to the lease path of the tokens (auth/token/create/<role>/<suffix>)"
    ),
    "token_period": Field(DURATION, "Make the tokens periodic with this period"),
    "period": Field(DURATION, "Deprecated alias of token_period"),
    "token_explicit_max_ttl": Field(DURATION, "Hard cap on the tokens' lifetime"),
    "explicit_max_ttl": Field(DURATION, "Deprecated alias of token_explicit_max_ttl"),
    "token_bound_cidrs": Field(COMMA_STRING_SLICE, "CIDR blocks the tokens may be used from"),
    "bound_cidrs": Field(COMMA_STRING_SLICE, "Deprecated alias of token_bound_cidrs"),
    "token_no_default_policy": Field(BOOL, "Do not add the default policy"),
    "token_num_uses": Field(INT, "Uses per token (0 = unlimited)"),
    "token_type": Field(
        STRING,
        'Token type: "service", "batch", "default-service" or "default-batch"',
        default="default-service",
    ),
    "allowed_entity_aliases": Field(COMMA_STRING_SLICE, "Accepted for compatibility (no identity store)"),
}

PATHS = [
    Path(pattern="roles/?", operations={LIST: roles_list}, synopsis="List the token roles."),
    Path(
        pattern=f"roles/{named('role_name', GENERIC_NAME)}",
        fields=_ROLE_FIELDS,
        operations={READ: role_read, UPDATE: role_write, DELETE: role_delete},
        exists=role_exists,
        synopsis="Create, read, update or delete a token role.",
        description="Tokens are created through a role with auth/token/create/<role_name>.",
    ),
]
