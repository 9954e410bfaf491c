"""KV version 2 against a real OpenBao: the same requests, the same answers; plus the clients.

Every step of ``SEQUENCE`` is sent to both servers (each on a fresh ``kv-v2`` mount)
and the answers are compared by status code, key set and value types, with ids and
timestamps normalised. Deliberate differences (none of them in status codes):

- vaultlet's envelope carries ``mount_type`` as Vault 1.13+ does; OpenBao's does not;
- timestamps carry microseconds, OpenBao's nanoseconds (both RFC 3339, compared as strings);
- the wrong-path warning names "vault kv", OpenBao's names "bao kv";
- OpenBao wraps a few errors (405) in Go's "1 error occurred" text; vaultlet does not;
- error texts of type conversions are vaultlet's own (checked: both are 400).
"""

from __future__ import annotations

import json
import re
import time

import hvac
import pytest

from support.access import unique
from support.processes import bao, http

PATCH = "PATCH"

# (method, path under the mount, body) — run in order on both servers.
SEQUENCE = [
    ("GET", "config", None),
    ("POST", "data/app", {"data": {"user": "svc", "nested": {"a": 1, "b": {"c": True}}}}),
    ("GET", "data/app", None),
    ("POST", "data/app", {"options": {"cas": 0}, "data": {"user": "x"}}),
    ("POST", "data/app", {"options": {"cas": 1}, "data": {"user": "svc2"}}),
    ("POST", "data/app", {"options": {"cas": "nope"}, "data": {"user": "x"}}),
    ("GET", "data/app?version=1", None),
    ("GET", "data/app?version=7", None),
    ("GET", "data/app?version=abc", None),
    ("GET", "data/missing", None),
    ("POST", "data/empty", {}),
    ("POST", "data/empty", {"data": {}}),
    ("POST", "data/bad", {"data": "a string"}),
    ("GET", "metadata/app", None),
    ("GET", "subkeys/app", None),
    ("GET", "subkeys/app?version=1", None),
    ("GET", "subkeys/app?version=1&depth=1", None),
    ("LIST", "metadata/", None),
    ("LIST", "metadata/nothing/", None),
    ("POST", "data/dir/one", {"data": {"k": "v"}}),
    ("LIST", "metadata/", None),
    ("LIST", "metadata/dir/", None),
    (PATCH, "data/app", {"data": {"user": None, "added": {"x": 1}}}),
    ("GET", "data/app", None),
    (PATCH, "data/ghost", {"data": {"a": 1}}),
    ("POST", "delete/app", {"versions": [1]}),
    ("GET", "data/app?version=1", None),
    ("POST", "undelete/app", {"versions": [1]}),
    ("GET", "data/app?version=1", None),
    ("POST", "destroy/app", {"versions": [1]}),
    ("GET", "data/app?version=1", None),
    ("POST", "undelete/app", {"versions": [1]}),
    ("GET", "data/app?version=1", None),
    ("POST", "delete/app", {}),
    ("POST", "undelete/app", {}),
    ("POST", "destroy/app", {}),
    ("POST", "delete/app", {"versions": "abc"}),
    ("DELETE", "data/app", None),
    ("GET", "data/app", None),
    ("GET", "metadata/app", None),
    ("POST", "metadata/app", {"max_versions": 2, "cas_required": True, "custom_metadata": {"owner": "me"}}),
    ("GET", "metadata/app", None),
    ("POST", "data/app", {"data": {"v": 4}}),
    ("POST", "data/app", {"data": {"v": 4}, "options": {"cas": 3}}),
    ("POST", "data/app", {"data": {"v": 5}, "options": {"cas": 4}}),
    ("GET", "metadata/app", None),
    (PATCH, "metadata/app", {"custom_metadata": {"team": "infra"}, "max_versions": 5}),
    ("GET", "metadata/app", None),
    (PATCH, "metadata/ghost", {"max_versions": 5}),
    ("POST", "metadata/new", {"delete_version_after": "1h"}),
    ("GET", "metadata/new", None),
    ("POST", "config", {"max_versions": 3, "delete_version_after": "2h"}),
    ("GET", "config", None),
    ("POST", "data/many", {"data": {"i": 1}}),
    ("POST", "data/many", {"data": {"i": 2}}),
    ("POST", "data/many", {"data": {"i": 3}}),
    ("POST", "data/many", {"data": {"i": 4}}),
    ("GET", "metadata/many", None),
    ("GET", "data/many?version=1", None),
    ("GET", "plain", None),
    ("POST", "plain", {"a": 1}),
    ("LIST", "data/", None),
    ("DELETE", "metadata/app", None),
    ("GET", "metadata/app", None),
    ("DELETE", "metadata/app", None),
    ("DELETE", "data/never", None),
    ("POST", "delete/never", {"versions": [1]}),
]


