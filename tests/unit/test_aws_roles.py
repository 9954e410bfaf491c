"""roles/:name: every validation message of the reference, merging, the read shape, legacy input."""

from __future__ import annotations

import json

import pytest

from support.aws_engine import call, make_backend
from vaultlet.engines.secrets.aws.roles import compact_json, managed_policy_arn_problem, upgrade_legacy_entry
from vaultlet.errors import NotFound, UserError

POLICY = """{
  "Version": "2012-10-17",
  "Statement": [ {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"} ]
}"""
ROLE_ARN = "arn:aws:iam::123456789012:role/deploy"
POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@pytest.fixture()
def backend(tmp_path):
    return make_backend(tmp_path)


def rejected(backend, data: dict, name: str = "r") -> str:
    with pytest.raises(UserError) as caught:
        call(backend, "update", f"roles/{name}", data)
    assert len(caught.value.messages) == 1
    return caught.value.messages[0]


def validation(*problems: str) -> str:
    """Vault's text: the go-multierror list, %q-quoted (so its newlines and tabs appear escaped)."""
    if len(problems) == 1:
        body = f"1 error occurred:\\n\\t* {problems[0]}\\n\\n"
    else:
        body = (
            f"{len(problems)} errors occurred:\\n\\t" + "\\n\\t".join(f"* {p}" for p in problems) + "\\n\\n"
        )
    return f'error(s) validating supplied role data: "{body}"'


# -- each validation rule -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"policy_document": POLICY}, "did not supply credential_type"),
        ({"credential_type": "cat"}, "unrecognized credential type: cat"),
        (
            {"credential_type": "iam_user", "default_sts_ttl": "1h"},
            "default_sts_ttl parameter only valid for assumed_role, federation_token, and session_token "
            "credential types",
        ),
        (
            {"credential_type": "iam_user", "max_sts_ttl": 7200},
            "max_sts_ttl parameter only valid for assumed_role, federation_token, and session_token "
            "credential types",
        ),
        (
            {"credential_type": "assumed_role", "default_sts_ttl": "2h", "max_sts_ttl": "1h"},
            '\\"default_sts_ttl\\" value must be less than or equal to \\"max_sts_ttl\\" value',
        ),
        (
            {"credential_type": "assumed_role", "user_path": "/apps/"},
            "user_path parameter only valid for iam_user credential type",
        ),
        (
            {"credential_type": "iam_user", "user_path": "apps"},
            # the pattern is %q-quoted twice: once in the message, once with the whole list
            r"the specified value for user_path is invalid. It must match \"^\\\\/([\\\\x21-\\\\x7F]{0,510}"
            r"\\\\/)?$\" regexp",
        ),
        (
            {
                "credential_type": "assumed_role",
                "permissions_boundary_arn": "arn:aws:iam::123456789012:policy/pb",
            },
            "cannot supply permissions_boundary_arn when credential_type isn't iam_user",
        ),
        (
            {"credential_type": "iam_user", "permissions_boundary_arn": "boundary"},
            "invalid permissions_boundary_arn parameter: arn: invalid prefix",
        ),
        (
            {"credential_type": "iam_user", "permissions_boundary_arn": "arn:aws:iam"},
            "invalid permissions_boundary_arn parameter: arn: not enough sections",
        ),
        (
            {"credential_type": "iam_user", "permissions_boundary_arn": "arn:aws:s3:::bucket"},
            "invalid permissions_boundary_arn parameter: expected a service of iam but got s3",
        ),
        (
            {"credential_type": "iam_user", "permissions_boundary_arn": ROLE_ARN},
            "invalid permissions_boundary_arn parameter: "
            "expected a resource type of policy but got role/deploy",
        ),
        (
            {"credential_type": "session_token", "policy_document": POLICY},
            "cannot supply a policy or role when using credential_type session_token",
        ),
        (
            {"credential_type": "session_token", "policy_arns": POLICY_ARN},
            "cannot supply a policy or role when using credential_type session_token",
        ),
        (
            {"credential_type": "iam_user", "role_arns": ROLE_ARN},
            "cannot supply role_arns when credential_type isn't assumed_role",
        ),
        (
            {"credential_type": "federation_token", "session_tags": {"team": "a"}},
            "cannot supply session_tags when credential_type isn't assumed_role",
        ),
        (
            {"credential_type": "iam_user", "external_id": "x-1"},
            "cannot supply external_id when credential_type isn't assumed_role",
        ),
        (
            {"credential_type": "iam_user", "iam_tags": ["vaultlet-issuer=me"]},
            "iam_tags key \\\"vaultlet-issuer\\\" is reserved: keys starting with 'vaultlet-' are vaultlet's "
            "own bookkeeping",
        ),
        (
            {"credential_type": "assumed_role", "verify_credentials": True},
            "verify_credentials parameter only valid for iam_user credential type",
        ),
        (
            {"credential_type": "iam_user", "verify_credentials": True, "verify_credentials_timeout": "10m"},
            "verify_credentials_timeout must be between 1s and 120s",
        ),
    ],
)
def test_each_validation_rule_answers_400_with_vaults_text(backend, data, problem):
    assert rejected(backend, data) == validation(problem)
    with pytest.raises(NotFound):
        call(backend, "read", "roles/r")  # nothing was stored


