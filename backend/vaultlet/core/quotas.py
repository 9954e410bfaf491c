"""Rate-limit quotas (Vault's ``sys/quotas``), counted on the shared database.

The quota rules and their settings are one encrypted record (``core/quotas``), read
through the store's version-checked cache, so a request costs one small version
query to learn whether any rule changed. Only a request that a rule applies to
pays for a counter: one atomic upsert on the ``vault_quota_counters`` row of its
(rule, client address), which is what makes the limit hold across worker
processes and across servers sharing a PostgreSQL database.

The counter is a fixed window aligned on the epoch (``floor(now / interval)``),
as Vault's limiter refills a client's bucket once per interval; a refused request
does not use up the window. With ``block_interval``, the first refusal blocks the
client for that long.

The rule applied to a request is the most specific one, in Vault's order: a role
rule of the login's auth mount, a rule for the exact path, the longest ``path/*``
rule, the mount's rule, then the global rule (``path = ""``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from vaultlet import telemetry
from vaultlet.core.mounts import AUTH_CLASS
from vaultlet.errors import VaultError

if TYPE_CHECKING:
    from vaultlet.core.core import Core
    from vaultlet.framework.request import Request

QUOTAS_KEY = "core/quotas"
RATE_LIMIT = "rate-limit"
# Vault's default rate_limit_exempt_paths.
DEFAULT_EXEMPT_PATHS = [
    "sys/generate-recovery-token/attempt",
    "sys/generate-recovery-token/update",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
]


class RateLimited(VaultError):
    status = 429


@dataclass
class RateLimitQuota:
    name: str
    path: str = ""  # "" (global), a mount ("aws/"), or a path under one ("aws/creds/demo", "aws/creds/*")
    mount: str = ""  # the mount part of path
    role: str = ""
    rate: float = 0.0
    interval: int = 1
    block_interval: int = 0
    inheritable: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "block_interval": self.block_interval,
            "inheritable": self.inheritable,
            "interval": self.interval,
            "name": self.name,
            "path": self.path,
            "rate": int(self.rate) if float(self.rate).is_integer() else self.rate,
            "role": self.role,
            "type": RATE_LIMIT,
        }

    @property
    def suffix(self) -> str:
        return self.path[len(self.mount) :]


@dataclass
class QuotaSettings:
    enable_rate_limit_response_headers: bool = False
    enable_rate_limit_audit_logging: bool = False
    rate_limit_exempt_paths: list[str] = field(default_factory=lambda: list(DEFAULT_EXEMPT_PATHS))

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def exempt(self, path: str) -> bool:
        trimmed = path.strip("/")
        for exempt in self.rate_limit_exempt_paths:
            exempt = exempt.strip("/")
            if trimmed == exempt or (exempt.endswith("*") and trimmed.startswith(exempt[:-1])):
                return True
        return False


@dataclass
class Decision:
    quota: RateLimitQuota
    allowed: bool
    remaining: int
    reset_seconds: int


class QuotaManager:
    def __init__(self, core: Core):
        self.core = core

    # -- the stored rules ----------------------------------------------------

    def _record(self) -> dict[str, Any]:
        return self.core.store.cached(QUOTAS_KEY) or {}

    def settings(self) -> QuotaSettings:
        return QuotaSettings(**self._record().get("config", {}))

    def quotas(self) -> dict[str, RateLimitQuota]:
        return {name: RateLimitQuota(**q) for name, q in self._record().get("rate_limit", {}).items()}

    def save_settings(self, settings: QuotaSettings) -> None:
        self._update(lambda record: {**record, "config": asdict(settings)})

    def save_quota(self, quota: RateLimitQuota) -> None:
        def change(record: dict[str, Any]) -> dict[str, Any]:
            rules = dict(record.get("rate_limit", {}))
            rules[quota.name] = asdict(quota)
            return {**record, "rate_limit": rules}

        self._update(change)

    def delete_quota(self, name: str) -> None:
        def change(record: dict[str, Any]) -> dict[str, Any]:
            rules = {k: v for k, v in record.get("rate_limit", {}).items() if k != name}
            return {**record, "rate_limit": rules}

        self._update(change)
        self.core.storage.quota_forget(name + "/")  # names hold no "/"

    def move_mount(self, old_path: str, new_path: str) -> None:
        """A remounted mount keeps its quotas, as Vault's: rules naming the old mount (or
        a path under it) name the new one."""

        def change(record: dict[str, Any]) -> dict[str, Any]:
            rules = {}
            for name, rule in record.get("rate_limit", {}).items():
                if rule.get("mount") == old_path:
                    rule = {**rule, "mount": new_path, "path": new_path + rule["path"][len(old_path) :]}
                rules[name] = rule
            return {**record, "rate_limit": rules}

        self._update(change)

    def _update(self, change) -> None:
        """Compare-and-set, so that writes from several processes are never lost."""
        store = self.core.store
        for _attempt in range(50):
            record, version = store.get_with_version(QUOTAS_KEY)
            if store.put_if_version(QUOTAS_KEY, change(record or {}), version):
                return
        raise VaultError("internal error")

    # -- enforcement ---------------------------------------------------------

    def enforce(self, request: Request, mount_path: str, mount_class: str, backend) -> None:
        """Count the request against the rule that applies to it; 429 over the limit."""
        record = self._record()
        rules = record.get("rate_limit")
        if not rules:
            return
        settings = QuotaSettings(**record.get("config", {}))
        if settings.exempt(request.path):
            return
        quota = self._applicable(request, mount_path, mount_class, backend, rules)
        if quota is None:
            return
        decision = self._count(quota, request.remote_addr)
        if settings.enable_rate_limit_response_headers:
            request.response_headers.update(_headers(decision))
        if decision.allowed:
            return
        telemetry.quota_violated(quota.name)
        error = RateLimited(f"request path {_go_quote(request.path)}: rate limit quota exceeded")
        if settings.enable_rate_limit_audit_logging:
            self.core.audit.log_rejected(request, error)
        raise error

    def _applicable(
        self, request: Request, mount_path: str, mount_class: str, backend, rules: dict[str, Any]
    ) -> RateLimitQuota | None:
        path = request.path.rstrip("/")
        best: tuple[tuple[int, int], RateLimitQuota] | None = None
        role: str | None = None
        for record in rules.values():
            quota = RateLimitQuota(**record)
            rank: tuple[int, int] | None = None
            if quota.role:
                if quota.mount == mount_path and mount_class == AUTH_CLASS and backend is not None:
                    if role is None:
                        role = backend.login_role(request) or ""
                    if role == quota.role:
                        rank = (0, 0)
            elif not quota.path:
                rank = (4, 0)
            elif quota.path == mount_path:
                rank = (3, 0)
            elif quota.path.endswith("*"):
                if path.startswith(quota.path[:-1]):
                    rank = (2, -len(quota.path))
            elif quota.path.rstrip("/") == path:
                rank = (1, 0)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, quota)
        return best[1] if best else None

    def _count(self, quota: RateLimitQuota, client: str) -> Decision:
        now = time.time()
        interval = max(quota.interval, 1)
        window = math.floor(now / interval)
        hits, allowed, blocked_until = self.core.storage.quota_hit(
            f"{quota.name}/{client}",
            window=window,
            now=now,
            rate=quota.rate,
            block_seconds=quota.block_interval,
        )
        reset = blocked_until - now if blocked_until > now else (window + 1) * interval - now
        remaining = max(0, int(quota.rate) - hits) if allowed else 0
        return Decision(quota, allowed, remaining, int(reset))


def _headers(decision: Decision) -> dict[str, str]:
    headers = {
        "X-Ratelimit-Limit": str(int(decision.quota.rate)),
        "X-Ratelimit-Remaining": str(decision.remaining),
        "X-Ratelimit-Reset": str(decision.reset_seconds),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.reset_seconds)
    return headers


def _go_quote(text: str) -> str:
    """Go's %q for a request path (printable ASCII: the same as a JSON string)."""
    return json.dumps(text)
