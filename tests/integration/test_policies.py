"""ACL policies: the policy store, enforcement on every request, capabilities, token creation rules.

Everything goes through real HTTP and real clients (the OpenBao CLI, hvac). Tests that
change server-wide state (the default policy, the `aws/` mount of the walkthrough) use a
dedicated server; the rest share the session server with uniquely named policies and mounts.
These tests also pass against OpenBao (``VAULTLET_TEST_TARGET=openbao``), which is how
their expectations were checked.
"""

from __future__ import annotations

import base64
import json
import re

import hvac
import pytest

from support.access import enable_kv, ok, status_of, token_with, unique, write_policy
from support.processes import bao, http, start_vaultlet_dev, start_vaultlet_production

# The walkthrough's "Use Vault Policies for Authorization" policy, verbatim.
WALKTHROUGH_POLICY = """# policy: aws-app-policy.hcl
# Allow reading only specific AWS roles
path "aws/creds/app-s3-role" {
  capabilities = ["read"]
}

path "aws/creds/app-dynamo-role" {
  capabilities = ["read"]
}

# Deny access to admin roles
path "aws/creds/admin-*" {
  capabilities = ["deny"]
}
"""
CREATOR = 'path "auth/token/create" { capabilities = ["update"] }'
SUDO_CREATOR = 'path "auth/token/create" { capabilities = ["update", "sudo"] }'


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    """A server of its own with a KV engine at aws/, standing in for the AWS engine's paths."""
    server = start_vaultlet_dev(tmp_path_factory.mktemp("walkthrough"))
    enable_kv(server, "aws")
    yield server
    server.stop()


def _denied(result) -> bool:
    return result.returncode == 2 and "Code: 403" in result.stderr and "permission denied" in result.stderr


# -- the walkthrough, with the real CLI ----------------------------------------


def test_walkthrough_policy_with_the_bao_cli(walkthrough, tmp_path):
    policy_file = tmp_path / "aws-app-policy.hcl"
    policy_file.write_text(WALKTHROUGH_POLICY)
    bao(walkthrough, "policy", "write", "aws-app", str(policy_file))
    assert bao(walkthrough, "policy", "read", "aws-app").stdout.strip() == WALKTHROUGH_POLICY.strip()
    created = json.loads(bao(walkthrough, "token", "create", "-policy=aws-app", "-format=json").stdout)
    token = created["auth"]["client_token"]
    assert created["auth"]["policies"] == ["aws-app", "default"]
    bao(walkthrough, "write", "aws/creds/app-s3-role", "access_key=AKIAEXAMPLE")

    read = json.loads(bao(walkthrough, "read", "-format=json", "aws/creds/app-s3-role", token=token).stdout)
    assert read["data"] == {"access_key": "AKIAEXAMPLE"}
    absent = bao(walkthrough, "read", "aws/creds/app-dynamo-role", token=token, check=False)
    assert absent.returncode == 2 and "No value found" in absent.stdout + absent.stderr  # allowed: 404
    for denied_path in ("aws/creds/admin-anything", "aws/roles/x", "aws/creds/other"):
        assert _denied(bao(walkthrough, "read", denied_path, token=token, check=False)), denied_path
    assert _denied(bao(walkthrough, "write", "aws/creds/app-s3-role", "x=y", token=token, check=False))
    capabilities = bao(walkthrough, "token", "capabilities", "aws/creds/app-s3-role", token=token)
    assert capabilities.stdout.strip() == "read"


def test_lease_revoke_prefix_needs_sudo(walkthrough):
    write_policy(walkthrough, "revoker", 'path "sys/leases/revoke-prefix/*" { capabilities = ["update"] }')
    write_policy(
        walkthrough, "sudo-revoker", 'path "sys/leases/revoke-prefix/*" { capabilities = ["update", "sudo"] }'
    )
    plain, sudo = token_with(walkthrough, "revoker"), token_with(walkthrough, "sudo-revoker")
    assert _denied(bao(walkthrough, "lease", "revoke", "-prefix", "aws/creds", token=plain, check=False))
    accepted = bao(walkthrough, "lease", "revoke", "-prefix", "aws/creds", token=sudo)
    assert "queued successfully" in accepted.stdout