def _shape(value):
    """Keys and value types, recursively; strings that are timestamps or ids become their kind."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def _comparable(body):
    if body is None:
        return None
    body = {k: v for k, v in body.items() if k not in ("request_id", "mount_type")}
    if body.get("warnings"):
        body["warnings"] = [
            w.replace("OpenBao", "Vault").replace("bao kv", "vault kv") for w in body["warnings"]
        ]
    data = body.get("data")
    # Values that are not ids or times must agree exactly, the rest by type.
    errors = [_unwrapped(error) for error in body.get("errors") or []]
    return {"shape": _shape(body), "values": _values(data), "errors": errors}


def _unwrapped(error: str) -> str:
    """OpenBao wraps some errors in Go's multierror text; vaultlet sends the bare message."""
    return error.removeprefix("1 error occurred:\n\t* ").strip()


def _values(data):
    if not isinstance(data, dict):
        return data
    kept = {}
    for key, item in data.items():
        if key.endswith("_time"):
            kept[key] = bool(item)  # set or empty
        elif isinstance(item, dict):
            kept[key] = _values(item)
        else:
            kept[key] = item
    return kept


def _run(server, mount: str) -> list:
    answers = []
    for method, path, body in SEQUENCE:
        status, parsed, text = http(server, method, f"{mount}/{path}", body)
        answers.append((method, path, status, _comparable(parsed)))
    return answers


# Error texts that differ on purpose (type conversions); the status codes still agree.
_CONVERSION_ERRORS = {("POST", "data/bad"), ("GET", "data/app?version=abc"), ("POST", "delete/app")}


def test_kv_v2_answers_as_openbao(server, openbao):
    mount = unique("kv2")
    for target in (server, openbao):
        status, _, text = http(target, "POST", f"sys/mounts/{mount}", {"type": "kv-v2"})
        assert status == 204, text
    ours, theirs = _run(server, mount), _run(openbao, mount)
    differences = []
    for (method, path, status, body), (_, _, expected_status, expected) in zip(ours, theirs, strict=True):
        if status != expected_status:
            differences.append((method, path, status, expected_status, body, expected))
        elif body != expected and not ((method, path) in _CONVERSION_ERRORS and status == 400):
            differences.append((method, path, status, body, expected))
    assert not differences, "\n".join(map(repr, differences))


