"""``role/<name>`` (CRUD, LIST) and ``role/<name>/role-id``."""

from __future__ import annotations

import uuid

from vaultlet.core.cidr import validate_cidr_blocks
from vaultlet.engines.auth.approle.store import RoleEntry
from vaultlet.engines.auth.tokenutil import TOKEN_FIELDS
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import BOOL, COMMA_STRING_SLICE, DURATION, INT, STRING, Field
from vaultlet.framework.path import GENERIC_NAME, Path, named
from vaultlet.framework.request import DELETE, LIST, READ, UPDATE, Response, list_response

ROLE_NAME = named("role_name", GENERIC_NAME)

# Fields whose value is stored as sent; (field, legacy alias) pairs are resolved first.
_PLAIN_FIELDS = (
    "bind_secret_id",
    "secret_id_num_uses",
    "secret_id_ttl",
)
_ALIASED_FIELDS = (("secret_id_bound_cidrs", "bound_cidr_list"),)


def role_name(fields) -> str:
    """Vault's AppRole role names are case-insensitive."""
    return fields["role_name"].lower()


def existing_role(backend, fields, missing: type[UserError] | type[NotFound] = UserError) -> RoleEntry:
    """The role named in the URL, or an error naming it: 400 on most sub-paths (where Vault
    answers 400 or, for lookups and destroys, 500), 404 where Vault answers 404."""
    role = backend.approle.role(role_name(fields))
    if role is None:
        raise missing(f'role "{role_name(fields)}" does not exist')
    return role


def roles_list(backend, request, fields) -> Response:
    return list_response(backend.approle.role_names())


def role_exists(backend, request, fields) -> bool:
    return backend.approle.role(role_name(fields)) is not None


def role_read(backend, request, fields) -> Response:
    role = backend.approle.role(role_name(fields))
    if role is None:
        raise NotFound()
    return Response(data=role.describe())


def role_write(backend, request, fields) -> Response | None:
    store = backend.approle
    name = role_name(fields)
    current = store.role(name)
    role = current or RoleEntry(name=name, role_id=str(uuid.uuid4()))
    for key in ("enable_local_secret_ids", "local_secret_ids"):
        if current is None and key in fields:
            role.local_secret_ids = fields[key]  # fixed at creation, as in Vault
    for key in _PLAIN_FIELDS:
        if key in fields:
            setattr(role, key, fields[key])
    for key, alias in _ALIASED_FIELDS:
        chosen = key if key in fields else alias if alias in fields else None
        if chosen is not None:
            setattr(role, key, fields[chosen])
    warnings = role.update_token_fields(fields, default_types_adjusted=True)
    if role.secret_id_bound_cidrs is not None:
        role.secret_id_bound_cidrs = validate_cidr_blocks(role.secret_id_bound_cidrs)
    previous_role_id = current.role_id if current else None
    if fields["role_id"]:
        _claim_role_id(store, role, fields["role_id"])
    _validate(role)
    store.save_role(role, previous_role_id)
    return Response(warnings=warnings) if warnings else None


def _claim_role_id(store, role: RoleEntry, role_id: str) -> None:
    holder = store.role_by_role_id(role_id)
    if holder is not None and holder.name != role.name:
        raise UserError("role_id already in use")
    role.role_id = role_id


def _validate(role: RoleEntry) -> None:
    if role.secret_id_num_uses < 0:
        raise UserError("secret_id_num_uses cannot be negative")
    if not role.bind_secret_id and not role.secret_id_bound_cidrs and not role.token_bound_cidrs:
        # Vault answers this one with a 500; it is the caller's mistake, so vaultlet says 400.
        raise UserError("at least one constraint should be enabled on the role")


# Per-field endpoints (``role/<name>/token-ttl`` ...): URL suffix -> the role attribute they
# read, set and reset. A delete puts the attribute back to what Vault reads after one.
_PER_FIELD = {
    "policies": "token_policies",
    "token-ttl": "token_ttl",
    "token-max-ttl": "token_max_ttl",
    "token-num-uses": "token_num_uses",
    "token-bound-cidrs": "token_bound_cidrs",
    "period": "token_period",
    "secret-id-ttl": "secret_id_ttl",
    "secret-id-num-uses": "secret_id_num_uses",
    "secret-id-bound-cidrs": "secret_id_bound_cidrs",
}
_RESET = {"token_policies": [], "token_bound_cidrs": None, "secret_id_bound_cidrs": None}
# A per-field read also answers under the field's old name (policies, period) while the
# value was last set through that name, as Vault's deprecated role fields do.
_OLD_NAMES = {"token_policies": "policies", "token_period": "period"}


def _field_read(attribute: str):
    def read(backend, request, fields) -> Response:
        role = backend.approle.role(role_name(fields))
        if role is None:
            raise NotFound()
        value = getattr(role, attribute)
        data = {attribute: value}
        if _OLD_NAMES.get(attribute) in role.legacy_fields and value:
            data[_OLD_NAMES[attribute]] = value
        return Response(data=data)

    return read