def test_default_policy_can_be_edited_but_not_deleted(walkthrough):
    original = ok(http(walkthrough, "GET", "sys/policies/acl/default"))["data"]["policy"]
    token = token_with(walkthrough)  # default only
    assert status_of(walkthrough, "GET", "auth/token/lookup-self", token=token) == 200
    try:
        write_policy(walkthrough, "default", 'path "aws/creds/app-s3-role" { capabilities = ["read"] }')
        assert status_of(walkthrough, "GET", "auth/token/lookup-self", token=token) == 403
        assert status_of(walkthrough, "GET", "aws/creds/app-s3-role", token=token) in (200, 404)
    finally:
        write_policy(walkthrough, "default", original)
    assert status_of(walkthrough, "GET", "auth/token/lookup-self", token=token) == 200
    assert http(walkthrough, "DELETE", "sys/policies/acl/default")[1] == {
        "errors": ["cannot delete default policy"]
    }


# -- the policy store -------------------------------------------------------------


def test_policy_crud_through_hvac_current_and_legacy_api(server):
    client = hvac.Client(url=server.address, token=server.root_token)
    name = unique("Mixed-Case")
    rules = 'path "secret/*" { capabilities = ["read"] }'
    client.sys.create_or_update_acl_policy(name, rules)
    lower = name.lower()
    read = client.sys.read_acl_policy(lower)["data"]
    assert (read["name"], read["policy"]) == (lower, rules)
    assert lower in client.sys.list_acl_policies()["data"]["keys"]
    assert client.sys.read_policy(lower)["data"]["rules"] == rules  # hvac's legacy read
    listed = client.sys.list_policies()
    assert listed["keys"] == listed["policies"] and {"default", "root", lower} <= set(
        listed["data"]["policies"]
    )
    client.sys.create_or_update_policy(lower, 'path "secret/x" { capabilities = ["list"] }')  # legacy write
    assert "secret/x" in client.sys.read_acl_policy(lower)["data"]["policy"]
    client.sys.delete_policy(lower)
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.sys.read_acl_policy(lower)
    assert http(server, "GET", f"sys/policy/{lower}")[:2] == (404, {"errors": []})


def test_policy_store_refusals_use_vaults_messages(server):
    def errors(method, path, body=None):
        status, parsed, _ = http(server, method, path, body)
        return status, parsed["errors"]

    assert errors("PUT", "sys/policies/acl/root", {"policy": 'path "x" { capabilities = ["read"] }'}) == (
        400,
        ['cannot update "root" policy'],
    )
    assert errors("DELETE", "sys/policies/acl/root") == (400, ['cannot delete "root" policy'])
    assert errors("DELETE", "sys/policy/default") == (400, ["cannot delete default policy"])
    assert errors("PUT", f"sys/policies/acl/{unique('empty')}", {"policy": ""}) == (
        400,
        ["'policy' parameter not supplied or empty"],
    )
    status, messages = errors(
        "PUT", f"sys/policies/acl/{unique('bad')}", {"policy": 'path "x" { capabilities = ["fly"] }'}
    )
    assert status == 400 and messages[0].startswith("failed to parse policy:") and '"fly"' in messages[0]


def test_policy_text_may_be_base64_and_legacy_rules_warn(server):
    name = unique("encoded")
    rules = 'path "encoded/*" { capabilities = ["read"] }'
    ok(http(server, "PUT", f"sys/policies/acl/{name}", {"policy": base64.b64encode(rules.encode()).decode()}))
    assert ok(http(server, "GET", f"sys/policies/acl/{name}"))["data"]["policy"] == rules
    status, body, _ = http(server, "PUT", f"sys/policy/{name}", {"rules": rules})
    assert status == 200 and body["warnings"] == ["'rules' is deprecated, please use 'policy' instead"]


# -- enforcement ----------------------------------------------------------------


def test_create_versus_update_follows_the_existence_check(server):
    mount = enable_kv(server)
    name = unique("writer")
    write_policy(
        server,
        name,
        f'path "{mount}/new-only/*" {{ capabilities = ["create"] }}\n'
        f'path "{mount}/edit-only/*" {{ capabilities = ["update"] }}',
    )
    token = token_with(server, name)
    assert status_of(server, "PUT", f"{mount}/new-only/a", {"v": 1}, token=token) == 204
    assert status_of(server, "PUT", f"{mount}/new-only/a", {"v": 2}, token=token) == 403  # exists: update
    assert status_of(server, "PUT", f"{mount}/edit-only/b", {"v": 1}, token=token) == 403  # absent: create
    ok(http(server, "PUT", f"{mount}/edit-only/b", {"v": 1}))
    assert status_of(server, "PUT", f"{mount}/edit-only/b", {"v": 2}, token=token) == 204
    assert ok(http(server, "GET", f"{mount}/edit-only/b"))["data"] == {"v": 2}