def test_all_problems_are_reported_together(backend):
    message = rejected(
        backend,
        {"credential_type": "iam_user", "default_sts_ttl": 60, "role_arns": ROLE_ARN, "external_id": "e"},
    )
    assert message == validation(
        "default_sts_ttl parameter only valid for assumed_role, federation_token, and session_token "
        "credential types",
        "cannot supply role_arns when credential_type isn't assumed_role",
        "cannot supply external_id when credential_type isn't assumed_role",
    )


def test_policy_document_must_be_json(backend):
    assert rejected(backend, {"credential_type": "iam_user", "policy_document": '{"Version": '}) == (
        'cannot parse policy document: "{\\"Version\\": "'
    )
    assert rejected(backend, {"credential_type": "iam_user", "policy_document": "NaN"}) == (
        'cannot parse policy document: "NaN"'
    )


def test_a_bad_duration_is_a_400_from_field_parsing(backend):
    message = rejected(backend, {"credential_type": "assumed_role", "default_sts_ttl": "soon"})
    assert "default_sts_ttl" in message and "soon" in message


def test_validation_sees_the_merged_role(backend):
    call(backend, "update", "roles/r", {"credential_type": "assumed_role", "role_arns": ROLE_ARN})
    assert rejected(backend, {"credential_type": "iam_user"}) == validation(
        "cannot supply role_arns when credential_type isn't assumed_role"
    )


# -- legacy parameters ------------------------------------------------------------------


def test_legacy_parameters_cannot_be_mixed(backend):
    assert (
        rejected(backend, {"policy": POLICY, "arn": POLICY_ARN})
        == "only one of policy or arn should be provided"
    )
    assert rejected(backend, {"arn": POLICY_ARN, "credential_type": "iam_user"}) == (
        "cannot supply deprecated role or policy parameters with an explicit credential_type"
    )
    for name, value in [
        ("role_arns", ROLE_ARN),
        ("policy_arns", POLICY_ARN),
        ("policy_document", POLICY),
        ("default_sts_ttl", 60),
        ("max_sts_ttl", 60),
        ("user_path", "/x/"),
        ("permissions_boundary_arn", POLICY_ARN),
    ]:
        assert rejected(backend, {"policy": POLICY, name: value}) == (
            f"cannot supply deprecated role or policy parameters with {name}"
        )


def test_legacy_values_are_upgraded_with_a_warning(backend):
    response = call(backend, "update", "roles/old-arn", {"arn": ROLE_ARN})
    assert response.warnings == [
        "Detected use of legacy role or policy parameter. Please upgrade to use the new parameters."
    ]
    assert call(backend, "read", "roles/old-arn").data["credential_type"] == "assumed_role"
    call(backend, "update", "roles/old-policy", {"policy": POLICY})
    data = call(backend, "read", "roles/old-policy").data
    assert data["credential_type"] == "iam_user,federation_token"
    assert data["policy_document"] == compact_json(POLICY)
    assert (
        rejected(backend, {"arn": "arn:aws:s3:::bucket"})
        == 'unable to parse supplied data: "arn:aws:s3:::bucket"'
    )


def test_legacy_storage_entries_are_upgraded_on_read(backend):
    backend.storage.put("policy/ancient", POLICY)
    assert call(backend, "list", "roles/").data["keys"] == ["ancient"]
    assert call(backend, "read", "roles/ancient").data["credential_type"] == "iam_user,federation_token"
    assert backend.storage.get("policy/ancient") is None
    assert backend.storage.get("role/ancient")["prohibit_flexible_cred_path"] is True


