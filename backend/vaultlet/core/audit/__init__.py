"""Audit devices: Vault's JSON-lines audit log, HMAC'd, failing closed."""

from vaultlet.core.audit.broker import AuditBroker, is_audited
from vaultlet.core.audit.devices import DeviceEntry
from vaultlet.core.audit.entry import HASH_PREFIX, Hasher

__all__ = ["AuditBroker", "DeviceEntry", "HASH_PREFIX", "Hasher", "is_audited"]
