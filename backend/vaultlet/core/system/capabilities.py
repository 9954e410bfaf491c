"""sys/capabilities-self, sys/capabilities and sys/capabilities-accessor.

The answer maps each path to the sorted capability names the token's ACL
grants there (``["deny"]`` when nothing, ``["root"]`` for a root token). Vault
repeats the map at the top level of the envelope, and adds ``capabilities``
when exactly one path was asked about (what the CLI's single-path form reads).
"""

from __future__ import annotations

from vaultlet.core.tokens import TokenEntry
from vaultlet.errors import UserError
from vaultlet.framework.fields import COMMA_STRING_SLICE, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import UPDATE, Response


def _answer(backend, token: TokenEntry, fields) -> Response:
    paths = fields["paths"] or fields["path"]
    if not paths:
        raise UserError("paths must be supplied")
    acl = backend.core.policies.acl(token.policies)
    data = {path: acl.capabilities(path) for path in paths}
    if len(paths) == 1:
        data["capabilities"] = data[paths[0]]
    return Response(data=data, data_at_top_level=True)


def capabilities_self(backend, request, fields) -> Response:
    return _answer(backend, request.token, fields)


def capabilities_token(backend, request, fields) -> Response:
    if not fields["token"]:
        raise UserError("missing token")
    token = backend.core.tokens.lookup(fields["token"])
    if token is None:
        raise UserError("invalid token")
    return _answer(backend, token, fields)


def capabilities_accessor(backend, request, fields) -> Response:
    if not fields["accessor"]:
        raise UserError("missing accessor")
    token = backend.core.tokens.lookup_accessor(fields["accessor"])
    if token is None:
        raise UserError("invalid accessor")
    return _answer(backend, token, fields)


_PATHS_FIELDS = {
    "paths": Field(COMMA_STRING_SLICE, "Paths to report the capabilities on"),
    "path": Field(COMMA_STRING_SLICE, "Deprecated single-path form of paths"),
}

PATHS = [
    Path(
        pattern="capabilities-self",
        fields={**_PATHS_FIELDS, "token": Field(STRING, "Ignored: the calling token is used")},
        operations={UPDATE: capabilities_self},
        synopsis="The calling token's capabilities on paths.",
    ),
    Path(
        pattern="capabilities",
        fields={**_PATHS_FIELDS, "token": Field(STRING, "The token to report on")},
        operations={UPDATE: capabilities_token},
        synopsis="Another token's capabilities on paths.",
    ),
    Path(
        pattern="capabilities-accessor",
        fields={**_PATHS_FIELDS, "accessor": Field(STRING, "Accessor of the token to report on")},
        operations={UPDATE: capabilities_accessor},
        synopsis="A token's capabilities on paths, named by its accessor.",
    ),
]
