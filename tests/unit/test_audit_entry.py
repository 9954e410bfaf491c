"""Audit entries: what is hashed, what stays readable, and the shape of each section."""

from __future__ import annotations

import hashlib
import hmac

from vaultlet.core.acl import AuthorizationResult
from vaultlet.core.audit.entry import Hasher, request_entry, response_entry
from vaultlet.core.tokens import TokenEntry
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework.request import Request, Response

SALT = b"s" * 32


def hashed(value: str) -> str:
    return "hmac-sha256:" + hmac.new(SALT, value.encode(), hashlib.sha256).hexdigest()


def _request(**extra) -> Request:
    request = Request(
        operation="update",
        path="kv/app",
        data={"password": "pw", "nested": {"list": ["a", 1, None, True]}, "port": 5432},
        client_token="hvs.client",
        remote_addr="127.0.0.1",
        remote_port=4242,
        **extra,
    )
    request.mount_path, request.mount_type, request.mount_accessor, request.mount_class = (
        "kv/",
        "kv",
        "kv_1",
        "secret",
    )
    return request


def _token() -> TokenEntry:
    return TokenEntry(
        hash="h",
        accessor="acc",
        policies=["app", "default"],
        meta={"team": "x"},
        display_name="token-ci",
        creation_time=1_700_000_000,
        creation_ttl=3600,
    )


def test_hasher_hashes_every_string_and_nothing_else():
    hasher = Hasher(SALT)
    assert hasher.structure({"a": ["x", 1, 2.5, None, False, {"b": "y"}]}) == {
        "a": [hashed("x"), 1, 2.5, None, False, {"b": hashed("y")}]
    }
    assert hasher("") == hashed("")
    assert Hasher(None).structure({"a": "x"}) == {"a": "x"}  # log_raw
    assert Hasher(SALT, hmac_accessor=False).accessor("acc") == "acc"


def test_request_entry_hashes_tokens_and_data_but_not_policies_or_mount_fields():
    request = _request()
    request.token = _token()
    request.authorization = AuthorizationResult(allowed=True, root_privs=False, granting_policies=["app"])
    entry = request_entry(request, Hasher(SALT))
    assert entry["type"] == "request" and "error" not in entry
    assert entry["auth"] == {
        "client_token": hashed("hvs.client"),
        "accessor": hashed("acc"),
        "display_name": "token-ci",
        "policies": ["app", "default"],
        "token_policies": ["app", "default"],
        "metadata": {"team": "x"},
        "policy_results": {
            "allowed": True,
            "granting_policies": [{"name": "app", "namespace_id": "root", "type": "acl"}],
        },
        "token_type": "service",
        "token_ttl": 3600,
        "token_issue_time": "2023-11-14T22:13:20Z",
    }
    assert entry["request"]["data"] == {
        "password": hashed("pw"),
        "nested": {"list": [hashed("a"), 1, None, True]},
        "port": 5432,
    }
    assert entry["request"]["client_token"] == hashed("hvs.client")
    assert entry["request"]["client_token_accessor"] == hashed("acc")
    assert (entry["request"]["mount_point"], entry["request"]["mount_accessor"]) == ("kv/", "kv_1")
    assert entry["request"]["namespace"] == {"id": "root"} and entry["request"]["remote_port"] == 4242


def test_response_entry_keeps_lease_ids_and_warnings_readable():
    request = _request()
    request.token = _token()
    request.authorization = AuthorizationResult(allowed=True, root_privs=False, granting_policies=["app"])
    response = Response(data={"access_key": "AKIA", "ttl": 60}, warnings=["capped"])
    response.lease_id = "aws/creds/app/abc"
    entry = response_entry(request, response, None, Hasher(SALT))
    assert entry["response"]["secret"] == {"lease_id": "aws/creds/app/abc"}
    assert entry["response"]["data"] == {"access_key": hashed("AKIA"), "ttl": 60}
    assert entry["response"]["warnings"] == ["capped"]
    accepted = response_entry(request, Response(status=202), None, Hasher(SALT))
    assert accepted["response"]["data"] == {
        "http_content_type": hashed("application/json"),
        "http_status_code": 202,
    }


def test_login_response_is_audited_with_the_issued_token():
    request = _request()
    auth = {
        "client_token": "hvs.new",
        "accessor": "new-acc",
        "policies": ["agentpol", "default"],
        "token_policies": ["agentpol", "default"],
        "metadata": {"role_name": "agent"},
        "lease_duration": 60,
        "token_type": "service",
    }
    entry = response_entry(request, Response(auth=auth), None, Hasher(SALT), issued_name="approle")
    expected = {
        "client_token": hashed("hvs.new"),
        "accessor": hashed("new-acc"),
        "display_name": "approle",
        "policies": ["agentpol", "default"],
        "token_policies": ["agentpol", "default"],
        "metadata": {"role_name": "agent"},
        "token_type": "service",
        "token_ttl": 60,
    }
    assert entry["auth"] == expected and entry["response"]["auth"] == expected
    assert request_entry(request, Hasher(SALT))["auth"] == {
        "policy_results": {"allowed": True},
        "token_type": "default",
    }


def test_errors_are_logged_as_vault_does():
    request = _request()
    denied = PermissionDenied()
    assert request_entry(request, Hasher(SALT), denied)["error"] == "permission denied"
    assert request_entry(request, Hasher(SALT), denied)["auth"] == {"token_type": "default"}
    failed = response_entry(request, None, UserError("path is already in use"), Hasher(SALT))
    assert failed["error"] == "1 error occurred:\n\t* path is already in use\n\n"
    assert failed["response"]["data"] == {"error": hashed("path is already in use")}
