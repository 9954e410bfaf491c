"""Secret IDs: generate, register a custom one, list, look up and destroy
(by value or by accessor), and the tidy of expired ones."""

from __future__ import annotations

import json
import secrets
import time
import uuid

from vaultlet.core.cidr import is_subset, validate_cidr_blocks
from vaultlet.engines.auth.approle.role import ROLE_NAME, existing_role
from vaultlet.engines.auth.approle.store import RoleEntry, SecretIdEntry
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import COMMA_STRING_SLICE, DURATION, INT, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import DELETE, LIST, UPDATE, Response, list_response

_INVALID_ACCESSOR = "failed to find accessor entry for secret_id_accessor"


def generate(backend, request, fields) -> Response:
    # 128 random bits written as a UUID, as Vault's secret IDs are.
    return _register(backend, fields, str(uuid.UUID(bytes=secrets.token_bytes(16))))


def custom(backend, request, fields) -> Response:
    if not fields["secret_id"]:
        raise UserError("missing secret_id")
    return _register(backend, fields, fields["secret_id"])


def _register(backend, fields, secret_id: str) -> Response:
    store = backend.approle
    role = existing_role(backend, fields, NotFound)
    if not role.bind_secret_id:
        raise UserError("bind_secret_id is not set on the role")
    now = time.time()
    ttl = _ttl(role, fields)
    entry = SecretIdEntry(
        secret_id_hmac=store.hmac(secret_id),
        secret_id_accessor=str(uuid.uuid4()),
        secret_id_num_uses=_num_uses(role, fields),
        secret_id_ttl=ttl,
        creation_time=now,
        expiration_time=(now + ttl) if ttl else 0.0,
        last_updated_time=now,
        metadata=_metadata(fields["metadata"]),
        cidr_list=_bounded_cidrs(fields["cidr_list"], role.secret_id_bound_cidrs, "cidr_list"),
        token_bound_cidrs=_bounded_cidrs(
            fields["token_bound_cidrs"], role.token_bound_cidrs, "token_bound_cidrs"
        ),
    )
    if not store.add_secret_id(store.hmac(role.name), entry):
        raise UserError("SecretID is already registered")
    return Response(
        data={
            "secret_id": secret_id,
            "secret_id_accessor": entry.secret_id_accessor,
            "secret_id_num_uses": entry.secret_id_num_uses,
            "secret_id_ttl": entry.secret_id_ttl,
        }
    )


def _ttl(role: RoleEntry, fields) -> int:
    if "ttl" not in fields:
        return role.secret_id_ttl
    ttl = fields["ttl"]
    if role.secret_id_ttl and (ttl == 0 or ttl > role.secret_id_ttl):
        raise UserError("ttl cannot be longer than the role's secret_id_ttl")
    return ttl


def _num_uses(role: RoleEntry, fields) -> int:
    if "num_uses" not in fields:
        return role.secret_id_num_uses
    uses = fields["num_uses"]
    if uses < 0:
        raise UserError("num_uses cannot be negative")
    if role.secret_id_num_uses and (uses == 0 or uses > role.secret_id_num_uses):
        raise UserError("num_uses cannot be higher than the role's secret_id_num_uses")
    return uses


def _metadata(text: str) -> dict[str, str]:
    """The metadata arrives as a JSON object in a string (``{"host":"h1"}``)."""
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise UserError(f"failed to parse metadata: {error}") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise UserError("failed to parse metadata: expected a JSON object of string values")
    return parsed


def _bounded_cidrs(requested: list[str], role_cidrs: list[str], field: str) -> list[str]:
    """A secret ID may narrow the role's CIDR binding, never widen it."""
    cidrs = validate_cidr_blocks(requested)
    if cidrs and role_cidrs and not is_subset(cidrs, role_cidrs):
        raise UserError(
            f"failed to verify the CIDR restrictions set on the secret ID: "
            f"{field} must be a subset of the role's"
        )
    return cidrs


def accessors_list(backend, request, fields) -> Response:
    store = backend.approle
    role = existing_role(backend, fields)
    entries = store.secret_ids(store.hmac(role.name))
    return list_response(sorted(e.secret_id_accessor for e in entries if not e.expired()))


def lookup(backend, request, fields) -> Response | None:
    entry = _by_value(backend, fields)
    return Response(data=entry.describe()) if entry is not None else None  # Vault: 204 when unknown


def destroy(backend, request, fields) -> None:
    store = backend.approle
    role = existing_role(backend, fields)
    if not fields["secret_id"]:
        raise UserError("missing secret_id")
    store.delete_secret_id(store.hmac(role.name), store.hmac(fields["secret_id"]))


