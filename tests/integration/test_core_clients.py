"""Real Vault clients (hvac, the OpenBao CLI) against a running vaultlet: tokens and mounts."""

from __future__ import annotations

import json

import hvac
import pytest

from support.processes import bao, http


@pytest.fixture()
def client(server):
    return hvac.Client(url=server.address, token=server.root_token)


def test_hvac_lists_and_enables_secrets_engines(client):
    client.sys.enable_secrets_engine(
        "kv", path="hvac-kv", description="from hvac", config={"default_lease_ttl": "1h"}
    )
    mounts = client.sys.list_mounted_secrets_engines()
    assert mounts["data"]["hvac-kv/"]["type"] == "kv"
    assert mounts["data"]["hvac-kv/"]["description"] == "from hvac"
    assert mounts["data"]["hvac-kv/"]["config"]["default_lease_ttl"] == 3600
    tune = client.sys.read_mount_configuration("hvac-kv")
    assert tune["data"]["default_lease_ttl"] == 3600
    client.sys.tune_mount_configuration("hvac-kv", max_lease_ttl="12h")
    assert client.sys.read_mount_configuration("hvac-kv")["data"]["max_lease_ttl"] == 43200
    with pytest.raises(hvac.exceptions.InvalidRequest, match="path is already in use at hvac-kv/"):
        client.sys.enable_secrets_engine("kv", path="hvac-kv")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="plugin not found in the catalog: nope"):
        client.sys.enable_secrets_engine("nope", path="hvac-nope")
    client.sys.disable_secrets_engine("hvac-kv")
    assert "hvac-kv/" not in client.sys.list_mounted_secrets_engines()["data"]


def test_hvac_token_lifecycle(client, server):
    created = client.auth.token.create(policies=["app"], ttl="1h", display_name="ci", meta={"team": "infra"})
    auth = created["auth"]
    assert auth["policies"] == ["app", "default"]
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    assert auth["metadata"] == {"team": "infra"}
    token, accessor = auth["client_token"], auth["accessor"]

    looked_up = client.auth.token.lookup(token)["data"]
    assert looked_up["display_name"] == "token-ci"
    assert looked_up["accessor"] == accessor
    assert 3590 <= looked_up["ttl"] <= 3600
    assert client.auth.token.lookup_accessor(accessor)["data"]["id"] == ""

    renewed = client.auth.token.renew(token, increment="2h")
    assert renewed["auth"]["lease_duration"] == 7200

    child = hvac.Client(url=server.address, token=token)
    assert child.is_authenticated()
    assert child.auth.token.lookup_self()["data"]["policies"] == ["app", "default"]
    assert child.auth.token.renew_self(increment=600)["auth"]["lease_duration"] == 600

    client.auth.token.revoke(token)
    assert not child.is_authenticated()
    with pytest.raises(hvac.exceptions.Forbidden, match="bad token"):
        client.auth.token.lookup(token)


@pytest.fixture()
def creator(client) -> str:
    """A policy that lets a non-root token create child tokens (the default policy does not)."""
    rules = 'path "auth/token/create" { capabilities = ["update"] }'
    client.sys.create_or_update_acl_policy("token-creator", rules)
    return "token-creator"


def test_revoking_a_parent_revokes_its_children(client, server, creator):
    parent = client.auth.token.create(policies=[creator], ttl="1h")["auth"]["client_token"]
    child = hvac.Client(url=server.address, token=parent).auth.token.create(policies=[creator], ttl="1h")
    child_token = child["auth"]["client_token"]
    orphan = client.auth.token.create_orphan(policies=["p"], ttl="1h")["auth"]
    assert orphan["orphan"] is True
    client.auth.token.revoke(parent)
    assert not hvac.Client(url=server.address, token=child_token).is_authenticated()
    assert hvac.Client(url=server.address, token=orphan["client_token"]).is_authenticated()


