"""The iam_user lifecycle: write-ahead log, tags, failures, teardown, rollback, orphans, renewal.

AWS is moto's in-process mock; failures are injected per operation.
"""

from __future__ import annotations

import time

import boto3
import pytest
from moto import mock_aws

from support.aws_engine import (
    MOUNT_UUID,
    REGION,
    FailingCalls,
    call,
    configure_mock_root,
    issue,
    make_backend,
)
from vaultlet.engines.secrets.aws import client as client_module
from vaultlet.engines.secrets.aws import iam_users
from vaultlet.engines.secrets.aws.client import (
    AwsError,
    AwsServerError,
    AwsThrottled,
    AwsUnreachable,
    NoSuchEntity,
)
from vaultlet.engines.secrets.aws.iam_users import wait_until_usable
from vaultlet.engines.secrets.aws.rollback import settle_wal_entries, sweep_orphaned_users
from vaultlet.engines.secrets.aws.secret import renew_access_keys, revoke_access_keys
from vaultlet.engines.secrets.aws.teardown import delete_iam_user
from vaultlet.errors import InternalError, UpstreamError, UserError
from vaultlet.framework.backend import Lease

POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'


@pytest.fixture()
def aws():
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


@pytest.fixture()
def calls(monkeypatch):
    return FailingCalls(monkeypatch)


def new_backend(tmp_path, rollback_min_age=300.0):
    backend = make_backend(tmp_path, rollback_min_age=rollback_min_age)
    configure_mock_root(backend)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_group(GroupName="devs")
    managed = iam.create_policy(PolicyName="read-only", PolicyDocument=POLICY)["Policy"]["Arn"]
    call(backend, "update", "roles/app", {"credential_type": "iam_user", "policy_document": POLICY})
    call(
        backend,
        "update",
        "roles/full",
        {
            "credential_type": "iam_user",
            "policy_document": POLICY,
            "policy_arns": managed,
            "iam_groups": "devs",
            "iam_tags": ["team=payments"],
            "user_path": "/vault/",
        },
    )
    return backend


@pytest.fixture()
def backend(tmp_path, aws):
    return new_backend(tmp_path)


def users(aws) -> list[str]:
    return [u["UserName"] for u in aws.list_users()["Users"]]


def lease_for(response, issued_at: float | None = None) -> Lease:
    return Lease(
        lease_id=f"aws/creds/x/{response.secret.lease_id_suffix}",
        internal=response.secret.internal,
        issue_time=issued_at if issued_at is not None else time.time(),
        expire_time=None,
        renewable=response.secret.renewable,
    )


def age_wal_entries(backend, seconds: float) -> None:
    for entry in backend.wal.entries():
        record = backend.storage.get(f"wal/{entry.id}")
        record["updated_at"] -= seconds
        backend.storage.put(f"wal/{entry.id}", record)


# -- issuing ---------------------------------------------------------------------------------


def test_the_log_entry_exists_before_create_user_and_names_the_lease(backend, aws, calls):
    seen = {}
    calls.observers["CreateUser"] = lambda params: seen.update(params=params, wal=backend.wal.entries())
    response = issue(backend, "full")
    (entry,) = seen["wal"]
    username = seen["params"]["UserName"]
    assert entry.kind == "user" and entry.data == {"username": username, "lease_path": "aws/creds/full"}
    assert response.secret.lease_id_suffix == entry.id and response.secret.internal["wal_id"] == entry.id
    tags = {t["Key"]: t["Value"] for t in aws.list_user_tags(UserName=username)["Tags"]}
    assert tags == {"team": "payments", "vaultlet-issuer": MOUNT_UUID, "vaultlet-lease-ref": entry.id}
    assert calls.calls[calls.calls.index("CreateUser") :] == [
        "CreateUser",
        "AttachUserPolicy",
        "PutUserPolicy",
        "AddUserToGroup",
        "CreateAccessKey",
    ]
    assert seen["params"]["Path"] == "/vault/"
    assert aws.list_user_policies(UserName=username)["PolicyNames"] == ["full"]  # named after the role


def test_iam_user_response_and_lease(backend):
    call(backend, "update", "config/lease", {"lease": "30m", "lease_max": "1h"})
    response = issue(backend, "app")
    assert set(response.data) == {"access_key", "secret_key", "security_token", "session_token"}
    assert response.data["security_token"] is None and response.data["session_token"] is None
    assert (response.secret.ttl, response.secret.max_ttl, response.secret.renewable) == (1800, 3600, True)
    assert response.secret.internal["is_sts"] is False


