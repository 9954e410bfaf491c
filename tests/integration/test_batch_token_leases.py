"""Leases made with batch tokens, the same program against OpenBao and vaultlet (issue 9, defect 7).

Vault's rule: a batch token cannot be revoked, so a lease it creates is capped at the token's
remaining TTL and, unless the token is an orphan, belongs to the token's parent: revoking the
parent revokes it. An orphan batch token's leases only expire.

The engines differ (vaultlet has no PKI, OpenBao's dev server no moto-backed AWS): OpenBao
issues PKI certificates with ``generate_lease``, vaultlet IAM users in moto; the observations
about the leases are the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from support.access import unique
from support.aws_engine import access_key_user, mount_aws, unmount, user_exists, wait_for
from support.processes import ServerProcess, http

LEASE_POLICY = """
path "auth/token/create" { capabilities = ["update"] }
path "sys/leases/*" { capabilities = ["update", "sudo"] }
"""


def _ok(answer) -> dict:
    status, body, text = answer
    assert status in (200, 204), f"{status}: {text}"
    return body or {}


def _token(target: ServerProcess, body: dict) -> str:
    return _ok(http(target, "POST", "auth/token/create", body))["auth"]["client_token"]


def _pki_issuer(target: ServerProcess, name: str) -> tuple[str, Callable[[str], str]]:
    _ok(http(target, "POST", f"sys/mounts/{name}", {"type": "pki"}))
    _ok(
        http(target, "POST", f"{name}/root/generate/internal", {"common_name": "example.test", "ttl": "100h"})
    )
    role = {
        "allowed_domains": "example.test",
        "allow_subdomains": True,
        "generate_lease": True,
        "max_ttl": "50h",
    }
    _ok(http(target, "POST", f"{name}/roles/web", role))

    def issue(token: str) -> str:
        body = {"common_name": "a.example.test", "ttl": "10h"}
        return _ok(http(target, "POST", f"{name}/issue/web", body, token=token))

    return f'path "{name}/issue/*" {{ capabilities = ["update"] }}', issue


@pytest.fixture()
def issuer(request, server, openbao):
    """(target, a policy line that may issue, issue(token) -> response) for one server."""
    target = openbao if request.param == "openbao" else server
    name = unique("leased")
    if target.kind == "openbao":
        rule, issue = _pki_issuer(target, name)
        yield target, rule, issue, None
        http(target, "DELETE", f"sys/mounts/{name}")
        return
    moto = request.getfixturevalue("moto")
    mount = mount_aws(target, moto, http, path=name)
    _ok(http(target, "POST", f"{name}/config/lease", {"lease": "10h", "lease_max": "50h"}))
    _ok(http(target, "POST", f"{name}/roles/web", {"credential_type": "iam_user"}))

    def issue(token: str) -> dict:
        return _ok(http(target, "GET", f"{name}/creds/web", token=token))

    yield target, f'path "{name}/creds/*" {{ capabilities = ["read"] }}', issue, moto
    unmount(target, http, mount, moto)


def _lease_gone(target: ServerProcess, lease_id: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = http(target, "PUT", "sys/leases/lookup", {"lease_id": lease_id})
        if status == 400 and body["errors"] == ["invalid lease"]:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("issuer", ["openbao", "vaultlet"], indirect=True)
def test_a_batch_tokens_leases_end_with_it_or_its_parent(issuer):
    target, rule, issue, moto = issuer
    policy = unique("lessee")
    _ok(http(target, "PUT", f"sys/policies/acl/{policy}", {"policy": LEASE_POLICY + rule}))
    parent = _ok(http(target, "POST", "auth/token/create", {"policies": [policy], "ttl": "2h"}))["auth"][
        "client_token"
    ]
    child = _ok(http(target, "POST", "auth/token/create", {"type": "batch", "ttl": "60s"}, token=parent))
    assert child["auth"]["token_type"] == "batch"
    issued = issue(child["auth"]["client_token"])
    user = access_key_user(moto, issued["data"]["access_key"]) if moto is not None else None
    # Asked for 10 h: capped at what is left of the token, without a warning.
    assert 50 <= issued["lease_duration"] <= 60, issued
    looked_up = _ok(http(target, "PUT", "sys/leases/lookup", {"lease_id": issued["lease_id"]}))["data"]
    assert 50 <= looked_up["ttl"] <= 60
    # The lease is the parent's: revoking the parent revokes it (and ends the batch token).
    _ok(http(target, "POST", "auth/token/revoke", {"token": parent}))
    assert _lease_gone(target, issued["lease_id"]), "the batch token's lease outlived its parent"
    assert http(target, "GET", "auth/token/lookup-self", token=child["auth"]["client_token"])[0] == 403
    if user is not None:  # and the engine really revoked it: the IAM user is gone
        assert wait_for(lambda: not user_exists(moto, user))


@pytest.mark.parametrize("issuer", ["openbao", "vaultlet"], indirect=True)
def test_an_orphan_batch_tokens_leases_only_expire(issuer):
    target, rule, issue, _moto = issuer
    policy = unique("lessee")
    _ok(http(target, "PUT", f"sys/policies/acl/{policy}", {"policy": LEASE_POLICY + rule}))
    creator = _ok(http(target, "POST", "auth/token/create", {"policies": [policy], "ttl": "2h"}))["auth"][
        "client_token"
    ]
    orphan = _ok(
        http(
            target,
            "POST",
            "auth/token/create",
            {"type": "batch", "ttl": "60s", "no_parent": True, "policies": [policy]},
        )
    )["auth"]
    assert orphan["orphan"] is True
    issued = issue(orphan["client_token"])
    assert 50 <= issued["lease_duration"] <= 60
    _ok(http(target, "POST", "auth/token/revoke", {"token": creator}))  # unrelated to the orphan
    looked_up = _ok(http(target, "PUT", "sys/leases/lookup", {"lease_id": issued["lease_id"]}))["data"]
    assert 40 <= looked_up["ttl"] <= 60
    # The batch token may still revoke its lease by hand.
    _ok(
        http(
            target, "PUT", "sys/leases/revoke", {"lease_id": issued["lease_id"]}, token=orphan["client_token"]
        )
    )
    assert _lease_gone(target, issued["lease_id"])
