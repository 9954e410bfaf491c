"""Audit devices: Vault's log format, HMAC'd secrets, fail-closed behaviour, concurrent writers.

Every test runs against a dedicated server: an audit device that stops writing makes the
whole server refuse requests, which must never leak into the shared session server.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import stat
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hvac
import pytest

from support.access import enable_kv, ok, status_of, token_with, write_policy
from support.aws_engine import mount_aws, users_tagged
from support.processes import (
    bao,
    http,
    openbao_file_audit_args,
    start_openbao_dev,
    start_vaultlet_dev,
    start_vaultlet_production,
)

INTERNAL_ERROR = (500, {"errors": ["internal error"]})


def entries(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def audit_hash(server, device: str, value: str) -> str:
    return ok(http(server, "POST", f"sys/audit-hash/{device}", {"input": value}))["data"]["hash"]


@pytest.fixture()
def audited(tmp_path):
    """A server with the walkthrough's file device, enabled with the OpenBao CLI."""
    server = start_vaultlet_dev(tmp_path / "server")
    log = tmp_path / "audit" / "audit.log"
    bao(server, "audit", "enable", "file", f"file_path={log}")
    yield server, log
    server.stop()


# -- what the log says ------------------------------------------------------------


def test_the_log_pairs_every_request_and_hides_every_secret(audited):
    server, log = audited
    sentinel = f"s3cr3t-{uuid.uuid4().hex}"
    mount = enable_kv(server)
    ok(http(server, "PUT", f"{mount}/app", {"password": sentinel, "port": 5432, "enabled": True}))
    assert ok(http(server, "GET", f"{mount}/app"))["data"]["password"] == sentinel
    created = ok(http(server, "POST", "auth/token/create", {"policies": ["default"]}))["auth"]
    ok(http(server, "GET", "auth/token/lookup-self", token=created["client_token"]))
    assert status_of(server, "GET", f"{mount}/app", token=created["client_token"]) == 403
    assert status_of(server, "GET", f"{mount}/app", token="hvs.not-a-real-token") == 403
    ok(http(server, "POST", "sys/auth/approle", {"type": "approle"}))
    ok(http(server, "POST", "auth/approle/role/app", {"token_policies": "default"}))
    role_id = ok(http(server, "GET", "auth/approle/role/app/role-id"))["data"]["role_id"]
    issued = ok(http(server, "POST", "auth/approle/role/app/secret-id", {"metadata": '{"host":"h1"}'}))[
        "data"
    ]
    login = ok(
        http(server, "PUT", "auth/approle/login", {"role_id": role_id, "secret_id": issued["secret_id"]})
    )
    assert status_of(server, "GET", "sys/health", token=None) == 200

    text = log.read_text()
    secrets = [sentinel, created["client_token"], created["accessor"], role_id, issued["secret_id"]]
    secrets += [issued["secret_id_accessor"], login["auth"]["client_token"], login["auth"]["accessor"]]
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"in clear in the audit log: {leaked}"

    lines = entries(log)
    by_id = collections.defaultdict(list)
    for entry in lines:
        if not entry["request"]["path"].startswith("sys/audit"):  # the probe, the enable itself
            by_id[entry["request"]["id"]].append(entry["type"])
    assert len(by_id) >= 12 and all(types == ["request", "response"] for types in by_id.values()), by_id
    assert not [e for e in lines if e["request"]["path"] == "sys/health"]  # never audited

    write = next(
        e
        for e in lines
        if e["type"] == "request"
        and e["request"]["path"] == f"{mount}/app"
        and e["request"]["operation"] == "create"
    )
    assert write["request"]["data"] == {
        "password": audit_hash(server, "file", sentinel),
        "port": 5432,
        "enabled": True,
    }
    assert write["auth"]["client_token"] == audit_hash(server, "file", server.root_token)
    assert write["auth"]["policy_results"]["granting_policies"] == [
        {"name": "root", "namespace_id": "root", "type": "acl"}
    ]
    assert {k: write["request"][k] for k in ("mount_point", "mount_type", "mount_class", "namespace")} == {
        "mount_point": f"{mount}/",
        "mount_type": "kv",
        "mount_class": "secret",
        "namespace": {"id": "root"},
    }
    assert (
        write["request"]["mount_accessor"].startswith("kv_")
        and write["request"]["remote_address"] == "127.0.0.1"
    )