def _by_value(backend, fields) -> SecretIdEntry | None:
    store = backend.approle
    role = existing_role(backend, fields)
    if not fields["secret_id"]:
        raise UserError("missing secret_id")
    entry, _version = store.secret_id(store.hmac(role.name), store.hmac(fields["secret_id"]))
    return entry if entry is not None and not entry.expired() else None


def accessor_lookup(backend, request, fields) -> Response:
    try:
        entry = _by_accessor(backend, fields)
    except UnknownAccessor as error:
        # Vault answers a lookup of an unknown accessor 404 with the message in data.error.
        return Response(status=404, data={"error": str(error)})
    return Response(data=entry.describe())


def accessor_destroy(backend, request, fields) -> None:
    store = backend.approle
    role = existing_role(backend, fields)
    entry = _by_accessor(backend, fields)
    store.delete_secret_id(store.hmac(role.name), entry.secret_id_hmac)


def _by_accessor(backend, fields) -> SecretIdEntry:
    store = backend.approle
    role = existing_role(backend, fields)
    accessor = fields["secret_id_accessor"]
    if not accessor:
        raise UserError("missing secret_id_accessor")
    entry = store.by_accessor(store.hmac(role.name), accessor)
    if entry is None:
        raise UnknownAccessor(f'{_INVALID_ACCESSOR}: "{accessor}"')
    return entry


class UnknownAccessor(UserError):
    """No secret ID of the role has this accessor (a 400 for destroy, a 404 for lookup)."""


def tidy(backend, request, fields) -> Response:
    removed = backend.approle.tidy()
    return Response(status=202, warnings=[f"Tidy removed {removed} expired or used-up secret IDs."])


_NAME_FIELD = {"role_name": Field(STRING, "Name of the role", in_path=True)}
_ISSUE_FIELDS = {
    **_NAME_FIELD,
    "metadata": Field(STRING, "JSON object of string values, added to the metadata of tokens issued with it"),
    "cidr_list": Field(COMMA_STRING_SLICE, "CIDR blocks that may log in with this secret ID"),
    "token_bound_cidrs": Field(COMMA_STRING_SLICE, "CIDR blocks the issued tokens may be used from"),
    "ttl": Field(DURATION, "Lifetime of this secret ID (at most the role's secret_id_ttl)"),
    "num_uses": Field(INT, "Logins allowed with this secret ID (at most the role's secret_id_num_uses)"),
}
_SECRET_ID = {**_NAME_FIELD, "secret_id": Field(STRING, "The secret ID")}
_ACCESSOR = {**_NAME_FIELD, "secret_id_accessor": Field(STRING, "Accessor of the secret ID")}

PATHS = [
    Path(
        pattern=f"role/{ROLE_NAME}/secret-id/?",
        fields=_ISSUE_FIELDS,
        operations={UPDATE: generate, LIST: accessors_list},
        synopsis="Generate a secret ID for the role, or list the accessors of its secret IDs.",
    ),
    Path(
        pattern=f"role/{ROLE_NAME}/custom-secret-id",
        fields={**_ISSUE_FIELDS, "secret_id": Field(STRING, "The secret ID to register")},
        operations={UPDATE: custom},
        synopsis="Register a secret ID chosen by the caller.",
    ),
    Path(
        pattern=f"role/{ROLE_NAME}/secret-id/lookup",
        fields=_SECRET_ID,
        operations={UPDATE: lookup},
        synopsis="Properties of a secret ID (never the secret ID itself).",
    ),
    Path(
        pattern=f"role/{ROLE_NAME}/secret-id/destroy",
        fields=_SECRET_ID,
        operations={UPDATE: destroy, DELETE: destroy},
        synopsis="Invalidate a secret ID.",
    ),
    Path(
        pattern=f"role/{ROLE_NAME}/secret-id-accessor/lookup",
        fields=_ACCESSOR,
        operations={UPDATE: accessor_lookup},
        synopsis="Properties of a secret ID, by its accessor.",
    ),
    Path(
        pattern=f"role/{ROLE_NAME}/secret-id-accessor/destroy",
        fields=_ACCESSOR,
        operations={UPDATE: accessor_destroy, DELETE: accessor_destroy},
        synopsis="Invalidate a secret ID, by its accessor.",
    ),
    Path(
        pattern="tidy/secret-id", operations={UPDATE: tidy}, synopsis="Remove expired and used-up secret IDs."
    ),
]
