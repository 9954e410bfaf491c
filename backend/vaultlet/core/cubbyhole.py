"""The cubbyhole: a private secrets engine per token, mounted at ``cubbyhole/`` as in Vault.

Each token sees only its own cubbyhole (keyed by the token's salted hash, never by its id) and
the cubbyhole goes when the token does. A wrapping token's cubbyhole holds the wrapped answer
under ``response`` (see :mod:`vaultlet.core.wrapping`); its policy lets it read that key too,
which Vault still allows and answers with a deprecation warning.
"""

from __future__ import annotations

from vaultlet.core.tokens import cubbyhole_prefix
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.backend import Backend
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, LIST, READ, UPDATE, Response, list_response

WRAPPED_RESPONSE_PATH = "response"
_DEPRECATED_READ = (
    "Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to unwrap "
    "responses, as it provides additional security checks and other benefits."
)


def _key(backend, request, path: str) -> str:
    """The record of ``path`` in the caller's own cubbyhole (relative to the core's store)."""
    if request.token.is_batch:
        # Nothing would ever delete it: a batch token is not stored, so never revoked.
        raise UserError("cubbyhole operations are only supported by 'service' type tokens")
    return cubbyhole_prefix(request.token.hash) + path


def cubbyhole_exists(backend, request, fields) -> bool:
    return backend.store.get(_key(backend, request, fields["path"])) is not None


def cubbyhole_read(backend, request, fields) -> Response:
    stored = backend.store.get(_key(backend, request, fields["path"]))
    if stored is None:
        raise NotFound()
    response = Response(data=stored)
    if fields["path"] == WRAPPED_RESPONSE_PATH and request.token.is_wrapping:
        response.add_warning(_DEPRECATED_READ)
    return response


def cubbyhole_write(backend, request, fields) -> None:
    if fields["path"].endswith("/"):
        raise UserError("cannot write to a path ending in '/'")
    data = {key: value for key, value in fields.raw.items() if key != "path"}
    if not data:
        raise UserError("missing data fields")
    backend.store.put(_key(backend, request, fields["path"]), data)


def cubbyhole_delete(backend, request, fields) -> None:
    backend.store.delete(_key(backend, request, fields["path"]))


def cubbyhole_list(backend, request, fields) -> Response:
    return list_response(backend.store.list(_key(backend, request, fields["path"])))


class CubbyholeBackend(Backend):
    help = "Pass-through secret storage to a token-specific cubbyhole."
    paths = [
        Path(
            pattern="(?P<path>.*)",
            fields={"path": Field(STRING, "Location of the secret in the token's cubbyhole", in_path=True)},
            operations={
                READ: cubbyhole_read,
                CREATE: cubbyhole_write,
                UPDATE: cubbyhole_write,
                DELETE: cubbyhole_delete,
                LIST: cubbyhole_list,
            },
            exists=cubbyhole_exists,
            arbitrary_input=True,
            synopsis="Pass-through secret storage to a token-specific cubbyhole.",
        )
    ]

    @property
    def store(self):
        # The core's store: cubbyholes are keyed by token, and revoking a token clears its own.
        return self.context.system._core.store
