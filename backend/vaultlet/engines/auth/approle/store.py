"""AppRole's records in the mount's storage, and the HMACs that key them.

Secret IDs never reach storage: like Vault, AppRole keys them by an HMAC under
a per-mount salt, so the database (even decrypted) cannot be replayed as
credentials. Role IDs are looked up the same way.

Layout (under the mount's own storage view)::

    salt                                  {"salt": hex}
    role/<name>                           RoleEntry
    role_id/<hmac(role_id)>               {"name": role name}
    secret_id/<hmac(role)>/<hmac(secret)> SecretIdEntry
    accessor/<hmac(accessor)>             {"role_hmac", "secret_id_hmac"}
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from vaultlet.engines.auth.tokenutil import TokenSettings

SALT_KEY = "salt"
ROLE_PREFIX = "role/"
ROLE_ID_PREFIX = "role_id/"
SECRET_ID_PREFIX = "secret_id/"
ACCESSOR_PREFIX = "accessor/"
SPENT = -1  # num_uses of a secret ID whose last use was just claimed
_NO_ROLE = "-none-"  # never a role name: names start and end with a word character


@dataclass
class RoleEntry(TokenSettings):
    name: str
    role_id: str
    bind_secret_id: bool = True
    secret_id_bound_cidrs: list[str] | None = None  # Vault reads an unset list back as null
    secret_id_num_uses: int = 0
    secret_id_ttl: int = 0
    local_secret_ids: bool = False
    # Deprecated names (policies, period) the per-field endpoints last set: their reads echo them.
    legacy_fields: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """``GET role/<name>``: everything but the name and the role ID, in Vault's keys."""
        data = {k: v for k, v in asdict(self).items() if k not in ("name", "role_id", "legacy_fields")}
        data["token_strictly_bind_ip"] = False
        # Vault's per-field read shows a deleted token_bound_cidrs as null, the role read as [].
        data["token_bound_cidrs"] = data["token_bound_cidrs"] or []
        return dict(sorted(data.items()))


@dataclass
class SecretIdEntry:
    secret_id_hmac: str
    secret_id_accessor: str
    secret_id_num_uses: int = 0
    secret_id_ttl: int = 0
    creation_time: float = 0.0
    expiration_time: float = 0.0  # 0: never expires
    last_updated_time: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)
    cidr_list: list[str] = field(default_factory=list)
    token_bound_cidrs: list[str] = field(default_factory=list)

    def expired(self, now: float | None = None) -> bool:
        return bool(self.expiration_time) and (now or time.time()) >= self.expiration_time

    def describe(self) -> dict[str, Any]:
        return {
            "cidr_list": self.cidr_list,
            "creation_time": _rfc3339(self.creation_time),
            "expiration_time": _rfc3339(self.expiration_time),
            "last_updated_time": _rfc3339(self.last_updated_time),
            "metadata": self.metadata,
            "secret_id_accessor": self.secret_id_accessor,
            "secret_id_num_uses": max(self.secret_id_num_uses, 0),
            "secret_id_ttl": self.secret_id_ttl,
            "token_bound_cidrs": self.token_bound_cidrs,
        }


def _rfc3339(timestamp: float) -> str:
    if not timestamp:
        return "0001-01-01T00:00:00Z"  # Go's zero time, as Vault prints it
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


