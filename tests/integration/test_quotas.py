"""Rate-limit quotas: Vault's 429 and headers under a real burst, counted on the shared
database so that the limit holds across gunicorn workers and across two servers on
one SQLite file; sys/quotas shapes compared with OpenBao's."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support.access import ok
from support.aws_engine import S3_GET_ONLY_POLICY, mount_aws
from support.processes import http, start_vaultlet_dev, start_vaultlet_production

EXCEEDED = {"errors": ['request path "aws/creds/demo": rate limit quota exceeded']}
RATE = 5
BURST = 50


def _get(server, path: str, token: str | None = None) -> requests.Response:
    return requests.get(
        f"{server.address}/v1/{path}", headers={"X-Vault-Token": token or server.root_token}, timeout=60
    )


def _at_window_start() -> None:
    """Begin a burst just after a whole second, so that it spans as few windows as possible."""
    time.sleep(1 - (time.time() % 1) + 0.01)


def _burst(servers, path: str, count: int = BURST) -> tuple[list[requests.Response], int]:
    """``count`` requests spread over ``servers`` as fast as 10 clients can; (answers, windows spanned)."""
    _at_window_start()
    started = time.time()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda i: _get(servers[i % len(servers)], path), range(count)))
    windows = math.floor(time.time()) - math.floor(started) + 1
    return answers, windows


def _configure(server, moto) -> None:
    mount_aws(server, moto, http, path="aws")
    ok(
        http(
            server,
            "POST",
            "aws/roles/demo",
            {"credential_type": "federation_token", "policy_document": S3_GET_ONLY_POLICY},
        )
    )
    ok(http(server, "POST", "sys/quotas/config", {"enable_rate_limit_response_headers": True}))
    ok(http(server, "POST", "sys/quotas/rate-limit/demo", {"rate": RATE, "path": "aws/creds/demo"}))


@pytest.fixture()
def two_workers(tmp_path):
    server = start_vaultlet_production(tmp_path, workers=2)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request, tmp_path):
    """Two server processes (two workers each) on one database: a SQLite file, or
    PostgreSQL as several hosts would share it."""
    url = "" if request.param == "sqlite" else request.getfixturevalue("postgres").new_database()
    first = start_vaultlet_production(tmp_path, workers=2, name="first", storage_url=url)
    second = start_vaultlet_production(
        tmp_path, workers=2, name="second", root_token=first.root_token, storage_url=url
    )
    yield first, second
    first.stop()
    second.stop()


def test_a_burst_gets_429s_with_vaults_headers_and_other_paths_are_not_throttled(two_workers, moto):
    server = two_workers
    _configure(server, moto)
    answers, windows = _burst([server], "aws/creds/demo")
    allowed = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(allowed) + len(refused) == BURST, {a.status_code for a in answers}
    assert RATE <= len(allowed) <= RATE * windows
    for answer in refused:
        assert answer.json() == EXCEEDED
        assert answer.headers["X-Ratelimit-Limit"] == str(RATE)
        assert answer.headers["X-Ratelimit-Remaining"] == "0"
        assert 0 <= int(answer.headers["Retry-After"]) <= 1
        assert 0 <= int(answer.headers["X-Ratelimit-Reset"]) <= 1
    for answer in allowed:
        assert answer.json()["data"]["access_key"]
        assert 0 <= int(answer.headers["X-Ratelimit-Remaining"]) < RATE
    # The same client, at once, elsewhere: no quota applies, no header, no refusal.
    others = [_get(server, path) for path in ["aws/roles/demo", "sys/mounts", "aws/config/root"] * 5]
    assert [a.status_code for a in others] == [200] * 15
    assert not any("X-Ratelimit-Limit" in a.headers for a in others)
    # And the next window lets the quota's path through again.
    time.sleep(1.1)
    assert _get(server, "aws/creds/demo").status_code == 200


def test_the_limit_holds_across_two_servers_on_one_database(shared, moto):
    first, second = shared
    _configure(first, moto)
    answers, windows = _burst([first, second], "aws/creds/demo")
    allowed = sum(1 for a in answers if a.status_code == 200)
    # Each server alone would let RATE per window through; together they still let only RATE.
    assert RATE <= allowed <= RATE * windows
    assert sum(1 for a in answers if a.status_code == 429) == BURST - allowed
    assert {a.status_code for a in answers[1::2]} >= {429}  # the second server refuses too


def test_block_interval_keeps_refusing_after_the_window_and_refusals_are_audited(tmp_path):
    server = start_vaultlet_dev(tmp_path / "server")
    audit_log = tmp_path / "audit.log"
    try:
        ok(http(server, "PUT", "sys/audit/file", {"type": "file", "options": {"file_path": str(audit_log)}}))
        ok(
            http(
                server,
                "POST",
                "sys/quotas/config",
                {
                    "enable_rate_limit_response_headers": True,
                    "enable_rate_limit_audit_logging": True,
                    "rate_limit_exempt_paths": ["sys/health", "sys/seal-status"],  # a write replaces them all
                },
            )
        )
        ok(
            http(
                server,
                "POST",
                "sys/quotas/rate-limit/strict",
                {"rate": 1, "path": "sys/mounts", "block_interval": "3s"},
            )
        )
        _at_window_start()
        assert _get(server, "sys/mounts").status_code == 200
        assert _get(server, "sys/mounts").status_code == 429
        time.sleep(1.2)  # a new window, but the client is blocked
        blocked = _get(server, "sys/mounts")
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= 3
        entries = [json.loads(line) for line in audit_log.read_text().splitlines()]
        refusals = [
            e
            for e in entries
            if e["type"] == "response" and "rate limit quota exceeded" in e.get("error", "")
        ]
        assert [e["request"]["path"] for e in refusals] == ["sys/mounts", "sys/mounts"]
        # Exempt paths are never limited, even by a global quota of 1 request per second.
        ok(http(server, "POST", "sys/quotas/rate-limit/global", {"rate": 1}))
        _at_window_start()
        assert [_get(server, "sys/health").status_code for _ in range(5)] == [200] * 5
        assert [_get(server, "sys/policies/acl").status_code for _ in range(3)][1:] == [429, 429]
    finally:
        server.stop()


def test_a_role_quota_limits_logins_with_that_role_only(tmp_path):
    server = start_vaultlet_dev(tmp_path)
    try:
        ok(http(server, "POST", "sys/auth/approle", {"type": "approle"}))
        credentials = {}
        for role in ("limited", "free"):
            ok(http(server, "POST", f"auth/approle/role/{role}", {"token_policies": "default"}))
            role_id = ok(http(server, "GET", f"auth/approle/role/{role}/role-id"))["data"]["role_id"]
            secret_id = ok(http(server, "POST", f"auth/approle/role/{role}/secret-id"))["data"]["secret_id"]
            credentials[role] = {"role_id": role_id, "secret_id": secret_id}
        ok(
            http(
                server,
                "POST",
                "sys/quotas/rate-limit/logins",
                {"rate": 1, "interval": "10s", "path": "auth/approle", "role": "limited"},
            )
        )
        statuses = {
            role: [http(server, "POST", "auth/approle/login", body, token=None)[0] for _ in range(3)]
            for role, body in credentials.items()
        }
        assert statuses == {"limited": [200, 429, 429], "free": [200, 200, 200]}
    finally:
        server.stop()


# -- differential: the endpoints' shapes against OpenBao -----------------------------
#
# Deliberate differences: none in the answers compared here. OpenBao lists quota names
# in map order; vaultlet sorts them (the test compares sets).


def _exchange(server, mount: str) -> list:
    """The same calls against either server; what each answered, without request ids."""
    answers = []

    def call(method, path, body=None):
        status, parsed, _ = http(server, method, path, body)
        if isinstance(parsed, dict):
            parsed = {k: v for k, v in parsed.items() if k in ("data", "errors")}
            if isinstance(parsed.get("data"), dict) and "keys" in parsed["data"]:
                parsed["data"]["keys"] = sorted(parsed["data"]["keys"])
        answers.append((method, path, status, parsed))

    call("GET", "sys/quotas/config")
    call("POST", f"sys/quotas/rate-limit/{mount}-a", {"rate": 5, "path": f"{mount}"})
    call("GET", f"sys/quotas/rate-limit/{mount}-a")
    call("POST", f"sys/quotas/rate-limit/{mount}-b", {"rate": 2.5, "interval": "2s", "path": f"{mount}/x/*"})
    call("GET", f"sys/quotas/rate-limit/{mount}-b")
    call("POST", f"sys/quotas/rate-limit/{mount}-c", {"rate": 5, "path": f"{mount}/"})
    call("POST", f"sys/quotas/rate-limit/{mount}-d", {"rate": 0, "path": f"{mount}/y"})
    call("POST", f"sys/quotas/rate-limit/{mount}-d", {"rate": 1, "path": "no-such-mount/"})
    call("POST", f"sys/quotas/rate-limit/{mount}-d", {"rate": 1, "path": f"{mount}/", "role": "r"})
    call("POST", f"sys/quotas/rate-limit/{mount}-d", {"rate": 1, "path": "auth/token/", "role": "r"})
    call("POST", f"sys/quotas/rate-limit/{mount}-d", {"rate": 1, "path": "auth/token/create", "role": "r"})
    call(
        "POST", f"sys/quotas/rate-limit/{mount}-d", {"rate": 1, "block_interval": "1m", "path": f"{mount}/z"}
    )
    call("GET", f"sys/quotas/rate-limit/{mount}-d")
    call("LIST", "sys/quotas/rate-limit")
    for name in ("a", "b", "d"):
        call("DELETE", f"sys/quotas/rate-limit/{mount}-{name}")
    call("GET", f"sys/quotas/rate-limit/{mount}-a")
    call("DELETE", f"sys/quotas/rate-limit/{mount}-a")
    call("LIST", "sys/quotas/rate-limit")
    call("POST", "sys/quotas/config", {"enable_rate_limit_response_headers": True})
    call("GET", "sys/quotas/config")
    call("POST", "sys/quotas/config", {"rate_limit_exempt_paths": ["sys/health", "auth/token/lookup-self"]})
    call("GET", "sys/quotas/config")
    return answers


def _limited(server, mount: str) -> tuple[int, dict, set[str]]:
    """Over a quota of 1 per 10 s: the 429's body and Vault's header names."""
    ok(http(server, "POST", "sys/quotas/config", {"enable_rate_limit_response_headers": True}))
    ok(
        http(
            server,
            "POST",
            f"sys/quotas/rate-limit/{mount}-e",
            {"rate": 1, "interval": "10s", "path": f"{mount}/"},
        )
    )
    try:
        _get(server, f"{mount}/anything")
        refused = _get(server, f"{mount}/anything")
        names = {n for n in refused.headers if n.lower().startswith(("x-ratelimit", "retry-after"))}
        return refused.status_code, refused.json(), {n.lower() for n in names}
    finally:
        http(server, "DELETE", f"sys/quotas/rate-limit/{mount}-e")
        http(server, "POST", "sys/quotas/config", {"rate_limit_exempt_paths": _DEFAULT_EXEMPT})


_DEFAULT_EXEMPT = [
    "sys/generate-recovery-token/attempt",
    "sys/generate-recovery-token/update",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
]


def test_quota_endpoints_answer_like_openbao(tmp_path, openbao):
    vaultlet = start_vaultlet_dev(tmp_path)
    mount = "quota-kv"
    try:
        results = {}
        for name, server in (("vaultlet", vaultlet), ("openbao", openbao)):
            ok(http(server, "POST", f"sys/mounts/{mount}", {"type": "kv"}))
            try:
                results[name] = (_exchange(server, mount), _limited(server, mount))
            finally:
                http(server, "DELETE", f"sys/quotas/rate-limit/{mount}-c")
                http(server, "POST", "sys/quotas/config", {"rate_limit_exempt_paths": _DEFAULT_EXEMPT})
                http(server, "DELETE", f"sys/mounts/{mount}")
        ours, theirs = results["vaultlet"], results["openbao"]
        for mine, reference in zip(ours[0], theirs[0], strict=True):
            assert mine == reference
        assert ours[1] == theirs[1]
        assert ours[1][0] == 429
        assert ours[1][1] == {"errors": [f'request path "{mount}/anything": rate limit quota exceeded']}
        assert ours[1][2] == {
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "retry-after",
        }
    finally:
        vaultlet.stop()