def test_a_failure_after_create_user_tears_the_user_down_at_once(backend, aws, calls):
    calls.failures["AddUserToGroup"] = AwsError("AccessDenied", "not allowed", status=403, request_id="r")
    with pytest.raises(UserError) as caught:
        issue(backend, "full")
    assert caught.value.messages == [
        "Error adding user to group: AccessDenied: not allowed\n\tstatus code: 403, request id: r"
    ]
    assert users(aws) == [] and backend.wal.ids() == []


def test_if_the_teardown_fails_too_the_log_entry_stays_for_the_rollback(tmp_path, aws, calls):
    backend = new_backend(tmp_path, rollback_min_age=0)
    calls.failures["CreateAccessKey"] = AwsThrottled("Throttling", "Rate exceeded")
    calls.failures["ListGroupsForUser"] = AwsUnreachable("RequestError", "send request failed")
    with pytest.raises(UpstreamError) as caught:
        issue(backend, "app")
    assert caught.value.status == 502 and "retry" in caught.value.messages[0]
    assert len(users(aws)) == 1 and len(backend.wal.ids()) == 1
    calls.failures.clear()
    settle_wal_entries(backend)
    assert users(aws) == [] and backend.wal.ids() == []


def test_create_user_refused_means_nothing_to_roll_back(backend, aws):
    call(backend, "update", "config/root", {"username_template": "fixed-name"})
    aws.create_user(UserName="fixed-name")  # somebody else's user
    with pytest.raises(UserError) as caught:
        issue(backend, "app")
    assert caught.value.messages[0].startswith("Error creating IAM user: EntityAlreadyExists:")
    assert backend.wal.ids() == [] and users(aws) == ["fixed-name"]


def test_create_user_without_an_answer_keeps_the_entry(tmp_path, aws, calls):
    backend = new_backend(tmp_path, rollback_min_age=0)
    calls.failures["CreateUser"] = AwsUnreachable("RequestError", "read timeout")
    with pytest.raises(UpstreamError):
        issue(backend, "app")
    assert len(backend.wal.ids()) == 1
    calls.failures.clear()
    settle_wal_entries(backend)  # the user never existed: the entry just goes
    assert backend.wal.ids() == []


def test_a_request_slower_than_the_rollback_gives_up_its_user(backend, aws, calls):
    def rollback_claims_the_entry(_params):
        (entry,) = backend.wal.entries()
        assert backend.wal.claim(entry, "another-worker", 60)

    calls.observers["CreateAccessKey"] = rollback_claims_the_entry
    with pytest.raises(InternalError) as caught:
        issue(backend, "app")
    assert "rollback_min_age" in caught.value.messages[0]
    assert users(aws) == []


def test_verify_credentials_waits_for_the_new_key(backend, monkeypatch, calls):
    monkeypatch.setattr(iam_users, "VERIFY_INTERVAL", 0.0)
    call(backend, "update", "roles/app", {"verify_credentials": True, "verify_credentials_timeout": 5})
    response = issue(backend, "app")
    assert response.warnings == [] and calls.calls.count("GetCallerIdentity") == 3


class _FlakySts:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)

    def get_caller_identity(self):
        if self.outcomes.pop(0):
            return None
        raise AwsError("InvalidClientTokenId", "The security token included in the request is invalid.")


def test_wait_until_usable_needs_three_successes_in_a_row():
    now = [0.0]
    sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)  # noqa: E731
    sts = _FlakySts([False, True, False, True, True, True])
    assert wait_until_usable(sts, 30, clock=lambda: now[0], sleep=sleep) is True
    assert sts.outcomes == []
    never = _FlakySts([False] * 100)
    assert wait_until_usable(never, 2, clock=lambda: now[0], sleep=sleep) is False


# -- revocation and teardown -------------------------------------------------------------------


def test_revoke_deletes_the_user_and_everything_on_it(backend, aws, calls):
    response = issue(backend, "full")
    (username,) = users(aws)
    aws.create_login_profile(UserName=username, Password="Pa55word!x")
    revoke_access_keys(backend, lease_for(response))
    assert users(aws) == [] and backend.wal.ids() == []
    teardown = calls.calls[calls.calls.index("ListGroupsForUser") :]
    assert teardown == [
        "ListGroupsForUser",
        "ListUserPolicies",
        "ListAttachedUserPolicies",
        "ListAccessKeys",
        "DeleteAccessKey",
        "DetachUserPolicy",
        "DeleteUserPolicy",
        "RemoveUserFromGroup",
        "DeleteUser",
    ]