class AppRoleStore:
    """Typed access to one AppRole mount's records."""

    def __init__(self, storage):
        self.storage = storage
        self._salt: bytes | None = None

    # -- hashing -----------------------------------------------------------

    def hmac(self, value: str) -> str:
        return hmac.new(self._salt_bytes(), value.encode(), hashlib.sha256).hexdigest()

    def _salt_bytes(self) -> bytes:
        if self._salt is None:
            record = self.storage.get(SALT_KEY)
            if record is None:
                # Two processes may race to create it; the compare-and-set keeps the first.
                self.storage.put_if_version(SALT_KEY, {"salt": secrets.token_hex(32)}, None)
                record = self.storage.get(SALT_KEY)
            self._salt = bytes.fromhex(record["salt"])
        return self._salt

    # -- roles -------------------------------------------------------------

    def role(self, name: str) -> RoleEntry | None:
        record = self.storage.get(ROLE_PREFIX + name)
        return RoleEntry(**record) if record else None

    def role_names(self) -> list[str]:
        return [key for key in self.storage.list(ROLE_PREFIX) if not key.endswith("/")]

    def role_by_role_id(self, role_id: str) -> RoleEntry | None:
        index = self.storage.get(ROLE_ID_PREFIX + self.hmac(role_id))
        # Read a role record either way: an unknown role ID costs the same two reads.
        return self.role(index["name"] if index else _NO_ROLE)

    def save_role(self, role: RoleEntry, previous_role_id: str | None) -> None:
        if previous_role_id and previous_role_id != role.role_id:
            self.storage.delete(ROLE_ID_PREFIX + self.hmac(previous_role_id))
        self.storage.put(ROLE_PREFIX + role.name, asdict(role))
        self.storage.put(ROLE_ID_PREFIX + self.hmac(role.role_id), {"name": role.name})

    def delete_role(self, role: RoleEntry) -> None:
        role_hmac = self.hmac(role.name)
        for key in self.storage.keys(f"{SECRET_ID_PREFIX}{role_hmac}/"):
            self.delete_secret_id(role_hmac, key.rsplit("/", 1)[1])
        self.storage.delete(ROLE_ID_PREFIX + self.hmac(role.role_id))
        self.storage.delete(ROLE_PREFIX + role.name)

    # -- secret IDs --------------------------------------------------------

    def secret_id_key(self, role_hmac: str, secret_id_hmac: str) -> str:
        return f"{SECRET_ID_PREFIX}{role_hmac}/{secret_id_hmac}"

    def secret_id(self, role_hmac: str, secret_id_hmac: str) -> tuple[SecretIdEntry | None, int | None]:
        record, version = self.storage.get_with_version(self.secret_id_key(role_hmac, secret_id_hmac))
        return (SecretIdEntry(**record) if record else None), version

    def add_secret_id(self, role_hmac: str, entry: SecretIdEntry) -> bool:
        """Store a new secret ID; False when that secret ID is already registered."""
        key = self.secret_id_key(role_hmac, entry.secret_id_hmac)
        if not self.storage.put_if_version(key, asdict(entry), None):
            return False
        self.storage.put(
            ACCESSOR_PREFIX + self.hmac(entry.secret_id_accessor),
            {"role_hmac": role_hmac, "secret_id_hmac": entry.secret_id_hmac},
        )
        return True

    def replace_secret_id(self, role_hmac: str, entry: SecretIdEntry, version: int) -> bool:
        """Compare-and-set: False if someone else changed or used it meanwhile."""
        return self.storage.put_if_version(
            self.secret_id_key(role_hmac, entry.secret_id_hmac), asdict(entry), version
        )

    def delete_secret_id(self, role_hmac: str, secret_id_hmac: str) -> None:
        entry, _version = self.secret_id(role_hmac, secret_id_hmac)
        if entry is not None:
            self.storage.delete(ACCESSOR_PREFIX + self.hmac(entry.secret_id_accessor))
        self.storage.delete(self.secret_id_key(role_hmac, secret_id_hmac))

    def by_accessor(self, role_hmac: str, accessor: str) -> SecretIdEntry | None:
        index = self.storage.get(ACCESSOR_PREFIX + self.hmac(accessor))
        if index is None or not hmac.compare_digest(index["role_hmac"], role_hmac):
            return None
        entry, _version = self.secret_id(role_hmac, index["secret_id_hmac"])
        return entry

    def secret_ids(self, role_hmac: str) -> list[SecretIdEntry]:
        prefix = f"{SECRET_ID_PREFIX}{role_hmac}/"
        entries = (self.storage.get(key) for key in self.storage.keys(prefix))
        return [SecretIdEntry(**record) for record in entries if record]

    def tidy(self, now: float | None = None) -> int:
        """Delete expired and spent secret IDs of every role; returns how many."""
        now = now or time.time()
        removed = 0
        for key in self.storage.keys(SECRET_ID_PREFIX):
            record = self.storage.get(key)
            if record is None:
                continue
            entry = SecretIdEntry(**record)
            if entry.expired(now) or entry.secret_id_num_uses == SPENT:
                role_hmac, secret_id_hmac = key[len(SECRET_ID_PREFIX) :].split("/", 1)
                self.delete_secret_id(role_hmac, secret_id_hmac)
                removed += 1
        return removed
