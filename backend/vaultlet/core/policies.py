"""The ACL policy store: named policies in storage, and compiled ACLs for tokens.

Policies live one per record under ``sys/policy/<name>``, encrypted like
everything else. ``default`` is built in until someone edits it (then the
stored text wins); ``root`` and ``response-wrapping`` (the policy of wrapping
tokens) are never stored and cannot be changed.

``acl(names)`` is on the hot path of every non-root request. It asks the
database only for the record versions of the token's policies (one indexed
query) and reuses the compiled ACL while those versions stand, so a policy
written through any worker process takes effect at the next request everywhere
without decrypting and parsing policies per request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from vaultlet.core.acl import (
    ACL,
    DEFAULT_POLICY_NAME,
    DEFAULT_POLICY_TEXT,
    RESPONSE_WRAPPING_POLICY_NAME,
    RESPONSE_WRAPPING_POLICY_TEXT,
    ROOT_POLICY_NAME,
    Policy,
    PolicyError,
    parse_policy,
)
from vaultlet.errors import UserError

if TYPE_CHECKING:
    from vaultlet.core.core import Core

POLICY_PREFIX = "sys/policy/"
_DELETED = "deleted"
ACL_CACHE_SIZE = 1024


def policy_key(name: str) -> str:
    return POLICY_PREFIX + name


def sanitize_name(name: str) -> str:
    """Vault's rule: policy names are trimmed and lower-cased."""
    return name.strip().lower()


@dataclass
class _CompiledACL:
    acl: ACL
    # Rules with an `expiration` stop applying at that moment; recompile then.
    valid_until: datetime | None


class PolicyStore:
    def __init__(self, core: Core):
        self.core = core
        self.store = core.store
        self._parsed: dict[tuple[str, int | None], Policy] = {}
        self._acls: OrderedDict[tuple, _CompiledACL] = OrderedDict()
        self._lock = threading.Lock()

    # -- records -----------------------------------------------------------

    def names(self, folder: str = "") -> list[str]:
        """Stored policy names plus the built-ins, in Vault's order (root last). With
        ``folder`` (``team/``): the names under it only, as ``LIST sys/policies/acl/team``."""
        stored = {key[len(POLICY_PREFIX) :] for key in self.store.keys(POLICY_PREFIX) if self._live(key)}
        stored.add(DEFAULT_POLICY_NAME)
        if folder:
            return scan_order(name for name in stored if name.startswith(folder))
        return [*scan_order(stored), ROOT_POLICY_NAME]

    def _live(self, key: str) -> bool:
        record = self.store.get(key)
        return record is not None and not record.get(_DELETED)

    def text(self, name: str) -> str | None:
        """The policy text as written, or None when there is no such policy."""
        name = sanitize_name(name)
        if name == ROOT_POLICY_NAME:
            return ""
        if name == RESPONSE_WRAPPING_POLICY_NAME:
            return RESPONSE_WRAPPING_POLICY_TEXT
        record = self.store.get(policy_key(name))
        if record is not None and not record.get(_DELETED):
            return record["policy"]
        return DEFAULT_POLICY_TEXT if name == DEFAULT_POLICY_NAME else None

    def info(self, name: str) -> dict | None:
        """The policy as ``sys/policies/acl/:name`` reads it: text, version, modified,
        cas_required and the identity-template flags (None: no such policy)."""
        name = sanitize_name(name)
        text = self.text(name)
        if text is None:
            return None
        info = {"name": name, "policy": text, "version": 0, "cas_required": False, **_TEMPLATE_FLAGS}
        if name == ROOT_POLICY_NAME:
            return info  # never stored: version 0 and no modification time, as in Vault
        record = self.store.get(policy_key(name))
        if record is None or record.get(_DELETED):
            # A built-in as installed with the storage.
            return {**info, "version": 1, "modified": self._install_time()}
        return {
            **info,
            **{flag: bool(record.get(flag, False)) for flag in _TEMPLATE_FLAGS},
            "cas_required": bool(record.get("cas_required", False)),
            # Records written before vaultlet kept versions count as the first version.
            "version": int(record.get("version", 1)),
            "modified": record.get("modified") or self._install_time(),
        }

    def exists(self, name: str) -> bool:
        if name in (ROOT_POLICY_NAME, DEFAULT_POLICY_NAME, RESPONSE_WRAPPING_POLICY_NAME):
            return True
        return self._live(policy_key(name))

    def write(
        self,
        name: str,
        text: str,
        *,
        cas: int | None = None,
        cas_required: bool = False,
        flags: dict[str, bool] | None = None,
        patch: bool = False,
    ) -> None:
        """Store a policy. ``cas`` (None: not given) must match the current version
        (0 or -1 for a policy that does not exist yet); a policy written with
        ``cas_required`` refuses writes without ``cas`` until it is written without it."""
        name = sanitize_name(name)
        if not name:
            raise UserError("policy name must be provided in the URL")
        if name.endswith("/"):
            raise UserError("cannot write to a path ending in '/'")
        if name in (ROOT_POLICY_NAME, RESPONSE_WRAPPING_POLICY_NAME):
            raise UserError(f'cannot update "{name}" policy')
        try:
            parse_policy(name, text)
        except PolicyError as error:
            raise UserError(str(error)) from None
        current = self.info(name) if self.exists(name) else None
        _check_and_set(current, cas, cas_required and not patch, required_by_record=not patch)
        record = {
            "name": name,
            "policy": text,
            "version": (current["version"] if current else 0) + 1,
            "modified": rfc3339_now(),
            "cas_required": cas_required,
            **{flag: bool((flags or {}).get(flag, False)) for flag in _TEMPLATE_FLAGS},
        }
        self.store.put(policy_key(name), record)

    def _install_time(self) -> str:
        return self.core.install_time()

    def delete(self, name: str) -> None:
        name = sanitize_name(name)
        if name in (ROOT_POLICY_NAME, RESPONSE_WRAPPING_POLICY_NAME):
            raise UserError(f'cannot delete "{name}" policy')
        if name == DEFAULT_POLICY_NAME:
            raise UserError("cannot delete default policy")
        if self.store.get(policy_key(name)) is not None:
            # A tombstone, not a delete: record versions must keep growing, because
            # compiled ACLs are cached by (name, version) and a re-created record
            # would otherwise start again at version 1 and hit a stale cache entry.
            self.store.put(policy_key(name), {"name": name, _DELETED: True})

    # -- compiled ACLs -----------------------------------------------------

    def acl(self, names: list[str]) -> ACL:
        """The compiled ACL of a token's policies, reused while no policy changed."""
        if ROOT_POLICY_NAME in names:
            return _ROOT_ACL
        keys = [policy_key(name) for name in names]
        versions = self.store.storage.versions(keys)
        fingerprint = tuple((name, versions.get(key)) for name, key in zip(names, keys, strict=True))
        compiled = self._acls.get(fingerprint)
        if compiled is not None and (
            compiled.valid_until is None or datetime.now(UTC) < compiled.valid_until
        ):
            return compiled.acl
        compiled = self._compile(fingerprint)
        with self._lock:
            self._acls[fingerprint] = compiled
            while len(self._acls) > ACL_CACHE_SIZE:
                self._acls.popitem(last=False)
        return compiled.acl

    def policies(self, names: list[str]) -> list[Policy]:
        """The parsed policies behind ``names`` (unknown names contribute nothing)."""
        keys = [policy_key(name) for name in names]
        versions = self.store.storage.versions(keys)
        loaded = (self._policy(name, versions.get(key)) for name, key in zip(names, keys, strict=True))
        return [policy for policy in loaded if policy is not None]

    def _compile(self, fingerprint: tuple) -> _CompiledACL:
        now = datetime.now(UTC)
        policies = [
            p for p in (self._policy(name, version) for name, version in fingerprint) if p is not None
        ]
        upcoming = [
            rule.expiration
            for policy in policies
            for rule in policy.rules
            if rule.expiration and rule.expiration > now
        ]
        return _CompiledACL(ACL(policies, now=now), min(upcoming) if upcoming else None)

    def _policy(self, name: str, version: int | None) -> Policy | None:
        """A parsed policy, cached per record version (None: no such policy)."""
        if name == RESPONSE_WRAPPING_POLICY_NAME:
            # Built in whatever storage holds (a record written before vaultlet knew the name).
            version = None
        cached = self._parsed.get((name, version))
        if cached is not None:
            return cached
        if name == RESPONSE_WRAPPING_POLICY_NAME:
            policy = parse_policy(name, RESPONSE_WRAPPING_POLICY_TEXT)
        elif version is None:
            if name != DEFAULT_POLICY_NAME:
                return None
            policy = parse_policy(name, DEFAULT_POLICY_TEXT)
        else:
            record, version = self.store.get_with_version(policy_key(name))
            if record is None or record.get(_DELETED):
                return None
            policy = parse_policy(name, record["policy"])
        with self._lock:
            # Older versions of this policy are dead weight from now on.
            for key in [key for key in self._parsed if key[0] == name]:
                del self._parsed[key]
            self._parsed[(name, version)] = policy
        return policy


