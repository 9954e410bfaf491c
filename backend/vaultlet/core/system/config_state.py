"""sys/config/state/sanitized: the server's configuration with nothing secret in it.

Built from an allow-list, never by deleting known secrets from a copy: a setting
added to the configuration later stays out of this answer until someone decides
it may be shown. Left out on purpose: the storage URL (it may hold a database
password), every seal parameter but its type (KMS key ids, key files and the key
itself), the dev root token.
"""

from __future__ import annotations

from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response


def sanitized_config(core) -> dict:
    config = core.config
    server = core.server_config
    data = {
        "api_addr": "",
        "cluster_addr": "",
        "cluster_name": config.cluster_name,
        "default_lease_ttl": config.default_lease_ttl,
        "max_lease_ttl": config.max_lease_ttl,
        "enable_ui": True,
        "raw_storage_endpoint": False,
        "storage": {"type": "sqlite" if core.storage.is_sqlite else "postgresql"},
        "telemetry": {"unauthenticated_metrics_access": config.telemetry.unauthenticated_metrics_access},
        "listeners": [],
        "seals": [{"type": core.seal_source.type, "disabled": False}],
    }
    if server is not None:
        listener = server.listener
        data["listeners"] = [
            {
                "type": "tcp",
                "config": {
                    "address": listener.address,
                    "tls_disable": listener.tls_disable,
                    "max_request_size": listener.max_request_size,
                },
            }
        ]
        data.update(log_level=server.log_level, log_format=server.log_format)
    return data


def sanitized_read(backend, request, fields) -> Response:
    return Response(data=sanitized_config(backend.core))


PATHS = [
    Path(
        pattern="config/state/sanitized",
        operations={READ: sanitized_read},
        synopsis="Return a sanitized version of the server configuration.",
        description=(
            "The configuration without values that may be secret: the storage URL, seal parameters "
            "and the dev root token are never included."
        ),
    ),
]