def test_logins_refusals_and_errors_are_logged_the_vault_way(audited):
    server, log = audited
    ok(http(server, "POST", "sys/auth/approle", {"type": "approle"}))
    ok(http(server, "POST", "auth/approle/role/agent", {"token_policies": "agentpol", "token_ttl": "60s"}))
    role_id = ok(http(server, "GET", "auth/approle/role/agent/role-id"))["data"]["role_id"]
    secret_id = ok(http(server, "POST", "auth/approle/role/agent/secret-id", {"metadata": '{"host":"h1"}'}))
    body = {"role_id": role_id, "secret_id": secret_id["data"]["secret_id"]}
    login = ok(http(server, "PUT", "auth/approle/login", body, token=None))
    denied_token = token_with(server, "default")
    assert status_of(server, "GET", "sys/mounts", token=denied_token) == 403
    assert (
        status_of(server, "PUT", "auth/approle/login", {"role_id": role_id, "secret_id": "wrong"}, token=None)
        == 400
    )

    lines = entries(log)
    login_lines = [e for e in lines if e["request"]["path"] == "auth/approle/login"]
    request, response = login_lines[0], login_lines[1]
    assert request["auth"] == {"policy_results": {"allowed": True}, "token_type": "default"}
    assert request["request"]["data"]["role_id"] == audit_hash(server, "file", role_id)
    assert response["auth"]["client_token"] == audit_hash(server, "file", login["auth"]["client_token"])
    assert response["auth"]["display_name"] == "approle"
    assert response["auth"]["policies"] == ["agentpol", "default"]
    assert response["auth"]["metadata"] == {"host": "h1", "role_name": "agent"}  # metadata stays readable
    assert response["auth"]["token_ttl"] == 60
    assert (
        response["response"]["auth"] == response["auth"] and response["response"]["mount_type"] == "approle"
    )

    refused = [e for e in lines if e["request"]["path"] == "sys/mounts"]
    assert [e["type"] for e in refused] == ["request", "response"]
    assert refused[0]["error"] == refused[1]["error"] == "1 error occurred:\n\t* permission denied\n\n"
    assert refused[0]["auth"]["policy_results"] == {"allowed": False}
    failed_login = lines[-1]
    assert failed_login["error"] == "invalid credentials"  # Vault's audit text for a failed login
    assert failed_login["response"]["data"] == {
        "error": audit_hash(server, "file", "invalid role or secret ID")
    }


def test_device_table_options_and_salts(tmp_path):
    server = start_vaultlet_dev(tmp_path / "server")
    try:
        raw_log, plain_log = tmp_path / "raw.log", tmp_path / "plain.log"
        options = {"file_path": str(raw_log), "log_raw": "true", "prefix": "AUDIT ", "mode": "0640"}
        ok(http(server, "PUT", "sys/audit/raw", {"type": "file", "options": options, "description": "d"}))
        ok(
            http(
                server,
                "PUT",
                "sys/audit/plain",
                {"type": "file", "options": {"file_path": str(plain_log), "hmac_accessor": "false"}},
            )
        )
        listed = ok(http(server, "GET", "sys/audit"))
        assert listed["data"]["raw/"] == {
            "description": "d",
            "local": False,
            "options": options,
            "path": "raw/",
            "type": "file",
        }
        assert listed["raw/"] == listed["data"]["raw/"] and "salt" not in json.dumps(listed)
        assert (
            stat.S_IMODE(raw_log.stat().st_mode) == 0o640 and stat.S_IMODE(plain_log.stat().st_mode) == 0o600
        )

        token = ok(http(server, "POST", "auth/token/create", {"policies": ["default"]}))["auth"]
        ok(http(server, "GET", "auth/token/lookup-self", token=token["client_token"]))
        raw = raw_log.read_text()
        assert raw.startswith("AUDIT {") and token["client_token"] in raw  # log_raw: no HMAC at all
        plain = entries(plain_log)[-1]
        assert plain["auth"]["accessor"] == token["accessor"]  # hmac_accessor=false
        assert plain["auth"]["client_token"] == audit_hash(server, "plain", token["client_token"])

        first = audit_hash(server, "plain", "value")
        assert audit_hash(server, "plain", "value") == first  # stable
        ok(http(server, "DELETE", "sys/audit/plain"))
        ok(http(server, "PUT", "sys/audit/plain", {"type": "file", "options": {"file_path": str(plain_log)}}))
        assert audit_hash(server, "plain", "value") != first  # a re-enabled device gets a new salt

        def refused(path, body):
            status, parsed, _ = http(server, "PUT", f"sys/audit/{path}", body)
            return status, parsed["errors"][0]

        assert refused("raw", {"type": "file", "options": {"file_path": str(tmp_path / "x")}}) == (
            400,
            "path already in use",
        )
        assert refused("s", {"type": "socket", "options": {"address": "x"}}) == (
            400,
            'unknown backend type: "socket"',
        )
        assert refused("f", {"type": "file", "options": {}}) == (400, "file_path is required")
        assert refused("n", {"type": "file", "options": {"file_path": "x", "mode": 600}}) == (
            400,
            "options must be string valued",
        )
        full = refused("full", {"type": "file", "options": {"file_path": "/dev/full"}})
        assert full[0] == 400 and full[1].startswith("audit backend failed test message")
        assert status_of(server, "GET", "sys/audit", token=token["client_token"]) == 403  # sudo
        assert http(server, "POST", "sys/audit-hash/nope", {"input": "x"})[:2] == (
            400,
            {"errors": ["unknown audit backend"]},
        )
    finally:
        server.stop()


