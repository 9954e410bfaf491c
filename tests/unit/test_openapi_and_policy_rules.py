"""Pure logic behind the OpenAPI document, help text and policy writes: path regexes to
templates, Vault's storage-scan order of policy names, and check-and-set decisions."""

from __future__ import annotations

import pytest

from vaultlet.core.policies import _check_and_set, scan_order
from vaultlet.errors import UserError
from vaultlet.framework.fields import BOOL, DURATION, STRING, Field
from vaultlet.framework.openapi import MountView, expand_pattern, path_items
from vaultlet.framework.path import Path
from vaultlet.framework.request import LIST, READ, UPDATE

PATTERNS = [
    ("health", ["health"]),
    ("policies/acl/?", ["policies/acl"]),
    ("policies/acl/(?P<name>.+)", ["policies/acl/{name}"]),
    ("leases/renew(?:/(?P<url_lease_id>.+))?", ["leases/renew", "leases/renew/{url_lease_id}"]),
    (
        r"tools/random(?:/(?P<source>[^/]+)(?=/[^/]+$))?(?:/(?P<urlbytes>[^/]+))?",
        [
            "tools/random",
            "tools/random/{urlbytes}",
            "tools/random/{source}",
            "tools/random/{source}/{urlbytes}",
        ],
    ),
    ("(?:data|metadata)/(?P<path>.*)", ["data/{path}", "metadata/{path}"]),
    ("raw/?$|raw/(?P<path>.+)", ["raw", "raw/{path}"]),
    (r"role/(?P<role_name>\w(?:[\w\-.]*\w)?)/secret-id/?", ["role/{role_name}/secret-id"]),
    ("mounts/(?P<path>.+?)/tune/?", ["mounts/{path}/tune"]),
]


@pytest.mark.parametrize(("pattern", "templates"), PATTERNS)
def test_patterns_become_openapi_templates(pattern, templates):
    assert sorted(expand_pattern(pattern)) == sorted(templates)


def _declaration() -> Path:
    return Path(
        pattern="things/(?P<name>[^/]+)",
        fields={
            "name": Field(STRING, "The thing", in_path=True),
            "ttl": Field(DURATION, "How long"),
            "force": Field(BOOL, "Even so", required=True),
        },
        operations={READ: lambda *a: None, UPDATE: lambda *a: None, LIST: lambda *a: None},
        synopsis="Things.",
        sudo=True,
    )


def test_a_declaration_becomes_a_path_item_with_operations_parameters_and_responses():
    schemas: dict = {}
    items = path_items(MountView(prefix="sys/", tag="system"), [_declaration()], schemas)
    item = items["/sys/things/{name}"]
    assert item["x-vault-sudo"] is True
    assert [p["name"] for p in item["parameters"]] == ["name"]
    assert item["get"]["parameters"][0]["name"] == "list"  # read and list share the get
    assert "required" not in item["get"]["parameters"][0]
    ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = schemas[ref.rsplit("/", 1)[1]]
    assert sorted(schema["properties"]) == ["force", "ttl"] and schema["required"] == ["force"]
    assert all(item[method]["responses"] for method in ("get", "post"))
    assert item["get"]["operationId"] != item["post"]["operationId"]


def test_generic_mount_paths_template_the_mount():
    view = MountView(prefix="auth/my-approle/", tag="auth", generic="my_approle", default_mount="my-approle")
    items = path_items(view, [_declaration()], {})
    item = items["/auth/{my_approle_mount_path}/things/{name}"]
    mount = item["parameters"][-1]
    assert (mount["name"], mount["schema"]["default"]) == ("my_approle_mount_path", "my-approle")


def test_help_text_has_vaults_layout():
    text = _declaration().help_text("things/x")
    assert text.startswith(
        "Request:        things/x\nMatching Route: ^things/(?P<name>[^/]+)$\n\nThings.\n\n"
    )
    assert "\n    ttl (duration (sec))\n\n        How long\n" in text
    assert text.endswith("## DESCRIPTION\n\nThings.")
    bare = Path(pattern="x", operations={READ: lambda *a: None}, synopsis="S.", description="D.")
    assert bare.help_text("x") == "Request:        x\nMatching Route: ^x$\n\nS.\n\n\n## DESCRIPTION\n\nD."


def test_policy_names_in_storage_scan_order():
    names = ["p1", "team/upper", "default", "team/legacy/x", "a*b", "team/legacy/y", "zz/1"]
    assert scan_order(names) == [
        "a*b",
        "default",
        "p1",
        "zz/1",
        "team/upper",
        "team/legacy/x",
        "team/legacy/y",
    ]


CAS = [
    # (current version or None, current cas_required, cas, cas_required asked, error or None)
    (None, False, None, False, None),
    (None, False, 0, False, None),
    (None, False, -1, True, None),
    (None, False, 1, False, "check-and-set parameter 1 did not match the current version 0"),
    (None, False, None, True, "check-and-set parameter required for this call"),
    (2, True, None, False, "check-and-set parameter required for this call"),
    (2, False, None, False, None),
    (2, False, 2, False, None),
    (2, False, -1, False, "check-and-set parameter set to -1 on existing entry"),
    (2, False, 0, False, "check-and-set parameter 0 did not match the current version 2"),
]


@pytest.mark.parametrize(("version", "required", "cas", "asked", "error"), CAS)
def test_check_and_set(version, required, cas, asked, error):
    current = None if version is None else {"version": version, "cas_required": required}
    if error is None:
        _check_and_set(current, cas, asked)
        return
    with pytest.raises(UserError) as raised:
        _check_and_set(current, cas, asked)
    assert raised.value.messages == [error]


def test_a_patch_without_cas_passes_a_policy_that_requires_it():
    _check_and_set({"version": 3, "cas_required": True}, None, False, required_by_record=False)
