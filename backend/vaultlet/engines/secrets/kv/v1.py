"""KV version 1: plain key/value secrets at any path of the mount.

Not the product, but the engine every Vault user's muscle memory expects, and a
leaseless backend to test the core's generic read/write/list/delete with. As in
Vault, a stored ``ttl`` is reflected in ``lease_duration`` without a lease.
"""

from __future__ import annotations

import contextlib

from vaultlet.durations import DurationError, parse_duration
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.backend import Backend
from vaultlet.framework.fields import ANY, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, LIST, READ, UPDATE, Response, list_response

DATA_PREFIX = "data/"


def kv_exists(backend, request, fields) -> bool:
    return backend.storage.version(DATA_PREFIX + fields["path"]) is not None


def kv_read(backend, request, fields) -> Response:
    stored = backend.storage.get(DATA_PREFIX + fields["path"])
    if stored is None:
        raise NotFound()
    # Agents re-read at lease_duration: the secret's own ttl, else the mount's default TTL.
    response = Response(data=stored, lease_duration=_mount_ttl(backend))
    if "ttl" in stored:
        with contextlib.suppress(DurationError):
            response.lease_duration = parse_duration(stored["ttl"])
    return response


def _mount_ttl(backend) -> int:
    return int(backend.context.mount_config.get("default_lease_ttl") or 0) or (
        backend.context.system.default_lease_ttl
    )


def kv_write(backend, request, fields) -> None:
    # The body as sent: a key named "path" is data too (fields.raw has the URL's path there).
    data = dict(request.data)
    if not data:
        raise UserError("missing data fields")
    if "ttl" in data:
        try:
            parse_duration(data["ttl"])
        except DurationError as error:
            raise UserError(f'failed to parse "ttl": {error}') from None
    backend.storage.put(DATA_PREFIX + fields["path"], data)


def kv_delete(backend, request, fields) -> None:
    backend.storage.delete(DATA_PREFIX + fields["path"])


def kv_list(backend, request, fields) -> Response:
    return list_response(backend.storage.list(DATA_PREFIX + fields["path"]))


class KVBackend(Backend):
    paths = [
        Path(
            pattern="(?P<path>.*)",
            fields={
                "path": Field(STRING, "Location of the secret", in_path=True),
                "ttl": Field(ANY, "Advisory TTL"),
            },
            operations={READ: kv_read, CREATE: kv_write, UPDATE: kv_write, DELETE: kv_delete, LIST: kv_list},
            exists=kv_exists,
            arbitrary_input=True,
            synopsis="Pass-through secret storage (KV version 1).",
        )
    ]