def test_list_is_checked_on_the_path_with_its_trailing_slash(server):
    mount = enable_kv(server)
    ok(http(server, "PUT", f"{mount}/dir/key", {"v": 1}))
    lister, reader = unique("lister"), unique("reader")
    write_policy(server, lister, f'path "{mount}/dir/" {{ capabilities = ["list"] }}')
    write_policy(server, reader, f'path "{mount}/dir/*" {{ capabilities = ["read"] }}')
    listing, reading = token_with(server, lister), token_with(server, reader)
    for path in (f"{mount}/dir", f"{mount}/dir/"):
        assert status_of(server, "LIST", path, token=listing) == 200
        assert status_of(server, "GET", f"{path}?list=true", token=listing) == 200
        assert status_of(server, "LIST", path, token=reading) == 403  # "dir/*" matches "dir/": read only
    assert status_of(server, "GET", f"{mount}/dir/key", token=listing) == 403
    assert status_of(server, "GET", f"{mount}/dir/key", token=reading) == 200


def test_deny_wins_and_the_most_specific_pattern_decides(server):
    mount = enable_kv(server)
    for key in ("shared", "team/a", "team/admin"):
        ok(http(server, "PUT", f"{mount}/{key}", {"v": 1}))
    broad, blocker = unique("broad"), unique("blocker")
    read, deny = '{ capabilities = ["read"] }', '{ capabilities = ["deny"] }'
    write_policy(server, broad, f'path "{mount}/*" {read}\npath "{mount}/shared" {read}')
    write_policy(server, blocker, f'path "{mount}/shared" {deny}\npath "{mount}/team/adm*" {deny}')
    token = token_with(server, broad, blocker)
    assert status_of(server, "GET", f"{mount}/team/a", token=token) == 200
    # The same path in two policies: their capabilities merge, and deny wins.
    assert status_of(server, "GET", f"{mount}/shared", token=token) == 403
    assert status_of(server, "GET", f"{mount}/team/admin", token=token) == 403  # longer glob beats mount/*
    assert status_of(server, "GET", f"{mount}/team/missing", token=token) == 404  # allowed but absent


def test_sudo_protected_paths_need_sudo_on_top(server):
    plain, sudo = unique("leases"), unique("leases-sudo")
    for name, capabilities in ((plain, '["list", "read"]'), (sudo, '["list", "read", "sudo"]')):
        rules = f'path "sys/leases/lookup/*" {{ capabilities = {capabilities} }}\n'
        rules += f'path "sys/audit" {{ capabilities = {capabilities} }}'
        write_policy(server, name, rules)
    without, with_sudo = token_with(server, plain), token_with(server, sudo)
    token_with(server, "default", ttl="1h")  # makes sure there is a token lease to list
    assert status_of(server, "LIST", "sys/leases/lookup/auth/token/create", token=without) == 403
    assert status_of(server, "LIST", "sys/leases/lookup/auth/token/create", token=with_sudo) == 200
    assert status_of(server, "GET", "sys/audit", token=without) == 403
    assert status_of(server, "GET", "sys/audit", token=with_sudo) == 200
    assert status_of(server, "LIST", "auth/token/accessors", token=with_sudo) == 403  # no rule at all


def test_missing_and_bad_tokens_are_refused_before_the_acl(server):
    mount = enable_kv(server)
    assert http(server, "GET", f"{mount}/x", token=None)[1] == {"errors": ["permission denied"]}
    assert status_of(server, "GET", f"{mount}/x", token="hvs.not-a-token") == 403
    default_only = token_with(server)
    assert status_of(server, "GET", f"{mount}/x", token=default_only) == 403
    assert status_of(server, "GET", "auth/token/lookup-self", token=default_only) == 200  # granted by default
    assert status_of(server, "POST", "auth/token/create", {}, token=default_only) == 403


# -- capabilities ---------------------------------------------------------------


