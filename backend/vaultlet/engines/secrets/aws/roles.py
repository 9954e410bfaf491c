"""``roles/:name`` and ``LIST roles``: what credentials a role hands out and how.

Writes merge into the stored role (only the parameters given change), then the
whole role is validated, collecting every problem into one go-multierror text as
Vault does. The legacy ``policy``/``arn`` parameters and the pre-0.11 ``policy/``
storage prefix are still understood.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaultlet.engines.secrets.aws import gofmt
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import BOOL, COMMA_STRING_SLICE, DURATION, KV_PAIRS, STRING, Field
from vaultlet.framework.path import GENERIC_NAME_WITH_AT, Path, named
from vaultlet.framework.request import CREATE, DELETE, LIST, READ, UPDATE, Request, Response, list_response

if TYPE_CHECKING:
    from vaultlet.engines.secrets.aws.backend import AwsBackend
    from vaultlet.framework.fields import FieldData
    from vaultlet.storage.barrier import StorageView

ROLE_PREFIX = "role/"
LEGACY_POLICY_PREFIX = "policy/"
# Every user path any iam_user role has used: the orphan sweeper lists users under them.
USER_PATHS_KEY = "user-paths"

IAM_USER = "iam_user"
ASSUMED_ROLE = "assumed_role"
FEDERATION_TOKEN = "federation_token"
SESSION_TOKEN = "session_token"
CREDENTIAL_TYPES = (IAM_USER, ASSUMED_ROLE, FEDERATION_TOKEN, SESSION_TOKEN)
STS_CREDENTIAL_TYPES = (ASSUMED_ROLE, FEDERATION_TOKEN, SESSION_TOKEN)

USER_PATH_PATTERN = r"^\/([\x21-\x7F]{0,510}\/)?$"  # Vault's userPathRegex, quoted back in its message
_USER_PATH = re.compile(USER_PATH_PATTERN)
# IAM tags whose keys start with this are vaultlet's own bookkeeping (see iam_users.py).
RESERVED_TAG_PREFIX = "vaultlet-"
DEFAULT_VERIFY_TIMEOUT = 30
MAX_VERIFY_TIMEOUT = 120

LEGACY_WARNING = "Detected use of legacy role or policy parameter. Please upgrade to use the new parameters."


@dataclass
class RoleEntry:
    """A stored role (Vault's awsRoleEntry). ``None`` lists/maps mean "never set"."""

    credential_types: list[str] = field(default_factory=list)
    policy_arns: list[str] | None = None
    role_arns: list[str] | None = None
    policy_document: str = ""
    iam_groups: list[str] | None = None
    iam_tags: dict[str, str] | None = None
    session_tags: dict[str, str] | None = None
    external_id: str = ""
    default_sts_ttl: int = 0
    max_sts_ttl: int = 0
    user_path: str = ""
    permissions_boundary_arn: str = ""
    mfa_serial_number: str = ""
    invalid_data: str = ""
    prohibit_flexible_cred_path: bool = False
    version: int = 0
    # vaultlet only: wait until new iam_user keys work before handing them out.
    verify_credentials: bool = False
    verify_credentials_timeout: int = DEFAULT_VERIFY_TIMEOUT

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RoleEntry:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_response(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "credential_type": ",".join(self.credential_types),
            "policy_arns": self.policy_arns,
            "role_arns": self.role_arns,
            "policy_document": self.policy_document,
            "iam_groups": self.iam_groups,
            "iam_tags": self.iam_tags,
            "session_tags": self.session_tags,
            "external_id": self.external_id,
            "default_sts_ttl": self.default_sts_ttl,
            "max_sts_ttl": self.max_sts_ttl,
            "user_path": self.user_path,
            "permissions_boundary_arn": self.permissions_boundary_arn,
            "mfa_serial_number": self.mfa_serial_number,
            "verify_credentials": self.verify_credentials,
            "verify_credentials_timeout": self.verify_credentials_timeout,
        }
        if self.invalid_data:
            data["invalid_data"] = self.invalid_data
        return data

    def allows(self, credential_type: str) -> bool:
        return credential_type in self.credential_types

    def validate(self) -> list[str]:
        """Every cross-field problem (Vault's awsRoleEntry.validate), in Vault's order."""
        errors: list[str] = []
        sts_type = any(self.allows(t) for t in STS_CREDENTIAL_TYPES)
        if not self.credential_types:
            errors.append("did not supply credential_type")
        unknown = [t for t in self.credential_types if t not in CREDENTIAL_TYPES]
        errors += [f"unrecognized credential type: {t}" for t in unknown]
        for name in ("default_sts_ttl", "max_sts_ttl"):
            if getattr(self, name) != 0 and not sts_type:
                errors.append(
                    f"{name} parameter only valid for {ASSUMED_ROLE}, {FEDERATION_TOKEN}, "
                    f"and {SESSION_TOKEN} credential types"
                )
        if 0 < self.max_sts_ttl < self.default_sts_ttl:
            errors.append('"default_sts_ttl" value must be less than or equal to "max_sts_ttl" value')
        if self.user_path:
            if not self.allows(IAM_USER):
                errors.append(f"user_path parameter only valid for {IAM_USER} credential type")
            if not _USER_PATH.match(self.user_path):
                pattern = gofmt.quote(USER_PATH_PATTERN)
                errors.append(f"the specified value for user_path is invalid. It must match {pattern} regexp")
        if self.permissions_boundary_arn:
            if not self.allows(IAM_USER):
                errors.append(f"cannot supply permissions_boundary_arn when credential_type isn't {IAM_USER}")
            problem = managed_policy_arn_problem(self.permissions_boundary_arn)
            if problem:
                errors.append(f"invalid permissions_boundary_arn parameter: {problem}")
        if (self.policy_document or self.policy_arns) and self.allows(SESSION_TOKEN):
            errors.append(f"cannot supply a policy or role when using credential_type {SESSION_TOKEN}")
        if self.role_arns and not self.allows(ASSUMED_ROLE):
            errors.append(f"cannot supply role_arns when credential_type isn't {ASSUMED_ROLE}")
        if self.session_tags and not self.allows(ASSUMED_ROLE):
            errors.append(f"cannot supply session_tags when credential_type isn't {ASSUMED_ROLE}")
        if self.external_id and not self.allows(ASSUMED_ROLE):
            errors.append(f"cannot supply external_id when credential_type isn't {ASSUMED_ROLE}")
        errors += self._vaultlet_problems()
        return errors

    def _vaultlet_problems(self) -> list[str]:
        """Rules for what vaultlet adds to Vault's role."""
        errors = [
            f"iam_tags key {gofmt.quote(key)} is reserved: keys starting with {RESERVED_TAG_PREFIX!r} are "
            "vaultlet's own bookkeeping"
            for key in (self.iam_tags or {})
            if key.startswith(RESERVED_TAG_PREFIX)
        ]
        if self.verify_credentials and not self.allows(IAM_USER):
            errors.append(f"verify_credentials parameter only valid for {IAM_USER} credential type")
        if not 1 <= self.verify_credentials_timeout <= MAX_VERIFY_TIMEOUT:
            errors.append(f"verify_credentials_timeout must be between 1s and {MAX_VERIFY_TIMEOUT}s")
        return errors


# -- parsing helpers ---------------------------------------------------------------


def compact_json(text: str) -> str:
    """Go's ``json.Compact``: drop whitespace outside strings, keep everything else as sent.

    Raises ValueError when ``text`` is not JSON (NaN and Infinity included, as in Go).
    """

    def reject(constant: str) -> None:
        raise ValueError(f"invalid JSON constant {constant}")

    json.loads(text, parse_constant=reject)
    out, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif char not in " \t\n\r":
            out.append(char)
    return "".join(out)


def parse_arn(text: str) -> tuple[str, str, str, str, str]:
    """aws-sdk-go's ``arn.Parse``: (partition, service, region, account, resource)."""
    if not text.startswith("arn:"):
        raise ValueError("arn: invalid prefix")
    sections = text.split(":", 5)
    if len(sections) != 6:
        raise ValueError("arn: not enough sections")
    return sections[1], sections[2], sections[3], sections[4], sections[5]


def managed_policy_arn_problem(text: str) -> str:
    """Why ``text`` is not an IAM managed policy ARN ("" when it is)."""
    try:
        _partition, service, _region, _account, resource = parse_arn(text)
    except ValueError as error:
        return str(error)
    if service != "iam":
        return f"expected a service of iam but got {service}"
    if not resource.startswith("policy/"):
        return f"expected a resource type of policy but got {resource}"
    return ""


def upgrade_legacy_entry(value: str) -> RoleEntry:
    """A role from a pre-0.11 ``policy``/``arn`` value (Vault's upgradeLegacyPolicyEntry)."""
    if value.startswith("arn:"):
        try:
            _partition, _service, _region, _account, resource = parse_arn(value)
        except ValueError:
            return RoleEntry(invalid_data=value, version=1)
        resource_type = resource.split("/")[0]
        if resource_type == "role":
            return RoleEntry([ASSUMED_ROLE], role_arns=[value], prohibit_flexible_cred_path=True, version=1)
        if resource_type == "policy":
            return RoleEntry([IAM_USER], policy_arns=[value], prohibit_flexible_cred_path=True, version=1)
        return RoleEntry(invalid_data=value, version=1)
    try:
        document = compact_json(value)
    except ValueError:
        return RoleEntry(invalid_data=value, version=1)
    return RoleEntry(
        [IAM_USER, FEDERATION_TOKEN], policy_document=document, prohibit_flexible_cred_path=True, version=1
    )


# -- storage -----------------------------------------------------------------------


def load_role(storage: StorageView, name: str) -> RoleEntry | None:
    """The role, upgrading a legacy ``policy/<name>`` entry in place on first read."""
    record = storage.get(ROLE_PREFIX + name)
    if record is not None:
        return RoleEntry.from_record(record)
    legacy = storage.get(LEGACY_POLICY_PREFIX + name)
    if legacy is None:
        return None
    role = upgrade_legacy_entry(legacy if isinstance(legacy, str) else json.dumps(legacy))
    save_role(storage, name, role)
    storage.delete(LEGACY_POLICY_PREFIX + name)
    return role


def save_role(storage: StorageView, name: str, role: RoleEntry) -> None:
    storage.put(ROLE_PREFIX + name, role.to_record())
    if role.allows(IAM_USER):
        remember_user_path(storage, role.user_path or "/")


def remember_user_path(storage: StorageView, user_path: str) -> None:
    """Add a path to the set the orphan sweeper scans (it never shrinks: old users stay there)."""
    for _attempt in range(20):
        record, version = storage.get_with_version(USER_PATHS_KEY)
        known = set((record or {}).get("paths", []))
        if user_path in known:
            return
        if storage.put_if_version(USER_PATHS_KEY, {"paths": sorted(known | {user_path})}, version):
            return
    raise RuntimeError("could not record the user path: too much contention")


def user_path_prefixes(storage: StorageView) -> list[str]:
    """The smallest set of path prefixes covering every user path any role used."""
    paths = sorted(set((storage.get(USER_PATHS_KEY) or {}).get("paths", [])))
    prefixes: list[str] = []
    for path in paths:
        if not any(path.startswith(prefix) for prefix in prefixes):
            prefixes.append(path)
    return prefixes


# -- handlers ----------------------------------------------------------------------


def role_exists(backend: AwsBackend, request: Request, fields: FieldData) -> bool:
    return load_role(backend.storage, fields["name"]) is not None


def roles_list(backend: AwsBackend, request: Request, fields: FieldData) -> Response:
    storage = backend.storage
    return list_response(storage.list(ROLE_PREFIX) + storage.list(LEGACY_POLICY_PREFIX))


def roles_read(backend: AwsBackend, request: Request, fields: FieldData) -> dict[str, Any]:
    role = load_role(backend.storage, fields["name"])
    if role is None:
        raise NotFound()
    return role.to_response()


def roles_delete(backend: AwsBackend, request: Request, fields: FieldData) -> None:
    # Leases already issued keep working until they end, as in Vault (#1243).
    for prefix in (LEGACY_POLICY_PREFIX, ROLE_PREFIX):
        backend.storage.delete(prefix + fields["name"])


def roles_write(backend: AwsBackend, request: Request, fields: FieldData) -> Response | None:
    name = fields["name"]
    if not name:
        raise UserError("missing role name")
    response = Response()
    role = load_role(backend.storage, name) or RoleEntry()
    if role.invalid_data:
        response.add_warning(f"Invalid data of {gofmt.quote(role.invalid_data)} cleared out of role")
        role.invalid_data = ""
    legacy = _legacy_value(fields)
    _merge_supplied(role, fields, legacy)
    if legacy:
        role = upgrade_legacy_entry(legacy)
        if role.invalid_data:
            raise UserError(f"unable to parse supplied data: {gofmt.quote(role.invalid_data)}")
        response.add_warning(LEGACY_WARNING)
    else:
        role.prohibit_flexible_cred_path = False
    problems = role.validate()
    if problems:
        raise UserError(f"error(s) validating supplied role data: {gofmt.quote(gofmt.multierror(problems))}")
    save_role(backend.storage, name, role)
    return response if response.warnings else None


def _legacy_value(fields: FieldData) -> str:
    policy, arn = fields["policy"], fields["arn"]
    if policy and arn:
        raise UserError("only one of policy or arn should be provided")
    return policy or arn


# Parameters that cannot be combined with the legacy ones, with the words Vault uses.
_NOT_WITH_LEGACY = {
    "credential_type": "an explicit credential_type",
    "role_arns": "role_arns",
    "policy_arns": "policy_arns",
    "policy_document": "policy_document",
    "default_sts_ttl": "default_sts_ttl",
    "max_sts_ttl": "max_sts_ttl",
    "user_path": "user_path",
    "permissions_boundary_arn": "permissions_boundary_arn",
}
_MERGED_AS_IS = (
    "role_arns",
    "policy_arns",
    "default_sts_ttl",
    "max_sts_ttl",
    "user_path",
    "permissions_boundary_arn",
    "iam_groups",
    "iam_tags",
    "mfa_serial_number",
    "session_tags",
    "external_id",
    "verify_credentials",
    "verify_credentials_timeout",
)


def _merge_supplied(role: RoleEntry, fields: FieldData, legacy: str) -> None:
    """Copy the parameters the client sent onto the role (Vault's GetOk merge)."""
    for name, words in _NOT_WITH_LEGACY.items():
        if name in fields and legacy:
            raise UserError(f"cannot supply deprecated role or policy parameters with {words}")
    if "credential_type" in fields:
        role.credential_types = [fields["credential_type"]]
    if "policy_document" in fields:
        role.policy_document = _compact_policy(fields["policy_document"])
    for name in _MERGED_AS_IS:
        if name in fields:
            setattr(role, name, fields[name])


def _compact_policy(document: str) -> str:
    if not document:
        return ""
    try:
        return compact_json(document)
    except ValueError:
        raise UserError(f"cannot parse policy document: {gofmt.quote(document)}") from None


_ROLE_FIELDS = {
    "name": Field(STRING, "Name of the role", in_path=True),
    "credential_type": Field(
        STRING,
        f"Type of credential to retrieve. Must be one of {ASSUMED_ROLE}, {IAM_USER}, {FEDERATION_TOKEN}, "
        f"or {SESSION_TOKEN}",
    ),
    "role_arns": Field(
        COMMA_STRING_SLICE,
        f"ARNs of AWS roles allowed to be assumed. Only valid when credential_type is {ASSUMED_ROLE}",
    ),
    "policy_arns": Field(
        COMMA_STRING_SLICE,
        f"ARNs of AWS policies. When credential_type is {IAM_USER}, they are attached to the generated "
        f"IAM user. When credential_type is {ASSUMED_ROLE} or {FEDERATION_TOKEN}, they are passed as the "
        "PolicyArns parameter, acting as a filter on permissions available.",
    ),
    "policy_document": Field(
        STRING,
        "JSON-encoded IAM policy document. When credential_type is iam_user, it is attached to the "
        "generated IAM user as an inline policy named after the role. When credential_type is "
        "assumed_role or federation_token, it is passed as the Policy parameter to AssumeRole or "
        "GetFederationToken, acting as a filter on permissions available. Stored compacted.",
    ),
    "iam_groups": Field(
        COMMA_STRING_SLICE,
        "Names of IAM groups that generated IAM users will be added to. For assumed_role and "
        "federation_token, the groups' inline and managed policies are combined with policy_document "
        "and policy_arns.",
    ),
    "iam_tags": Field(
        KV_PAIRS,
        "IAM tags to be set for any users created by this role, as a map or a list of key=value pairs. "
        f"Keys starting with {RESERVED_TAG_PREFIX!r} are reserved for vaultlet.",
    ),
    "session_tags": Field(
        KV_PAIRS, f"Session tags to be set for {ASSUMED_ROLE!r} creds, as a map or a list of key=value pairs."
    ),
    "external_id": Field(STRING, f"External ID to set when assuming the role; only valid for {ASSUMED_ROLE}"),
    "default_sts_ttl": Field(
        DURATION,
        f"Default TTL for {ASSUMED_ROLE}, {FEDERATION_TOKEN}, and {SESSION_TOKEN} credential types when "
        "no TTL is explicitly requested with the credentials",
    ),
    "max_sts_ttl": Field(
        DURATION,
        f"Max allowed TTL for {ASSUMED_ROLE}, {FEDERATION_TOKEN}, and {SESSION_TOKEN} credential types",
    ),
    "permissions_boundary_arn": Field(
        STRING,
        "ARN of an IAM policy to attach as a permissions boundary on IAM user credentials; only valid "
        f"when credential_type is {IAM_USER}",
    ),
    "user_path": Field(
        STRING, f"Path for IAM User. Only valid when credential_type is {IAM_USER}", default="/"
    ),
    "mfa_serial_number": Field(
        STRING,
        "Identification number or ARN of the MFA device associated with the root config user. Only "
        f"valid when credential_type is {SESSION_TOKEN}. This is only required when the IAM user has an "
        "MFA device configured.",
    ),
    "verify_credentials": Field(
        BOOL,
        "vaultlet only, iam_user only: before returning new keys, call sts:GetCallerIdentity with them until "
        "it succeeds three times in a row, so the caller does not meet IAM's eventual consistency "
        "(InvalidClientTokenId for a few seconds). If they do not work within verify_credentials_timeout, "
        "the keys are returned anyway with a warning.",
        default=False,
    ),
    "verify_credentials_timeout": Field(
        DURATION,
        f"vaultlet only: how long verify_credentials waits (1s to {MAX_VERIFY_TIMEOUT}s).",
        default=DEFAULT_VERIFY_TIMEOUT,
    ),
    "arn": Field(STRING, "Deprecated; use role_arns or policy_arns instead."),
    "policy": Field(STRING, "Deprecated; use policy_document instead."),
}

paths = [
    Path(
        pattern="roles/?",
        operations={LIST: roles_list},
        synopsis="List the existing roles in this backend",
        description="Roles will be listed by the role name.",
    ),
    Path(
        pattern="roles/" + named("name", GENERIC_NAME_WITH_AT),
        fields=_ROLE_FIELDS,
        operations={READ: roles_read, CREATE: roles_write, UPDATE: roles_write, DELETE: roles_delete},
        exists=role_exists,
        synopsis="Read, write and reference IAM policies that access keys can be made for.",
        description="""
This path allows you to read and write roles that are used to create access keys.
For example, if the backend is mounted at "aws" and you create a role at
"aws/roles/deploy" then a user could request access credentials at
"aws/creds/deploy".

credential_type decides what a request for credentials does:
  iam_user          create an IAM user with the role's policies, groups and tags,
                    and return an access key for it (the user is deleted when the
                    lease ends; the lease is renewable, see config/lease)
  assumed_role      sts:AssumeRole on one of role_arns
  federation_token  sts:GetFederationToken with the role's policies
  session_token     sts:GetSessionToken for vaultlet's own IAM user

Writes merge: only the parameters given change. policy_document must be JSON; it
is stored compacted.

vaultlet adds verify_credentials (iam_user only): the request waits until the new
access key is accepted by AWS STS three times in a row (or verify_credentials_timeout
passes, in which case the keys come back with a warning). This hides IAM's eventual
consistency, which otherwise makes brand-new keys fail for roughly 5-10 seconds.
""",
    ),
]
