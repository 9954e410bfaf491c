"""``creds/:name`` and ``sts/:name``: issue credentials for a role.

Both paths run the same handler (GET with query parameters, or POST/PUT with a
body). They differ only for legacy roles that allow two credential types. iam_user
issuance lives in iam_users.py; the three STS types are here. STS leases are not
renewable and last exactly as long as AWS says the credentials do.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from vaultlet import telemetry
from vaultlet.engines.secrets.aws import gofmt
from vaultlet.engines.secrets.aws.client import IamApi, StsCredentials
from vaultlet.engines.secrets.aws.errors import reported_as
from vaultlet.engines.secrets.aws.iam_users import issue_iam_user
from vaultlet.engines.secrets.aws.roles import (
    ASSUMED_ROLE,
    FEDERATION_TOKEN,
    IAM_USER,
    SESSION_TOKEN,
    RoleEntry,
)
from vaultlet.engines.secrets.aws.secret import ACCESS_KEYS
from vaultlet.engines.secrets.aws.username_template import (
    TemplateError,
    normalize_display_name,
    render_username,
)
from vaultlet.errors import UserError
from vaultlet.framework.fields import DURATION, STRING, Field
from vaultlet.framework.path import GENERIC_NAME_WITH_AT, Path, named
from vaultlet.framework.request import READ, UPDATE, LeaseRequest, Request, Response

if TYPE_CHECKING:
    from vaultlet.engines.secrets.aws.backend import AwsBackend, Issuance
    from vaultlet.framework.fields import FieldData

DEFAULT_STS_TTL = 3600
POLICY_VERSION = "2012-10-17"  # the current IAM policy language


def creds_read(backend: AwsBackend, request: Request, fields: FieldData) -> Response:
    name = fields["name"]
    issuance = backend.issuance(name)
    role = issuance.role
    if role is None:
        raise UserError(f"Role {gofmt.quote(name)} not found")
    via_sts_path = request.relative_path.startswith("sts/")
    credential_type = _credential_type(role, via_sts_path)
    ttl = requested_sts_ttl(role, fields.supplied().get("ttl"), backend.max_lease_ttl)
    response = _issue(backend, issuance, request, name, role, credential_type, fields, ttl)
    telemetry.credentials_issued(backend.context.mount_path, name, credential_type)
    return response


def _issue(
    backend: AwsBackend,
    issuance: Issuance,
    request: Request,
    name: str,
    role: RoleEntry,
    credential_type: str,
    fields: FieldData,
    ttl: int,
) -> Response:
    if credential_type == IAM_USER:
        return issue_iam_user(backend, request, name, role)
    if credential_type == ASSUMED_ROLE:
        return _assume_role(
            issuance, request, name, role, fields["role_arn"], fields["role_session_name"], ttl
        )
    if credential_type == FEDERATION_TOKEN:
        return _federation_token(issuance, request, name, role, ttl)
    if credential_type == SESSION_TOKEN:
        return _session_token(issuance, role, fields["mfa_code"], ttl)
    raise UserError(f"unknown credential_type: {gofmt.quote(credential_type)}")


def _credential_type(role: RoleEntry, via_sts_path: bool) -> str:
    """The one type a request gets; legacy roles split theirs by path."""
    types = role.credential_types
    if len(types) == 1:
        credential_type = types[0]
    elif len(types) > 1:
        # Only legacy roles have two: iam_user (creds/) and federation_token (sts/).
        credential_type = FEDERATION_TOKEN if via_sts_path else IAM_USER
        if credential_type not in types:
            raise UserError(
                f"requested credential type {gofmt.quote(credential_type)} not in allowed credential types "
                f"[]string{{{', '.join(gofmt.quote(t) for t in types)}}}"
            )
    else:
        credential_type = ""
    if role.prohibit_flexible_cred_path:
        # Legacy roles must not hand iam_user keys (possibly broader) out through sts/ (vault#4229).
        if credential_type == IAM_USER and via_sts_path:
            raise UserError(
                f"attempted to retrieve {IAM_USER} credentials through the sts path; "
                "this is not allowed for legacy roles"
            )
        if credential_type != IAM_USER and not via_sts_path:
            raise UserError(
                f"attempted to retrieve {credential_type} credentials through the creds path; "
                "this is not allowed for legacy roles"
            )
    return credential_type


def requested_sts_ttl(role: RoleEntry, requested: int | None, mount_max_ttl: int) -> int:
    """Vault's STS lifetime: the request's ttl, else the role's default, else 1h; capped
    silently by the role's max_sts_ttl or else the mount's max lease TTL. AWS enforces
    its own bounds (900 s minimum; the role's MaxSessionDuration; 36 h)."""
    if requested is not None:
        ttl = requested
    elif role.default_sts_ttl > 0:
        ttl = role.default_sts_ttl
    else:
        ttl = DEFAULT_STS_TTL
    return min(ttl, role.max_sts_ttl or mount_max_ttl)


def _assume_role(
    issuance: Issuance,
    request: Request,
    name: str,
    role: RoleEntry,
    role_arn: str,
    session_name: str,
    ttl: int,
) -> Response:
    allowed = role.role_arns or []
    if not role_arn:
        if len(allowed) != 1:
            raise UserError("did not supply a role_arn parameter and unable to determine one")
        role_arn = allowed[0]
    elif role_arn not in allowed:
        raise UserError(
            f"role_arn {gofmt.quote(role_arn)} not in allowed role arns for Vault role {gofmt.quote(name)}"
        )
    with reported_as(""):
        clients = issuance.clients()
        policy, policy_arns = merged_group_policies(clients.iam, role)
    if session_name:
        session_name = normalize_display_name(session_name)
    else:
        session_name = _render_name(issuance, "IAM", request.display_name, name)
    with reported_as("Error assuming role"):
        credentials = clients.sts.assume_role(
            role_arn,
            session_name,
            ttl,
            policy=policy,
            policy_arns=policy_arns,
            tags=role.session_tags,
            external_id=role.external_id,
        )
    internal = {"username": session_name, "policy": role_arn, "is_sts": True}
    return sts_response(credentials, internal, arn=credentials.assumed_role_arn)


def _federation_token(issuance: Issuance, request: Request, name: str, role: RoleEntry, ttl: int) -> Response:
    with reported_as(""):
        clients = issuance.clients()
        policy, policy_arns = merged_group_policies(clients.iam, role)
    token_name = _render_name(issuance, "STS", request.display_name, name)
    # Without any policy, GetFederationToken would return vaultlet's own permissions.
    if not policy and not policy_arns:
        raise UserError(
            "must specify at least one of policy_arns or policy_document with "
            f"{FEDERATION_TOKEN} credential_type"
        )
    with reported_as("Error generating STS keys"):
        credentials = clients.sts.get_federation_token(
            token_name, ttl, policy=policy, policy_arns=policy_arns
        )
    return sts_response(credentials, {"username": token_name, "policy": policy, "is_sts": True})


def _session_token(issuance: Issuance, role: RoleEntry, mfa_code: str, ttl: int) -> Response:
    with reported_as("Error generating STS keys"):
        credentials = issuance.clients().sts.get_session_token(
            ttl, serial_number=role.mfa_serial_number, token_code=mfa_code
        )
    return sts_response(credentials, {"is_sts": True})


def _render_name(issuance: Issuance, name_type: str, display_name: str, role_name: str) -> str:
    try:
        return render_username(
            issuance.config.username_template,
            type=name_type,
            display_name=display_name,
            policy_name=role_name,
        )
    except TemplateError as error:
        raise UserError(str(error)) from None


def sts_response(credentials: StsCredentials, internal: dict[str, Any], arn: str | None = None) -> Response:
    """Data and a non-renewable lease that ends when AWS says the credentials do."""
    expires = credentials.expiration.timestamp() if credentials.expiration else time.time() + DEFAULT_STS_TTL
    ttl = max(1, int(expires - time.time()))
    data: dict[str, Any] = {
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "security_token": credentials.session_token,
        "session_token": credentials.session_token,
        "ttl": ttl,
    }
    if arn is not None:
        data["arn"] = arn
    return Response(data=data, secret=LeaseRequest(ACCESS_KEYS, internal, ttl=ttl, renewable=False))


# -- IAM group policies for STS requests (Vault's getGroupPolicies) -----------------


def merged_group_policies(iam: IamApi, role: RoleEntry) -> tuple[str, list[str]]:
    """The role's policy document and ARNs, with its iam_groups' policies folded in."""
    policy, policy_arns = role.policy_document, list(role.policy_arns or [])
    inline_documents: list[str] = []
    for group in role.iam_groups or []:
        policy_arns += iam.list_attached_group_policies(group)
        for policy_name in iam.list_group_policies(group):
            inline_documents.append(_document_text(iam.get_group_policy(group, policy_name)))
    if inline_documents:
        policy = combine_policy_documents([*inline_documents, policy])
    return policy, policy_arns


def combine_policy_documents(documents: list[str]) -> str:
    """One document holding every statement of ``documents`` (empty ones skipped)."""
    statements: list[Any] = []
    for document in documents:
        if not document:
            continue
        try:
            found = json.loads(document).get("Statement")
        except (ValueError, AttributeError):
            raise UserError(f"cannot parse policy document: {gofmt.quote(document)}") from None
        if found is not None:
            statements += found if isinstance(found, list) else [found]
    body = json.dumps(statements, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f'{{"Version":"{POLICY_VERSION}","Statement":{body}}}'


def _document_text(document: Any) -> str:
    # botocore URL-decodes policy documents and parses them into objects.
    return document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))