# -- the same log as OpenBao's ----------------------------------------------------------

# Leaves whose values differ between any two servers by nature; only whether they are hashed must agree.
VOLATILE = {"time", "id", "remote_port", "mount_accessor", "mount_running_version"}
VOLATILE |= {"mount_running_plugin_version", "token_issue_time"}
# OpenBao creates identity entities for logins; vaultlet has no identity store.
ENTITY_KEYS = {"auth.entity_id", "auth.entity_created", "response.auth.entity_id"}


def _audit_scenario(server) -> None:
    """The same calls against both servers: writes, reads, refusals, a token, an AppRole login."""
    ok(http(server, "POST", "sys/mounts/layout-kv", {"type": "kv", "options": {"version": "1"}}))
    ok(http(server, "PUT", "layout-kv/app", {"password": "pw", "port": 5432, "tags": ["a", "b"]}))
    ok(http(server, "GET", "layout-kv/app"))
    write_policy(server, "layout", 'path "layout-kv/app" { capabilities = ["read"] }')
    token = token_with(server, "layout", ttl="1h", meta={"team": "x"})
    ok(http(server, "GET", "layout-kv/app", token=token))
    assert status_of(server, "GET", "layout-kv/other", token=token) == 403
    assert status_of(server, "PUT", "layout-kv/app", {"v": 1}, token=token) == 403
    assert status_of(server, "GET", "layout-kv/app", token="s.not-a-token") == 403
    ok(http(server, "POST", "sys/auth/approle", {"type": "approle"}))
    ok(http(server, "POST", "auth/approle/role/agent", {"token_policies": ["layout"]}))
    role_id = ok(http(server, "GET", "auth/approle/role/agent/role-id"))["data"]["role_id"]
    secret = ok(http(server, "POST", "auth/approle/role/agent/secret-id", {"metadata": '{"host":"h1"}'}))
    login = {"role_id": role_id, "secret_id": secret["data"]["secret_id"]}
    ok(http(server, "PUT", "auth/approle/login", login, token=None))
    assert status_of(server, "PUT", "auth/approle/login", {**login, "secret_id": "wrong"}, token=None) == 400
    assert status_of(server, "POST", "sys/mounts/layout-kv", {"type": "kv"}) == 400


def _by_call(log: Path) -> dict[tuple, list[dict]]:
    grouped = collections.defaultdict(list)
    for entry in entries(log):
        grouped[(entry["type"], entry["request"]["path"], entry["request"]["operation"])].append(entry)
    return grouped