def _field_write(attribute: str):
    def write(backend, request, fields) -> None:
        store = backend.approle
        role = existing_role(backend, fields, NotFound)
        if attribute.startswith("token_"):
            role.update_token_fields(fields)
            _remember_old_name(role, attribute, fields)
        elif attribute == "secret_id_bound_cidrs":
            role.secret_id_bound_cidrs = validate_cidr_blocks(fields[attribute])
        else:
            setattr(role, attribute, fields[attribute])
        _validate(role)
        store.save_role(role, role.role_id)

    return write


def _field_delete(attribute: str):
    def delete(backend, request, fields) -> None:
        store = backend.approle
        role = existing_role(backend, fields, NotFound)
        setattr(role, attribute, _RESET.get(attribute, 0))
        _remember_old_name(role, attribute, {})
        _validate(role)
        store.save_role(role, role.role_id)

    return delete


def _remember_old_name(role, attribute: str, fields) -> None:
    old = _OLD_NAMES.get(attribute)
    if old is None:
        return
    role.legacy_fields = [name for name in role.legacy_fields if name != old]
    if old in fields and attribute not in fields:
        role.legacy_fields.append(old)


def local_secret_ids_read(backend, request, fields) -> Response:
    role = backend.approle.role(role_name(fields))
    if role is None:
        raise NotFound()
    return Response(data={"local_secret_ids": role.local_secret_ids})


def _per_field_paths() -> list[Path]:
    paths = []
    for suffix, attribute in _PER_FIELD.items():
        accepted = {attribute} | ({"policies"} if attribute == "token_policies" else set())
        accepted |= {"period"} if attribute == "token_period" else set()
        paths.append(
            Path(
                pattern=f"role/{ROLE_NAME}/{suffix}",
                fields={**_NAME_FIELD, **{name: _ROLE_FIELDS[name] for name in accepted}},
                operations={
                    READ: _field_read(attribute),
                    UPDATE: _field_write(attribute),
                    DELETE: _field_delete(attribute),
                },
                synopsis=f"Read, set or reset the role's {attribute}.",
            )
        )
    return paths


def role_delete(backend, request, fields) -> None:
    role = backend.approle.role(role_name(fields))
    if role is not None:
        backend.approle.delete_role(role)


def role_id_read(backend, request, fields) -> Response:
    role = backend.approle.role(role_name(fields))
    if role is None:
        raise NotFound()
    return Response(data={"role_id": role.role_id})


def role_id_write(backend, request, fields) -> None:
    store = backend.approle
    role = existing_role(backend, fields)
    if not fields["role_id"]:
        raise UserError("missing role_id")
    previous = role.role_id
    _claim_role_id(store, role, fields["role_id"])
    store.save_role(role, previous)


_NAME_FIELD = {"role_name": Field(STRING, "Name of the role", in_path=True)}
_ROLE_FIELDS = {
    **_NAME_FIELD,
    "role_id": Field(STRING, "A custom role ID (default: a random UUID)"),
    "bind_secret_id": Field(BOOL, "Require a secret ID at login", default=True),
    "secret_id_bound_cidrs": Field(COMMA_STRING_SLICE, "CIDR blocks that may log in with the role"),
    "bound_cidr_list": Field(COMMA_STRING_SLICE, "Deprecated alias of secret_id_bound_cidrs"),
    "secret_id_num_uses": Field(INT, "Logins per secret ID (0 = unlimited)"),
    "secret_id_ttl": Field(DURATION, "Lifetime of secret IDs (0 = no expiry)"),
    "enable_local_secret_ids": Field(BOOL, "Accepted for compatibility (no replication)"),
    "local_secret_ids": Field(BOOL, "Deprecated alias of enable_local_secret_ids"),
    **TOKEN_FIELDS,
}

PATHS = [
    Path(pattern="role/?", operations={LIST: roles_list}, synopsis="List the roles."),
    Path(
        pattern=f"role/{ROLE_NAME}",
        fields=_ROLE_FIELDS,
        operations={READ: role_read, UPDATE: role_write, DELETE: role_delete},
        exists=role_exists,
        synopsis="Create, read, update or delete a role.",
    ),
    Path(
        pattern=f"role/{ROLE_NAME}/role-id",
        fields={**_NAME_FIELD, "role_id": Field(STRING, "The new role ID")},
        operations={READ: role_id_read, UPDATE: role_id_write},
        synopsis="Read or set the role ID (the non-secret half of a login).",
    ),
    Path(
        pattern=f"role/{ROLE_NAME}/local-secret-ids",
        fields=_NAME_FIELD,
        operations={READ: local_secret_ids_read},
        synopsis="Whether the role's secret IDs are local (fixed when the role is created).",
    ),
    *_per_field_paths(),
]
