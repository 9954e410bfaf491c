"""``login``: a role and a signed JWT in, a token request out (the core mints the token).

The steps and their messages follow OpenBao: config, role, the role's CIDRs, the
signature (PyJWT, with the mount's keys), the registered claims, the audience rule,
the identity claims (user, mappings, groups), then the bound claims. The JWT itself
never appears in a message, a log line or the response.
"""

from __future__ import annotations

from vaultlet.core.cidr import address_allowed
from vaultlet.engines.auth.jwt import claims, keys
from vaultlet.engines.auth.jwt.jwks_cache import FetchError
from vaultlet.engines.auth.jwt.path_config import load_config
from vaultlet.engines.auth.jwt.path_role import JwtRole, load_role
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework.fields import LOWERCASE_STRING, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import UPDATE, Response


def login(backend, request, fields) -> Response:
    config = load_config(backend.storage)
    if config is None:
        raise UserError("could not load configuration")
    role_name = fields["role"] or config.default_role
    if not role_name:
        raise UserError("missing role")
    role = load_role(backend.storage, role_name)
    if role is None:
        raise UserError(f'role "{role_name}" could not be found')
    if role.role_type == "oidc":
        raise UserError("role with oidc role_type is not allowed")
    token = fields["jwt"]
    if not token:
        raise UserError("missing token")
    if role.token_bound_cidrs and not address_allowed(request.remote_addr, role.token_bound_cidrs):
        raise PermissionDenied()
    all_claims = _verified_claims(config, role, token)
    if claims.get_claim(all_claims, "aud") and not role.bound_audiences:
        raise UserError("audience claim found in JWT but no audiences bound to the role")
    try:
        user = claims.user_name(all_claims, role.user_claim, role.user_claim_json_pointer)
        metadata = claims.mapped_metadata(all_claims, role.claim_mappings or {})
        # Vault turns groups into identity group aliases; vaultlet has no identity store,
        # so the claim is only checked to be a list of strings, as Vault checks it.
        claims.group_names(all_claims, role.groups_claim)
        claims.validate_bound_claims(all_claims, role.bound_claims or {}, role.bound_claims_type)
    except claims.ClaimError as error:
        raise UserError(str(error)) from None
    metadata["role"] = role_name
    return Response(auth=role.token_request(backend.context.mount_config, meta=metadata, display_name=user))


def _verified_claims(config, role: JwtRole, token: str) -> dict:
    try:
        key_set = keys.key_set(config)
    except (ValueError, FetchError) as error:
        raise UserError(f"error configuring token validator: {error}") from None
    expected = claims.Expected(
        issuer=config.bound_issuer,
        subject=role.bound_subject,
        audiences=role.bound_audiences,
        algorithms=config.jwt_supported_algs,
        clock_skew_leeway=role.clock_skew_leeway,
        expiration_leeway=role.expiration_leeway,
        not_before_leeway=role.not_before_leeway,
    )
    try:
        all_claims, algorithm = key_set.verify(token)
    except keys.KeySetError as error:
        raise UserError(f"error configuring token validator: {error}") from None
    except keys.SignatureError as error:
        raise UserError(f"error validating token: error verifying token signature: {error}") from None
    try:
        claims.validate_registered(all_claims, algorithm, expected)
    except claims.ClaimError as error:
        raise UserError(f"error validating token: {error}") from None
    return all_claims


PATHS = [
    Path(
        pattern="login",
        fields={
            "role": Field(LOWERCASE_STRING, "The role to log in against (default: default_role)"),
            "jwt": Field(STRING, "The signed JWT to validate"),
        },
        operations={UPDATE: login},
        unauthenticated=True,
        synopsis="Authenticates to vaultlet using a JWT (or OIDC) token.",
    ),
]
