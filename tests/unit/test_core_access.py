"""The core's access-control and audit contract, driven in process against real SQLite storage.

The HTTP tests show the behaviour end to end; these pin down the parts that are hard to
provoke over HTTP: a response the audit devices refuse after the backend already ran (the
credential and the token it created must be gone before the client hears 500), and the
compiled-ACL cache following policy writes and rule expirations.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from vaultlet.core.core import Core, CoreConfig
from vaultlet.engines import registry
from vaultlet.errors import InternalError
from vaultlet.framework.backend import Backend, SecretType
from vaultlet.framework.path import Path
from vaultlet.framework.request import LIST, READ, UPDATE, LeaseRequest, Request, Response

ISSUED: list[str] = []
REVOKED: list[str] = []


def _issue(backend, request, fields) -> Response:
    serial = f"cred-{len(ISSUED)}"
    ISSUED.append(serial)
    return Response(
        data={"password": "p"}, secret=LeaseRequest(secret_type="cred", internal={"serial": serial})
    )


def _revoke(backend, lease) -> None:
    REVOKED.append(lease.internal["serial"])


class LeasingBackend(Backend):
    """A stand-in engine whose credentials are leased, and whose revocations we can see."""

    paths = [Path(pattern="creds", operations={READ: _issue})]
    secret_types = [SecretType(name="cred", revoke=_revoke)]


@pytest.fixture()
def core(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.SECRET_ENGINES, "leasing", f"{__name__}:LeasingBackend")
    ISSUED.clear()
    REVOKED.clear()
    instance = Core(CoreConfig(storage_url=f"sqlite:///{tmp_path}/vaultlet.db"))
    instance.initialize(root_token_id="root")
    call(
        instance,
        UPDATE,
        "sys/audit/file",
        {"type": "file", "options": {"file_path": str(tmp_path / "a.log")}},
    )
    call(instance, UPDATE, "sys/mounts/leasing", {"type": "leasing"})
    yield instance
    instance.close()


def call(
    core: Core, operation: str, path: str, data: dict | None = None, token: str | None = "root"
) -> Response:
    request = Request(operation=operation, path=path, data=dict(data or {}), client_token=token)
    request.remote_addr = "127.0.0.1"
    return core.handle(request)


def refuse_to_record(core: Core, monkeypatch, side: str, path: str) -> None:
    """Make every audit device fail on ``side`` ("request" or "response") for one path."""
    original = getattr(core.audit, f"log_{side}")

    def failing(request, *args, **kwargs):
        if request.path == path:
            raise InternalError("internal error")
        return original(request, *args, **kwargs)

    monkeypatch.setattr(core.audit, f"log_{side}", failing)


def test_an_unrecorded_response_revokes_its_lease_before_answering(core, monkeypatch):
    refuse_to_record(core, monkeypatch, "response", "leasing/creds")
    with pytest.raises(InternalError):
        call(core, READ, "leasing/creds")
    assert ISSUED == ["cred-0"] and REVOKED == ["cred-0"]  # synchronously, not left to the sweeper
    assert core.storage.lease_ids("leasing/") == []


def test_an_unrecorded_request_never_reaches_the_backend(core, monkeypatch):
    refuse_to_record(core, monkeypatch, "request", "leasing/creds")
    with pytest.raises(InternalError):
        call(core, READ, "leasing/creds")
    assert ISSUED == []


@pytest.mark.parametrize("how", ["token create", "approle login"])
def test_a_token_minted_for_an_unrecorded_response_is_revoked(core, monkeypatch, how):
    call(core, UPDATE, "sys/auth/approle", {"type": "approle"})
    call(core, UPDATE, "auth/approle/role/app", {"token_policies": "default"})
    role_id = call(core, READ, "auth/approle/role/app/role-id").data["role_id"]
    secret_id = call(core, UPDATE, "auth/approle/role/app/secret-id").data["secret_id"]
    before = core.tokens.accessors()
    if how == "token create":
        path, data, token = "auth/token/create", {"policies": ["default"]}, "root"
    else:
        path, data, token = "auth/approle/login", {"role_id": role_id, "secret_id": secret_id}, None
    refuse_to_record(core, monkeypatch, "response", path)
    with pytest.raises(InternalError):
        call(core, UPDATE, path, data, token=token)
    assert core.tokens.accessors() == before


def test_compiled_acls_follow_policy_writes_and_rule_expiry(core):
    call(core, UPDATE, "sys/policies/acl/reader", {"policy": 'path "leasing/*" { capabilities = ["read"] }'})
    token = call(core, UPDATE, "auth/token/create", {"policies": ["reader"]}).auth["client_token"]
    assert call(core, READ, "leasing/creds", token=token).data == {"password": "p"}
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    text = f'path "leasing/*" {{ capabilities = ["list"] \n expiration = "{soon}" }}'
    call(core, UPDATE, "sys/policies/acl/reader", {"policy": text})
    acl = core.policies.acl(["default", "reader"])
    assert acl.capabilities("leasing/creds") == ["list"]
    assert core.policies.acl(["default", "reader"]) is acl  # reused while nothing changed
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and acl is core.policies.acl(["default", "reader"]):
        time.sleep(0.05)  # recompiled once the rule's expiration passed
    assert core.policies.acl(["default", "reader"]).capabilities("leasing/x") == ["deny"]
    assert call(core, LIST, "sys/policies/acl/").data["keys"] == ["default", "reader", "root"]


def test_a_deleted_and_recreated_policy_is_never_served_from_a_stale_cache(core):
    call(core, UPDATE, "sys/policies/acl/p", {"policy": 'path "leasing/*" { capabilities = ["read"] }'})
    assert core.policies.acl(["p"]).capabilities("leasing/creds") == ["read"]
    call(core, "delete", "sys/policies/acl/p")
    assert core.policies.acl(["p"]).capabilities("leasing/creds") == ["deny"]
    assert "p" not in call(core, LIST, "sys/policies/acl/").data["keys"]
    call(core, UPDATE, "sys/policies/acl/p", {"policy": 'path "leasing/*" { capabilities = ["list"] }'})
    assert core.policies.acl(["p"]).capabilities("leasing/creds") == ["list"]
