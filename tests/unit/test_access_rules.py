"""Pure access-control rules: token-role policies, the UI-preflight walk, CIDR helpers,
and AppRole's storage never holding a secret ID."""

from __future__ import annotations

import pytest

from vaultlet.core.acl import parse_policy
from vaultlet.core.authorization import has_access_under
from vaultlet.core.cidr import address_allowed, is_subset, parse_cidrs
from vaultlet.core.token_roles import TokenRole, role_policies
from vaultlet.core.tokens import TokenEntry
from vaultlet.engines.auth.approle.store import AppRoleStore, RoleEntry, SecretIdEntry
from vaultlet.errors import UserError

PARENT = TokenEntry(hash="p", accessor="a", policies=["default", "parent-only"])


def test_role_policies_follow_vaults_allowed_and_disallowed_rules():
    role = TokenRole(name="r", allowed_policies=["app", "ops"], allowed_policies_glob=["team-*"])
    assert role_policies(role, [], False, PARENT) == ["app", "default", "ops"]
    assert role_policies(role, ["team-a"], False, PARENT) == ["default", "team-a"]
    assert role_policies(role, ["app"], True, PARENT) == ["app"]
    with pytest.raises(
        UserError, match=r'must be subset of the role\'s allowed policies \(\["app" "default" "ops"\]\)'
    ):
        role_policies(role, ["other"], False, PARENT)
    banning = TokenRole(name="b", disallowed_policies=["default"], disallowed_policies_glob=["admin*"])
    plain_parent = TokenEntry(hash="q", accessor="b", policies=["parent-only"])
    assert role_policies(banning, [], False, plain_parent) == ["parent-only"]  # default is not added
    with pytest.raises(UserError, match='token policy "default" is disallowed'):
        role_policies(banning, [], False, PARENT)  # ... nor inherited
    with pytest.raises(UserError, match='token policy "admin-x" is disallowed by this role'):
        role_policies(banning, ["admin-x"], False, PARENT)


def test_mount_access_is_any_grant_at_or_under_the_mount():
    policies = [
        parse_policy("a", 'path "kv/team/app" { capabilities = ["read"] }'),
        parse_policy(
            "b", 'path "other/+/x" { capabilities = ["list"] }\npath "gone/x" { capabilities = ["deny"] }'
        ),
    ]
    assert has_access_under(policies, ["deny"], "kv/")
    assert has_access_under(policies, ["deny"], "other/")
    assert not has_access_under(policies, ["deny"], "gone/")  # a deny grants nothing
    assert not has_access_under(policies, ["deny"], "elsewhere/")
    assert has_access_under([], ["read"], "elsewhere/")  # the mount path itself is granted


def test_cidr_helpers():
    assert parse_cidrs(["127.0.0.1/32", "10.1.2.3/8", " ::1 "], "f") == ["127.0.0.1", "10.0.0.0/8", "::1"]
    with pytest.raises(UserError, match='invalid CIDR block "nope" in f'):
        parse_cidrs(["nope"], "f")
    assert address_allowed("10.9.9.9", ["10.0.0.0/8"]) and not address_allowed("11.0.0.1", ["10.0.0.0/8"])
    assert not address_allowed("not-an-address", ["0.0.0.0/0"])
    assert is_subset(["10.1.0.0/16"], ["10.0.0.0/8"]) and not is_subset(["10.0.0.0/8"], ["10.1.0.0/16"])


class DictStorage:
    """Just enough of a StorageView, in memory, to look at what AppRole stores."""

    def __init__(self):
        self.records: dict[str, tuple[dict, int]] = {}

    def get(self, key):
        return self.records.get(key, (None, None))[0]

    def get_with_version(self, key):
        return self.records.get(key, (None, None))

    def put(self, key, value):
        version = self.records.get(key, (None, 0))[1] + 1
        self.records[key] = (value, version)

    def put_if_version(self, key, value, expected):
        if self.records.get(key, (None, None))[1] != expected:
            return False
        self.put(key, value)
        return True

    def delete(self, key):
        self.records.pop(key, None)

    def keys(self, prefix=""):
        return sorted(k for k in self.records if k.startswith(prefix))

    def list(self, prefix=""):
        return sorted({k[len(prefix) :].split("/")[0] for k in self.keys(prefix)})


def test_approle_stores_secret_ids_and_role_ids_only_as_hmacs():
    storage = DictStorage()
    store = AppRoleStore(storage)
    role = RoleEntry(name="app", role_id="the-role-id")
    store.save_role(role, None)
    entry = SecretIdEntry(secret_id_hmac=store.hmac("the-secret-id"), secret_id_accessor="the-accessor")
    assert store.add_secret_id(store.hmac("app"), entry)
    assert not store.add_secret_id(store.hmac("app"), entry)  # already registered
    dump = repr(storage.records)
    assert "the-secret-id" not in dump and "the-accessor" in dump  # accessors are not secret
    assert "role_id/the-role-id" not in dump and store.role_by_role_id("the-role-id") == role
    assert store.by_accessor(store.hmac("app"), "the-accessor") == entry
    assert store.by_accessor(store.hmac("other"), "the-accessor") is None  # another role's accessor
    store.delete_role(role)
    assert storage.records.keys() == {"salt"}
