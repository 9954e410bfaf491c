"""The KV secrets engine, version 1 (``v1``) and version 2 (``backend``), chosen by the mount's options."""

from __future__ import annotations

from typing import Any

from vaultlet.errors import UserError

KV_TYPES = ("kv", "generic")


def kv_version(options: dict[str, Any] | None) -> int:
    """The version a mount's options ask for: 1 when unset, as Vault; anything else is refused."""
    value = str((options or {}).get("version") or "1").strip()
    if value not in ("1", "2"):
        raise UserError(f'unsupported KV version "{value}": use 1 or 2')
    return int(value)
