"""sys/key-status: the barrier's encryption key term and when it was installed."""

from __future__ import annotations

from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response


def key_status_read(backend, request, fields) -> Response:
    core = backend.core
    data = {
        "term": core.barrier.active_term,
        "install_time": core.install_time(),
        # Vault counts encryptions under the term to rotate the key before AES-GCM's nonce
        # limit. vaultlet's data key is shared by every worker and node and nothing counts
        # its uses, so the figure would be invented: it is always 0 (README).
        "encryptions": 0,
    }
    return Response(data=data, data_at_top_level=True)


PATHS = [
    Path(
        pattern="key-status",
        operations={READ: key_status_read},
        synopsis="Provides information about the backend encryption key.",
        description="Provides the current encryption key term and installation time.",
    ),
]
