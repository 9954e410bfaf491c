"""sys/wrapping/wrap, unwrap, lookup and rewrap: response wrapping's own endpoints.

The wrapping token itself is checked by the core before these run (see
:mod:`vaultlet.core.wrapping`); ``lookup`` needs no other token, as in Vault.
"""

from __future__ import annotations

from vaultlet.errors import UserError
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, Response

_TOKEN_FIELD = {"token": Field(STRING, "The wrapping token; defaults to the calling token")}


def _named_token(request, fields) -> tuple[str, bool]:
    """(wrapping token, whether a third party holds it): the body's token, else the caller's."""
    if fields["token"]:
        return fields["token"], True
    return request.client_token or "", False


def wrap(backend, request, fields) -> Response:
    if not request.wrap_ttl:
        raise UserError("endpoint requires response wrapping to be used")
    return Response(data=dict(request.data))


def unwrap(backend, request, fields) -> Response:
    return backend.core.wrapping.unwrap(*_named_token(request, fields))


def lookup(backend, request, fields) -> Response:
    token, _ = _named_token(request, fields)
    return Response(data=backend.core.wrapping.lookup(token))


def rewrap(backend, request, fields) -> Response:
    return backend.core.wrapping.rewrap(*_named_token(request, fields))


PATHS = [
    Path(
        pattern="wrapping/wrap",
        operations={UPDATE: wrap},
        arbitrary_input=True,
        synopsis="Response-wraps an arbitrary JSON object.",
        description="Wraps the request data in a single-use token; requires X-Vault-Wrap-TTL.",
    ),
    Path(
        pattern="wrapping/unwrap",
        fields=_TOKEN_FIELD,
        operations={UPDATE: unwrap},
        synopsis="Unwraps a response-wrapped token.",
        description="Returns the wrapped response once; the wrapping token is then revoked.",
    ),
    Path(
        pattern="wrapping/lookup",
        fields=_TOKEN_FIELD,
        operations={READ: lookup, UPDATE: lookup},
        unauthenticated=True,
        synopsis="Looks up the properties of a response-wrapped token.",
        description="Creation time, creation path and TTL; does not use up the token.",
    ),
    Path(
        pattern="wrapping/rewrap",
        fields=_TOKEN_FIELD,
        operations={UPDATE: rewrap},
        synopsis="Rotates a response-wrapped token.",
        description="Moves the wrapped response into a new wrapping token with the original TTL.",
    ),
]
