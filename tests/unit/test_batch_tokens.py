"""Batch tokens in process, against real SQLite storage: what the HTTP tests cannot see.

A batch token is never written anywhere: the token is its own (encrypted, authenticated)
record. Its leases are tied to its parent (an orphan's only expire), and they end when it
does. The HTTP behaviour, compared with OpenBao, is in tests/integration/test_tokens_differential.py.
"""

from __future__ import annotations

import base64
import time

import pytest

from vaultlet.core.core import Core, CoreConfig
from vaultlet.core.tokens import BATCH_PREFIX, TokenRequest
from vaultlet.engines import registry
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework.backend import Backend, SecretType
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, LeaseRequest, Request, Response

REVOKED: list[str] = []


def _issue(backend, request, fields) -> Response:
    return Response(
        data={"password": "p"}, secret=LeaseRequest(secret_type="cred", internal={}, ttl=3600, max_ttl=7200)
    )


class LeasingBackend(Backend):
    paths = [Path(pattern="creds", operations={READ: _issue})]
    secret_types = [SecretType(name="cred", revoke=lambda backend, lease: REVOKED.append(lease.lease_id))]


@pytest.fixture()
def core(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.SECRET_ENGINES, "leasing", f"{__name__}:LeasingBackend")
    REVOKED.clear()
    instance = Core(CoreConfig(storage_url=f"sqlite:///{tmp_path}/vaultlet.db"))
    instance.initialize(root_token_id="root")
    call(instance, UPDATE, "sys/mounts/leasing", {"type": "leasing"})
    call(
        instance,
        UPDATE,
        "sys/policies/acl/reader",
        {"policy": 'path "leasing/*" { capabilities = ["read"] }'},
    )
    yield instance
    instance.close()


def call(core: Core, operation: str, path: str, data: dict | None = None, token: str | None = "root"):
    request = Request(operation=operation, path=path, data=dict(data or {}), client_token=token)
    request.remote_addr = "127.0.0.1"
    return core.handle(request)


def create(core: Core, token: str = "root", **body) -> dict:
    return call(core, UPDATE, "auth/token/create", {"policies": ["reader"], **body}, token).auth


def stored_keys(core: Core) -> set[str]:
    return set(core.store.keys(""))


def test_a_batch_token_is_not_stored(core):
    before = stored_keys(core)
    auth = create(core, type="batch", ttl="1h")
    assert auth["client_token"].startswith(BATCH_PREFIX) and auth["accessor"] == ""
    assert stored_keys(core) == before
    assert not any(core.tokens.hash(auth["client_token"]) in lease for lease in core.storage.lease_ids(""))
    entry = core.tokens.lookup(auth["client_token"])
    assert entry is not None and entry.type == "batch" and entry.policies == ["default", "reader"]
    assert stored_keys(core) == before  # a lookup writes nothing either


def test_a_tampered_or_foreign_batch_token_is_refused(core, tmp_path):
    token = create(core, type="batch")["client_token"]
    raw = bytearray(base64.urlsafe_b64decode(token[len(BATCH_PREFIX) :] + "=="))
    raw[-1] ^= 1
    forged = BATCH_PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert core.tokens.lookup(forged) is None
    with pytest.raises(PermissionDenied):
        call(core, READ, "auth/token/lookup-self", token=forged)
    other = Core(CoreConfig(storage_url=f"sqlite:///{tmp_path}/other.db"))
    other.initialize(root_token_id="root")
    try:
        assert other.tokens.lookup(token) is None  # another installation's keyring
    finally:
        other.close()


def test_a_batch_token_ends_with_its_ttl_and_with_its_parent(core):
    call(
        core,
        UPDATE,
        "sys/policies/acl/maker",
        {"policy": 'path "auth/token/create" { capabilities = ["update"] }'},
    )
    parent = create(core, policies=["reader", "maker"])["client_token"]
    child = create(core, parent, type="batch", policies=["reader"])["client_token"]
    assert core.tokens.lookup(child).parent == core.tokens.hash(parent)
    assert core.tokens.lookup(child, now=time.time() + 32 * 86400) is None  # expired
    call(core, UPDATE, "auth/token/revoke", {"token": parent})
    assert core.tokens.lookup(child) is None


def test_leases_of_a_batch_token_belong_to_its_parent_and_end_with_it(core):
    call(
        core,
        UPDATE,
        "sys/policies/acl/maker",
        {"policy": 'path "auth/token/create" { capabilities = ["update"] }'},
    )
    parent = create(core, policies=["reader", "maker"])["client_token"]
    child = create(core, parent, type="batch", policies=["reader"], ttl="10m")["client_token"]
    answer = call(core, READ, "leasing/creds", token=child)
    assert 590 <= answer.lease_duration <= 600  # capped at the token's remaining TTL
    row = core.storage.lease_get(answer.lease_id)
    assert row.token_hash == core.tokens.hash(parent)
    assert row.max_expire_time <= core.tokens.lookup(child).expire_time + 1  # renewals stop there too
    call(core, UPDATE, "auth/token/revoke", {"token": parent})
    assert [answer.lease_id] == REVOKED


def test_leases_of_an_orphan_batch_token_only_expire(core):
    orphan = create(core, type="batch", no_parent=True, ttl="10m")["client_token"]
    answer = call(core, READ, "leasing/creds", token=orphan)
    assert core.storage.lease_get(answer.lease_id).token_hash is None
    assert 590 <= answer.lease_duration <= 600


def test_batch_tokens_cannot_be_renewed_revoked_or_make_tokens(core):
    call(
        core,
        UPDATE,
        "sys/policies/acl/all",
        {"policy": 'path "auth/token/*" { capabilities = ["update", "sudo"] }'},
    )
    token = create(core, type="batch", policies=["all"])["client_token"]
    for path, data, message in [
        ("auth/token/renew-self", {}, "batch tokens cannot be renewed"),
        ("auth/token/revoke-self", {}, "batch tokens cannot be revoked"),
        ("auth/token/create", {}, "batch tokens cannot create more tokens"),
    ]:
        with pytest.raises(UserError, match=message):
            call(core, UPDATE, path, data, token)
    with pytest.raises(UserError, match="batch tokens cannot be revoked"):
        call(core, UPDATE, "auth/token/revoke", {"token": token})
    assert core.tokens.lookup(token) is not None


# -- renewal warnings (service tokens), with a controlled clock --------------------------------


def test_a_renewal_in_the_creation_second_is_not_capped_by_a_fraction(core, monkeypatch):
    """Vault's CalculateTTL truncates both instants to the second: renewing a default-TTL token
    at once gets the full TTL and no warning; a second later, the cap is one second nearer."""
    clock = [1_000_000.3]
    monkeypatch.setattr("vaultlet.core.tokens.time.time", lambda: clock[0])
    _, entry, _ = core.tokens.create(None, core_request(core))
    clock[0] = 1_000_000.9
    renewed, warnings = core.tokens.renew(entry, 0)
    assert warnings == [] and renewed.ttl == 768 * 3600
    clock[0] = 1_000_001.1
    renewed, warnings = core.tokens.renew(entry, 0)
    assert renewed.ttl == 768 * 3600 - 1
    assert warnings == [
        'TTL of "768h" exceeded the effective max_ttl of "767h59m59s"; TTL value is capped accordingly'
    ]


def core_request(core):
    return TokenRequest(policies=["reader"])