def test_delete_conflict_removes_out_of_band_credentials_and_retries(backend, aws, calls):
    issue(backend, "app")
    (username,) = users(aws)
    aws.create_login_profile(UserName=username, Password="Pa55word!x")
    # moto's mock lacks this listing; a failing kind must not stop the others
    calls.failures["ListServiceSpecificCredentials"] = AwsError("NotImplemented", "not in moto")
    calls.failures["DeleteUser"] = [
        AwsError("DeleteConflict", "Cannot delete entity, must delete login profile first.")
    ]
    assert delete_iam_user(backend.aws().iam, username, accept_missing=False) is True
    assert "DeleteLoginProfile" in calls.calls and calls.calls.count("DeleteUser") == 2
    assert users(aws) == []


def test_teardown_is_idempotent_and_respects_the_grace_age(backend, aws):
    iam = backend.aws().iam
    with pytest.raises(NoSuchEntity):
        delete_iam_user(iam, "never-existed", accept_missing=False)
    assert delete_iam_user(iam, "never-existed", accept_missing=True) is False


def test_revoking_a_young_lease_of_a_missing_user_is_retried_later(backend, aws):
    response = issue(backend, "app")
    aws_user = users(aws)[0]
    delete_iam_user(backend.aws().iam, aws_user, accept_missing=False)  # gone (or merely invisible?)
    with pytest.raises(NoSuchEntity):
        revoke_access_keys(backend, lease_for(response))
    revoke_access_keys(backend, lease_for(response, issued_at=time.time() - 301))


def test_sts_leases_revoke_to_nothing_and_do_not_renew(backend):
    lease = Lease("aws/sts/x/y", {"is_sts": True, "username": "s"}, time.time(), None, False)
    assert revoke_access_keys(backend, lease) is None
    assert renew_access_keys(backend, lease) is None
    with pytest.raises(InternalError) as caught:
        revoke_access_keys(backend, Lease("l", {"is_sts": "yes"}, time.time(), None, False))
    assert caught.value.messages == ["secret has is_sts but value could not be understood"]


def test_iam_user_renewal_uses_config_lease(backend):
    response = issue(backend, "app")
    assert renew_access_keys(backend, lease_for(response)).ttl == 0  # no config/lease: mount defaults
    call(backend, "update", "config/lease", {"lease": "10m", "lease_max": "2h"})
    renewal = renew_access_keys(backend, lease_for(response))
    assert (renewal.ttl, renewal.max_ttl) == (600, 7200)


# -- rollback and orphans ------------------------------------------------------------------------


def test_rollback_keeps_users_whose_lease_exists_and_deletes_the_rest(backend, aws):
    kept = issue(backend, "app")  # its lease is registered (see support.issue)
    issue(backend, "app", lease=False)  # as if the process died before the core stored the lease
    assert len(users(aws)) == 2 and len(backend.wal.ids()) == 2
    settle_wal_entries(backend)
    assert len(backend.wal.ids()) == 2  # too young: IAM may not show them yet
    age_wal_entries(backend, 301)
    settle_wal_entries(backend)
    assert backend.wal.ids() == []
    (survivor,) = users(aws)
    assert {t["Value"] for t in aws.list_user_tags(UserName=survivor)["Tags"]} >= {
        kept.secret.lease_id_suffix
    }


def test_rollback_never_deletes_a_user_it_did_not_create(backend, aws):
    wal_id = backend.wal.put("user", {"username": "someone-else", "lease_path": "aws/creds/app"})
    aws.create_user(UserName="someone-else")
    age_wal_entries(backend, 301)
    settle_wal_entries(backend)
    assert users(aws) == ["someone-else"] and not backend.wal.exists(wal_id)


