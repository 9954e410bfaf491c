"""sys/version-history: the versions this storage has been served by, oldest first.

Each server process records its version when it unseals (``record_version``), so an
upgrade shows up as a new entry whose ``previous_version`` is the one before it.
"""

from __future__ import annotations

import time

from vaultlet import SERVER_VERSION
from vaultlet.core.tokens import rfc3339
from vaultlet.framework.path import Path
from vaultlet.framework.request import LIST, Response

VERSIONS_KEY = "core/versions"


def record_version(store, version: str = SERVER_VERSION) -> None:
    """Add ``version`` to the history unless it is already there (one read when it is)."""
    record = store.get(VERSIONS_KEY) or {"versions": []}
    if any(item["version"] == version for item in record["versions"]):
        return
    previous = record["versions"][-1]["version"] if record["versions"] else None
    record["versions"].append(
        {"version": version, "timestamp_installed": _now(), "previous_version": previous}
    )
    store.put(VERSIONS_KEY, record)


def _now() -> str:
    return rfc3339(float(int(time.time())))


def version_history_list(backend, request, fields) -> Response:
    store = backend.core.store
    record_version(store)  # a server older than the history record has not written it yet
    versions = (store.get(VERSIONS_KEY) or {"versions": []})["versions"]
    key_info = {
        item["version"]: {
            "previous_version": item["previous_version"],
            "timestamp_installed": item["timestamp_installed"],
            "commit_date": "",
        }
        for item in versions
    }
    return Response(data={"keys": [item["version"] for item in versions], "key_info": key_info})


PATHS = [
    Path(
        pattern="version-history/?",
        operations={LIST: version_history_list},
        synopsis="Returns map of historical version change entries",
        description="The versions that served this storage, with when each was first started.",
    ),
]
