"""``role/<name>`` (CRUD) and LIST ``role``: what a token must claim to log in, and the
token it gets (the shared ``token_*`` fields)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vaultlet.durations import DURATION_PATTERN, DurationError, parse_duration
from vaultlet.engines.auth.jwt import claims
from vaultlet.engines.auth.tokenutil import LEGACY_TOKEN_FIELDS, TOKEN_FIELDS, TokenSettings
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import (
    BOOL,
    COMMA_STRING_SLICE,
    DURATION,
    KV_PAIRS,
    LOWERCASE_STRING,
    MAP,
    STRING,
    CoercionError,
    Field,
    FieldType,
)
from vaultlet.framework.path import GENERIC_NAME, Path, named
from vaultlet.framework.request import DELETE, LIST, READ, UPDATE, Response, list_response

ROLE_PREFIX = "role/"
_RESERVED_METADATA = ("role",)
_OIDC_REFUSED = (
    'role_type "oidc" is not supported: vaultlet implements JWT login only, not the OIDC browser '
    'flow; set role_type="jwt"'
)


def _signed_duration(value: Any) -> int:
    try:
        return parse_duration(value)
    except DurationError as error:
        raise CoercionError(str(error)) from None


# Vault's TypeSignedDurationSecond: leeways may be -1 ("no leeway").
SIGNED_DURATION = FieldType(
    "signed_duration",
    {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": DURATION_PATTERN}]},
    {"type": "string", "format": "duration"},
    _signed_duration,
    int,
)


@dataclass
class JwtRole(TokenSettings):
    name: str
    role_type: str = "jwt"
    user_claim: str = ""
    user_claim_json_pointer: bool = False
    bound_audiences: list[str] = field(default_factory=list)
    bound_subject: str = ""
    bound_claims_type: str = claims.STRING
    bound_claims: dict[str, Any] | None = None
    claim_mappings: dict[str, str] | None = None
    groups_claim: str = ""
    clock_skew_leeway: int = 0
    expiration_leeway: int = 0
    not_before_leeway: int = 0
    # Inert for jwt roles (as in OpenBao), shown as stored.
    allowed_redirect_uris: list[str] | None = None

    def describe(self) -> dict[str, Any]:
        """``GET role/<name>``, in OpenBao's keys (the browser-flow ones at their zero values)."""
        data = {k: v for k, v in asdict(self).items() if k != "name"}
        data["bound_audiences"] = self.bound_audiences or None  # Go's nil slice
        data.update(
            callback_mode="client",
            max_age=0,
            oauth2_metadata=None,
            oidc_disable_confirmation=False,
            oidc_scopes=None,
            token_policies_template_claims=False,
            token_strictly_bind_ip=False,
            verbose_oidc_logging=False,
        )
        return dict(sorted(data.items()))


def load_role(storage, name: str) -> JwtRole | None:
    record = storage.get(ROLE_PREFIX + name)
    return JwtRole(**record) if record else None


def roles_list(backend, request, fields) -> Response:
    return list_response(sorted(k for k in backend.storage.list(ROLE_PREFIX) if not k.endswith("/")))


def role_exists(backend, request, fields) -> bool:
    return load_role(backend.storage, fields["name"]) is not None


def role_read(backend, request, fields) -> Response:
    role = load_role(backend.storage, fields["name"])
    if role is None:
        raise NotFound()
    return Response(data=role.describe())


def role_delete(backend, request, fields) -> None:
    backend.storage.delete(ROLE_PREFIX + fields["name"])


_PLAIN = (
    "user_claim",
    "user_claim_json_pointer",
    "bound_audiences",
    "bound_subject",
    "groups_claim",
    "clock_skew_leeway",
    "expiration_leeway",
    "not_before_leeway",
)


def role_write(backend, request, fields) -> Response | None:
    name = fields["name"]
    role = load_role(backend.storage, name) or JwtRole(name=name)
    # As in OpenBao, a write without role_type means "oidc", even on update.
    role_type = fields["role_type"] or "oidc"
    if role_type not in ("jwt", "oidc"):
        raise UserError(f"invalid 'role_type': {role_type}")
    if role_type == "oidc":
        if not fields["allowed_redirect_uris"]:
            raise UserError("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.")
        raise UserError(_OIDC_REFUSED)
    _refuse_unsupported(fields)
    role.role_type = role_type
    role.update_token_fields(fields)
    for key in _PLAIN:
        if key in fields:
            setattr(role, key, fields[key])
    if fields["allowed_redirect_uris"]:
        role.allowed_redirect_uris = fields["allowed_redirect_uris"]
    _set_bound_claims(role, fields)
    if "claim_mappings" in fields:
        role.claim_mappings = _claim_mappings(fields["claim_mappings"])
    if not role.user_claim:
        raise UserError("a user claim must be defined on the role")
    if not (role.bound_audiences or role.token_bound_cidrs or role.bound_subject or role.bound_claims):
        raise UserError("must have at least one bound constraint when creating/updating a role")
    if role.token_max_ttl and role.token_ttl > role.token_max_ttl:
        raise UserError("ttl should not be greater than max ttl")
    backend.storage.put(ROLE_PREFIX + name, asdict(role))
    max_lease_ttl = (
        int(backend.context.mount_config.get("max_lease_ttl") or 0) or backend.context.system.max_lease_ttl
    )
    if role.token_max_ttl > max_lease_ttl:
        return Response(
            warnings=[
                "token max ttl is greater than the system or backend mount's maximum TTL value; "
                "issued tokens' max TTL value will be truncated"
            ]
        )
    return None


