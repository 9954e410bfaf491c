"""KV version 2: versioned secrets with metadata, check-and-set, soft delete and destroy.

The mount's ``options.version`` picks the engine (``kv`` and ``generic`` mounts are
version 1 unless it says "2"; ``kv-v2`` is version 2), as in Vault. The API is
Vault's: ``data/``, ``metadata/``, ``delete/``, ``undelete/``, ``destroy/``,
``subkeys/`` and ``config``; any other path answers 404 with Vault's warning.
"""

from __future__ import annotations

from vaultlet.engines.secrets.kv import path_config, path_data, path_metadata, path_subkeys, path_versions
from vaultlet.engines.secrets.kv.store import KVStore
from vaultlet.framework.backend import Backend
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, LIST, READ, UPDATE, Response

_WRONG_PATH = (
    "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API "
    "endpoints to use. If using the Vault CLI, use 'vault kv {verb}' for this operation."
)


def _wrong_path(verb: str):
    def handler(backend, request, fields) -> Response:
        return Response(warnings=[_WRONG_PATH.format(verb=verb)], status=404)

    return handler


_FALLBACK = Path(
    pattern="(?P<path>.*)",
    fields={"path": Field(STRING, "Not a KV version 2 path", in_path=True)},
    operations={
        READ: _wrong_path("get"),
        CREATE: _wrong_path("put"),
        UPDATE: _wrong_path("put"),
        DELETE: _wrong_path("delete"),
        LIST: _wrong_path("list"),
    },
    arbitrary_input=True,
    synopsis="Anything else: answers 404 with a pointer to the versioned API.",
)


class KVv2Backend(Backend):
    help = __doc__
    paths = [
        *path_config.PATHS,
        *path_data.PATHS,
        *path_metadata.PATHS,
        *path_versions.PATHS,
        *path_subkeys.PATHS,
        _FALLBACK,
    ]

    def __init__(self, context):
        super().__init__(context)
        self.kv = KVStore(context.storage)
