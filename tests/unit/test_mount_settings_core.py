"""Mount settings the core applies around a backend, driven in process on real SQLite storage.

No built-in engine reads request headers or sets response headers of its own, so these
pin down what a mount's ``passthrough_request_headers`` and ``allowed_response_headers``
do with a stand-in engine that shows both: a backend sees only the headers its mount
passes through (never the token), and a client sees only the backend headers the mount
allows. The hashing of ``audit_non_hmac_*_keys`` is pinned here too; the HTTP tests compare
it with OpenBao's audit log.
"""

from __future__ import annotations

import pytest

from vaultlet.core.audit.entry import Hasher
from vaultlet.core.core import Core, CoreConfig, filtered_headers
from vaultlet.engines import registry
from vaultlet.framework.backend import Backend, SecretType
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, LeaseRequest, Request, Response

SEEN: list[dict[str, str]] = []


def _echo(backend, request, fields) -> Response:
    SEEN.append(dict(request.headers))
    return Response(data={"ok": True}, headers={"X-Answer": "42", "X-Other": "no", "Set-Cookie": "c=1"})


class HeaderBackend(Backend):
    paths = [Path(pattern="echo", operations={READ: _echo})]


@pytest.fixture()
def core(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.SECRET_ENGINES, "headers", f"{__name__}:HeaderBackend")
    SEEN.clear()
    instance = Core(CoreConfig(storage_url=f"sqlite:///{tmp_path}/vaultlet.db"))
    instance.initialize(root_token_id="root")
    yield instance
    instance.close()


def call(core: Core, operation: str, path: str, data=None, headers=None) -> Request:
    request = Request(
        operation=operation, path=path, data=data or {}, client_token="root", headers=headers or {}
    )
    core.handle(request)
    return request


HEADERS = {"X-Custom": "1", "x-vault-token": "root", "Accept": "text/plain", "X-Forwarded-For": "10.0.0.1"}


def test_a_backend_sees_no_headers_unless_its_mount_passes_them(core):
    call(core, UPDATE, "sys/mounts/h", {"type": "headers"})
    answered = call(core, READ, "h/echo", headers=HEADERS)
    assert SEEN[-1] == {}
    assert answered.response_headers == {}  # nor does the client see the backend's own headers

    call(
        core,
        UPDATE,
        "sys/mounts/h/tune",
        {"passthrough_request_headers": "x-custom, X-Vault-Token", "allowed_response_headers": ["x-answer"]},
    )
    answered = call(core, READ, "h/echo", headers=HEADERS)
    assert SEEN[-1] == {"X-Custom": "1"}  # case-insensitive, sender's spelling, never the token
    assert answered.response_headers == {"X-Answer": "42"}


def test_sys_passes_accept_only(core):
    request = call(core, READ, "sys/mounts", headers=HEADERS)
    assert request.headers == {"Accept": "text/plain"}


def test_filtered_headers_is_vaults():
    assert filtered_headers({"A": "1", "b": "2"}, []) == {}
    assert filtered_headers({"A": "1", "b": "2"}, ["a", "B", "c"]) == {"A": "1", "b": "2"}
    assert filtered_headers({"X-Vault-Token": "t"}, ["x-vault-token"], ("x-vault-token",)) == {}


def test_non_hmac_keys_follow_the_nearest_map_key():
    hasher = Hasher(b"salt")
    data = {"plain": ["a", {"z": "q"}, 3], "outer": {"plain": "deep", "k": "h"}, "Plain": "case", "n": None}
    hashed = hasher.structure(data, frozenset({"plain"}))
    assert hashed["plain"][0] == "a" and hashed["plain"][2] == 3
    assert hashed["plain"][1]["z"].startswith("hmac-sha256:")  # a nested map has its own keys
    assert hashed["outer"] == {"k": hasher("h"), "plain": "deep"}
    assert hashed["Plain"] == hasher("case") and hashed["n"] is None  # case-sensitive
    assert hasher.structure(data) == hasher.structure(data, frozenset())
    assert hasher.structure({"plain": "v"})["plain"] == hasher("v")


REFUSING: list[str] = []


def _issue(backend, request, fields) -> Response:
    return Response(data={"password": "p"}, secret=LeaseRequest(secret_type="cred", internal={}))


def _revoke(backend, lease) -> None:
    if REFUSING:
        raise RuntimeError("the cloud said no")


class LeasingBackend(Backend):
    paths = [Path(pattern="creds", operations={READ: _issue})]
    secret_types = [SecretType(name="cred", revoke=_revoke)]


def test_a_move_whose_leases_cannot_be_revoked_fails_and_leaves_the_mount(core, monkeypatch):
    monkeypatch.setitem(registry.SECRET_ENGINES, "leasing", f"{__name__}:LeasingBackend")
    call(core, UPDATE, "sys/mounts/lease", {"type": "leasing"})
    lease_id = core.handle(Request(operation=READ, path="lease/creds", client_token="root")).lease_id
    REFUSING.append("yes")
    try:
        moved = core.handle(
            Request(
                operation=UPDATE,
                path="sys/remount",
                data={"from": "lease", "to": "moved"},
                client_token="root",
            )
        )
    finally:
        REFUSING.clear()
    migration = moved.data["migration_id"]
    status = core.handle(Request(operation=READ, path=f"sys/remount/status/{migration}", client_token="root"))
    assert status.data["migration_info"] == {
        "source_mount": "lease/",
        "target_mount": "moved/",
        "status": "failure",
    }
    assert [e.full_path for e in core.router.all_entries() if e.type == "leasing"] == ["lease/"]
    assert core.expiration.get(lease_id) is not None  # still there, still the sweeper's to retry
