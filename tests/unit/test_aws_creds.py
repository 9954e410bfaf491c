"""creds/ and sts/: TTL rules, type selection, role_arn rules, names, STS response shapes.

AWS is moto's in-process mock; the backend is real with throwaway storage.
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from support.aws_engine import REGION, FailingCalls, call, configure_mock_root, issue, make_backend
from vaultlet.engines.secrets.aws.creds import combine_policy_documents, requested_sts_ttl
from vaultlet.engines.secrets.aws.roles import RoleEntry
from vaultlet.errors import UserError

POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
MOUNT_MAX = 768 * 3600


@pytest.fixture()
def aws():
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


@pytest.fixture()
def backend(tmp_path, aws):
    backend = make_backend(tmp_path)
    configure_mock_root(backend)
    return backend


def role_arn(iam, name: str = "deploy") -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*"}],
    }
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def rejected(backend, path: str, data: dict | None = None) -> str:
    with pytest.raises(UserError) as caught:
        call(backend, "read", path, data)
    return caught.value.messages[0]


# -- TTL rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "requested", "expected"),
    [
        (RoleEntry(), None, 3600),  # Vault's default
        (RoleEntry(default_sts_ttl=900), None, 900),  # the role's default
        (RoleEntry(default_sts_ttl=900), 1800, 1800),  # the request wins
        (RoleEntry(max_sts_ttl=1200), 3600, 1200),  # capped by the role
        (RoleEntry(), 10 * MOUNT_MAX, MOUNT_MAX),  # capped by the mount
        (RoleEntry(default_sts_ttl=7200, max_sts_ttl=3600), None, 3600),
        (RoleEntry(), 60, 60),  # no local minimum: AWS says no to < 900 s
    ],
)
def test_sts_ttl_rules(role, requested, expected):
    assert requested_sts_ttl(role, requested, MOUNT_MAX) == expected


def test_the_mount_max_caps_sts_ttls(tmp_path, aws):
    backend = make_backend(tmp_path, mount_config={"max_lease_ttl": 1800})
    configure_mock_root(backend)
    call(backend, "update", "roles/r", {"credential_type": "assumed_role", "role_arns": role_arn(aws)})
    assert issue(backend, "r", {"ttl": "2h"}).data["ttl"] in (1799, 1800)


# -- choosing what to issue -------------------------------------------------------------------


def test_unknown_role(backend):
    assert rejected(backend, "creds/nope") == 'Role "nope" not found'


def test_role_arn_selection(backend, aws):
    first, second = role_arn(aws, "one"), role_arn(aws, "two")
    call(
        backend, "update", "roles/two-arns", {"credential_type": "assumed_role", "role_arns": [first, second]}
    )
    assert (
        rejected(backend, "creds/two-arns")
        == "did not supply a role_arn parameter and unable to determine one"
    )
    other = "arn:aws:iam::123456789012:role/other"
    assert rejected(backend, "creds/two-arns", {"role_arn": other}) == (
        f'role_arn "{other}" not in allowed role arns for Vault role "two-arns"'
    )
    response = call(backend, "read", "creds/two-arns", {"role_arn": second})
    assert response.data["arn"].startswith("arn:aws:sts::123456789012:assumed-role/two/")
    call(backend, "update", "roles/no-arns", {"credential_type": "assumed_role"})
    assert (
        rejected(backend, "sts/no-arns") == "did not supply a role_arn parameter and unable to determine one"
    )


def test_legacy_roles_split_their_types_by_path(backend):
    backend.storage.put("policy/legacy", POLICY)  # pre-0.11 inline policy: iam_user and federation_token
    assert call(backend, "read", "creds/legacy").secret.renewable is True  # iam_user
    sts = call(backend, "read", "sts/legacy")
    assert sts.secret.renewable is False and sts.data["security_token"]  # federation_token
    backend.storage.put("policy/legacy-role", "arn:aws:iam::123456789012:role/deploy")
    assert rejected(backend, "creds/legacy-role") == (
        "attempted to retrieve assumed_role credentials through the creds path; "
        "this is not allowed for legacy roles"
    )
    backend.storage.put("policy/legacy-user", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert rejected(backend, "sts/legacy-user") == (
        "attempted to retrieve iam_user credentials through the sts path; "
        "this is not allowed for legacy roles"
    )


def test_federation_token_needs_a_policy(backend):
    call(backend, "update", "roles/fed", {"credential_type": "federation_token"})
    assert rejected(backend, "creds/fed") == (
        "must specify at least one of policy_arns or policy_document with federation_token credential_type"
    )


def test_generated_names_over_the_aws_limits_are_400(backend):
    call(
        backend,
        "update",
        "config/root",
        {"username_template": '{{ printf "%s-%s" .DisplayName (random 60) }}'},
    )
    call(backend, "update", "roles/u", {"credential_type": "iam_user"})
    assert rejected(backend, "creds/u") == (
        "the username generated by the template exceeds the IAM username length limits of 64 chars"
    )
    call(backend, "update", "roles/f", {"credential_type": "federation_token", "policy_document": POLICY})
    call(backend, "update", "config/root", {"username_template": "{{ random 33 }}"})
    assert rejected(backend, "creds/f") == (
        "the username generated by the template exceeds the STS username length limits of 32 chars"
    )


def test_usernames_follow_the_template_with_display_and_role_names(backend, aws):
    call(
        backend,
        "update",
        "config/root",
        {"username_template": "{{ .Type }}-{{ .DisplayName }}-{{ .PolicyName }}"},
    )
    call(backend, "update", "roles/app@x", {"credential_type": "iam_user"})
    call(backend, "read", "creds/app@x", display_name="approle my/app")
    names = [u["UserName"] for u in aws.list_users()["Users"]]
    assert names == ["IAM-approle_my_app-app@x"]  # characters IAM rejects became "_"


# -- STS response shapes -------------------------------------------------------------------


def test_assumed_role_shape_and_lease(backend, aws):
    arn = role_arn(aws)
    call(
        backend,
        "update",
        "roles/ar",
        {"credential_type": "assumed_role", "role_arns": arn, "default_sts_ttl": "15m"},
    )
    response = call(backend, "read", "creds/ar", {"role_session_name": "ci job#7"})
    assert set(response.data) == {"access_key", "secret_key", "security_token", "session_token", "arn", "ttl"}
    assert response.data["security_token"] == response.data["session_token"]
    assert response.data["arn"] == "arn:aws:sts::123456789012:assumed-role/deploy/ci_job_7"
    assert 895 <= response.data["ttl"] <= 900
    lease = response.secret
    assert (lease.renewable, lease.ttl, lease.internal["is_sts"]) == (False, response.data["ttl"], True)


def test_federation_and_session_tokens(backend):
    call(backend, "update", "roles/fed", {"credential_type": "federation_token", "policy_document": POLICY})
    federation = call(backend, "read", "sts/fed", {"ttl": 1200})
    assert "arn" not in federation.data and 1195 <= federation.data["ttl"] <= 1200
    assert federation.secret.renewable is False
    call(backend, "update", "roles/session", {"credential_type": "session_token", "default_sts_ttl": 900})
    session = call(backend, "read", "creds/session")
    assert session.data["session_token"] and session.secret.internal == {"is_sts": True}


def test_assumed_role_sends_tags_external_id_and_group_policies(backend, aws, monkeypatch):
    arn = role_arn(aws)
    aws.create_group(GroupName="devs")
    aws.put_group_policy(
        GroupName="devs",
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            }
        ),
    )
    managed = aws.create_policy(PolicyName="m", PolicyDocument=POLICY)["Policy"]["Arn"]
    aws.attach_group_policy(GroupName="devs", PolicyArn=managed)
    call(
        backend,
        "update",
        "roles/grp",
        {
            "credential_type": "assumed_role",
            "role_arns": arn,
            "iam_groups": "devs",
            "policy_document": POLICY,
            "session_tags": {"team": "a"},
            "external_id": "ext-1",
        },
    )
    seen = {}
    calls = FailingCalls(monkeypatch)
    calls.observers["AssumeRole"] = seen.update
    call(backend, "read", "creds/grp")
    assert seen["ExternalId"] == "ext-1" and seen["Tags"] == [{"Key": "team", "Value": "a"}]
    assert seen["PolicyArns"] == [{"arn": managed}]
    assert json.loads(seen["Policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Action": "ec2:Describe*", "Effect": "Allow", "Resource": "*"},
            {"Action": "s3:GetObject", "Effect": "Allow", "Resource": "*"},
        ],
    }


def test_combine_policy_documents_wraps_single_statements_and_skips_empty_ones():
    combined = combine_policy_documents(['{"Statement":{"Effect":"Deny"}}', "", POLICY])
    assert combined == (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny"},'
        '{"Action":"s3:GetObject","Effect":"Allow","Resource":"*"}]}'
    )


def test_aws_refusals_carry_vaults_prefix(backend):
    call(
        backend,
        "update",
        "roles/bad",
        {"credential_type": "assumed_role", "role_arns": "arn:aws:iam::123456789012:role/x"},
    )
    # No local minimum TTL: the SDK/AWS bound (900 s) is what answers, as in Vault.
    message = rejected(backend, "creds/bad", {"ttl": 10})
    assert message.startswith("Error assuming role: ") and "DurationSeconds" in message


# -- what issuance caches ---------------------------------------------------------------


def second_worker(backend):
    """Another AwsBackend on the same storage, as a second worker process has."""
    from vaultlet.engines.secrets.aws.backend import AwsBackend

    return AwsBackend(backend.context)


def test_a_role_or_config_change_made_by_another_worker_shows_at_the_next_issuance(backend, aws):
    first, second = role_arn(aws, "first"), role_arn(aws, "second")
    call(backend, "update", "roles/r", {"credential_type": "assumed_role", "role_arns": [first]})
    other = second_worker(backend)
    assert issue(other, "r").data["arn"].split("/")[-2] == "first"
    call(backend, "update", "roles/r", {"credential_type": "assumed_role", "role_arns": [second]})
    assert issue(other, "r").data["arn"].split("/")[-2] == "second"
    call(backend, "update", "config/root", {"username_template": "tpl-{{.PolicyName}}"})
    assert issue(other, "r").data["arn"].endswith("/tpl-r")
    call(backend, "delete", "roles/r")
    with pytest.raises(UserError):
        call(other, "read", "creds/r")


def test_issuance_reads_role_and_config_once_per_version(backend, aws, monkeypatch):
    call(backend, "update", "roles/r", {"credential_type": "assumed_role", "role_arns": [role_arn(aws)]})
    issue(backend, "r")
    reads = []
    store = backend.storage.store
    original = store.get_with_version
    monkeypatch.setattr(store, "get_with_version", lambda key: reads.append(key) or original(key))
    issue(backend, "r")
    issue(backend, "r")
    assert reads == []  # only the versions query ran
    call(backend, "update", "roles/r", {"ttl": 900})
    issue(backend, "r")
    assert reads == [backend.storage.prefix + "role/r"]
