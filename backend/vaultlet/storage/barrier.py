"""The barrier: every value is AES-256-GCM encrypted before it reaches storage.

Layout of a stored value (after Vault's barrier v2): one version byte, a 4-byte
key term, a 12-byte random nonce, then ciphertext and tag. The storage key is
the associated data, so a ciphertext copied to another key does not decrypt.

The data key lives in a keyring record encrypted under the root (seal) key; the
seal key itself is never stored. Keyring terms allow the data key to be rotated
later while old records stay readable.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vaultlet.errors import InternalError, Sealed
from vaultlet.storage.sql import SQLStorage

KEYRING_KEY = "core/keyring"
VALUE_FORMAT_VERSION = 2
_HEADER = struct.Struct(">BI")
NONCE_SIZE = 12
KEY_SIZE = 32


class BarrierError(InternalError):
    pass


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def decode_root_key(text: str) -> bytes | None:
    """A 32-byte root key written as base64 or hex; None if it is neither."""
    text = text.strip()
    for decode in (base64.b64decode, bytes.fromhex):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(key) == KEY_SIZE:
            return key
    return None


def _seal(cipher: AESGCM, term: int, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)
    return _HEADER.pack(VALUE_FORMAT_VERSION, term) + nonce + cipher.encrypt(nonce, plaintext, associated)


def _open_value(blob: bytes) -> tuple[int, bytes, bytes]:
    if len(blob) < _HEADER.size + NONCE_SIZE + 16:
        raise BarrierError("stored value is too short to be a ciphertext")
    version, term = _HEADER.unpack_from(blob)
    if version != VALUE_FORMAT_VERSION:
        raise BarrierError(f"unknown barrier value version {version}")
    start = _HEADER.size
    return term, blob[start : start + NONCE_SIZE], blob[start + NONCE_SIZE :]


@dataclass
class Keyring:
    active_term: int
    keys: dict[int, bytes]

    def to_json(self) -> bytes:
        encoded = {str(t): base64.b64encode(k).decode() for t, k in self.keys.items()}
        return json.dumps({"active_term": self.active_term, "keys": encoded}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Keyring:
        parsed = json.loads(raw)
        return cls(parsed["active_term"], {int(t): base64.b64decode(k) for t, k in parsed["keys"].items()})


class Barrier:
    """Encrypting view of :class:`SQLStorage`; sealed until given the root key."""

    def __init__(self, storage: SQLStorage):
        self.storage = storage
        self._ciphers: dict[int, AESGCM] | None = None
        self._active_term = 0
        self._lock = threading.Lock()

    # -- seal lifecycle ----------------------------------------------------

    @property
    def sealed(self) -> bool:
        return self._ciphers is None

    @property
    def active_term(self) -> int:
        """The keyring term new values are encrypted under (sys/key-status)."""
        return self._active_term

    def initialized(self) -> bool:
        return self.storage.get(KEYRING_KEY) is not None

    def initialize(self, root_key: bytes, beside: dict[str, bytes] | None = None) -> None:
        """Create the keyring (first data key) under ``root_key``; ``beside`` holds raw
        records written in the same transaction (an auto-unseal seal's wrapped root key),
        so that no crash can leave a keyring whose key was never kept."""
        keyring = Keyring(active_term=1, keys={1: generate_key()})
        blob = _seal(AESGCM(root_key), 0, keyring.to_json(), KEYRING_KEY.encode())
        if not self.storage.insert_new({KEYRING_KEY: blob, **(beside or {})}):
            raise BarrierError("the barrier is already initialized")

    def unseal(self, root_key: bytes) -> bool:
        """Load the keyring; False (still sealed) when the key is wrong."""
        record = self.storage.get(KEYRING_KEY)
        if record is None:
            raise BarrierError("the barrier is not initialized")
        _term, nonce, ciphertext = _open_value(record[0])
        try:
            keyring = Keyring.from_json(AESGCM(root_key).decrypt(nonce, ciphertext, KEYRING_KEY.encode()))
        except (InvalidTag, ValueError):
            return False
        with self._lock:
            self._ciphers = {term: AESGCM(key) for term, key in keyring.keys.items()}
            self._active_term = keyring.active_term
        return True

    def seal(self) -> None:
        with self._lock:
            self._ciphers = None

    # -- values ------------------------------------------------------------

    def encrypt(self, key: str, plaintext: bytes) -> bytes:
        ciphers = self._require_unsealed()
        return _seal(ciphers[self._active_term], self._active_term, plaintext, key.encode())

    def decrypt(self, key: str, blob: bytes) -> bytes:
        ciphers = self._require_unsealed()
        term, nonce, ciphertext = _open_value(blob)
        cipher = ciphers.get(term)
        if cipher is None:
            raise BarrierError(f"no key for term {term}")
        try:
            return cipher.decrypt(nonce, ciphertext, key.encode())
        except InvalidTag:
            raise BarrierError(f"failed to decrypt the record at {key!r}") from None

    def _require_unsealed(self) -> dict[int, AESGCM]:
        ciphers = self._ciphers
        if ciphers is None:
            raise Sealed()
        return ciphers


class SecureStore:
    """JSON records through the barrier, with version-validated read caching.

    ``cached`` is for small, hot, rarely written records (mount table, policies,
    engine config): it re-reads and decrypts only when the record version in the
    database moved, so several worker processes see each other's writes at once.
    """

    def __init__(self, barrier: Barrier):
        self.barrier = barrier
        self.storage = barrier.storage
        self._cache: dict[str, tuple[int, Any]] = {}

    def get(self, key: str) -> Any | None:
        record = self.storage.get(key)
        if record is None:
            return None
        return json.loads(self.barrier.decrypt(key, record[0]))

    def get_with_version(self, key: str) -> tuple[Any | None, int | None]:
        record = self.storage.get(key)
        if record is None:
            return None, None
        return json.loads(self.barrier.decrypt(key, record[0])), record[1]

    def put(self, key: str, value: Any) -> int:
        return self.storage.put(key, self.barrier.encrypt(key, _dumps(value)))

    def put_if_version(self, key: str, value: Any, expected_version: int | None) -> bool:
        return self.storage.put_if_version(key, self.barrier.encrypt(key, _dumps(value)), expected_version)

    def put_many(self, records: dict[str, Any], leases: list[dict] = ()) -> None:
        """Write several records (and lease index rows) in one transaction."""
        encrypted = {key: self.barrier.encrypt(key, _dumps(value)) for key, value in records.items()}
        self.storage.write_batch(encrypted, leases)

    def delete(self, key: str) -> bool:
        self._cache.pop(key, None)
        return self.storage.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        return self.storage.delete_prefix(prefix)

    def delete_many(self, keys: list[str], *, prefixes: list[str] = (), lease_ids: list[str] = ()) -> None:
        """Delete records, every record under some prefixes and lease rows, in one transaction."""
        for key in keys:
            self._cache.pop(key, None)
        self.storage.delete_many(keys, prefixes=prefixes, lease_ids=lease_ids)

    def keys_under(self, prefixes: list[str]) -> dict[str, list[str]]:
        return self.storage.keys_under(prefixes)

    def list(self, prefix: str) -> list[str]:
        return self.storage.list(prefix)

    def keys(self, prefix: str) -> list[str]:
        return self.storage.keys(prefix)

    def cached(self, key: str) -> Any | None:
        return self.cached_many([key])[key]

    def cached_many(self, keys: list[str]) -> dict[str, Any | None]:
        """Several hot records, validated against their versions in one query."""
        return {key: value for key, (_version, value) in self.cached_versioned(keys).items()}

    def cached_versioned(self, keys: list[str]) -> dict[str, tuple[int | None, Any | None]]:
        """Like :meth:`cached_many`, with the record version each value was read at
        (None: no such record), for callers that derive their own caches from them."""
        versions = self.storage.versions(keys)
        result: dict[str, tuple[int | None, Any | None]] = {}
        for key in keys:
            version = versions.get(key)
            hit = self._cache.get(key)
            if version is None:
                self._cache.pop(key, None)
                result[key] = (None, None)
            elif hit is not None and hit[0] == version:
                result[key] = hit
            else:
                value, version = self.get_with_version(key)
                if version is not None:
                    self._cache[key] = (version, value)
                result[key] = (version, value)
        return result


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


class StorageView:
    """A SecureStore confined to one prefix (each mount gets its own)."""

    def __init__(self, store: SecureStore, prefix: str):
        self.store = store
        self.prefix = prefix

    def get(self, key: str) -> Any | None:
        return self.store.get(self.prefix + key)

    def get_with_version(self, key: str):
        return self.store.get_with_version(self.prefix + key)

    def put(self, key: str, value: Any) -> int:
        return self.store.put(self.prefix + key, value)

    def put_if_version(self, key: str, value: Any, expected_version: int | None) -> bool:
        return self.store.put_if_version(self.prefix + key, value, expected_version)

    def delete(self, key: str) -> bool:
        return self.store.delete(self.prefix + key)

    def list(self, prefix: str = "") -> list[str]:
        return self.store.list(self.prefix + prefix)

    def keys(self, prefix: str = "") -> list[str]:
        return [k[len(self.prefix) :] for k in self.store.keys(self.prefix + prefix)]

    def cached(self, key: str) -> Any | None:
        return self.store.cached(self.prefix + key)

    def version(self, key: str) -> int | None:
        return self.store.storage.versions([self.prefix + key]).get(self.prefix + key)

    def clear(self) -> int:
        return self.store.delete_prefix(self.prefix)