def test_child_cannot_gain_policies_its_parent_lacks(client, server, creator):
    parent = client.auth.token.create(policies=[creator], ttl="1h")["auth"]["client_token"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="child policies must be subset of parent"):
        hvac.Client(url=server.address, token=parent).auth.token.create(policies=["b"], ttl="1h")


def test_explicit_max_ttl_caps_renewal_with_vaults_warning(client):
    token = client.auth.token.create(policies=["p"], ttl="10m", explicit_max_ttl="15m")["auth"][
        "client_token"
    ]
    renewed = client.auth.token.renew(token, increment="1h")
    assert renewed["auth"]["lease_duration"] <= 900
    assert any('exceeded the effective max_ttl of "1' in w for w in renewed["warnings"])


def test_num_uses_limits_the_token(client, server):
    token = client.auth.token.create(policies=["p"], ttl="1h", num_uses=2)["auth"]["client_token"]
    limited = hvac.Client(url=server.address, token=token)
    assert limited.auth.token.lookup_self()["data"]["num_uses"] == 1
    limited.auth.token.lookup_self()
    assert http(server, "GET", "auth/token/lookup-self", token=token)[0] == 403


def test_token_leases_are_listed_and_expire(client, server):
    created = client.auth.token.create(policies=["p"], ttl="2s")["auth"]
    keys = client.sys.list_leases("auth/token/create")["data"]["keys"]
    assert any(k.startswith("h") and len(k) == 65 for k in keys)
    import time

    deadline = time.time() + 15
    while (
        time.time() < deadline
        and hvac.Client(url=server.address, token=created["client_token"]).is_authenticated()
    ):
        time.sleep(0.3)
    assert not hvac.Client(url=server.address, token=created["client_token"]).is_authenticated()


def test_bao_cli_token_and_secrets_commands(server):
    lookup = json.loads(bao(server, "token", "lookup", "-format=json").stdout)
    assert lookup["data"]["policies"] == ["root"]

    created = json.loads(bao(server, "token", "create", "-policy=default", "-ttl=10m", "-format=json").stdout)
    token = created["auth"]["client_token"]
    assert created["auth"]["lease_duration"] == 600
    renewed = json.loads(bao(server, "token", "renew", "-increment=20m", "-format=json", token).stdout)
    assert renewed["auth"]["lease_duration"] == 1200
    other = json.loads(bao(server, "token", "lookup", "-format=json", token).stdout)
    assert other["data"]["id"] == token
    bao(server, "token", "revoke", token)
    failed = bao(server, "token", "lookup", token, check=False)
    assert failed.returncode == 2 and "bad token" in failed.stderr

    bao(
        server,
        "secrets",
        "enable",
        "-path=aws-production",
        "-default-lease-ttl=1h",
        "-max-lease-ttl=4h",
        "aws",
    )
    listed = json.loads(bao(server, "secrets", "list", "-format=json").stdout)
    assert listed["aws-production/"]["type"] == "aws"
    assert listed["aws-production/"]["config"]["max_lease_ttl"] == 14400
    again = bao(server, "secrets", "enable", "-path=aws-production", "aws", check=False)
    assert again.returncode == 2 and "path is already in use at aws-production/" in again.stderr
    bao(server, "secrets", "tune", "-default-lease-ttl=2h", "aws-production")
    tuned = json.loads(bao(server, "read", "-format=json", "sys/mounts/aws-production/tune").stdout)
    assert tuned["data"]["default_lease_ttl"] == 7200
    bao(server, "secrets", "disable", "aws-production")
    assert "aws-production/" not in json.loads(bao(server, "secrets", "list", "-format=json").stdout)


def test_bao_login_writes_token_helper_file(server):
    result = bao(server, "login", "-no-print", server.root_token, env={"VAULT_TOKEN": ""})
    assert result.returncode == 0
    home_token = (server.workdir / "home" / ".vault-token").read_text().strip()
    assert home_token == server.root_token
