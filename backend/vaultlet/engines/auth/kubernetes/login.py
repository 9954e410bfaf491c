"""``login``: a service-account JWT in, a token request out, after the API server vouches for it.

The order is OpenBao's: role, config, the JWT's own claims and the role's bindings (403 with
a reason), then the TokenReview (any failure, an unreachable API server included, is a plain
403 "permission denied"; the reason goes to the server log without the token), then the
reviewed account must be the one the JWT names.
"""

from __future__ import annotations

from vaultlet.core.cidr import address_allowed
from vaultlet.engines.auth.kubernetes.config import KubeConfig, load_config, public_key_from_pem
from vaultlet.engines.auth.kubernetes.role import ALIAS_BY_NAME, KubeRole, load_role
from vaultlet.engines.auth.kubernetes.service_account import (
    ServiceAccount,
    check_bindings,
    validated_claims,
)
from vaultlet.engines.auth.kubernetes.token_review import ReviewedAccount, ReviewFailed
from vaultlet.errors import InternalError, PermissionDenied, UserError
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import UPDATE, Response


def login(backend, request, fields) -> Response:
    role_name, token = fields["role"], fields["jwt"]
    if not role_name:
        raise UserError("missing role")
    if not token:
        raise UserError("missing jwt")
    role = load_role(backend.storage, role_name)
    if role is None:
        raise UserError(f'invalid role name "{role_name}"')
    if role.token_bound_cidrs and not address_allowed(request.remote_addr, role.token_bound_cidrs):
        raise PermissionDenied()
    config = load_config(backend.storage)
    if config is None:
        raise InternalError("could not load backend configuration")
    account = _account_from_jwt(token, role, config)
    alias_name(role, account)  # Vault fails the login when the alias cannot be named
    _review(backend, config, token, role, account)
    return Response(auth=_token_request(backend, role_name, role, account))


def _account_from_jwt(token: str, role: KubeRole, config: KubeConfig) -> ServiceAccount:
    claims = validated_claims(
        token,
        public_keys=[public_key_from_pem(pem) for pem in config.pem_keys],
        issuer=config.issuer,
        check_issuer=not config.disable_iss_validation,
        audience=role.audience,
    )
    account = ServiceAccount.from_claims(claims)
    check_bindings(account, role.bound_service_account_names, role.bound_service_account_namespaces)
    return account


def alias_name(role: KubeRole, account: ServiceAccount) -> str:
    """The entity alias's name Vault would use (vaultlet has no identity store to keep it in)."""
    # A JWT without the service-account claims cannot name one: OpenBao answers a plain 403.
    if role.alias_name_source == ALIAS_BY_NAME:
        if not account.namespace or not account.name:
            raise PermissionDenied()
        return f"{account.namespace}/{account.name}"
    if not account.uid:
        raise PermissionDenied()
    return account.uid


def _review(backend, config: KubeConfig, token: str, role: KubeRole, account: ServiceAccount) -> None:
    # Vault asks about the role's audience if it has one, else the token's own audiences.
    audiences = [role.audience] if role.audience else account.audiences
    try:
        reviewed = backend.token_reviewer(config).review(token, audiences)
    except ReviewFailed as failure:
        backend.logger.warning("kubernetes login at %s denied: %s", backend.context.mount_path, failure)
        raise PermissionDenied() from None
    mismatch = _mismatch(reviewed, account)
    if mismatch:
        backend.logger.warning("kubernetes login at %s denied: %s", backend.context.mount_path, mismatch)
        raise PermissionDenied()


def _mismatch(reviewed: ReviewedAccount, account: ServiceAccount) -> str:
    """Why the account the API server vouched for is not the one the JWT names ("" if it is)."""
    if reviewed.name != account.name:
        return "JWT names did not match"
    if reviewed.uid != account.uid:
        return "JWT UIDs did not match"
    if reviewed.namespace != account.namespace:
        return "JWT namespaces did not match"
    return ""


def _token_request(backend, role_name: str, role: KubeRole, account: ServiceAccount):
    return role.token_request(
        backend.context.mount_config,
        meta={
            "role": role_name,
            "service_account_name": account.name,
            "service_account_namespace": account.namespace,
            "service_account_secret_name": account.secret_name,
            "service_account_uid": account.uid,
        },
        display_name=f"{account.namespace}-{account.name}",
    )


PATHS = [
    Path(
        pattern="login",
        fields={
            "role": Field(STRING, "Name of the role against which the login is being attempted"),
            "jwt": Field(STRING, "A signed JWT for authenticating a service account"),
        },
        operations={UPDATE: login},
        unauthenticated=True,
        synopsis="Authenticates Kubernetes service accounts with Vault.",
    ),
]