def test_capabilities_endpoints_answer_in_vaults_shapes(server):
    mount = enable_kv(server)
    name = unique("caps")
    write_policy(server, name, f'path "{mount}/app/*" {{ capabilities = ["read", "list"] }}')
    token = token_with(server, name)
    accessor = ok(http(server, "POST", "auth/token/lookup", {"token": token}))["data"]["accessor"]
    paths = [f"{mount}/app/x", f"{mount}/other"]
    many = ok(http(server, "POST", "sys/capabilities-self", {"paths": paths}, token=token))
    assert many["data"] == {paths[0]: ["list", "read"], paths[1]: ["deny"]}
    assert many[paths[0]] == ["list", "read"] and "capabilities" not in many["data"]
    single = ok(
        http(server, "POST", "sys/capabilities-self", {"path": paths[0], "token": token}, token=token)
    )
    assert single["data"] == {paths[0]: ["list", "read"], "capabilities": ["list", "read"]}
    other = ok(http(server, "POST", "sys/capabilities", {"token": token, "paths": paths}))
    by_accessor = ok(
        http(server, "POST", "sys/capabilities-accessor", {"accessor": accessor, "paths": paths})
    )
    assert other["data"] == by_accessor["data"] == many["data"]
    assert ok(http(server, "POST", "sys/capabilities-self", {"paths": ["anything"]}))["data"]["anything"] == [
        "root"
    ]
    assert http(server, "POST", "sys/capabilities-self", {})[:2] == (
        400,
        {"errors": ["paths must be supplied"]},
    )
    assert status_of(server, "GET", "sys/capabilities-self") == 405
    assert status_of(server, "POST", "sys/capabilities", {"token": token, "paths": paths}, token=token) == 403


def test_ui_mounts_preflight_follows_the_token_policies(server):
    mount = enable_kv(server)
    name = unique("one-secret")
    write_policy(server, name, f'path "{mount}/team/app" {{ capabilities = ["read"] }}')
    token = token_with(server, name)
    for path in (f"{mount}/team/app", f"{mount}/elsewhere"):  # any grant under the mount will do
        status, body, _ = http(server, "GET", f"sys/internal/ui/mounts/{path}", token=token)
        assert status == 200 and (body["data"]["path"], body["data"]["type"]) == (f"{mount}/", "kv")
    nothing = token_with(server)
    status, body, _ = http(server, "GET", f"sys/internal/ui/mounts/{mount}/team/app", token=nothing)
    assert status == 403 and "preflight capability check returned 403" in body["errors"][0]
    assert http(server, "GET", f"sys/internal/ui/mounts/{mount}/x", token=None)[:2] == (
        403,
        {"errors": ["permission denied"]},
    )
    # A token without access cannot tell a missing mount from a forbidden one.
    assert status_of(server, "GET", f"sys/internal/ui/mounts/{unique('nowhere')}/x", token=nothing) == 403


# -- token creation --------------------------------------------------------------


def test_child_policies_must_be_a_subset_unless_the_creator_has_sudo(server):
    creator, sudo_creator, extra = unique("creator"), unique("sudo-creator"), unique("extra")
    write_policy(server, creator, CREATOR)
    write_policy(server, sudo_creator, SUDO_CREATOR)
    write_policy(server, extra, 'path "extra/*" { capabilities = ["read"] }')
    parent = token_with(server, creator)
    child = ok(http(server, "POST", "auth/token/create", {"policies": [creator]}, token=parent))["auth"]
    assert child["policies"] == sorted([creator, "default"]) and child["orphan"] is False
    refused = http(server, "POST", "auth/token/create", {"policies": [extra]}, token=parent)
    assert refused[:2] == (400, {"errors": ["child policies must be subset of parent"]})
    orphan = http(server, "POST", "auth/token/create", {"no_parent": True}, token=parent)
    assert orphan[:2] == (400, {"errors": ["root or sudo privileges required to create orphan token"]})

    privileged = token_with(server, sudo_creator)
    granted = ok(
        http(server, "POST", "auth/token/create", {"policies": [extra], "no_parent": True}, token=privileged)
    )
    assert granted["auth"]["policies"] == sorted([extra, "default"]) and granted["auth"]["orphan"] is True
    root = http(server, "POST", "auth/token/create", {"policies": ["root"]}, token=privileged)
    assert root[:2] == (400, {"errors": ["root tokens may not be created without parent token being root"]})


def test_token_create_warns_about_policies_that_do_not_exist(server):
    missing = unique("nonexistent")
    body = ok(http(server, "POST", "auth/token/create", {"policies": [missing]}))
    assert f'Policy "{missing}" does not exist' in body["warnings"]