def _check_and_set(
    current: dict | None, cas: int | None, cas_required: bool, *, required_by_record: bool = True
) -> None:
    """Vault's check-and-set rules for policy writes (OpenBao's messages). OpenBao lets a
    PATCH without ``cas`` through even when the policy requires it: so does vaultlet."""
    if cas is None:
        if cas_required or (required_by_record and current is not None and current["cas_required"]):
            raise UserError("check-and-set parameter required for this call")
        return
    if current is None:
        if cas not in (0, -1):
            raise UserError(f"check-and-set parameter {cas} did not match the current version 0")
        return
    if cas == -1:
        raise UserError("check-and-set parameter set to -1 on existing entry")
    if cas != current["version"]:
        raise UserError(
            f"check-and-set parameter {cas} did not match the current version {current['version']}"
        )


def scan_order(names) -> list[str]:
    """Names in the order Vault's storage scan yields them: a folder's own entries
    (sorted) first, then its sub-folders, the last sub-folder first (a depth-first
    walk with a stack), so ``team/b`` comes before ``team/a/x``."""
    tree: dict = {}
    for name in names:
        node = tree
        *folders, leaf = name.split("/")
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node.setdefault(leaf, None)
    ordered: list[str] = []
    stack = [("", tree)]
    while stack:
        prefix, node = stack.pop()
        for key in sorted(node):
            if key.endswith("/"):
                stack.append((prefix + key, node[key]))
            else:
                ordered.append(prefix + key)
    return ordered


def rfc3339_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


_TEMPLATE_FLAGS = {
    "allow_slashes_in_identity_templates": False,
    "allow_wildcards_in_identity_templates": False,
}

_ROOT_ACL = ACL([Policy(name=ROOT_POLICY_NAME, text="", rules=[])])