def test_orphan_sweeper_deletes_only_unaccounted_users_of_this_mount(tmp_path, aws):
    backend = new_backend(tmp_path, rollback_min_age=0)
    call(backend, "update", "config/root", {"orphan_sweep_interval": "1h"})
    leased = issue(backend, "app")
    pending_id = backend.wal.put("user", {"username": "pending", "lease_path": "aws/creds/app"})

    def make(name, tags, path="/"):
        aws.create_user(UserName=name, Path=path, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    make("orphan", {"vaultlet-issuer": MOUNT_UUID, "vaultlet-lease-ref": "gone"})
    make("orphan-no-ref", {"vaultlet-issuer": MOUNT_UUID}, path="/vault/")
    make("pending", {"vaultlet-issuer": MOUNT_UUID, "vaultlet-lease-ref": pending_id})
    make("other-mount", {"vaultlet-issuer": "another-mount", "vaultlet-lease-ref": "gone"})
    make("untagged", {})
    time.sleep(0.01)
    assert sweep_orphaned_users(backend) == 2
    remaining = set(users(aws))
    assert {"orphan", "orphan-no-ref"}.isdisjoint(remaining)
    assert {"pending", "other-mount", "untagged"} <= remaining
    assert any(u not in {"pending", "other-mount", "untagged"} for u in remaining)  # the leased user
    assert leased.secret.lease_id_suffix
    make("orphan-2", {"vaultlet-issuer": MOUNT_UUID})
    assert sweep_orphaned_users(backend) == 0  # not this process's turn again within the interval


def test_disabling_the_mount_rolls_back_open_entries(backend, aws):
    issue(backend, "app", lease=False)
    backend.cleanup()
    assert users(aws) == [] and backend.wal.ids() == []


# -- answers lost after AWS acted (defect: a lost CreateUser answer leaked the user) ---------------


def lose_answers(monkeypatch, operation: str, then: AwsError | None = None) -> None:
    """The first ``operation`` call takes effect but its answer is lost; botocore retries.

    ``then`` is what the retry hears; None means the retry runs for real (what moto
    would answer: EntityAlreadyExists for a user, a second key for CreateAccessKey).
    """
    original = client_module._Api._call
    lost = []

    def patched(api, name, **params):
        if name != operation or lost:
            return original(api, name, **params)
        original(api, name, **params)  # AWS acted...
        lost.append(name)  # ...and the answer never came back: the retry
        if then is not None:
            raise then
        answer = original(api, name, **params)
        answer.setdefault("ResponseMetadata", {})["RetryAttempts"] = 1
        return answer

    monkeypatch.setattr(client_module._Api, "_call", patched)


def test_entity_already_exists_after_a_lost_create_user_answer_is_ours_and_issuance_goes_on(
    backend, aws, monkeypatch
):
    already = AwsError("EntityAlreadyExists", "User already exists.", status=409, retries=1)
    lose_answers(monkeypatch, "CreateUser", then=already)
    response = issue(backend, "app")
    (username,) = users(aws)
    assert (
        aws.list_access_keys(UserName=username)["AccessKeyMetadata"][0]["AccessKeyId"]
        == (response.data["access_key"])
    )
    assert backend.wal.ids() == ["wal/" + response.secret.lease_id_suffix]  # settled once leased


def test_a_lost_create_user_answer_then_a_5xx_keeps_the_entry_and_the_rollback_deletes_the_user(
    tmp_path, aws, monkeypatch
):
    backend = new_backend(tmp_path, rollback_min_age=0)
    failure = AwsServerError("InternalFailure", "oops", status=500, retries=2)
    lose_answers(monkeypatch, "CreateUser", then=failure)
    with pytest.raises(UpstreamError) as caught:
        issue(backend, "app")
    assert caught.value.status == 502
    assert len(users(aws)) == 1 and len(backend.wal.ids()) == 1  # the entry outlives the error
    settle_wal_entries(backend)  # no orphan sweeper involved
    assert users(aws) == [] and backend.wal.ids() == []


def test_a_refused_create_user_after_retries_keeps_the_entry(tmp_path, aws, calls):
    backend = new_backend(tmp_path, rollback_min_age=0)
    calls.failures["CreateUser"] = AwsError("AccessDenied", "no", status=403, retries=1)
    with pytest.raises(UserError):
        issue(backend, "app")
    assert len(backend.wal.ids()) == 1  # an earlier attempt may have taken effect
    calls.failures.clear()
    settle_wal_entries(backend)
    assert backend.wal.ids() == []


def test_a_lost_create_access_key_answer_leaves_no_extra_key(backend, aws, monkeypatch):
    lose_answers(monkeypatch, "CreateAccessKey")
    response = issue(backend, "app")
    (username,) = users(aws)
    keys = [k["AccessKeyId"] for k in aws.list_access_keys(UserName=username)["AccessKeyMetadata"]]
    assert keys == [response.data["access_key"]]
