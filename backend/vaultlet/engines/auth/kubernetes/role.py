"""``role/<name>`` (CRUD) and LIST ``role``: which service accounts may log in, and their tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vaultlet.engines.auth.tokenutil import LEGACY_TOKEN_FIELDS, TOKEN_FIELDS, TokenSettings
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import COMMA_STRING_SLICE, STRING, Field
from vaultlet.framework.path import GENERIC_NAME, Path, named
from vaultlet.framework.request import DELETE, LIST, READ, UPDATE, Response, list_response

ROLE_PREFIX = "role/"
ALIAS_BY_UID = "serviceaccount_uid"
ALIAS_BY_NAME = "serviceaccount_name"
ALIAS_NAME_SOURCES = (ALIAS_BY_UID, ALIAS_BY_NAME)


# The role's pre-tokenutil names that Vault still upgrades (hvac's create_role sends ttl/max_ttl).
@dataclass
class KubeRole(TokenSettings):
    bound_service_account_names: list[str] = field(default_factory=list)
    bound_service_account_namespaces: list[str] = field(default_factory=list)
    audience: str = ""
    alias_name_source: str = ALIAS_BY_UID

    def describe(self) -> dict[str, Any]:
        """``GET role/<name>`` in OpenBao's keys (``audience`` only once set, as OpenBao shows it)."""
        data = asdict(self)
        if not self.audience:
            del data["audience"]
        data["bound_service_account_namespace_selector"] = ""
        data["token_strictly_bind_ip"] = False
        return dict(sorted(data.items()))


def role_key(name: str) -> str:
    # Role names are case-insensitive in Vault's Kubernetes auth.
    return ROLE_PREFIX + name.lower()


def load_role(storage, name: str) -> KubeRole | None:
    record = storage.get(role_key(name))
    return KubeRole(**record) if record else None


def roles_list(backend, request, fields) -> Response:
    return list_response([k for k in backend.storage.list(ROLE_PREFIX) if not k.endswith("/")])


def role_exists(backend, request, fields) -> bool:
    return load_role(backend.storage, fields["name"]) is not None


def role_read(backend, request, fields) -> Response:
    role = load_role(backend.storage, fields["name"])
    if role is None:
        raise NotFound()
    return Response(data=role.describe())


def role_write(backend, request, fields) -> None:
    role = load_role(backend.storage, fields["name"]) or KubeRole()
    role.update_token_fields(fields)
    for key in ("bound_service_account_names", "bound_service_account_namespaces", "audience"):
        if key in fields:
            setattr(role, key, fields[key])
    if fields.get("alias_name_source"):
        role.alias_name_source = fields["alias_name_source"]
    validate(role, fields["bound_service_account_namespace_selector"])
    backend.storage.put(role_key(fields["name"]), asdict(role))


def validate(role: KubeRole, namespace_selector: str) -> None:
    """OpenBao's checks, in its order and with its messages."""
    if not role.bound_service_account_names:
        raise UserError('"bound_service_account_names" can not be empty')
    if len(role.bound_service_account_names) > 1 and "*" in role.bound_service_account_names:
        raise UserError('can not mix "*" with values')
    if namespace_selector:
        # Matching namespaces by label needs the API server's namespace objects; vaultlet does
        # not read them, so it refuses the setting rather than ignore it.
        raise UserError(
            '"bound_service_account_namespace_selector" is not supported by vaultlet; '
            'list the namespaces in "bound_service_account_namespaces"'
        )
    if not role.bound_service_account_namespaces:
        raise UserError(
            '"bound_service_account_namespaces" can not be empty if '
            '"bound_service_account_namespace_selector" is not set'
        )
    if len(role.bound_service_account_namespaces) > 1 and "*" in role.bound_service_account_namespaces:
        raise UserError('can not mix "*" with values')
    if role.alias_name_source not in ALIAS_NAME_SOURCES:
        raise UserError(f"invalid alias_name_source, must be one of: {', '.join(ALIAS_NAME_SOURCES)}")


def role_delete(backend, request, fields) -> None:
    backend.storage.delete(role_key(fields["name"]))


_ROLE_FIELDS = {
    "name": Field(STRING, "Name of the role", in_path=True),
    "bound_service_account_names": Field(
        COMMA_STRING_SLICE, 'Service account names that may log in ("*", or globs like "app-*")'
    ),
    "bound_service_account_namespaces": Field(
        COMMA_STRING_SLICE, 'Namespaces whose service accounts may log in ("*", or globs like "prod-*")'
    ),
    "bound_service_account_namespace_selector": Field(
        STRING, "A namespace label selector (refused: vaultlet does not read namespace objects)"
    ),
    "audience": Field(STRING, "The aud claim the service-account JWT must carry"),
    "alias_name_source": Field(STRING, "serviceaccount_uid (default) or serviceaccount_name"),
    **TOKEN_FIELDS,
    **LEGACY_TOKEN_FIELDS,
}

PATHS = [
    Path(pattern="role/?", operations={LIST: roles_list}, synopsis="Lists all the roles registered."),
    Path(
        pattern=f"role/{named('name', GENERIC_NAME)}",
        fields=_ROLE_FIELDS,
        operations={READ: role_read, UPDATE: role_write, DELETE: role_delete},
        exists=role_exists,
        synopsis="Register a role: which service accounts may log in, and their tokens' settings.",
    ),
]