def test_upgrade_of_unusable_legacy_data_is_marked_invalid():
    assert upgrade_legacy_entry("arn:aws:s3:::x").invalid_data == "arn:aws:s3:::x"
    assert upgrade_legacy_entry("{nope").invalid_data == "{nope"


# -- merging and the read shape ------------------------------------------------------------


def test_read_shape_matches_vault(backend):
    assert call(backend, "update", "roles/shape@team.x", {"credential_type": "iam_user"}) is not None
    data = call(backend, "read", "roles/shape@team.x").data
    assert data == {
        "credential_type": "iam_user",
        "policy_arns": None,
        "role_arns": None,
        "policy_document": "",
        "iam_groups": None,
        "iam_tags": None,
        "session_tags": None,
        "external_id": "",
        "default_sts_ttl": 0,
        "max_sts_ttl": 0,
        "user_path": "",
        "permissions_boundary_arn": "",
        "mfa_serial_number": "",
        "verify_credentials": False,
        "verify_credentials_timeout": 30,
    }


def test_writes_merge_into_the_stored_role(backend):
    call(
        backend,
        "update",
        "roles/m",
        {
            "credential_type": "assumed_role",
            "role_arns": f"{ROLE_ARN},{ROLE_ARN}-2",
            "default_sts_ttl": "15m",
            "max_sts_ttl": "1h",
            "session_tags": ["team=a", "env=dev"],
        },
    )
    call(backend, "update", "roles/m", {"policy_document": POLICY, "max_sts_ttl": 7200})
    data = call(backend, "read", "roles/m").data
    assert data["credential_type"] == "assumed_role"
    assert data["role_arns"] == [ROLE_ARN, f"{ROLE_ARN}-2"]
    assert data["default_sts_ttl"] == 900 and data["max_sts_ttl"] == 7200
    assert data["session_tags"] == {"team": "a", "env": "dev"}
    assert data["policy_document"] == (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}'
    )
    call(backend, "update", "roles/m", {"policy_document": ""})
    assert call(backend, "read", "roles/m").data["policy_document"] == ""


def test_hvac_style_policy_dict_is_compacted_keeping_key_order(backend):
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "a b", "Effect": "Allow"}]}, indent=4
    )
    call(backend, "update", "roles/h", {"credential_type": "iam_user", "policy_document": document})
    assert call(backend, "read", "roles/h").data["policy_document"] == (
        '{"Version":"2012-10-17","Statement":[{"Sid":"a b","Effect":"Allow"}]}'
    )


def test_compact_json_keeps_strings_and_numbers_verbatim():
    assert compact_json('{ "a" : "x  y\\"\\u00e9" , "n": 1.50e3 }') == '{"a":"x  y\\"\\u00e9","n":1.50e3}'


def test_assumed_role_without_role_arns_is_accepted(backend):
    # hvac's integration test (c) writes exactly this and expects success.
    assert (
        call(backend, "update", "roles/c", {"credential_type": "assumed_role", "policy_document": POLICY})
        is not None
    )


def test_list_and_delete(backend):
    with pytest.raises(NotFound):
        call(backend, "list", "roles/")
    for name in ("b", "a"):
        call(backend, "update", f"roles/{name}", {"credential_type": "iam_user"})
    assert call(backend, "list", "roles/").data["keys"] == ["a", "b"]
    call(backend, "delete", "roles/a")
    call(backend, "delete", "roles/missing")  # deleting nothing is fine
    assert call(backend, "list", "roles/").data["keys"] == ["b"]


def test_iam_user_roles_record_their_user_path_for_the_orphan_sweeper(backend):
    from vaultlet.engines.secrets.aws.roles import user_path_prefixes

    call(backend, "update", "roles/a", {"credential_type": "iam_user", "user_path": "/apps/x/"})
    call(backend, "update", "roles/b", {"credential_type": "iam_user", "user_path": "/apps/"})
    call(backend, "update", "roles/c", {"credential_type": "iam_user", "user_path": "/ci/"})
    assert user_path_prefixes(backend.storage) == ["/apps/", "/ci/"]


def test_managed_policy_arn_check():
    assert managed_policy_arn_problem("arn:aws:iam::123456789012:policy/team/pb") == ""
