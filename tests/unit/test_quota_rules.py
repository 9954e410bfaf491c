"""Rate-limit quota logic: which rule applies, exempt paths, and the counter's upsert on a
real SQLite database (window roll-over, refusals that do not use up the window, blocks)."""

from __future__ import annotations

from dataclasses import asdict
from types import SimpleNamespace

import pytest

from vaultlet.core.quotas import QuotaManager, QuotaSettings, RateLimitQuota
from vaultlet.storage.sql import SQLStorage
from vaultlet.telemetry import ttl_bucket

RULES = [
    RateLimitQuota("global", rate=100),
    RateLimitQuota("mount", path="aws/", mount="aws/", rate=50),
    RateLimitQuota("prefix", path="aws/creds/*", mount="aws/", rate=20),
    RateLimitQuota("longer-prefix", path="aws/creds/dep*", mount="aws/", rate=15),
    RateLimitQuota("exact", path="aws/creds/deploy", mount="aws/", rate=10),
    RateLimitQuota("login-role", path="auth/approle/", mount="auth/approle/", role="ci", rate=1),
]


class _RoleBackend:
    def __init__(self, role: str):
        self.role = role

    def login_role(self, request) -> str:
        return self.role


def _applicable(path: str, mount: str, mount_class: str = "secret", backend=None) -> str | None:
    manager = QuotaManager(SimpleNamespace())
    request = SimpleNamespace(path=path, data={})
    found = manager._applicable(request, mount, mount_class, backend, {q.name: asdict(q) for q in RULES})
    return found.name if found else None


@pytest.mark.parametrize(
    ("path", "mount", "expected"),
    [
        ("aws/creds/deploy", "aws/", "exact"),
        ("aws/creds/deployer", "aws/", "longer-prefix"),
        ("aws/creds/other", "aws/", "prefix"),
        ("aws/roles/deploy", "aws/", "mount"),
        ("sys/mounts", "sys/", "global"),
    ],
)
def test_the_most_specific_rule_applies(path, mount, expected):
    assert _applicable(path, mount) == expected


def test_a_role_rule_applies_to_logins_with_that_role_only():
    assert _applicable("auth/approle/login", "auth/approle/", "auth", _RoleBackend("ci")) == "login-role"
    assert _applicable("auth/approle/login", "auth/approle/", "auth", _RoleBackend("other")) == "global"


def test_exempt_paths_match_exactly_or_by_trailing_star():
    settings = QuotaSettings(rate_limit_exempt_paths=["sys/health", "sys/generate-root/*"])
    assert settings.exempt("sys/health")
    assert settings.exempt("sys/generate-root/attempt")
    assert not settings.exempt("sys/healthy")
    assert not settings.exempt("sys/mounts")


@pytest.fixture()
def storage(tmp_path):
    store = SQLStorage(f"sqlite:///{tmp_path}/quota.db")
    yield store
    store.close()


def _hit(storage, window: int, now: float, rate: float = 2, block: float = 0):
    return storage.quota_hit("q/127.0.0.1", window=window, now=now, rate=rate, block_seconds=block)


def test_a_window_allows_rate_requests_and_refusals_do_not_use_it_up(storage):
    assert [_hit(storage, 10, 10.1)[:2] for _ in range(4)] == [(1, True), (2, True), (2, False), (2, False)]
    assert _hit(storage, 11, 11.0)[:2] == (1, True)  # the next window starts afresh
    assert _hit(storage, 11, 11.5)[:2] == (2, True)


def test_block_interval_refuses_across_windows_until_it_ends(storage):
    _hit(storage, 10, 10.0, rate=1, block=3)
    hits, allowed, blocked_until = _hit(storage, 10, 10.2, rate=1, block=3)
    assert (allowed, blocked_until) == (False, pytest.approx(13.2))
    assert _hit(storage, 12, 12.0, rate=1, block=3)[1] is False
    assert _hit(storage, 14, 14.0, rate=1, block=3)[1] is True


def test_counters_of_a_deleted_rule_are_forgotten(storage):
    _hit(storage, 10, 10.0)
    storage.quota_forget("q/")
    assert _hit(storage, 10, 10.0)[:2] == (1, True)


@pytest.mark.parametrize(
    ("ttl", "bucket"), [(0, "+Inf"), (60, "1m"), (61, "10m"), (1800, "1h"), (86400, "1d"), (10**8, "+Inf")]
)
def test_token_creation_ttl_buckets_are_vaults(ttl, bucket):
    assert ttl_bucket(ttl) == bucket