def _refuse_unsupported(fields) -> None:
    """Settings of features vaultlet does not have: refused rather than stored and ignored."""
    if fields["token_policies_template_claims"]:
        raise UserError("token_policies_template_claims is not supported by vaultlet")
    if fields["verbose_oidc_logging"]:
        raise UserError("verbose_oidc_logging is not supported: vaultlet never logs tokens or claims")
    for name in ("oidc_scopes", "oauth2_metadata"):
        if fields[name]:
            raise UserError(f"{name} is not supported: vaultlet implements JWT login only")
    if fields["max_age"]:
        raise UserError("max_age is not supported: vaultlet implements JWT login only")
    if fields["callback_mode"] not in ("", "client"):
        raise UserError("callback_mode is not supported: vaultlet implements JWT login only")


def _set_bound_claims(role: JwtRole, fields) -> None:
    claims_type = fields["bound_claims_type"]
    if claims_type not in (claims.STRING, claims.GLOB):
        raise UserError(f"invalid 'bound_claims_type': {claims_type}")
    role.bound_claims_type = claims_type
    if "bound_claims" not in fields:
        return
    role.bound_claims = fields["bound_claims"] or None
    if claims_type != claims.GLOB:
        return
    for values in (role.bound_claims or {}).values():
        listed = values if isinstance(values, list) else [values]
        if not isinstance(values, (list, str, bool, int, float)):
            raise UserError(f"claim is not a string or list: {values}")
        for value in listed:
            if not isinstance(value, str):
                raise UserError(f"claim is not a string: {value}")


def _claim_mappings(mappings: dict[str, str]) -> dict[str, str] | None:
    targets: set[str] = set()
    for target in mappings.values():
        if target in _RESERVED_METADATA:
            raise UserError(f'metadata key "{target}" is reserved and may not be a mapping destination')
        if target in targets:
            raise UserError(f'multiple keys are mapped to metadata key "{target}"')
        targets.add(target)
    return dict(mappings) or None


_ROLE_FIELDS = {
    "name": Field(LOWERCASE_STRING, "Name of the role", in_path=True),
    "role_type": Field(STRING, 'Type of the role; vaultlet supports "jwt"'),
    "user_claim": Field(STRING, "Claim whose value names the user (the token's display name)"),
    "user_claim_json_pointer": Field(BOOL, "user_claim is a JSON pointer"),
    "bound_audiences": Field(COMMA_STRING_SLICE, "aud values that may log in (any one suffices)"),
    "bound_subject": Field(STRING, "The sub claim that may log in"),
    "bound_claims_type": Field(STRING, '"string" or "glob"', default=claims.STRING),
    "bound_claims": Field(MAP, "Claims that must match (a list means any of)"),
    "claim_mappings": Field(KV_PAIRS, "Claims copied into token metadata (claim=metadata_key)"),
    "groups_claim": Field(STRING, "Claim holding the user's groups (must be a string list)"),
    "clock_skew_leeway": Field(SIGNED_DURATION, "Leeway on all time claims (0: 60s, -1: none)"),
    "expiration_leeway": Field(SIGNED_DURATION, "Leeway when exp is absent (0: 150s, -1: none)"),
    "not_before_leeway": Field(SIGNED_DURATION, "Leeway when nbf is absent (0: 150s, -1: none)"),
    "allowed_redirect_uris": Field(COMMA_STRING_SLICE, "OIDC browser flow only (refused)"),
    "oidc_scopes": Field(COMMA_STRING_SLICE, "OIDC browser flow only (refused)"),
    "oauth2_metadata": Field(COMMA_STRING_SLICE, "OIDC browser flow only (refused)"),
    "callback_mode": Field(STRING, "OIDC browser flow only (refused)"),
    "max_age": Field(DURATION, "OIDC browser flow only (refused)"),
    "verbose_oidc_logging": Field(BOOL, "Refused: tokens are never logged"),
    "token_policies_template_claims": Field(BOOL, "Refused: not supported"),
    **TOKEN_FIELDS,
    **LEGACY_TOKEN_FIELDS,
}

PATHS = [
    Path(
        pattern="role/?",
        operations={LIST: roles_list},
        synopsis="Lists all the roles registered with the backend.",
    ),
    Path(
        pattern=f"role/{named('name', GENERIC_NAME)}",
        fields=_ROLE_FIELDS,
        operations={READ: role_read, UPDATE: role_write, DELETE: role_delete},
        exists=role_exists,
        synopsis="Register an role with the backend.",
    ),
]