def test_kv_v2_mount_options_and_versions(server, openbao):
    for target in (server, openbao):
        mount = unique("kv")
        assert (
            http(target, "POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})[0] == 204
        )
        described = http(target, "GET", f"sys/internal/ui/mounts/{mount}")[1]["data"]
        assert described["type"] == "kv" and described["options"] == {"version": "2"}
        status, body, _ = http(target, "POST", f"sys/mounts/{mount}/tune", {"options": {"version": "1"}})
        assert status == 400 and body["errors"] == ["cannot downgrade mount from version 2"]
        status, _, _ = http(
            target, "POST", f"sys/mounts/{unique('kv')}", {"type": "kv", "options": {"version": "3"}}
        )
        assert status == 400


def test_kv_v1_upgrade_in_place_is_refused_not_ignored(server):
    """Deliberate difference: Vault upgrades a v1 mount's data to v2 in place; vaultlet refuses."""
    mount = unique("kv1")
    assert http(server, "POST", f"sys/mounts/{mount}", {"type": "kv"})[0] == 204
    assert http(server, "POST", f"{mount}/keep", {"a": "1"})[0] == 204
    status, body, _ = http(server, "POST", f"sys/mounts/{mount}/tune", {"options": {"version": "2"}})
    assert status == 400 and "not supported" in body["errors"][0]
    assert http(server, "GET", f"{mount}/keep")[1]["data"] == {"a": "1"}


def test_kv_v1_keeps_a_path_key_refuses_empty_writes_and_reports_the_mount_ttl(server, openbao):
    for target in (server, openbao):
        mount = unique("kv1")
        assert http(target, "POST", f"sys/mounts/{mount}", {"type": "generic"})[0] == 204
        assert http(target, "GET", "sys/mounts")[1]["data"][f"{mount}/"]["type"] == "generic"
        assert http(target, "POST", f"{mount}/a", {"path": "x", "v": 1})[0] == 204
        read = http(target, "GET", f"{mount}/a")[1]
        assert read["data"] == {"path": "x", "v": 1}
        assert read["lease_duration"] == 768 * 3600, target.kind  # the system default TTL
        status, body, _ = http(target, "POST", f"{mount}/b", {})
        assert status == 400 and body["errors"] == ["missing data fields"], target.kind
        assert http(target, "POST", f"sys/mounts/{mount}/tune", {"default_lease_ttl": "1h"})[0] == 204
        assert http(target, "GET", f"{mount}/a")[1]["lease_duration"] == 3600
        assert http(target, "POST", f"{mount}/c", {"ttl": "90s", "k": "v"})[0] == 204
        assert http(target, "GET", f"{mount}/c")[1]["lease_duration"] == 90


def test_delete_version_after_soft_deletes_on_schedule(server):
    mount = unique("kv2")
    assert http(server, "POST", f"sys/mounts/{mount}", {"type": "kv-v2"})[0] == 204
    assert http(server, "POST", f"{mount}/metadata/short", {"delete_version_after": "1s"})[0] == 204
    written = http(server, "POST", f"{mount}/data/short", {"data": {"a": 1}})[1]["data"]
    assert written["deletion_time"] != ""
    assert http(server, "GET", f"{mount}/data/short")[0] == 200
    time.sleep(1.3)
    status, body, _ = http(server, "GET", f"{mount}/data/short")
    assert status == 404 and body["data"]["data"] is None


def test_bao_kv_commands(server):
    mount = unique("kv2")
    assert http(server, "POST", f"sys/mounts/{mount}", {"type": "kv-v2"})[0] == 204

    def run(*argv):
        result = bao(server, "kv", *argv)
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("put", f"{mount}/app", "user=svc", "password=s3cret")
    assert json.loads(run("get", "-format=json", f"{mount}/app"))["data"]["data"] == {
        "user": "svc",
        "password": "s3cret",
    }
    run("patch", f"{mount}/app", "password=rotated")
    assert run("get", "-field=password", f"{mount}/app") == "rotated"
    assert json.loads(run("get", "-format=json", "-version=1", f"{mount}/app"))["data"]["data"][
        "password"
    ] == ("s3cret")
    run("put", "-cas=2", f"{mount}/app", "user=svc", "password=third")
    failed = bao(server, "kv", "put", "-cas=1", f"{mount}/app", "user=late", check=False)
    assert failed.returncode == 2 and "check-and-set parameter did not match" in failed.stderr
    assert "app" in run("list", mount)
    run("metadata", "put", "-max-versions=2", "-custom-metadata=owner=infra", f"{mount}/app")
    meta = json.loads(run("metadata", "get", "-format=json", f"{mount}/app"))["data"]
    assert meta["max_versions"] == 2 and meta["custom_metadata"] == {"owner": "infra"}
    run("delete", f"{mount}/app")
    # As OpenBao's CLI: a deleted version still shows its metadata, but has no fields.
    assert re.search(r"^deletion_time +\d{4}-", run("get", f"{mount}/app"), re.MULTILINE)
    assert bao(server, "kv", "get", "-field=password", f"{mount}/app", check=False).returncode == 2
    run("undelete", "-versions=3", f"{mount}/app")
    assert run("get", "-field=password", f"{mount}/app") == "third"
    run("destroy", "-versions=3", f"{mount}/app")
    assert bao(server, "kv", "get", "-field=password", f"{mount}/app", check=False).returncode == 2
    run("metadata", "delete", f"{mount}/app")
    assert bao(server, "kv", "metadata", "get", f"{mount}/app", check=False).returncode == 2


def test_hvac_kv_v2(server):
    client = hvac.Client(url=server.address, token=server.root_token)
    mount = unique("kv2")
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    kv = client.secrets.kv.v2
    kv.create_or_update_secret("db", secret={"password": "one"}, mount_point=mount)
    kv.create_or_update_secret("db", secret={"password": "two"}, cas=1, mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set"):
        kv.create_or_update_secret("db", secret={"password": "x"}, cas=1, mount_point=mount)
    kv.patch("db", secret={"user": "app"}, mount_point=mount)
    read = kv.read_secret_version("db", mount_point=mount, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": "two", "user": "app"}
    assert read["data"]["metadata"]["version"] == 3
    assert kv.read_secret_version("db", version=1, mount_point=mount)["data"]["data"] == {"password": "one"}
    kv.configure(max_versions=5, mount_point=mount)
    assert kv.read_configuration(mount_point=mount)["data"]["max_versions"] == 5
    kv.update_metadata("db", custom_metadata={"team": "infra"}, mount_point=mount)
    assert kv.read_secret_metadata("db", mount_point=mount)["data"]["custom_metadata"] == {"team": "infra"}
    assert kv.list_secrets("", mount_point=mount)["data"]["keys"] == ["db"]
    kv.delete_secret_versions("db", versions=[3], mount_point=mount)
    kv.undelete_secret_versions("db", versions=[3], mount_point=mount)
    kv.destroy_secret_versions("db", versions=[1], mount_point=mount)
    versions = kv.read_secret_metadata("db", mount_point=mount)["data"]["versions"]
    assert versions["1"]["destroyed"] is True and versions["3"]["deletion_time"] == ""
    kv.delete_metadata_and_all_versions("db", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_metadata("db", mount_point=mount)


def test_dev_server_mounts_secret_as_kv_v2(server, openbao):
    for target in (server, openbao):
        described = http(target, "GET", "sys/mounts")[1]["data"]["secret/"]
        assert described["type"] == "kv" and described["options"] == {"version": "2"}, target.kind
