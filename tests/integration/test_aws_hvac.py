"""hvac's ``client.secrets.aws`` against vaultlet: the calls of hvac's own tests, unchanged.

The scenarios follow hvac's integration tests (reference §13); each test uses its own
mount point instead of hvac's fixed ``aws-test`` so tests stay independent.
"""

from __future__ import annotations

import re

import hvac
import pytest
from hvac.exceptions import InvalidPath, InvalidRequest, ParamValidationError

from support.aws_engine import caller_arn, moto_client, mount_aws, unique, unmount
from support.processes import http

ROLE = "hvac-test-role"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
}


@pytest.fixture()
def client(server):
    return hvac.Client(url=server.address, token=server.root_token)


@pytest.fixture()
def mount_point(client):
    path = unique("aws-test")
    client.sys.enable_secrets_engine(backend_type="aws", path=path)
    yield path
    client.sys.disable_secrets_engine(path=path)


@pytest.fixture()
def moto_mount(server, moto):
    mounted = mount_aws(server, moto, http)
    yield mounted
    unmount(server, http, mounted, moto)


def convert_duration(text: str) -> int:
    """hvac's test helper for Go durations."""
    seconds = 0
    for number, unit in re.findall(r"(\d+)([smh])", text):
        seconds += int(number) * {"s": 1, "m": 60, "h": 3600}[unit]
    return seconds


def test_configure_root_iam_credentials(client, mount_point):
    response = client.secrets.aws.configure_root_iam_credentials(
        access_key="butts",
        secret_key="secret-butts",
        iam_endpoint="localhost",
        sts_endpoint="localhost",
        mount_point=mount_point,
    )
    assert bool(response) is True


def test_configure_lease(client, mount_point):
    response = client.secrets.aws.configure_lease(lease="60s", lease_max="120s", mount_point=mount_point)
    assert bool(response) is True


def test_read_lease(client, mount_point):
    client.secrets.aws.configure_lease(lease="60s", lease_max="120s", mount_point=mount_point)
    response = client.secrets.aws.read_lease_config(mount_point=mount_point)
    assert convert_duration(response["data"]["lease_max"]) == 120
    assert convert_duration(response["data"]["lease"]) == 60


@pytest.mark.parametrize(
    ("credential_type", "kwargs"),
    [
        ("iam_user", {"policy_document": POLICY}),
        ("iam_user", {"policy_arns": ["arn:aws:iam::aws:policy/AmazonVPCReadOnlyAccess"]}),
        ("assumed_role", {"policy_document": POLICY}),
    ],
)
def test_create_or_update_role(client, mount_point, credential_type, kwargs):
    response = client.secrets.aws.create_or_update_role(
        name=ROLE, credential_type=credential_type, mount_point=mount_point, **kwargs
    )
    assert bool(response) is True


def test_create_or_update_role_with_an_invalid_type_never_reaches_the_server(client, mount_point):
    with pytest.raises(ParamValidationError):
        client.secrets.aws.create_or_update_role(
            name=ROLE, credential_type="cat", policy_document=POLICY, mount_point=mount_point
        )


def test_read_role(client, mount_point):
    client.secrets.aws.create_or_update_role(
        name=ROLE, credential_type="iam_user", policy_document=POLICY, mount_point=mount_point
    )
    response = client.secrets.aws.read_role(name=ROLE, mount_point=mount_point)
    assert response["data"]["credential_type"] == "iam_user"
    assert response["data"]["policy_document"] == (
        '{"Statement":[{"Action":"ec2:Describe*","Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}'
    )


def test_list_roles(client, mount_point):
    client.secrets.aws.create_or_update_role(
        name=ROLE, credential_type="iam_user", policy_document=POLICY, mount_point=mount_point
    )
    response = client.secrets.aws.list_roles(mount_point=mount_point)
    assert response["data"]["keys"] == [ROLE]


def test_delete_role(client, mount_point):
    client.secrets.aws.create_or_update_role(
        name=ROLE, credential_type="iam_user", policy_document=POLICY, mount_point=mount_point
    )
    assert bool(client.secrets.aws.delete_role(name=ROLE, mount_point=mount_point)) is True
    with pytest.raises(InvalidPath):  # an empty list is Vault's 404
        client.secrets.aws.list_roles(mount_point=mount_point)


def test_invalid_role_data_raises_invalid_request(client, mount_point):
    with pytest.raises(InvalidRequest) as caught:
        client.secrets.aws.create_or_update_role(
            name=ROLE, credential_type="iam_user", default_sts_ttl=60, mount_point=mount_point
        )
    assert "default_sts_ttl parameter only valid" in str(caught.value)


# -- against moto -----------------------------------------------------------------------------


def test_generate_credentials_on_creds_and_sts(client, moto, moto_mount):
    client.secrets.aws.create_or_update_role(
        name=ROLE, credential_type="iam_user", policy_document=POLICY, mount_point=moto_mount.path
    )
    creds = client.secrets.aws.generate_credentials(name=ROLE, mount_point=moto_mount.path)
    assert creds["data"]["security_token"] is None and creds["renewable"] is True
    assert ":user/vault-root-hvac-test-role-" in caller_arn(moto, creds["data"])
    client.secrets.aws.create_or_update_role(
        name="fed", credential_type="federation_token", policy_document=POLICY, mount_point=moto_mount.path
    )
    sts = client.secrets.aws.generate_credentials(
        name="fed", endpoint="sts", ttl="15m", mount_point=moto_mount.path
    )
    assert sts["data"]["security_token"] and sts["renewable"] is False and sts["lease_duration"] <= 900
    with pytest.raises(ParamValidationError):
        client.secrets.aws.generate_credentials(name=ROLE, endpoint="cats", mount_point=moto_mount.path)


def test_rotate_root_iam_credentials(client, moto, moto_mount):
    response = client.secrets.aws.rotate_root_iam_credentials(mount_point=moto_mount.path)
    new_key = response["data"]["access_key"]
    assert new_key != moto_mount.admin_key["AccessKeyId"]
    keys = moto_client(moto, "iam").list_access_keys(UserName=moto_mount.admin_user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [new_key]