_CREDS_FIELDS = {
    "name": Field(STRING, "Name of the role", in_path=True),
    "role_arn": Field(STRING, f"ARN of role to assume when credential_type is {ASSUMED_ROLE}"),
    "ttl": Field(DURATION, "Lifetime of the returned credentials in seconds", default=DEFAULT_STS_TTL),
    "role_session_name": Field(STRING, "Session name to use when assuming role. Max chars: 64"),
    "mfa_code": Field(STRING, f"MFA code to provide for session tokens ({SESSION_TOKEN} only)"),
}
_HELP = """
This path will generate new, never before used AWS credentials for accessing AWS.
For example, if this backend is mounted at "aws", then "aws/creds/deploy" would
generate credentials for the "deploy" role.

The credentials have a lease. iam_user credentials are revoked (the IAM user and
its keys are deleted) when the lease is revoked or expires; their lease is
renewable. assumed_role, federation_token and session_token credentials cannot be
revoked before AWS expires them: their lease is not renewable, lasts as long as
the credentials, and revoking it deletes nothing.
"""

paths = [
    Path(
        pattern=f"{prefix}/" + named("name", GENERIC_NAME_WITH_AT),
        fields=_CREDS_FIELDS,
        operations={READ: creds_read, UPDATE: creds_read},
        synopsis="Generate AWS credentials from a specific Vault role.",
        description=_HELP,
    )
    for prefix in ("creds", "sts")
]