def test_token_roles_decide_policies_orphans_and_lease_paths(server):
    role, creator, allowed = unique("role"), unique("via-role"), unique("allowed")
    write_policy(server, creator, f'path "auth/token/create/{role}" {{ capabilities = ["update"] }}')
    settings = {
        "allowed_policies": [allowed],
        "orphan": True,
        "path_suffix": "v1.0",
        "token_period": "1h",
    }
    ok(http(server, "POST", f"auth/token/roles/{role}", settings))
    described = ok(http(server, "GET", f"auth/token/roles/{role}"))["data"]
    assert described["allowed_policies"] == [allowed] and described["token_period"] == 3600
    assert described["period"] == 0 and described["renewable"] is True  # the legacy field, not written
    assert role in ok(http(server, "LIST", "auth/token/roles"))["data"]["keys"]

    caller = token_with(server, creator)  # holds neither `allowed` nor sudo: the role vouches for it
    created = ok(http(server, "POST", f"auth/token/create/{role}", {}, token=caller))["auth"]
    assert created["policies"] == sorted([allowed, "default"]) and created["orphan"] is True
    assert created["lease_duration"] == 3600
    looked_up = ok(http(server, "POST", "auth/token/lookup", {"token": created["client_token"]}))["data"]
    assert looked_up["path"] == f"auth/token/create/{role}/v1.0" and 3590 <= looked_up["ttl"] <= 3600
    outside = http(server, "POST", f"auth/token/create/{role}", {"policies": ["other"]}, token=caller)
    assert outside[0] == 400 and "must be subset of the role's allowed policies" in outside[1]["errors"][0]
    assert status_of(server, "POST", "auth/token/create", {}, token=caller) == 403  # only the role's path
    assert http(server, "POST", f"auth/token/create/{unique('nope')}", {})[0] == 400
    ok(http(server, "DELETE", f"auth/token/roles/{role}"))
    assert status_of(server, "GET", f"auth/token/roles/{role}") == 404


def test_token_roles_disallow_policies(server):
    role, banned = unique("role"), unique("banned")
    ok(http(server, "POST", f"auth/token/roles/{role}", {"disallowed_policies": banned, "renewable": False}))
    refused = http(server, "POST", f"auth/token/create/{role}", {"policies": [banned, "x"]})
    assert refused[:2] == (400, {"errors": [f'token policy "{banned}" is disallowed by this role']})
    created = ok(http(server, "POST", f"auth/token/create/{role}", {"policies": ["x"], "ttl": "1h"}))["auth"]
    assert created["policies"] == ["default", "x"] and created["renewable"] is False


def test_cidr_bound_tokens_only_work_from_their_blocks(server):
    inside, outside = unique("cidr-in"), unique("cidr-out")
    ok(http(server, "POST", f"auth/token/roles/{inside}", {"token_bound_cidrs": ["127.0.0.1/32"]}))
    ok(
        http(
            server, "POST", f"auth/token/roles/{outside}", {"token_bound_cidrs": "10.0.0.0/8,192.168.0.0/16"}
        )
    )
    assert ok(http(server, "GET", f"auth/token/roles/{inside}"))["data"]["token_bound_cidrs"] == ["127.0.0.1"]
    # With default only: a root token without a TTL is exempt from CIDR binding, as in Vault.
    here = token_with(server, "default", path_role=inside)
    away = token_with(server, "default", path_role=outside)
    assert status_of(server, "GET", "auth/token/lookup-self", token=here) == 200
    assert http(server, "GET", "auth/token/lookup-self", token=away)[:2] == (
        403,
        {"errors": ["permission denied"]},
    )
    assert ok(http(server, "POST", "auth/token/lookup", {"token": away}))["data"]["bound_cidrs"] == [
        "10.0.0.0/8",
        "192.168.0.0/16",
    ]


# -- every worker sees every policy change at once --------------------------------


def test_policy_changes_reach_every_worker_at_once(tmp_path):
    server = start_vaultlet_production(tmp_path, workers=2)
    try:
        mount = enable_kv(server)
        ok(http(server, "PUT", f"{mount}/secret", {"v": 1}))
        write_policy(server, "reader", f'path "{mount}/*" {{ capabilities = ["read"] }}')
        token = token_with(server, "reader")
        for _ in range(30):  # fresh connections land on both workers
            assert status_of(server, "GET", f"{mount}/secret", token=token) == 200
        write_policy(server, "reader", f'path "{mount}/*" {{ capabilities = ["deny"] }}')
        answers = {status_of(server, "GET", f"{mount}/secret", token=token) for _ in range(30)}
        assert answers == {403}
        pids = set(re.findall(r"Booting worker with pid: (\d+)", server.log_text()))
        assert len(pids) == 2
    finally:
        server.stop()
