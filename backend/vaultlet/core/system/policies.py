"""sys/policies/acl (current API) and sys/policy (legacy API): ACL policy CRUD.

Both views share one store. Writes are not sudo-protected in Vault: a token
needs ``create``/``update`` on the path like anywhere else.
"""

from __future__ import annotations

import base64
import binascii

from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import BOOL, DURATION, INT, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import DELETE, LIST, PATCH, READ, UPDATE, Response, list_response

# Policy names may contain "/" (team/app); a LIST of such a name lists that folder.
_NAME = r"(?P<name>.+)"


def _policy_text(fields, *, legacy: bool) -> tuple[str, list[str]]:
    """The policy text of a write (``rules`` is the legacy spelling), base64 or not."""
    text, warnings = fields["policy"], []
    if not text and legacy and fields["rules"]:
        text, warnings = fields["rules"], ["'rules' is deprecated, please use 'policy' instead"]
    if not text:
        raise UserError("'policy' parameter not supplied or empty")
    return _maybe_base64(text), warnings


def _maybe_base64(text: str) -> str:
    """Vault accepts the policy base64-encoded, and tries that decoding first."""
    try:
        decoded = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
        return decoded.decode()
    except (binascii.Error, ValueError):
        return text


def _info(backend, fields) -> dict:
    info = backend.core.policies.info(fields["name"])
    if info is None:
        raise NotFound()
    return info


def _write(backend, request, fields, *, legacy: bool) -> Response | None:
    _refuse_expiration(request)
    text, warnings = _policy_text(fields, legacy=legacy)
    backend.core.policies.write(
        fields["name"],
        text,
        cas=_cas(request, fields),
        cas_required=fields["cas_required"],
        flags={flag: fields[flag] for flag in _TEMPLATE_FLAGS},
    )
    return Response(warnings=warnings) if warnings else None


def acl_patch(backend, request, fields) -> Response:
    """OpenBao's PATCH: what the body gives replaces, the rest stays as stored."""
    _refuse_expiration(request)
    current = backend.core.policies.info(fields["name"])
    if current is None:
        raise UserError("policy not found")
    text = _maybe_base64(fields["policy"]) if "policy" in fields else current["policy"]
    if not text:
        raise UserError("'policy' parameter not supplied or empty")
    kept = {
        name: fields[name] if name in fields else current[name] for name in ("cas_required", *_TEMPLATE_FLAGS)
    }
    backend.core.policies.write(
        fields["name"],
        text,
        cas=_cas(request, fields),
        cas_required=kept.pop("cas_required"),
        flags=kept,
        patch=True,
    )
    return Response(status=200)


def _refuse_expiration(request) -> None:
    for unsupported in ("ttl", "expiration"):
        if request.data.get(unsupported) not in (None, ""):
            # OpenBao 2.x can expire a policy; vaultlet cannot, and must not keep one forever
            # that was meant to lapse.
            raise UserError(f"vaultlet does not support policy expiration ({unsupported!r})")


def _cas(request, fields) -> int | None:
    """``cas`` as given; a JSON null counts as 0, since OpenBao's field lookup finds the key."""
    if "cas" not in request.data:
        return None
    return fields["cas"]  # 0 when null


def _folder(fields) -> str:
    return fields["name"].strip().lower().rstrip("/") + "/"


def acl_list(backend, request, fields) -> Response:
    return list_response(backend.core.policies.names())


def acl_folder_list(backend, request, fields) -> Response:
    return list_response(backend.core.policies.names(_folder(fields)))


def acl_read(backend, request, fields) -> Response:
    return Response(data=_info(backend, fields))


def acl_write(backend, request, fields) -> Response | None:
    return _write(backend, request, fields, legacy=False)


def acl_delete(backend, request, fields) -> None:
    backend.core.policies.delete(fields["name"])


def _legacy_names(names: list[str]) -> Response:
    if not names:
        raise NotFound()
    return Response(data={"keys": names, "policies": names}, data_at_top_level=True)


def legacy_list(backend, request, fields) -> Response:
    return _legacy_names(backend.core.policies.names())


def legacy_folder_list(backend, request, fields) -> Response:
    return _legacy_names(backend.core.policies.names(_folder(fields)))


def legacy_read(backend, request, fields) -> Response:
    info = _info(backend, fields)
    info["rules"] = info.pop("policy")
    return Response(data=info, data_at_top_level=True)


def legacy_write(backend, request, fields) -> Response | None:
    return _write(backend, request, fields, legacy=True)


_TEMPLATE_FLAGS = ("allow_slashes_in_identity_templates", "allow_wildcards_in_identity_templates")
_PATCHABLE = ("cas_required", *_TEMPLATE_FLAGS)
_FIELDS = {
    "name": Field(STRING, 'The name of the policy (stored lower-cased; may contain "/")', in_path=True),
    "policy": Field(STRING, "The policy document, HCL or JSON (optionally base64-encoded)"),
    "cas": Field(
        INT,
        "Check-and-set: the version the write expects to replace (0 or -1: the policy must not exist)",
    ),
    "cas_required": Field(BOOL, "Refuse later writes of this policy that do not give cas"),
    "allow_slashes_in_identity_templates": Field(BOOL, "Identity templates may expand to values with /"),
    "allow_wildcards_in_identity_templates": Field(
        BOOL, "Identity templates may expand to values with * or +"
    ),
    "ttl": Field(DURATION, "Not supported by vaultlet: policies do not expire"),
    "expiration": Field(STRING, "Not supported by vaultlet: policies do not expire"),
}
_LEGACY_FIELDS = {**_FIELDS, "rules": Field(STRING, "Deprecated alias of policy")}

PATHS = [
    Path(pattern="policies/acl/?", operations={LIST: acl_list}, synopsis="List the ACL policies."),
    Path(
        pattern=f"policies/acl/{_NAME}",
        fields=_FIELDS,
        operations={
            READ: acl_read,
            UPDATE: acl_write,
            PATCH: acl_patch,
            DELETE: acl_delete,
            LIST: acl_folder_list,
        },
        synopsis="Read, write or delete a named ACL policy.",
        description='"root" cannot be changed; "default" can be edited but not deleted.',
    ),
    Path(
        pattern="policy/?",
        operations={READ: legacy_list, LIST: legacy_list},
        synopsis="List the ACL policies (legacy API: keys and policies).",
    ),
    Path(
        pattern=f"policy/{_NAME}",
        fields=_LEGACY_FIELDS,
        operations={READ: legacy_read, UPDATE: legacy_write, DELETE: acl_delete, LIST: legacy_folder_list},
        synopsis="Read, write or delete a named ACL policy (legacy API: rules).",
    ),
]
