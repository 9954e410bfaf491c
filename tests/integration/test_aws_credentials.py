"""Credentials from a real vaultlet server, used against a real moto_server.

Every test gets its own mount (and its own admin IAM user in moto); disabling the
mount at the end revokes whatever the test left, so tests stay independent.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from support.aws_engine import (
    S3_GET_ONLY_POLICY,
    access_key_user,
    caller_arn,
    moto_client,
    mount_aws,
    unique,
    unmount,
    user_exists,
    users_tagged,
    wait_for,
)
from support.processes import http

ACCOUNT = "123456789012"


@pytest.fixture()
def mount(server, moto):
    mounted = mount_aws(server, moto, http)
    yield mounted
    unmount(server, http, mounted, moto)


def write(server, path: str, body: dict | None = None, expect: int = 204):
    status, parsed, text = http(server, "POST", path, body or {})
    assert status == expect, text
    return parsed


def read(server, path: str, expect: int = 200):
    status, parsed, text = http(server, "GET", path)
    assert status == expect, text
    return parsed


def iam_user_role(server, mount, name: str = "app", **extra) -> str:
    write(
        server,
        f"{mount.path}/roles/{name}",
        {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY, **extra},
    )
    return name


def assumable_role(moto, mount, name: str | None = None) -> str:
    """A role in moto that the mount's admin user may assume."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{mount.admin_user}"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = moto_client(moto, "iam")
    role = iam.create_role(RoleName=name or unique("role"), AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="s3", PolicyDocument=S3_GET_ONLY_POLICY)
    return role["Arn"]


# -- each credential type works ------------------------------------------------------------


def test_iam_user_keys_authenticate_as_the_new_user(server, moto, mount):
    iam_user_role(server, mount)
    issued = read(server, f"{mount.path}/creds/app")
    username = access_key_user(moto, issued["data"]["access_key"])
    assert username and username.startswith("vault-root-app-")
    assert caller_arn(moto, issued["data"]) == f"arn:aws:iam::{ACCOUNT}:user/{username}"
    assert issued["lease_id"].startswith(f"{mount.path}/creds/app/") and issued["renewable"] is True
    assert issued["lease_duration"] == 768 * 3600
    assert issued["data"]["security_token"] is None and issued["mount_type"] == "aws"
    policy = moto_client(moto, "iam").get_user_policy(UserName=username, PolicyName="app")["PolicyDocument"]
    assert policy == json.loads(S3_GET_ONLY_POLICY)


def test_assumed_role_credentials_authenticate_as_the_session(server, moto, mount):
    role_arn = assumable_role(moto, mount, unique("deploy"))
    role_name = role_arn.rsplit("/", 1)[1]
    write(
        server,
        f"{mount.path}/roles/deploy",
        {"credential_type": "assumed_role", "role_arns": role_arn, "default_sts_ttl": "1h"},
    )
    issued = read(server, f"{mount.path}/creds/deploy")
    session = issued["data"]["arn"].rsplit("/", 1)[1]
    assert caller_arn(moto, issued["data"]) == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}"
    assert issued["renewable"] is False and 3590 <= issued["lease_duration"] <= 3600
    assert issued["data"]["ttl"] == issued["lease_duration"]
    assert issued["data"]["security_token"] == issued["data"]["session_token"]
    # POST to sts/ with a body works the same, with a chosen session name and TTL
    status, issued, text = http(
        server, "POST", f"{mount.path}/sts/deploy", {"role_session_name": "ci-run", "ttl": 900}
    )
    assert status == 200, text
    assert (
        issued["data"]["arn"].endswith(f"assumed-role/{role_name}/ci-run") and issued["lease_duration"] <= 900
    )
    # GET with query parameters, as hvac does
    issued = read(server, f"{mount.path}/creds/deploy?ttl=1200&role_arn={role_arn}")
    assert 1190 <= issued["lease_duration"] <= 1200


def test_federation_and_session_tokens_are_issued(server, mount):
    write(
        server,
        f"{mount.path}/roles/fed",
        {"credential_type": "federation_token", "policy_document": S3_GET_ONLY_POLICY},
    )
    federation = read(server, f"{mount.path}/sts/fed")
    write(server, f"{mount.path}/roles/session", {"credential_type": "session_token"})
    session = read(server, f"{mount.path}/creds/session?ttl=900")
    for issued in (federation, session):
        assert issued["data"]["access_key"] and issued["data"]["secret_key"]
        assert issued["data"]["session_token"] and issued["renewable"] is False
    assert session["lease_duration"] <= 900


