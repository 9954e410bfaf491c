"""The ``token_*`` fields every auth method's roles share, and the token request they produce.

Vault's ``sdk/helper/tokenutil``: one declaration of the fields (with their legacy
aliases), one parser, one validation and one builder of the token a login mints,
so AppRole, JWT and Kubernetes roles cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

from vaultlet.core.cidr import parse_cidrs
from vaultlet.core.tokens import BATCH_TOKEN, SERVICE_TOKEN, TokenRequest
from vaultlet.errors import UserError
from vaultlet.framework.fields import BOOL, COMMA_STRING_SLICE, DURATION, INT, STRING, Field

# A role's token_type: "default" defers to the mount's (sys/auth ... token_type).
ROLE_TOKEN_TYPES = ("default", SERVICE_TOKEN, BATCH_TOKEN)
# An auth mount's token_type: "service"/"batch" override the role's, "default-*" apply to
# roles that say "default" (Vault's rules).
MOUNT_TOKEN_TYPES = ("default-service", "default-batch", SERVICE_TOKEN, BATCH_TOKEN)
DEFAULT_MOUNT_TOKEN_TYPE = "default-service"

TOKEN_FIELDS = {
    "token_policies": Field(COMMA_STRING_SLICE, "Policies of the tokens issued at login"),
    "policies": Field(COMMA_STRING_SLICE, "Deprecated alias of token_policies"),
    "token_ttl": Field(DURATION, "Initial TTL of issued tokens"),
    "token_max_ttl": Field(DURATION, "Maximum lifetime of issued tokens, renewals included"),
    "token_explicit_max_ttl": Field(DURATION, "Hard cap on issued tokens' lifetime"),
    "token_period": Field(DURATION, "Make issued tokens periodic"),
    "period": Field(DURATION, "Deprecated alias of token_period"),
    "token_num_uses": Field(INT, "Uses per issued token (0 = unlimited)"),
    "token_no_default_policy": Field(BOOL, "Do not add the default policy to issued tokens"),
    "token_bound_cidrs": Field(COMMA_STRING_SLICE, "CIDR blocks issued tokens may be used from"),
    "token_type": Field(
        STRING, 'Token type: "default" (the mount\'s), "service" or "batch"', default="default"
    ),
}

# Names from before tokenutil that JWT and Kubernetes roles still accept (AppRole does not):
# each is read only when its ``token_*`` successor is absent.
LEGACY_TOKEN_FIELDS = {
    "ttl": Field(DURATION, "Deprecated alias of token_ttl"),
    "max_ttl": Field(DURATION, "Deprecated alias of token_max_ttl"),
    "num_uses": Field(INT, "Deprecated alias of token_num_uses"),
    "bound_cidrs": Field(COMMA_STRING_SLICE, "Deprecated alias of token_bound_cidrs"),
}

# field -> its aliases, in the order they are consulted when the field itself is absent.
_ALIASES = {
    "token_policies": ("policies",),
    "token_period": ("period",),
    "token_ttl": ("ttl",),
    "token_max_ttl": ("max_ttl",),
    "token_num_uses": ("num_uses",),
    "token_bound_cidrs": ("bound_cidrs",),
}


@dataclass(kw_only=True)
class TokenSettings:
    """A role's token settings; auth methods' role records inherit these fields flat."""

    token_policies: list[str] = field(default_factory=list)
    token_ttl: int = 0
    token_max_ttl: int = 0
    token_explicit_max_ttl: int = 0
    token_period: int = 0
    token_num_uses: int = 0
    token_no_default_policy: bool = False
    token_bound_cidrs: list[str] | None = field(default_factory=list)  # null after a per-field delete
    token_type: str = "default"

    def update_token_fields(self, fields, *, default_types_adjusted: bool = False) -> list[str]:
        """Take every ``token_*`` field (or an alias: only those the path declares can be present)
        that the request carries, then validate; returns the warnings. ``default_types_adjusted``:
        AppRole's reading of ``default-service``/``default-batch`` (as service/batch, with a warning);
        other methods refuse them, as in Vault."""
        warnings = []
        if default_types_adjusted and fields.get("token_type") in ("default-service", "default-batch"):
            adjusted = fields["token_type"].removeprefix("default-")
            warnings.append(f"{fields['token_type']} has no useful meaning; adjusting to {adjusted}")
            self.token_type = adjusted
        elif "token_type" in fields:
            self.token_type = fields["token_type"]
        elif self.token_type in ("", "default-service"):
            self.token_type = "default"  # what older vaultlet versions stored for Vault's default
        for name in _token_field_names():
            if name == "token_type":
                continue
            chosen = next((n for n in (name, *_ALIASES.get(name, ())) if n in fields), None)
            if chosen is not None:
                setattr(self, name, fields[chosen])
                if name == "token_bound_cidrs":
                    self.token_bound_cidrs = parse_cidrs(fields[chosen], "token_bound_cidrs")
        self.token_policies = sorted({p.strip().lower() for p in self.token_policies if p.strip()})
        self.validate_token_fields()
        return warnings

    def validate_token_fields(self) -> None:
        if self.token_num_uses < 0:
            raise UserError("'token_num_uses' cannot be negative")
        if self.token_max_ttl and self.token_ttl > self.token_max_ttl:
            raise UserError("'token_ttl' cannot be greater than 'token_max_ttl'")
        if self.token_type not in ROLE_TOKEN_TYPES:
            raise UserError(f"invalid 'token_type' value \"{self.token_type}\"")
        if self.token_type == BATCH_TOKEN:
            if self.token_period:
                raise UserError(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens"
                )
            if self.token_num_uses:
                raise UserError(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens "
                    "with limited use count"
                )

    def token_fields(self) -> dict[str, Any]:
        """The settings as a role read shows them (Vault's keys)."""
        return {name: getattr(self, name) for name in _token_field_names()}

    def token_request(
        self,
        mount_config: dict,
        *,
        meta: dict[str, str] | None = None,
        bound_cidrs: list[str] | None = None,
        display_name: str = "",
    ) -> TokenRequest:
        """The token a login with this role mints: the role's settings, capped by the mount's TTLs."""
        token_type = login_token_type(self.token_type, mount_config.get("token_type") or "")
        batch = token_type == BATCH_TOKEN
        # A batch token's one TTL is capped by the explicit max TTL too (it cannot carry one).
        explicit = self.token_explicit_max_ttl if batch else 0
        caps = [c for c in (self.token_max_ttl, int(mount_config.get("max_lease_ttl") or 0), explicit) if c]
        return TokenRequest(
            type=token_type,
            policies=list(self.token_policies),
            no_default_policy=self.token_no_default_policy,
            # A batch token's one TTL is the period when the role has one (Vault's login rule).
            ttl=(self.token_period if batch else 0)
            or self.token_ttl
            or int(mount_config.get("default_lease_ttl") or 0),
            max_ttl=min(caps) if caps else 0,
            explicit_max_ttl=0 if batch else self.token_explicit_max_ttl,
            # A batch token (a mount's type can impose it) has no period, use count or renewal.
            period=0 if batch else self.token_period,
            num_uses=0 if batch else self.token_num_uses,
            renewable=not batch,
            meta=dict(meta or {}),
            bound_cidrs=list(bound_cidrs or self.token_bound_cidrs or []),
            display_name=display_name,
        )


def login_token_type(role_type: str, mount_type: str) -> str:
    """The type of a login's token: the mount's ``service``/``batch`` wins; otherwise the role's,
    and a role's ``default`` takes the mount's default (``default-service`` when unset)."""
    mount_type = mount_type or DEFAULT_MOUNT_TOKEN_TYPE
    if mount_type in (SERVICE_TOKEN, BATCH_TOKEN):
        return mount_type
    if role_type in (SERVICE_TOKEN, BATCH_TOKEN):
        return role_type
    return mount_type.removeprefix("default-")


def _token_field_names() -> list[str]:
    return [f.name for f in dataclass_fields(TokenSettings)]
