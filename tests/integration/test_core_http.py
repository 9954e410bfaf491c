"""Vault's wire protocol, checked over real HTTP against a running vaultlet."""

from __future__ import annotations

import json
import urllib.request

from support.processes import http

ENVELOPE_KEYS = [
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
]


def _enable_kv(server, path):
    status, _, text = http(server, "POST", f"sys/mounts/{path}", {"type": "kv"})
    assert status == 204, text


def test_success_envelope_has_vaults_keys_in_order(server):
    status, body, _ = http(server, "GET", "auth/token/lookup-self")
    assert status == 200
    assert list(body)[: len(ENVELOPE_KEYS)] == ENVELOPE_KEYS
    assert body["data"]["policies"] == ["root"]
    assert body["mount_type"] == "token"


def test_write_without_body_is_204_and_missing_read_is_404_with_empty_errors(server):
    _enable_kv(server, "http-kv")
    status, body, text = http(server, "PUT", "http-kv/present", {"value": "x"})
    assert (status, text) == (204, "")
    status, body, _ = http(server, "GET", "http-kv/absent")
    assert (status, body) == (404, {"errors": []})


def test_list_verb_and_list_query_are_the_same(server):
    _enable_kv(server, "list-kv")
    for key in ("b", "a", "dir/c"):
        assert http(server, "PUT", f"list-kv/{key}", {"v": 1})[0] == 204
    answers = [
        http(server, "LIST", "list-kv")[1]["data"]["keys"],
        http(server, "LIST", "list-kv/")[1]["data"]["keys"],
        http(server, "GET", "list-kv?list=true")[1]["data"]["keys"],
        http(server, "GET", "list-kv/?list=True")[1]["data"]["keys"],
    ]
    assert all(sorted(keys) == ["a", "b", "dir/"] for keys in answers), answers
    assert http(server, "LIST", "list-kv/nothing-here") == (404, {"errors": []}, '{"errors": []}')


def test_body_is_json_whatever_the_content_type(server):
    _enable_kv(server, "ctype-kv")
    status, _, _ = http(server, "PUT", "ctype-kv/x", raw=b'{"k":"v"}', headers={"Content-Type": "text/plain"})
    assert status == 204
    assert http(server, "GET", "ctype-kv/x")[1]["data"] == {"k": "v"}


def test_get_query_parameters_become_request_data(server):
    status, body, _ = http(server, "GET", "sys/health?sealedcode=299&haunhealhty=299", token=None)
    assert status == 200 and body["sealed"] is False
    status, body, _ = http(server, "GET", "sys/health?activecode=218", token=None)
    assert status == 218


def test_bearer_token_works_and_x_vault_token_wins(server):
    status, body, _ = http(
        server,
        "GET",
        "auth/token/lookup-self",
        token=None,
        headers={"Authorization": f"Bearer {server.root_token}"},
    )
    assert status == 200
    status, _, _ = http(
        server,
        "GET",
        "auth/token/lookup-self",
        token="not-a-token",
        headers={"Authorization": f"Bearer {server.root_token}"},
    )
    assert status == 403


def test_missing_or_bad_token_is_403_permission_denied(server):
    assert http(server, "GET", "sys/mounts", token=None)[1] == {"errors": ["permission denied"]}
    assert http(server, "GET", "sys/mounts", token="hvs.nope")[0] == 403


def test_unknown_mount_is_404_with_route_message(server):
    status, body, _ = http(server, "GET", "nosuchmount/foo")
    assert status == 404
    assert body["errors"] == ['no handler for route "nosuchmount/foo". route entry not found.']


def test_unknown_sys_path_and_unsupported_operation(server):
    status, body, _ = http(server, "GET", "sys/no-such-thing")
    assert status == 404 and body["errors"]
    status, body, _ = http(server, "DELETE", "sys/health", token=None)
    assert status == 405
    status, _, _ = http(server, "HEAD", "sys/mounts")
    assert status == 405


def test_head_on_health_has_status_and_no_body(server):
    request = urllib.request.Request(f"{server.address}/v1/sys/health", method="HEAD")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
        assert response.read() == b""


def test_help_query_returns_path_help(server):
    status, body, _ = http(server, "GET", "sys/mounts?help=1")
    assert status == 200
    assert "secrets engines" in body["help"]


def test_openapi_document_is_generated_from_declarations(server):
    status, body, _ = http(server, "GET", "sys/internal/specs/openapi")
    assert status == 200
    assert body["openapi"].startswith("3.")
    paths = body["paths"]
    assert "/sys/mounts/{path}" in paths and "post" in paths["/sys/mounts/{path}"]
    create = paths["/auth/token/create"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    create = body["components"]["schemas"][create["$ref"].rsplit("/", 1)[1]]
    assert create["properties"]["ttl"]["format"] == "duration"
    assert paths["/sys/leases/lookup/{prefix}"]["get"]["parameters"][0]["required"] is True


def test_ui_mounts_preflight_answers_200_or_403(server):
    _enable_kv(server, "ui-kv")
    status, body, _ = http(server, "GET", "sys/internal/ui/mounts/ui-kv/some/secret")
    assert status == 200
    assert (body["data"]["path"], body["data"]["type"]) == ("ui-kv/", "kv")
    # As OpenBao: no mount there is the same 403 as no access, even for root.
    status, body, _ = http(server, "GET", "sys/internal/ui/mounts/nowhere/x")
    assert status == 403 and "preflight capability check returned 403" in body["errors"][0]


def test_namespace_header_root_ok_other_404(server):
    assert http(server, "GET", "auth/token/lookup-self", headers={"X-Vault-Namespace": "root/"})[0] == 200
    status, body, _ = http(server, "GET", "auth/token/lookup-self", headers={"X-Vault-Namespace": "ns1/"})
    assert (status, body) == (404, {"errors": ["namespace not found"]})


def test_sys_mounts_data_also_at_top_level(server):
    status, body, _ = http(server, "GET", "sys/mounts")
    assert status == 200
    assert body["sys/"] == body["data"]["sys/"]
    assert json.dumps(body["data"]["sys/"]["config"]) is not None


def test_help_at_a_mount_root_lists_the_backends_paths(server):
    assert http(server, "POST", "sys/mounts/help-aws", {"type": "aws"})[0] == 204
    status, body, _ = http(server, "GET", "help-aws/?help=1")
    assert status == 200
    assert "## PATHS" in body["help"] and "roles/" in body["help"]
    assert http(server, "DELETE", "sys/mounts/help-aws")[0] == 204