def test_an_iam_user_is_limited_to_its_policy(server, moto, mount):
    iam_user_role(server, mount)
    issued = read(server, f"{mount.path}/creds/app")
    s3 = moto_client(moto, "s3", issued["data"]["access_key"], issued["data"]["secret_key"])
    moto.set_iam_authorization(True)
    try:
        with pytest.raises(ClientError) as denied:
            s3.create_bucket(Bucket=unique("denied"))
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        # the broker's own admin key still works while authorization is on
        assert read(server, f"{mount.path}/creds/app")["data"]["access_key"]
    finally:
        moto.set_iam_authorization(False)


def test_verify_credentials_returns_working_keys_without_warnings(server, moto, mount):
    iam_user_role(server, mount, verify_credentials=True, verify_credentials_timeout="10s")
    issued = read(server, f"{mount.path}/creds/app")
    assert issued["warnings"] is None
    assert ":user/" in caller_arn(moto, issued["data"])


# -- revocation ---------------------------------------------------------------------------------


def issue_user(server, moto, mount, token: str | None = None) -> tuple[str, str]:
    status, issued, text = http(server, "GET", f"{mount.path}/creds/app", token=token or "")
    assert status == 200, text
    username = access_key_user(moto, issued["data"]["access_key"])
    assert username and user_exists(moto, username)
    return issued["lease_id"], username


def test_revoke_by_lease_id_deletes_the_user_and_its_keys(server, moto, mount):
    iam_user_role(server, mount)
    lease_id, username = issue_user(server, moto, mount)
    write(server, "sys/leases/revoke", {"lease_id": lease_id})
    assert not user_exists(moto, username)
    status, _, _ = http(server, "PUT", "sys/leases/lookup", {"lease_id": lease_id})
    assert status == 400


def test_revoke_by_prefix(server, moto, mount):
    iam_user_role(server, mount)
    usernames = [issue_user(server, moto, mount)[1] for _ in range(2)]
    write(server, f"sys/leases/revoke-prefix/{mount.path}/creds/app")
    assert not any(user_exists(moto, name) for name in usernames)


def test_expiry_revokes(server, moto, mount):
    write(server, f"{mount.path}/config/lease", {"lease": "2s", "lease_max": "1h"})
    iam_user_role(server, mount)
    lease_id, username = issue_user(server, moto, mount)
    assert wait_for(lambda: not user_exists(moto, username), timeout=20)


def test_revoking_the_token_revokes_its_credentials(server, moto, mount):
    iam_user_role(server, mount)
    created = write(server, "auth/token/create", {"policies": ["root"], "ttl": "1h"}, expect=200)
    token = created["auth"]["client_token"]
    _, username = issue_user(server, moto, mount, token=token)
    assert username.startswith("vault-token-app-")  # the token's display name
    write(server, "auth/token/revoke", {"token": token})
    assert wait_for(lambda: not user_exists(moto, username), timeout=20)


def test_disabling_the_mount_revokes_everything(server, moto):
    mounted = mount_aws(server, moto, http)
    iam_user_role(server, mounted)
    usernames = [issue_user(server, moto, mounted)[1] for _ in range(2)]
    unmount(server, http, mounted, moto)
    assert not any(user_exists(moto, name) for name in usernames)
    assert users_tagged(moto, mounted.uuid) == []


