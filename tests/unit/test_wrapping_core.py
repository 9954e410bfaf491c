"""Response wrapping inside the core, in process against real SQLite storage: what is hard to
provoke over HTTP (an audit device refusing a wrapped answer, the sweeper reaching an expired
wrapping token) and what must hold for the credentials a wrapped answer carries."""

from __future__ import annotations

import time

import pytest

from vaultlet.core.core import Core, CoreConfig
from vaultlet.core.tokens import CUBBYHOLE_PREFIX
from vaultlet.engines import registry
from vaultlet.errors import InternalError
from vaultlet.framework.backend import Backend, SecretType
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, LeaseRequest, Request, Response

ISSUED: list[str] = []
REVOKED: list[str] = []


def _issue(backend, request, fields) -> Response:
    serial = f"cred-{len(ISSUED)}"
    ISSUED.append(serial)
    return Response(
        data={"password": serial}, secret=LeaseRequest(secret_type="cred", internal={"serial": serial})
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
    core: Core, operation: str, path: str, data=None, token: str | None = "root", wrap_ttl=0
) -> Response:
    request = Request(
        operation=operation, path=path, data=dict(data or {}), client_token=token, wrap_ttl=wrap_ttl
    )
    request.remote_addr = "127.0.0.1"
    return core.handle(request)


def _cubbyholes(core: Core) -> list[str]:
    return core.store.keys(CUBBYHOLE_PREFIX)


def test_an_unrecorded_wrapped_answer_leaves_neither_its_lease_nor_its_wrapping_token(core, monkeypatch):
    before = core.tokens.accessors()
    original = core.audit.log_response

    def refusing(request, response, *args, **kwargs):
        if request.path == "leasing/creds":
            raise InternalError("internal error")
        return original(request, response, *args, **kwargs)

    monkeypatch.setattr(core.audit, "log_response", refusing)
    with pytest.raises(InternalError):
        call(core, READ, "leasing/creds", wrap_ttl=60)
    assert REVOKED == ["cred-0"] and core.storage.lease_ids("leasing/") == []
    assert core.tokens.accessors() == before and _cubbyholes(core) == []


def test_the_sweeper_removes_an_expired_wrapping_token_and_its_cubbyhole(core):
    wrapped = call(core, UPDATE, "sys/wrapping/wrap", {"a": "b"}, wrap_ttl=1)
    assert len(_cubbyholes(core)) == 2  # the response and its wrap info
    time.sleep(1.2)
    core.expiration.sweep_once()
    assert _cubbyholes(core) == []
    assert core.tokens.lookup(wrapped.wrap_info.token) is None


def test_a_wrapped_credential_stays_leased_to_the_caller(core):
    call(core, UPDATE, "sys/policies/acl/reader", {"policy": 'path "leasing/*" { capabilities = ["read"] }'})
    reader = call(core, UPDATE, "auth/token/create", {"policies": ["reader"]}).auth["client_token"]
    wrapped = call(core, READ, "leasing/creds", token=reader, wrap_ttl=60)
    assert wrapped.data is None and wrapped.lease_id == "" and wrapped.wrap_info.token
    unwrapped = call(core, UPDATE, "sys/wrapping/unwrap", token=wrapped.wrap_info.token)
    lease_id = unwrapped.raw["lease_id"]
    assert unwrapped.raw["data"] == {"password": "cred-0"} and core.expiration.get(lease_id) is not None
    call(core, UPDATE, "auth/token/revoke", {"token": reader})  # the lease goes with its token
    assert REVOKED == ["cred-0"] and core.expiration.get(lease_id) is None
