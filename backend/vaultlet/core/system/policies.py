"""sys/policies/acl (current API) and sys/policy (legacy API): ACL policy CRUD.

Both views share one store. Writes are not sudo-protected in Vault: a token
needs ``create``/``update`` on the path like anywhere else.
"""

from __future__ import annotations

import base64
import binascii

from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import DELETE, LIST, READ, UPDATE, Response, list_response

_NAME = r"(?P<name>[^/]+)"


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


def _read(backend, name: str) -> str:
    text = backend.core.policies.text(name)
    if text is None:
        raise NotFound()
    return text


def acl_list(backend, request, fields) -> Response:
    return list_response(backend.core.policies.names())


def acl_read(backend, request, fields) -> Response:
    name = fields["name"].strip().lower()
    return Response(data={"name": name, "policy": _read(backend, name)})


def acl_write(backend, request, fields) -> Response | None:
    text, warnings = _policy_text(fields, legacy=False)
    backend.core.policies.write(fields["name"], text)
    return Response(warnings=warnings) if warnings else None


def acl_delete(backend, request, fields) -> None:
    backend.core.policies.delete(fields["name"])


def legacy_list(backend, request, fields) -> Response:
    names = backend.core.policies.names()
    return Response(data={"keys": names, "policies": names}, data_at_top_level=True)


def legacy_read(backend, request, fields) -> Response:
    name = fields["name"].strip().lower()
    return Response(data={"name": name, "rules": _read(backend, name)}, data_at_top_level=True)


def legacy_write(backend, request, fields) -> Response | None:
    text, warnings = _policy_text(fields, legacy=True)
    backend.core.policies.write(fields["name"], text)
    return Response(warnings=warnings) if warnings else None


_FIELDS = {
    "name": Field(STRING, "Name of the policy (stored lower-cased)", in_path=True),
    "policy": Field(STRING, "The policy document, HCL or JSON (optionally base64-encoded)"),
}
_LEGACY_FIELDS = {**_FIELDS, "rules": Field(STRING, "Deprecated alias of policy")}

PATHS = [
    Path(pattern="policies/acl/?", operations={LIST: acl_list}, synopsis="List the ACL policies."),
    Path(
        pattern=f"policies/acl/{_NAME}",
        fields=_FIELDS,
        operations={READ: acl_read, UPDATE: acl_write, DELETE: acl_delete},
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
        operations={READ: legacy_read, UPDATE: legacy_write, DELETE: acl_delete},
        synopsis="Read, write or delete a named ACL policy (legacy API: rules).",
    ),
]