def test_sts_leases_are_not_renewable_and_revoking_them_deletes_nothing(server, moto, mount):
    role_arn = assumable_role(moto, mount)
    write(server, f"{mount.path}/roles/deploy", {"credential_type": "assumed_role", "role_arns": role_arn})
    issued = read(server, f"{mount.path}/creds/deploy")
    users_before = {u["UserName"] for u in moto_client(moto, "iam").list_users()["Users"]}
    status, body, _ = http(
        server, "PUT", "sys/leases/renew", {"lease_id": issued["lease_id"], "increment": 60}
    )
    assert (status, body["errors"]) == (400, ["lease is not renewable"])
    write(server, "sys/leases/revoke", {"lease_id": issued["lease_id"]})
    assert {u["UserName"] for u in moto_client(moto, "iam").list_users()["Users"]} == users_before
    moto_client(moto, "iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])
    assert ":assumed-role/" in caller_arn(moto, issued["data"])  # AWS keeps them valid until they expire


def test_iam_user_leases_renew_within_config_lease(server, moto, mount):
    write(server, f"{mount.path}/config/lease", {"lease": "10m", "lease_max": "30m"})
    iam_user_role(server, mount)
    issued = read(server, f"{mount.path}/creds/app")
    assert issued["lease_duration"] == 600
    status, renewed, text = http(
        server, "PUT", "sys/leases/renew", {"lease_id": issued["lease_id"], "increment": "1h"}
    )
    assert status == 200, text
    assert 1790 <= renewed["lease_duration"] <= 1800 and renewed["warnings"]  # capped by lease_max
    status, renewed, _ = http(
        server, "PUT", "sys/leases/renew", {"lease_id": issued["lease_id"], "increment": 0}
    )
    assert renewed["lease_duration"] == 600


# -- errors --------------------------------------------------------------------------------------


def test_aws_errors_are_400_with_vaults_text_and_leave_nothing_behind(server, moto, mount):
    iam_user_role(server, mount, iam_groups="no-such-group")
    status, body, _ = http(server, "GET", f"{mount.path}/creds/app")
    assert status == 400
    assert body["errors"][0].startswith("Error adding user to group: NoSuchEntity: ")
    assert users_tagged(moto, mount.uuid) == []
    status, body, _ = http(server, "GET", f"{mount.path}/creds/nope")
    assert (status, body["errors"]) == (400, ['Role "nope" not found'])


def test_an_unreachable_endpoint_is_a_502(server, moto, mount):
    write(server, f"{mount.path}/config/root", {"sts_endpoint": "http://127.0.0.1:9", "max_retries": 0})
    write(server, f"{mount.path}/roles/session", {"credential_type": "session_token"})
    status, body, _ = http(server, "GET", f"{mount.path}/creds/session")
    assert status == 502 and "retry later" in body["errors"][0]


def test_secrets_never_come_back_from_config_root(server, mount):
    data = read(server, f"{mount.path}/config/root")["data"]
    assert "secret_key" not in data and mount.admin_key["SecretAccessKey"] not in json.dumps(data)
    assert data["access_key"] == mount.admin_key["AccessKeyId"]


# -- rotate-root and static roles ---------------------------------------------------------------------


def test_rotate_root_replaces_the_brokers_key(server, moto, mount):
    old = mount.admin_key["AccessKeyId"]
    rotated = write(server, f"{mount.path}/config/rotate-root", expect=200)
    new = rotated["data"]["access_key"]
    keys = moto_client(moto, "iam").list_access_keys(UserName=mount.admin_user)["AccessKeyMetadata"]
    assert new != old and [k["AccessKeyId"] for k in keys] == [new]
    assert read(server, f"{mount.path}/config/root")["data"]["access_key"] == new
    iam_user_role(server, mount)
    assert read(server, f"{mount.path}/creds/app")["data"]["access_key"]  # the new key is in use


def test_static_role_keys_work_and_delete_cleans_up(server, moto, mount):
    iam = moto_client(moto, "iam")
    username = unique("static")
    iam.create_user(UserName=username)
    role = write(
        server, f"{mount.path}/static-roles/s", {"username": username, "rotation_period": "1h"}, expect=200
    )
    assert role["data"]["rotation_period"] == 3600 and role["data"]["username"] == username
    creds = read(server, f"{mount.path}/static-creds/s")
    assert creds["lease_id"] == "" and creds["data"]["expiration"].endswith("Z")
    assert caller_arn(moto, creds["data"]) == f"arn:aws:iam::{ACCOUNT}:user/{username}"
    assert read(server, f"{mount.path}/static-roles?list=true")["data"]["keys"] == ["s"]
    status, _, _ = http(server, "DELETE", f"{mount.path}/static-roles/s")
    assert status == 204
    assert iam.list_access_keys(UserName=username)["AccessKeyMetadata"] == []
    read(server, f"{mount.path}/static-creds/s", expect=404)
    iam.delete_user(UserName=username)


def test_help_documents_verify_credentials(server, mount):
    text = read(server, f"{mount.path}/roles/x?help=1")["help"]
    assert "verify_credentials" in text and "eventual" in text
