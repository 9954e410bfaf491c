"""``delete/``, ``undelete/`` and ``destroy/<path>``: change chosen versions of a secret."""

from __future__ import annotations

import time
from collections.abc import Callable

from vaultlet.engines.secrets.kv.store import SecretRecord, Version
from vaultlet.errors import UserError
from vaultlet.framework.fields import STRING, Field, FieldType
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, UPDATE


def _to_versions(value) -> list[int]:
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        return [int(item) for item in items if not isinstance(item, str) or item.strip() != ""]
    except (TypeError, ValueError):
        raise UserError("versions must be a list of integers") from None


INT_LIST = FieldType(
    "int_list", {"type": ["array", "string", "integer"]}, {"type": "array"}, _to_versions, list
)


def _soft_delete(version: Version, now: float) -> None:
    if not version.destroyed and not version.deleted(now):
        version.deletion_time = now


def _undelete(version: Version, now: float) -> None:
    if not version.destroyed:
        version.deletion_time = 0.0


def _destroy(version: Version, now: float) -> None:
    version.destroyed = True
    version.data = None


def _versions_handler(action: Callable[[Version, float], None], missing_message: str):
    def handler(backend, request, fields) -> None:
        numbers = fields["versions"]
        if not numbers:
            raise UserError(missing_message)
        now = time.time()

        def change(current: SecretRecord | None) -> SecretRecord | None:
            if current is None:
                return None
            for number in numbers:
                if number in current.versions:
                    action(current.versions[number], now)
            return current

        backend.kv.update(fields["path"], change)

    return handler


def _versions_path(prefix: str, action, synopsis: str, missing_message: str) -> Path:
    handler = _versions_handler(action, missing_message)
    return Path(
        pattern=f"{prefix}/(?P<path>.+)",
        fields={
            "path": Field(STRING, "Location of the secret", in_path=True),
            "versions": Field(INT_LIST, "The versions to change"),
        },
        operations={CREATE: handler, UPDATE: handler},
        synopsis=synopsis,
    )


PATHS = [
    _versions_path("delete", _soft_delete, "Soft-delete versions of a secret.", "No version number provided"),
    _versions_path("undelete", _undelete, "Restore soft-deleted versions.", "No version number provided"),
    _versions_path("destroy", _destroy, "Permanently remove versions' data.", "no version number provided"),
]
