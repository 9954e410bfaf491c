"""The token store: hashed tokens, accessors, parent/child trees, TTLs.

Token ids never reach storage: records are keyed by an HMAC of the id under a
per-installation salt, so the database (even decrypted) cannot be replayed as
credentials. Accessors are indexed the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import string
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vaultlet.durations import format_human
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.storage.barrier import BarrierError

if TYPE_CHECKING:
    from vaultlet.core.core import Core

SALT_KEY = "core/token-salt"
TOKEN_PREFIX = "token/id/"
ACCESSOR_PREFIX = "token/accessor/"
PARENT_PREFIX = "token/parent/"

ROOT_POLICY = "root"
DEFAULT_POLICY = "default"
RESPONSE_WRAPPING_POLICY = "response-wrapping"
# Where a token's cubbyhole lives (a wrapping token's holds the wrapped response); it goes
# with the token.
CUBBYHOLE_PREFIX = "cubbyhole/"
_BASE62 = string.ascii_letters + string.digits

SERVICE_TOKEN = "service"
BATCH_TOKEN = "batch"
SERVICE_PREFIX = "hvs."
# Vault's prefix for batch tokens (OpenBao 2.x writes "b."): the rest is the token entry,
# encrypted and authenticated under the barrier's keyring. Nothing is stored for them.
BATCH_PREFIX = "hvb."
# The associated data of a batch token's ciphertext: no stored record can pass for one.
_BATCH_AAD = "token/batch"
MAX_SERVICE_TOKEN_LENGTH = 512
MAX_BATCH_TOKEN_LENGTH = 8192


def random_base62(length: int) -> str:
    """``length`` characters drawn uniformly from the OS's CSPRNG: random bytes below
    248 (4 x 62) map onto the alphabet evenly, the others are thrown away."""
    chosen: list[str] = []
    while len(chosen) < length:
        chosen.extend(_BASE62[byte % 62] for byte in secrets.token_bytes(length + 8) if byte < 248)
    return "".join(chosen[:length])


def rfc3339(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class TokenEntry:
    hash: str
    accessor: str
    policies: list[str]
    parent: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    display_name: str = "token"
    num_uses: int = 0
    creation_time: float = 0.0
    creation_ttl: int = 0
    ttl: int = 0  # the TTL granted last (creation or renewal)
    expire_time: float | None = None
    explicit_max_ttl: int = 0
    max_expire_time: float | None = None
    period: int = 0
    renewable: bool = True
    path: str = "auth/token/create"
    type: str = "service"
    bound_cidrs: list[str] = field(default_factory=list)
    last_renewal: float | None = None
    lease_id: str = ""
    role: str = ""  # the token role it was created through

    @property
    def is_batch(self) -> bool:
        return self.type == BATCH_TOKEN

    @property
    def lease_owner(self) -> str | None:
        """Whose revocation takes the leases this token creates: its own, or for a batch
        token (which cannot be revoked) its parent's; an orphan batch token's leases
        only expire (Vault's rule)."""
        if self.is_batch:
            return self.parent or None
        return self.hash

    @property
    def is_root(self) -> bool:
        return ROOT_POLICY in self.policies

    @property
    def orphan(self) -> bool:
        return not self.parent

    @property
    def is_wrapping(self) -> bool:
        """Vault's IsWrappingToken: exactly the response-wrapping policy."""
        return self.policies == [RESPONSE_WRAPPING_POLICY]

    def remaining_ttl(self, now: float | None = None) -> int:
        if self.expire_time is None:
            return 0
        return max(0, int(round(self.expire_time - (now or time.time()))))

    def expired(self, now: float) -> bool:
        return self.expire_time is not None and self.expire_time <= now


_TOKEN_FIELDS = tuple(f.name for f in fields(TokenEntry))


def _record(entry: TokenEntry) -> dict[str, Any]:
    """The stored form of an entry: ``asdict`` without its recursive deep copy (the
    record is serialised at once; nothing holds on to it)."""
    return {name: getattr(entry, name) for name in _TOKEN_FIELDS}


@dataclass
class TokenRequest:
    """Everything a caller may ask of a new token (token create, auth logins)."""

    policies: list[str] | None = None
    no_default_policy: bool = False
    ttl: int = 0
    explicit_max_ttl: int = 0
    period: int = 0
    renewable: bool = True
    num_uses: int = 0
    display_name: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    orphan: bool = False
    path: str = "auth/token/create"
    token_id: str | None = None
    bound_cidrs: list[str] = field(default_factory=list)
    display_prefix: str = "token"
    # The issuer's cap on the token's lifetime (an auth method's max TTL); renewals
    # stop there. Periodic tokens ignore it, as in Vault; explicit_max_ttl always holds.
    max_ttl: int = 0
    # The policies were decided by someone entitled to (a root or sudo caller, a token
    # role's allowed list, an auth method): skip the rule that a child's policies
    # must be a subset of its parent's.
    policies_vetted: bool = False
    # A response-wrapping token, minted by the core only: it alone may carry the
    # response-wrapping policy, and its TTL is the requested one even above the system
    # maximum (as in OpenBao).
    wrapping: bool = False
    type: str = SERVICE_TOKEN
    role: str = ""


def cubbyhole_prefix(token_hash: str) -> str:
    return f"{CUBBYHOLE_PREFIX}{token_hash}/"


def normalize_policies(policies: list[str], add_default: bool) -> list[str]:
    cleaned = {p.strip().lower() for p in policies if p.strip()}
    if add_default and ROOT_POLICY not in cleaned:
        cleaned.add(DEFAULT_POLICY)
    return sorted(cleaned)


class TokenStore:
    def __init__(self, core: Core):
        self.core = core
        self.store = core.store
        self._salt: bytes | None = None

    # -- hashing -----------------------------------------------------------

    def _salt_bytes(self) -> bytes:
        if self._salt is None:
            record = self.store.get(SALT_KEY)
            if record is None:
                candidate = secrets.token_hex(32)
                self.store.put_if_version(SALT_KEY, {"salt": candidate}, None)
                record = self.store.get(SALT_KEY)
            self._salt = bytes.fromhex(record["salt"])
        return self._salt

    def hash(self, value: str) -> str:
        return hmac.new(self._salt_bytes(), value.encode(), hashlib.sha256).hexdigest()

    # -- lookup ------------------------------------------------------------

    def get_by_hash(self, token_hash: str) -> TokenEntry | None:
        record = self.store.get(TOKEN_PREFIX + token_hash)
        return TokenEntry(**record) if record else None

    def lookup(self, token_id: str | None, now: float | None = None) -> TokenEntry | None:
        """The live entry for a client token, or None (unknown, expired, used up)."""
        if not token_id:
            return None
        if token_id.startswith(BATCH_PREFIX):
            return self._lookup_batch(token_id, now or time.time())
        if len(token_id) > MAX_SERVICE_TOKEN_LENGTH:
            return None
        entry = self.get_by_hash(self.hash(token_id))
        if entry is None or entry.expired(now or time.time()):
            return None
        return entry

    def _lookup_batch(self, token_id: str, now: float) -> TokenEntry | None:
        """A batch token is valid while it decrypts, has not expired and its parent lives."""
        entry = self._decode_batch(token_id)
        if entry is None or entry.expired(now):
            return None
        if entry.parent:
            parent = self.get_by_hash(entry.parent)
            if parent is None or parent.expired(now):
                return None  # revoking the parent revoked this token too
        return entry

    # -- batch tokens --------------------------------------------------------

    def _encode_batch(self, entry: TokenEntry) -> str:
        # Positional and compact: a client sends the token with every request (_decode_batch
        # reads the same order).
        payload = [
            entry.policies,
            entry.parent,
            int(entry.creation_time),
            entry.ttl,
            entry.path,
            entry.display_name,
            entry.meta,
            entry.role,
            entry.bound_cidrs,
        ]
        plaintext = json.dumps(payload, separators=(",", ":")).encode()
        blob = self.core.barrier.encrypt(_BATCH_AAD, plaintext)
        return BATCH_PREFIX + base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def _decode_batch(self, token_id: str) -> TokenEntry | None:
        if len(token_id) > MAX_BATCH_TOKEN_LENGTH:
            return None
        body = token_id[len(BATCH_PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            values = json.loads(self.core.barrier.decrypt(_BATCH_AAD, blob))
            policies, parent, created, ttl, path, display, meta, role, cidrs = values
        except (BarrierError, binascii.Error, ValueError, TypeError):
            return None  # forged, damaged or from another installation
        return TokenEntry(
            hash=self.hash(token_id),
            accessor="",
            policies=list(policies),
            parent=parent,
            meta=dict(meta),
            display_name=display,
            creation_time=float(created),
            creation_ttl=ttl,
            ttl=ttl,
            expire_time=float(created + ttl) if ttl else None,
            renewable=False,
            path=path,
            type=BATCH_TOKEN,
            bound_cidrs=list(cidrs),
            role=role,
        )

    def lookup_accessor(self, accessor: str) -> TokenEntry | None:
        record = self.store.get(ACCESSOR_PREFIX + self.hash(accessor))
        if record is None:
            return None
        entry = self.get_by_hash(record["token_hash"])
        if entry is None or entry.expired(time.time()):
            return None
        return entry

    def accessors(self) -> list[str]:
        result = []
        for key in self.store.keys(ACCESSOR_PREFIX):
            entry = self.get_by_hash(self.store.get(key)["token_hash"])
            if entry is not None:
                result.append(entry.accessor)
        return sorted(result)

    # -- create ------------------------------------------------------------

    def create(self, parent: TokenEntry | None, request: TokenRequest) -> tuple[str, TokenEntry, list[str]]:
        """Mint a token; returns (token id, entry, warnings)."""
        warnings: list[str] = []
        policies = self._child_policies(parent, request)
        if parent is not None:
            warnings += self._missing_policy_warnings(policies)
        now = time.time()
        if request.type == BATCH_TOKEN:
            return self._create_batch(parent, request, policies, now, warnings)
        ttl, max_expire = self._initial_ttl(request, policies, now, warnings)
        token_id = request.token_id or (SERVICE_PREFIX + random_base62(24))
        token_hash = self.hash(token_id)
        # A caller-chosen ID may exist already; 143 random bits never collide.
        if request.token_id and self.store.get(TOKEN_PREFIX + token_hash) is not None:
            raise UserError("cannot create a token with a duplicate ID")
        accessor = random_base62(24)
        entry = TokenEntry(
            hash=token_hash,
            accessor=accessor,
            policies=policies,
            parent="" if (request.orphan or parent is None) else parent.hash,
            meta=dict(request.meta),
            display_name=_display_name(request.display_prefix, request.display_name),
            num_uses=request.num_uses,
            creation_time=now,
            creation_ttl=ttl,
            ttl=ttl,
            expire_time=(now + ttl) if ttl else None,
            explicit_max_ttl=request.explicit_max_ttl,
            max_expire_time=max_expire,
            period=request.period,
            renewable=request.renewable and ttl > 0,
            path=request.path,
            bound_cidrs=list(request.bound_cidrs),
            role=request.role,
        )
        if ttl:
            entry.lease_id = f"{request.path}/h{token_hash}"
        # One transaction: a token never exists without its accessor, parent link and lease.
        records: dict[str, Any] = {
            TOKEN_PREFIX + token_hash: _record(entry),
            ACCESSOR_PREFIX + self.hash(accessor): {"token_hash": token_hash},
        }
        if entry.parent:
            records[f"{PARENT_PREFIX}{entry.parent}/{token_hash}"] = {}
        leases = [self.core.expiration.token_lease_row(entry)] if entry.lease_id else []
        self.store.put_many(records, leases)
        return token_id, entry, warnings

    def _create_batch(
        self, parent: TokenEntry | None, request: TokenRequest, policies: list[str], now: float, warnings
    ) -> tuple[str, TokenEntry, list[str]]:
        """Vault's batch token: self-contained, never stored; limited uses, periods, renewals
        and explicit max TTLs do not apply to it (the API refuses them before this)."""
        if ROOT_POLICY in policies:
            raise UserError("batch tokens cannot be root tokens")
        if request.num_uses or request.period or request.explicit_max_ttl:
            # Issuers drop these first (auth_token, tokenutil): nothing stored could honour them.
            raise UserError("batch tokens cannot have use limits, periods or explicit max TTLs")
        ttl, _max_expire = self._initial_ttl(
            TokenRequest(ttl=request.ttl, max_ttl=request.max_ttl), policies, now, warnings
        )
        entry = TokenEntry(
            hash="",
            accessor="",
            policies=policies,
            parent="" if (request.orphan or parent is None) else parent.hash,
            meta=dict(request.meta),
            display_name=_display_name(request.display_prefix, request.display_name),
            creation_time=float(int(now)),  # whole seconds, as Vault's lookups show
            creation_ttl=ttl,
            ttl=ttl,
            expire_time=int(now) + ttl if ttl else None,
            renewable=False,
            path=request.path,
            type=BATCH_TOKEN,
            bound_cidrs=list(request.bound_cidrs),
            role=request.role,
        )
        token_id = self._encode_batch(entry)
        entry.hash = self.hash(token_id)
        return token_id, entry, warnings

    def _child_policies(self, parent: TokenEntry | None, request: TokenRequest) -> list[str]:
        """Vault's token-store rules for the policies of a new token."""
        requested = [p for p in (request.policies or []) if p.strip()]
        if request.wrapping:
            return [RESPONSE_WRAPPING_POLICY]
        if RESPONSE_WRAPPING_POLICY in normalize_policies(requested, add_default=False):
            raise UserError(f'cannot assign policy "{RESPONSE_WRAPPING_POLICY}"')
        if not requested:
            inherited = list(parent.policies) if parent else [DEFAULT_POLICY]
            policies = normalize_policies(inherited, add_default=False)
        elif parent is None or request.policies_vetted:
            policies = normalize_policies(requested, add_default=not request.no_default_policy)
        else:
            policies = normalize_policies(requested, add_default=False)
            if not set(policies) <= set(parent.policies):
                raise UserError("child policies must be subset of parent")
            # Without sudo, a child gets "default" only if its parent has it.
            add_default = DEFAULT_POLICY in parent.policies and not request.no_default_policy
            policies = normalize_policies(policies, add_default=add_default)
        if request.no_default_policy:
            policies = [p for p in policies if p != DEFAULT_POLICY]
        if ROOT_POLICY in policies and parent is not None and not parent.is_root:
            # A sudo holder must not be able to mint itself a root token.
            raise UserError("root tokens may not be created without parent token being root")
        return policies

    def _missing_policy_warnings(self, policies: list[str]) -> list[str]:
        return [f'Policy "{name}" does not exist' for name in policies if not self.core.policies.exists(name)]

    def _initial_ttl(self, request: TokenRequest, policies: list[str], now: float, warnings: list[str]):
        system_max = 0 if request.wrapping else self.core.config.max_lease_ttl
        if request.period:
            ttl = request.period
        elif request.ttl:
            ttl = request.ttl
        elif policies == [ROOT_POLICY]:
            ttl = 0  # a root token asked for without a TTL never expires
        else:
            ttl = self.core.config.default_lease_ttl
        limits = [c for c in (request.max_ttl, system_max) if c]
        issuer_max = 0 if request.period or not limits else min(limits)
        caps = [c for c in (request.explicit_max_ttl, issuer_max) if c]
        if ttl and caps and ttl > min(caps):
            warnings.append(_capped_warning(ttl, min(caps)))
            ttl = min(caps)
        max_expire = (now + min(caps)) if (caps and ttl) else None
        return ttl, max_expire

    def _save(self, entry: TokenEntry) -> None:
        self.store.put(TOKEN_PREFIX + entry.hash, _record(entry))

    # -- use ---------------------------------------------------------------

    def use(self, entry: TokenEntry) -> TokenEntry:
        """Count one use of a limited-use token; the last use revokes it afterwards."""
        if entry.num_uses == -1:
            # Its last use is under way (revocation pending): a concurrent request must not
            # take it for an unlimited token. For a wrapping token that would unwrap twice.
            raise PermissionDenied()
        if entry.num_uses == 0:
            return entry
        record, version = self.store.get_with_version(TOKEN_PREFIX + entry.hash)
        if record is None:
            raise PermissionDenied()
        current = TokenEntry(**record)
        if current.num_uses == -1:
            raise PermissionDenied()
        current.num_uses = current.num_uses - 1 if current.num_uses > 1 else -1
        if not self.store.put_if_version(TOKEN_PREFIX + entry.hash, _record(current), version):
            raise PermissionDenied()
        return current

    def finish_use(self, entry: TokenEntry) -> None:
        if entry.num_uses == -1:
            self.revoke_tree(entry.hash)

    # -- renew -------------------------------------------------------------

    def renew(self, entry: TokenEntry, increment: int) -> tuple[TokenEntry, list[str]]:
        if entry.is_batch:
            raise UserError("batch tokens cannot be renewed")
        if not entry.renewable or entry.expire_time is None:
            raise UserError("lease is not renewable")
        now = time.time()
        warnings: list[str] = []
        ttl = entry.period or (increment or entry.ttl)
        if entry.max_expire_time is not None and not entry.period:
            # Vault's CalculateTTL truncates both instants to the second: a renewal in the
            # same second as the creation is not "capped" by a fraction of a second.
            cap = int(round(entry.max_expire_time - entry.creation_time))
            remaining_cap = max(0, int(entry.creation_time) + cap - int(now))
            if ttl > remaining_cap:
                warnings.append(_capped_warning(ttl, remaining_cap))
                ttl = remaining_cap
        entry.ttl = ttl
        entry.expire_time = now + ttl
        entry.last_renewal = now
        self._save(entry)
        self.core.expiration.update_token_lease(entry)
        return entry, warnings

    # -- revoke ------------------------------------------------------------

    def children(self, token_hash: str) -> list[str]:
        prefix = f"{PARENT_PREFIX}{token_hash}/"
        return [key[len(prefix) :] for key in self.store.keys(prefix)]

    def revoke_tree(self, token_hash: str) -> None:
        """Revoke a token, all its descendants, and every lease issued under them."""
        for child in self.children(token_hash):
            self.revoke_tree(child)
        self.revoke_one(token_hash)

    def revoke_trees(self, token_hashes: list[str], *, keep_leases: frozenset[str] = frozenset()) -> None:
        """``revoke_tree`` for many tokens at once (the bulk path of a revoke-prefix over
        token leases): the tokens and all their descendants, their leases first, then
        every record of theirs in one transaction instead of several per token. The
        token leases in ``keep_leases`` are left to the caller (the expiration
        manager deletes them itself, to know which process revoked each)."""
        every = self._with_descendants(token_hashes)
        lease_ids = self.core.storage.lease_ids_for_tokens(every)
        if lease_ids:
            self.core.expiration.revoke_issued_leases(lease_ids)  # leases first, as revoke_one
        keys, prefixes, token_leases = [], [], []
        for token_hash in every:
            prefixes += [cubbyhole_prefix(token_hash), f"{PARENT_PREFIX}{token_hash}/"]
            entry = self.get_by_hash(token_hash)
            if entry is None:
                continue
            keys += [ACCESSOR_PREFIX + self.hash(entry.accessor), TOKEN_PREFIX + token_hash]
            if entry.parent:
                keys.append(f"{PARENT_PREFIX}{entry.parent}/{token_hash}")
            if entry.lease_id and entry.lease_id not in keep_leases:
                token_leases.append(entry.lease_id)
        self.store.delete_many(keys, prefixes=prefixes, lease_ids=token_leases)

    def _with_descendants(self, token_hashes: list[str]) -> list[str]:
        """The tokens and their descendants, each level's children listed in one go;
        deepest first (children go before their parents, as in revoke_tree)."""
        order, seen, level = [], set(), list(dict.fromkeys(token_hashes))
        while level:
            prefixes = [f"{PARENT_PREFIX}{token_hash}/" for token_hash in level]
            children = self.store.keys_under(prefixes)
            following = []
            for token_hash, prefix in zip(level, prefixes, strict=True):
                if token_hash in seen:
                    continue
                seen.add(token_hash)
                order.append(token_hash)
                following += [key[len(prefix) :] for key in children[prefix]]
            level = [token_hash for token_hash in following if token_hash not in seen]
        return order[::-1]

    def revoke_orphan_children(self, token_hash: str) -> None:
        for child_hash in self.children(token_hash):
            child = self.get_by_hash(child_hash)
            if child is not None:
                child.parent = ""
                self._save(child)
            self.store.delete(f"{PARENT_PREFIX}{token_hash}/{child_hash}")
        self.revoke_one(token_hash)

    def revoke_one(self, token_hash: str) -> None:
        entry = self.get_by_hash(token_hash)
        # Leases first: a token whose leases are still live must stay revocable.
        self.core.expiration.revoke_for_token(token_hash)
        self.store.delete_prefix(cubbyhole_prefix(token_hash))  # the token's cubbyhole goes with it
        if entry is None:
            return
        self.store.delete(ACCESSOR_PREFIX + self.hash(entry.accessor))
        if entry.parent:
            self.store.delete(f"{PARENT_PREFIX}{entry.parent}/{token_hash}")
        self.store.delete(TOKEN_PREFIX + token_hash)
        if entry.lease_id:
            self.core.expiration.forget(entry.lease_id)

    # -- views -------------------------------------------------------------

    def lookup_data(self, entry: TokenEntry, token_id: str = "") -> dict[str, Any]:
        data: dict[str, Any] = {
            "accessor": entry.accessor,
            "creation_time": int(entry.creation_time),
            "creation_ttl": entry.creation_ttl,
            "display_name": entry.display_name,
            "entity_id": "",
            "expire_time": rfc3339(entry.expire_time),
            "explicit_max_ttl": entry.explicit_max_ttl,
            "id": token_id,
            "issue_time": rfc3339(entry.creation_time),
            "meta": entry.meta or None,
            "num_uses": entry.num_uses,
            "orphan": entry.orphan,
            "path": entry.path,
            "policies": entry.policies,
            "renewable": entry.renewable,
            "ttl": entry.remaining_ttl(),
            "type": entry.type,
        }
        if entry.period:
            data["period"] = entry.period
        if entry.role:
            data["role"] = entry.role
        if entry.last_renewal is not None:
            data["last_renewal_time"] = int(entry.last_renewal)
            data["last_renewal"] = rfc3339(entry.last_renewal)
        if entry.bound_cidrs:
            data["bound_cidrs"] = entry.bound_cidrs
        return data

    def auth_block(self, entry: TokenEntry, token_id: str) -> dict[str, Any]:
        return {
            "client_token": token_id,
            "accessor": entry.accessor,
            "policies": entry.policies,
            "token_policies": entry.policies,
            "identity_policies": None,
            "metadata": entry.meta or None,
            "lease_duration": entry.ttl if entry.expire_time else 0,
            "renewable": entry.renewable,
            "entity_id": "",
            "token_type": entry.type,
            "orphan": entry.orphan,
            "mfa_requirement": None,
            "num_uses": entry.num_uses,
        }


def _display_name(prefix: str, requested: str) -> str:
    if not prefix:
        return requested  # the issuer composed it (auth/token/create does, as Vault)
    display = requested.strip()
    return f"{prefix}-{display}" if display else prefix


def _capped_warning(ttl: int, cap: int) -> str:
    return (
        f'TTL of "{format_human(ttl)}" exceeded the effective max_ttl of '
        f'"{format_human(cap)}"; TTL value is capped accordingly'
    )