def _leaves(value, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted path, value) of every key in order, lists indexed by position."""
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.append((path, None if isinstance(item, (dict, list)) else item))
            found += _leaves(item, path)
        return found
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, f"{prefix}[{index}]")]
    return []


def _differences(theirs: dict, ours: dict) -> list[str]:
    their_leaves = [(p, v) for p, v in _leaves(theirs) if p not in ENTITY_KEYS]
    our_leaves = _leaves(ours)
    if [p for p, _ in their_leaves] != [p for p, _ in our_leaves]:
        theirs_keys, ours_keys = [p for p, _ in their_leaves], [p for p, _ in our_leaves]
        return [f"keys differ:\n  openbao  {theirs_keys}\n  vaultlet {ours_keys}"]
    # OpenBao's dev root token was made by auth/token/create ("token"); vaultlet's by init ("root").
    volatile = {"auth.display_name"} if theirs["auth"].get("policies") == ["root"] else set()
    problems = []
    for (path, their_value), (_, our_value) in zip(their_leaves, our_leaves, strict=True):
        if path in volatile:
            continue
        hashed = [isinstance(v, str) and v.startswith("hmac-sha256:") for v in (their_value, our_value)]
        if hashed[0] != hashed[1]:
            problems.append(f"{path}: hashed by {'openbao' if hashed[0] else 'vaultlet'} only")
        elif not hashed[0] and path.rsplit(".", 1)[-1] not in VOLATILE and their_value != our_value:
            problems.append(f"{path}: openbao {their_value!r} != vaultlet {our_value!r}")
    return problems


def test_entries_match_openbaos_field_for_field(tmp_path):
    """Same calls, same entries: keys in the same order, the same values hashed, the same plain values."""
    workdir = tmp_path / "openbao"
    workdir.mkdir()
    openbao = start_openbao_dev(workdir, extra_args=openbao_file_audit_args(workdir))
    vaultlet = start_vaultlet_dev(tmp_path / "vaultlet")
    try:
        ok(
            http(
                vaultlet,
                "PUT",
                "sys/audit/file",
                {"type": "file", "options": {"file_path": str(tmp_path / "v.log")}},
            )
        )
        _audit_scenario(openbao)
        _audit_scenario(vaultlet)
        theirs, ours = _by_call(workdir / "audit.log"), _by_call(tmp_path / "v.log")
    finally:
        openbao.stop()
        vaultlet.stop()
    assert len(ours) >= 25 and set(ours) <= set(theirs), sorted(set(ours) - set(theirs))
    problems = []
    for call, our_entries in ours.items():
        # OpenBao's dev mode makes calls of its own at start-up: compare the scenario's, the last ones.
        for their_entry, our_entry in zip(theirs[call][-len(our_entries) :], our_entries, strict=True):
            problems += [f"{call}: {problem}" for problem in _differences(their_entry, our_entry)]
    assert not problems, "\n".join(problems)


# -- failing closed ------------------------------------------------------------------


def test_nothing_runs_when_no_device_can_record_the_request(audited, tmp_path):
    server, log = audited
    mount = enable_kv(server)
    ok(http(server, "POST", "sys/auth/approle", {"type": "approle"}))
    ok(http(server, "POST", "auth/approle/role/app", {}))
    role_id = ok(http(server, "GET", "auth/approle/role/app/role-id"))["data"]["role_id"]
    secret_id = ok(http(server, "POST", "auth/approle/role/app/secret-id", {}))["data"]["secret_id"]
    tokens_before = len(ok(http(server, "LIST", "auth/token/accessors"))["data"]["keys"])
    second = tmp_path / "second" / "audit.log"
    ok(http(server, "PUT", "sys/audit/second", {"type": "file", "options": {"file_path": str(second)}}))

    log.unlink()
    log.mkdir()  # the first device can no longer write: one device still records, so service goes on
    ok(http(server, "PUT", f"{mount}/one-device", {"v": 1}))
    assert any(e["request"]["path"] == f"{mount}/one-device" for e in entries(second))

    second.unlink()
    second.mkdir()  # now no device can write: every audited request is refused, unexecuted
    assert http(server, "PUT", f"{mount}/unrecorded", {"v": 1})[:2] == INTERNAL_ERROR
    assert http(server, "POST", "auth/token/create", {"policies": ["default"]})[:2] == INTERNAL_ERROR
    login = http(
        server, "PUT", "auth/approle/login", {"role_id": role_id, "secret_id": secret_id}, token=None
    )
    assert login[:2] == INTERNAL_ERROR
    assert status_of(server, "GET", "sys/health", token=None) == 200  # not audited, still answers

    log.rmdir()  # the first device can write again
    assert status_of(server, "GET", f"{mount}/unrecorded") == 404
    assert len(ok(http(server, "LIST", "auth/token/accessors"))["data"]["keys"]) == tokens_before
    assert entries(log)[-1]["request"]["path"] == "auth/token/accessors/"  # recreated, recording again


def test_an_unwritable_audit_log_refuses_credentials_and_creates_nothing_in_aws(audited, moto):
    server, log = audited
    mount = mount_aws(server, moto, http)
    ok(http(server, "POST", f"{mount.path}/roles/app", {"credential_type": "iam_user"}))
    assert ok(http(server, "GET", f"{mount.path}/creds/app"))["lease_id"]  # works while recorded
    users_before = users_tagged(moto, mount.uuid)
    assert len(users_before) == 1

    log.unlink()
    log.mkdir()  # the only device cannot write any more
    assert http(server, "GET", f"{mount.path}/creds/app")[:2] == INTERNAL_ERROR
    assert http(server, "POST", f"{mount.path}/sts/app", {})[:2] == INTERNAL_ERROR
    assert users_tagged(moto, mount.uuid) == users_before  # no IAM user was created

    log.rmdir()
    leases = ok(http(server, "LIST", f"sys/leases/lookup/{mount.path}/creds/app"))["data"]["keys"]
    assert len(leases) == 1  # only the credential issued while the log was writable


def test_an_unrecorded_response_is_withdrawn_and_its_aws_user_deleted(tmp_path, moto):
    """The response line cannot be written: the client gets 500 and the IAM user made for the
    request is already gone when it does (revoked synchronously, nothing left in AWS)."""
    server = start_vaultlet_dev(tmp_path / "server")
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    reader = _FifoReader(fifo)
    try:
        mount = mount_aws(server, moto, http)
        policy = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        )
        ok(
            http(
                server,
                "POST",
                f"{mount.path}/roles/app",
                {"credential_type": "iam_user", "policy_document": policy},
            )
        )
        ok(http(server, "PUT", "sys/audit/pipe", {"type": "file", "options": {"file_path": str(fifo)}}))
        reader.close_after(f"{mount.path}/creds/app")  # the request line gets through, the response does not

        assert http(server, "GET", f"{mount.path}/creds/app")[:2] == INTERNAL_ERROR
        assert users_tagged(moto, mount.uuid) == []

        reader = _FifoReader(fifo)  # recording works again
        assert status_of(server, "LIST", f"sys/leases/lookup/{mount.path}/creds/app") == 404
        creds = ok(http(server, "GET", f"{mount.path}/creds/app"))
        assert users_tagged(moto, mount.uuid) and creds["lease_id"]
        ok(http(server, "PUT", "sys/leases/revoke", {"lease_id": creds["lease_id"]}))
    finally:
        reader.stop()
        server.stop()


def test_an_unrecorded_token_is_revoked_before_the_client_hears_500(tmp_path):
    """The request line of a token creation (and of a login) is written, the response line is
    not: the client gets 500 and the token minted for it no longer exists (nor its lease).

    Minting a token takes a millisecond, less than the FIFO reader needs to hang up, so the
    test holds the database's write lock (the flock vaultlet's writers queue on) while the
    request line goes out: the server waits before minting, the reader hangs up, then the
    lock is released and the response line finds nobody to write to."""
    server = start_vaultlet_production(tmp_path)
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    reader = _FifoReader(fifo)
    try:
        ok(http(server, "POST", "sys/auth/approle", {"type": "approle"}))
        ok(http(server, "POST", "auth/approle/role/app", {"token_ttl": "1h"}))
        role_id = ok(http(server, "GET", "auth/approle/role/app/role-id"))["data"]["role_id"]
        secret_id = ok(http(server, "POST", "auth/approle/role/app/secret-id", {}))["data"]["secret_id"]
        ok(http(server, "PUT", "sys/audit/pipe", {"type": "file", "options": {"file_path": str(fifo)}}))

        def accessors() -> set[str]:
            return set(ok(http(server, "LIST", "auth/token/accessors"))["data"]["keys"])

        def leases(prefix: str) -> int:
            status, body, _ = http(server, "LIST", f"sys/leases/lookup/{prefix}")
            return len(body["data"]["keys"]) if status == 200 else 0

        before = accessors()
        for path, body, token in (
            ("auth/token/create", {"policies": ["default"], "ttl": "1h"}, ""),
            ("auth/token/create-orphan", {"policies": ["default"]}, ""),
            ("auth/approle/login", {"role_id": role_id, "secret_id": secret_id}, None),
        ):
            reader.close_after(path)  # the request line gets through, the response line does not
            with ThreadPoolExecutor(1) as pool:
                with _database_write_lock(tmp_path / "vaultlet.db.writelock"):
                    answer = pool.submit(http, server, "POST", path, body, token=token)
                    assert reader.hung_up.wait(30), f"{path}: no request line"
                assert answer.result()[:2] == INTERNAL_ERROR, path
            reader = _FifoReader(fifo)  # recording works again
            assert accessors() == before, f"{path}: the unrecorded token still exists"
        assert leases("auth/token/create") == 0
        assert leases("auth/approle/login") == 0

        # The same calls succeed while the responses can be recorded.
        issued = ok(http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "1h"}))
        assert http(server, "GET", "auth/token/lookup-self", token=issued["auth"]["client_token"])[0] == 200
        assert len(accessors()) == len(before) + 1
    finally:
        reader.stop()
        server.stop()


@contextlib.contextmanager
def _database_write_lock(path: Path):
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class _FifoReader:
    """Reads an audit FIFO in a thread; can hang up right after a chosen request line."""

    def __init__(self, path: Path):
        # O_RDWR: the server's open never blocks and never sees end-of-file while we hold it.
        self._fd = os.open(path, os.O_RDWR)
        self._stop_after: str | None = None
        self.hung_up = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close_after(self, path: str) -> None:
        self._stop_after = path

    def _run(self) -> None:
        buffered = b""
        while self._fd is not None:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                return
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                entry = json.loads(line)
                if (
                    self._stop_after
                    and entry["type"] == "request"
                    and entry["request"]["path"] == self._stop_after
                ):
                    self.stop()
                    return

    def stop(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        self.hung_up.set()


def test_threads_and_processes_append_whole_lines(tmp_path):
    server = start_vaultlet_production(tmp_path, workers=2)
    try:
        log = tmp_path / "audit.log"
        ok(http(server, "PUT", "sys/audit/file", {"type": "file", "options": {"file_path": str(log)}}))
        mount = enable_kv(server)
        big = "x" * 20000  # longer than a pipe buffer; hashed in the log, but the data key list grows too
        keys = [f"k{i}" for i in range(300)]

        def write(key):
            return status_of(
                server, "PUT", f"{mount}/{key}", {"value": big, **{f"f{i}": i for i in range(200)}}
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            assert set(pool.map(write, keys)) == {204}
        counted = collections.Counter()
        for entry in entries(log):  # every line parses: nothing interleaved or torn
            if entry["request"]["path"].startswith(f"{mount}/"):
                counted[(entry["request"]["id"], entry["type"])] += 1
        assert len(counted) == 2 * len(keys) and set(counted.values()) == {1}
    finally:
        server.stop()


def test_hvac_enables_a_file_device_with_the_old_path_option(tmp_path):
    """hvac's enable_audit_device(options={"path": ...}) uses `path`, the old name of file_path."""
    server = start_vaultlet_dev(tmp_path / "server")
    try:
        log = tmp_path / "hvac-audit.log"
        client = hvac.Client(url=server.address, token=server.root_token)
        client.sys.enable_audit_device("file", path="hvac", options={"path": str(log)})
        assert client.sys.list_enabled_audit_devices()["data"]["hvac/"]["options"] == {"path": str(log)}
        client.sys.read_health_status(method="GET")
        ok(http(server, "GET", "auth/token/lookup-self"))
        assert entries(log)[-1]["request"]["path"] == "auth/token/lookup-self"
        status, body, _ = http(server, "PUT", "sys/audit/none", {"type": "file", "options": {"mode": "0600"}})
        assert status == 400 and body["errors"] == ["file_path is required"]
    finally:
        server.stop()
