"""Seals: where the root key comes from when a server starts sealed.

A seal answers three questions for the core: how to find the root key at start-up
(``load_key``), what to do with a key that ``sys/init`` has just made (``wrap``
before anything is written, then ``keep`` once the keyring is stored), and, while
it cannot unseal, why not (``problem``, shown by sys/seal-status and sys/health).

``seal "file"`` and ``$VAULTLET_SEAL_KEY`` live in :mod:`vaultlet.config`
(``SealConfig``); ``seal "awskms"`` in :mod:`vaultlet.storage.seals.awskms`, the
only module of the server that talks to KMS.
"""

from __future__ import annotations

from typing import Any

from vaultlet.errors import VaultError


class SealError(VaultError):
    """The seal's key service failed: 500 with a message naming the failure, never a key."""

    status = 500


class Seal:
    """The interface; this base class is the dev server's seal (no key anywhere)."""

    #: sys/seal-status "type": Vault reports "shamir" for a key the operator holds.
    type = "shamir"
    #: True for an auto-unseal seal: sys/init hands out no unseal key (it never leaves the seal).
    auto_unseal = False
    #: Seconds between two unseal attempts while sealed (a KMS call is not free).
    retry_interval = 0.0
    #: Why the last unseal attempt failed, in words safe to show unauthenticated.
    problem = ""

    def load_key(self, storage) -> bytes | None:
        return None

    def wrap(self, root_key: bytes) -> Any:
        """Prepare to keep ``root_key``; called before the keyring is written, may raise."""
        return None

    def keep(self, storage, root_key: bytes, wrapped: Any) -> None:
        """Keep the new key once the keyring that needs it is stored."""
