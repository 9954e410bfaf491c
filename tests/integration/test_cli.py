"""The ``vaultlet`` CLI, run as a subprocess against a real server.

The ``server`` fixture is a vaultlet dev server, or OpenBao with
``VAULTLET_TEST_TARGET=openbao``.  Wherever the output does not depend on
timing, it is compared with what the real ``bao`` CLI prints against the same
server: the two CLIs must be interchangeable.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import processes
from support.processes import ServerProcess, bao, http

BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"

POLICY_DOCUMENT = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::my-app-bucket/*"
        }
    ]
}
"""


def vaultlet(
    server: ServerProcess,
    *args: str,
    token: str | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    use_token_file: bool = False,
) -> subprocess.CompletedProcess:
    """Run ``vaultlet ARGS`` against the server; with use_token_file, VAULT_TOKEN is unset."""
    full_env = server.client_env(token, **(env or {}))
    if use_token_file:
        del full_env["VAULT_TOKEN"]
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BACKEND_DIR), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "vaultlet.cli", *args],
        env=full_env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
    )


def succeeded(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"rc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout


def table_rows(text: str) -> dict[str, str]:
    """The Key/Value rows of a table (header and underline dropped)."""
    lines = text.rstrip("\n").split("\n")
    assert re.fullmatch(r"Key +Value", lines[0]) and re.fullmatch(r"--- +-----", lines[1]), text
    return dict(re.split(r" {4,}", line, maxsplit=1) for line in lines[2:])


def without_rows(text: str, *keys: str) -> str:
    """A table without the rows whose value changes every second (ttl)."""
    return "\n".join(line for line in text.split("\n") if line.split(" ", 1)[0] not in keys)


def document(result: subprocess.CompletedProcess, *volatile: str) -> dict:
    """JSON output minus request_id and the named (time-dependent) data fields."""
    parsed = json.loads(succeeded(result))
    parsed.pop("request_id", None)
    for key in volatile:
        parsed["data"].pop(key, None)
    return parsed


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_token(server: ServerProcess, **request: object) -> dict:
    status, body, text = http(server, "POST", "auth/token/create", {"policies": ["default"], **request})
    assert status == 200, text
    return body["auth"]


@pytest.fixture
def kv_mount(server: ServerProcess) -> Iterator[str]:
    """A KV v1 mount of its own, removed afterwards."""
    path = unique("kv")
    status, _, text = http(server, "POST", f"sys/mounts/{path}", {"type": "kv"})
    assert status == 204, text
    yield path
    http(server, "DELETE", f"sys/mounts/{path}")


# --- status and generic paths -------------------------------------------------------------------


def test_status_matches_bao(server):
    ours, theirs = vaultlet(server, "status"), bao(server, "status")
    assert succeeded(ours) == theirs.stdout
    rows = table_rows(ours.stdout)
    assert (rows["Initialized"], rows["Sealed"]) == ("true", "false")
    assert "HA Enabled" in rows

    ours_json = vaultlet(server, "status", "-format=json")
    assert succeeded(ours_json) == bao(server, "status", "-format=json").stdout
    assert json.loads(ours_json.stdout)["sealed"] is False


def test_write_then_read_matches_bao(server, kv_mount):
    path = f"{kv_mount}/app"
    written = vaultlet(server, "write", path, "username=alice", "port=5432", "ttl=1h")
    assert succeeded(written) == f"Success! Data written to: {path}\n"

    table = succeeded(vaultlet(server, "read", path))
    assert table == bao(server, "read", path).stdout
    assert table_rows(table) == {"refresh_interval": "1h", "port": "5432", "ttl": "1h", "username": "alice"}

    ours = document(vaultlet(server, "read", "-format=json", path))
    assert ours == document(bao(server, "read", "-format=json", path))
    assert list(ours) == ["lease_id", "lease_duration", "renewable", "data", "warnings"]
    assert ours["data"] == {"port": "5432", "ttl": "1h", "username": "alice"}

    # -field prints the bare value: no newline when piped, so $(...) and files get it exactly.
    assert succeeded(vaultlet(server, "read", "-field=username", path)) == "alice"


def test_read_of_a_missing_path(server, kv_mount):
    result = vaultlet(server, "read", f"{kv_mount}/missing")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"No value found at {kv_mount}/missing\n"


def test_list_keys(server, kv_mount):
    for name in ("b", "a", "sub/c"):
        succeeded(vaultlet(server, "write", f"{kv_mount}/{name}", "k=v"))

    assert succeeded(vaultlet(server, "list", f"{kv_mount}/")) == "Keys\n----\na\nb\nsub/\n"
    assert json.loads(succeeded(vaultlet(server, "list", "-format=json", kv_mount))) == ["a", "b", "sub/"]
    assert vaultlet(server, "list", kv_mount).stdout == bao(server, "list", kv_mount).stdout

    missing = vaultlet(server, "list", f"{kv_mount}/nothing/")
    assert (missing.returncode, missing.stderr) == (2, f"No value found at {kv_mount}/nothing\n")
    missing_json = vaultlet(server, "list", "-format=json", f"{kv_mount}/nothing")
    assert (missing_json.returncode, missing_json.stdout) == (2, "{}\n")


def test_delete(server, kv_mount):
    path = f"{kv_mount}/gone"
    succeeded(vaultlet(server, "write", path, "k=v"))
    assert (
        succeeded(vaultlet(server, "delete", path)) == f"Success! Data deleted (if it existed) at: {path}\n"
    )
    assert vaultlet(server, "read", path).returncode == 2


def test_write_takes_values_from_files_stdin_and_json(server, kv_mount, tmp_path):
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(POLICY_DOCUMENT)

    def stored(name: str) -> dict:
        return json.loads(succeeded(vaultlet(server, "read", "-format=json", f"{kv_mount}/{name}")))["data"]

    # The walkthrough's `policy_document=-<<EOF ... EOF`: the value is the whole of stdin.
    succeeded(
        vaultlet(
            server,
            "write",
            f"{kv_mount}/roles/my-app-role",
            "credential_type=iam_user",
            "policy_document=-",
            stdin=POLICY_DOCUMENT,
        )
    )
    assert stored("roles/my-app-role") == {"credential_type": "iam_user", "policy_document": POLICY_DOCUMENT}

    succeeded(vaultlet(server, "write", f"{kv_mount}/from-file", f"policy_document=@{policy_file}"))
    assert stored("from-file") == {"policy_document": POLICY_DOCUMENT}

    # A lone "-" reads a JSON object with all the data.
    succeeded(vaultlet(server, "write", f"{kv_mount}/json", "-", stdin='{"a": 1, "nested": {"b": true}}'))
    assert stored("json") == {"a": 1, "nested": {"b": True}}

    succeeded(vaultlet(server, "write", f"{kv_mount}/multi", "arn=x", "arn=y", "at=\\@literal"))
    assert stored("multi") == {"arn": ["x", "y"], "at": "@literal"}


def test_integer_durations_are_humanised_like_bao(server, kv_mount):
    path = f"{kv_mount}/durations"
    data = '{"max_ttl": 3605, "a_period": 86401, "lease_max": 59, "count": 3605, "ttl_hint": "1h"}'
    succeeded(vaultlet(server, "write", path, "-", stdin=data))
    table = succeeded(vaultlet(server, "read", path))
    assert table == bao(server, "read", path).stdout
    rows = table_rows(table)
    rows.pop("refresh_interval", None)  # the mount's default TTL, server-specific
    assert rows == {
        "a_period": "24h1s",
        "count": "3605",
        "lease_max": "59s",
        "max_ttl": "1h5s",
        "ttl_hint": "1h",
    }


def test_write_rejects_bad_data(server, kv_mount):
    # Unlike Vault, the faulty argument is not echoed: it may well be a secret pasted without its key.
    bad_pair = vaultlet(server, "write", f"{kv_mount}/x", "a=1", "s3cr3t")
    assert bad_pair.returncode == 1
    assert bad_pair.stderr == (
        "Failed to parse K=V data: invalid key/value pair (argument 2): format must be key=value\n"
    )
    missing_file = vaultlet(server, "write", f"{kv_mount}/x", "policy=@/nonexistent/policy.json")
    assert missing_file.returncode == 1
    assert missing_file.stderr.startswith(
        'Failed to parse K=V data: invalid key/value pair for key "policy": error reading file: '
    )
    no_data = vaultlet(server, "write", f"{kv_mount}/x")
    assert (no_data.returncode, no_data.stderr) == (1, "Must supply data or use -force\n")


def test_flags_may_be_spelled_and_placed_like_go_or_gnu(server, kv_mount):
    path = f"{kv_mount}/flags"
    succeeded(vaultlet(server, "write", path, "username=alice"))
    spellings = [
        ("read", "-format=json", path),
        ("read", "--format=json", path),
        ("read", "-format", "json", path),
        ("read", path, "-format=json"),
    ]
    documents = [document(vaultlet(server, *spelling)) for spelling in spellings]
    assert all(parsed == documents[0] for parsed in documents)
    assert documents[0]["data"] == {"username": "alice"}
    assert succeeded(vaultlet(server, "read", path, "--field", "username")) == "alice"
    assert document(vaultlet(server, "read", path, env={"VAULT_FORMAT": "json"})) == documents[0]


def test_usage_errors_exit_with_1(server):
    unknown_flag = vaultlet(server, "read", "-bogus", "secret/x")
    assert (unknown_flag.returncode, unknown_flag.stderr) == (1, "flag provided but not defined: -bogus\n")
    bad_format = vaultlet(server, "read", "-format=xml", "secret/x")
    assert (bad_format.returncode, bad_format.stderr) == (1, "Invalid output format: xml\n")
    no_path = vaultlet(server, "read")
    assert (no_path.returncode, no_path.stderr) == (1, "Not enough arguments (expected 1, got 0)\n")
    assert vaultlet(server, "frobnicate").returncode == 127


# --- error reporting ---------------------------------------------------------------------------


def test_api_errors_are_reported_like_vault(server):
    ours = vaultlet(server, "write", "nosuchmount/x", "a=1")
    assert ours.returncode == 2
    assert ours.stderr.startswith(
        "Error writing data to nosuchmount/x: Error making API request.\n\n"
        f"URL: PUT {server.address}/v1/nosuchmount/x\nCode: 404. Errors:\n\n* "
    )
    theirs = bao(server, "write", "nosuchmount/x", "a=1", check=False)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)


def test_permission_denied_never_shows_the_token(server, kv_mount):
    bogus = "s.bogusTokenThatMustNotLeak"
    result = vaultlet(server, "read", f"{kv_mount}/x", token=bogus)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error reading {kv_mount}/x: Error making API request.\n\n"
        f"URL: GET {server.address}/v1/{kv_mount}/x\nCode: 403. Errors:\n\n* permission denied\n"
    )
    assert bogus not in result.stdout + result.stderr


def test_unreachable_server(server):
    address = f"http://127.0.0.1:{processes.free_port()}"
    result = vaultlet(server, "read", "secret/x", env={"VAULT_ADDR": address})
    assert result.returncode == 2
    assert result.stderr.startswith(f'Error reading secret/x: Get "{address}/v1/secret/x": ')


def test_address_comes_from_flag_then_vault_addr_then_bao_addr(server):
    dead = f"http://127.0.0.1:{processes.free_port()}"
    from_flag = vaultlet(server, "status", f"-address={server.address}", env={"VAULT_ADDR": dead})
    assert table_rows(succeeded(from_flag))["Sealed"] == "false"
    from_bao_addr = vaultlet(server, "status", env={"VAULT_ADDR": "", "BAO_ADDR": server.address})
    assert table_rows(succeeded(from_bao_addr))["Sealed"] == "false"


def _start_openbao_with_tls(workdir: Path) -> tuple[ServerProcess, Path]:
    """``bao server -dev -dev-tls``: HTTPS with a throwaway CA written to workdir."""
    port = processes.free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(processes.VENV_BIN / "bao"), "server", "-dev", "-dev-tls", f"-dev-tls-cert-dir={workdir}",
        f"-dev-listen-address=127.0.0.1:{port}", "-dev-root-token-id=root",
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "BAO_"))}
    log_path = workdir / "openbao.log"
    process = processes.start_process(argv, log_path, {**env, "HOME": str(workdir)}, cwd=workdir)
    server = ServerProcess("openbao", f"https://127.0.0.1:{port}", "root", process, workdir, log_path, argv)
    ca_file = workdir / "vault-ca.pem"
    deadline = time.monotonic() + 30
    while True:
        try:
            context = ssl.create_default_context(cafile=ca_file)
            urllib.request.urlopen(f"{server.address}/v1/sys/health", context=context, timeout=2)
            return server, ca_file
        except (OSError, ssl.SSLError):
            if time.monotonic() > deadline or process.poll() is not None:
                server.kill()
                raise RuntimeError(f"openbao with TLS did not start:\n{server.log_text()}") from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[ServerProcess, Path]]:
    """TLS is client-side behaviour, so OpenBao serves for every target."""
    server, ca_file = _start_openbao_with_tls(tmp_path_factory.mktemp("tls"))
    yield server, ca_file
    server.stop()


def test_tls_certificates_are_verified(tls_server):
    server, _ = tls_server
    result = vaultlet(server, "status")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f'Error checking seal status: Get "{server.address}/v1/sys/seal-status": '
    )


@pytest.mark.parametrize(
    ("settings", "flags"),
    [
        ({"VAULT_CACERT": "{ca}"}, ()),
        ({"BAO_CACERT": "{ca}"}, ()),
        ({}, ("-ca-cert={ca}",)),
        ({"VAULT_SKIP_VERIFY": "true"}, ()),
        ({}, ("-tls-skip-verify",)),
    ],
)
def test_tls_trust_settings(tls_server, settings, flags):
    server, ca_file = tls_server
    env = {key: value.format(ca=ca_file) for key, value in settings.items()}
    result = vaultlet(server, "status", *(flag.format(ca=ca_file) for flag in flags), env=env)
    assert table_rows(succeeded(result))["Sealed"] == "false"


# --- secrets engines ---------------------------------------------------------------------------


def mount_tuning(server: ServerProcess, path: str) -> dict:
    status, body, text = http(server, "GET", f"sys/mounts/{path}/tune")
    assert status == 200, text
    return body["data"]


def test_secrets_engine_lifecycle(server):
    path = unique("engine")
    enabled = vaultlet(
        server,
        "secrets",
        "enable",
        f"-path={path}",
        "-description=pretend aws",
        "-default-lease-ttl=1h",
        "-max-lease-ttl=4h",
        "kv",
    )
    assert succeeded(enabled) == f"Success! Enabled the kv secrets engine at: {path}/\n"
    tuning = mount_tuning(server, path)
    assert (tuning["default_lease_ttl"], tuning["max_lease_ttl"], tuning["description"]) == (
        3600,
        14400,
        "pretend aws",
    )

    table = succeeded(vaultlet(server, "secrets", "list"))
    assert table == bao(server, "secrets", "list").stdout
    assert re.search(rf"^{path}/ +kv +\S+ +pretend aws$", table, re.MULTILINE)
    listed = succeeded(vaultlet(server, "secrets", "list", "-format=json"))
    assert listed == bao(server, "secrets", "list", "-format=json").stdout
    assert json.loads(listed)[f"{path}/"]["config"]["default_lease_ttl"] == 3600

    tuned = vaultlet(server, "secrets", "tune", "-default-lease-ttl=2h", path)
    assert succeeded(tuned) == f"Success! Tuned the secrets engine at: {path}/\n"
    tuning = mount_tuning(server, path)
    assert (tuning["default_lease_ttl"], tuning["max_lease_ttl"]) == (7200, 14400)

    again = vaultlet(server, "secrets", "enable", f"-path={path}", "kv")
    assert again.returncode == 2
    assert again.stderr.startswith(
        "Error enabling: Error making API request.\n\n"
        f"URL: POST {server.address}/v1/sys/mounts/{path}\nCode: 400. Errors:\n\n* "
    )

    disabled = vaultlet(server, "secrets", "disable", path)
    assert succeeded(disabled) == f"Success! Disabled the secrets engine (if it existed) at: {path}/\n"
    assert f"{path}/" not in json.loads(succeeded(vaultlet(server, "secrets", "list", "-format=json")))


# --- tokens ------------------------------------------------------------------------------------


def token_data(server: ServerProcess, token: str) -> dict:
    status, body, text = http(server, "POST", "auth/token/lookup", {"token": token})
    assert status == 200, text
    return body["data"]


def test_token_create_table(server):
    created = vaultlet(
        server, "token", "create", "-policy=default", "-ttl=1h", "-display-name=app", "-metadata=team=x"
    )
    rows = table_rows(succeeded(created))
    assert list(rows) == [
        "token",
        "token_accessor",
        "token_duration",
        "token_renewable",
        "token_policies",
        "identity_policies",
        "policies",
        "token_meta_team",
    ]
    assert rows["token_duration"] == "1h"
    assert rows["token_renewable"] == "true"
    assert rows["token_policies"] == '["default"]'
    assert rows["token_meta_team"] == "x"
    looked_up = token_data(server, rows["token"])
    assert (looked_up["display_name"], looked_up["meta"]) == ("token-app", {"team": "x"})


def test_token_create_json_and_flags(server):
    created = vaultlet(
        server,
        "token",
        "create",
        "-format=json",
        "-policy=default",
        "-ttl=10m",
        "-explicit-max-ttl=20m",
        "-num-uses=3",
        "-renewable=false",
    )
    parsed = json.loads(succeeded(created))
    assert list(parsed) == [
        "request_id",
        "lease_id",
        "lease_duration",
        "renewable",
        "data",
        "warnings",
        "auth",
    ]
    auth = parsed["auth"]
    assert list(auth) == [
        "client_token",
        "accessor",
        "policies",
        "token_policies",
        "identity_policies",
        "metadata",
        "orphan",
        "entity_id",
        "lease_duration",
        "renewable",
        "mfa_requirement",
    ]
    assert (auth["lease_duration"], auth["renewable"], auth["policies"]) == (600, False, ["default"])
    looked_up = token_data(server, auth["client_token"])
    assert (looked_up["num_uses"], looked_up["explicit_max_ttl"]) == (3, 1200)

    token = succeeded(vaultlet(server, "token", "create", "-field=token", "-orphan", "-period=20m"))
    looked_up = token_data(server, token)
    assert (looked_up["orphan"], looked_up["period"]) == (True, 1200)


def test_token_lookup_matches_bao(server):
    auth = create_token(server, ttl="1h", meta={"team": "x"})
    token, accessor = auth["client_token"], auth["accessor"]

    ours = succeeded(vaultlet(server, "token", "lookup", token))
    assert without_rows(ours, "ttl") == without_rows(bao(server, "token", "lookup", token).stdout, "ttl")
    assert table_rows(ours)["id"] == token

    by_accessor = succeeded(vaultlet(server, "token", "lookup", "-accessor", accessor))
    assert table_rows(by_accessor)["accessor"] == accessor
    assert without_rows(by_accessor, "ttl") == without_rows(
        bao(server, "token", "lookup", "-accessor", accessor).stdout, "ttl"
    )

    assert document(vaultlet(server, "token", "lookup", "-format=json", token), "ttl") == document(
        bao(server, "token", "lookup", "-format=json", token), "ttl"
    )
    assert succeeded(vaultlet(server, "token", "lookup")) == bao(server, "token", "lookup").stdout


def test_token_renew(server):
    token = create_token(server, ttl="1h")["client_token"]
    renewed = table_rows(succeeded(vaultlet(server, "token", "renew", "-increment=30m", token)))
    assert (renewed["token"], renewed["token_duration"]) == (token, "30m")

    renewed_self = json.loads(
        succeeded(vaultlet(server, "token", "renew", "-format=json", "-i=20m", token=token))
    )
    assert (renewed_self["auth"]["client_token"], renewed_self["auth"]["lease_duration"]) == (token, 1200)

    fixed = create_token(server, ttl="1h", renewable=False)["client_token"]
    refused = vaultlet(server, "token", "renew", fixed)
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        "Error renewing token: Error making API request.\n\n"
        f"URL: PUT {server.address}/v1/auth/token/renew\nCode: 400. Errors:\n\n* "
    )
    assert fixed not in refused.stderr


def test_token_revoke(server):
    def is_valid(token: str) -> bool:
        return http(server, "GET", "auth/token/lookup-self", token=token)[0] == 200

    by_token = create_token(server)["client_token"]
    assert (
        succeeded(vaultlet(server, "token", "revoke", by_token)) == "Success! Revoked token (if it existed)\n"
    )
    assert not is_valid(by_token)

    by_accessor = create_token(server)
    succeeded(vaultlet(server, "token", "revoke", "-accessor", by_accessor["accessor"]))
    assert not is_valid(by_accessor["client_token"])

    itself = create_token(server)["client_token"]
    assert is_valid(itself)
    succeeded(vaultlet(server, "token", "revoke", "-self", token=itself))
    assert not is_valid(itself)

    no_target = vaultlet(server, "token", "revoke")
    assert (no_target.returncode, no_target.stderr) == (
        1,
        "Not enough arguments (expected 1 or -self, got 0)\n",
    )


def test_login_stores_the_token(server, tmp_path):
    home = {"HOME": str(tmp_path)}
    token = create_token(server, ttl="1h")["client_token"]
    token_file = tmp_path / ".vault-token"

    result = vaultlet(server, "login", token, env=home, use_token_file=True)
    text = succeeded(result)
    assert text.startswith("Success! You are now authenticated.")
    rows = table_rows(text.split("\n\n", 1)[1])
    assert (rows["token"], rows["token_policies"], rows["token_renewable"]) == (token, '["default"]', "true")
    assert token_file.read_text() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    # Later commands authenticate with the stored token.
    looked_up = json.loads(
        succeeded(vaultlet(server, "token", "lookup", "-format=json", env=home, use_token_file=True))
    )
    assert looked_up["data"]["id"] == token


def test_login_reads_the_token_from_stdin(server, tmp_path):
    home = {"HOME": str(tmp_path)}
    for arguments in ((), ("-",)):
        token = create_token(server)["client_token"]
        succeeded(vaultlet(server, "login", *arguments, stdin=token + "\n", env=home, use_token_file=True))
        assert (tmp_path / ".vault-token").read_text() == token


def test_login_without_storing(server, tmp_path):
    token = create_token(server)["client_token"]
    result = vaultlet(server, "login", "-token-only", token, env={"HOME": str(tmp_path)})
    assert succeeded(result) == token
    assert not (tmp_path / ".vault-token").exists()


def test_login_with_a_bad_token(server, tmp_path):
    bogus = "s.notARealTokenAtAll0000"
    result = vaultlet(server, "login", bogus, env={"HOME": str(tmp_path)}, use_token_file=True)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "Error authenticating: error looking up token: Error making API request.\n\n"
        f"URL: GET {server.address}/v1/auth/token/lookup-self\nCode: 403. Errors:\n\n* "
    )
    assert bogus not in result.stdout + result.stderr
    assert not (tmp_path / ".vault-token").exists()


# --- leases ------------------------------------------------------------------------------------


def test_unknown_leases(server):
    lease_id = "nosuch/creds/role/abc"

    lookup = vaultlet(server, "lease", "lookup", lease_id)
    assert lookup.returncode == 2
    assert lookup.stderr.startswith(
        f"error looking up lease id {lease_id}: Error making API request.\n\n"
        f"URL: PUT {server.address}/v1/sys/leases/lookup\nCode: 400. Errors:\n\n* "
    )
    assert lookup.stderr == bao(server, "lease", "lookup", lease_id, check=False).stderr

    renew = vaultlet(server, "lease", "renew", "-increment=1h", lease_id)
    assert renew.returncode == 2
    assert renew.stderr.startswith(f"Error renewing {lease_id}: Error making API request.\n\n")
    assert f"URL: PUT {server.address}/v1/sys/leases/renew\nCode: 400." in renew.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ((), "All revocation operations queued successfully!"),
        (("-sync",), "Success! Revoked lease: nosuch/creds/role/abc"),
        (("-prefix",), "All revocation operations queued successfully!"),
        (("-prefix", "-sync"), "Success! Revoked any leases with prefix: nosuch/creds/role/abc"),
        (("-force", "-prefix"), "Success! Force revoked any leases with prefix: nosuch/creds/role/abc"),
    ],
)
def test_revoking_unknown_leases_succeeds(server, flags, message):
    result = vaultlet(server, "lease", "revoke", *flags, "nosuch/creds/role/abc")
    assert succeeded(result) == message + "\n"
    assert ("Force-removing leases" in result.stderr) == ("-force" in flags)


def test_force_revocation_needs_a_prefix(server):
    result = vaultlet(server, "lease", "revoke", "-force", "nosuch/")
    assert (result.returncode, result.stderr) == (1, "Specifying -force requires also specifying -prefix\n")


@dataclass
class DynamicSecret:
    mount: str
    role_path: str  # e.g. aws/creds/my-app-role
    renewable: bool


def _pki_secrets(server: ServerProcess) -> DynamicSecret:
    """OpenBao has no AWS engine; PKI certificates with generate_lease are leased secrets too."""
    mount = unique("pki")
    calls = [
        ("POST", f"sys/mounts/{mount}", {"type": "pki", "config": {"max_lease_ttl": "24h"}}),
        ("POST", f"{mount}/root/generate/internal", {"common_name": "example.test", "ttl": "24h"}),
        (
            "POST",
            f"{mount}/roles/web",
            {
                "allowed_domains": "example.test",
                "allow_subdomains": True,
                "generate_lease": True,
                "max_ttl": "2h",
            },
        ),
    ]
    for method, path, body in calls:
        status, _, text = http(server, method, path, body)
        assert status in (200, 204), text
    return DynamicSecret(mount, f"{mount}/issue/web", renewable=False)


def _aws_secrets(server: ServerProcess, moto) -> DynamicSecret:
    """The AWS walkthrough's IAM-user role, set up with the CLI against moto."""
    mount = unique("aws")
    steps = [
        ("secrets", "enable", f"-path={mount}", "aws"),
        (
            "write",
            f"{mount}/config/root",
            "access_key=AKIAIOSFODNN7EXAMPLE",
            "secret_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "region=us-east-1",
            f"iam_endpoint={moto.endpoint}",
            f"sts_endpoint={moto.endpoint}",
        ),
        ("write", f"{mount}/roles/my-app-role", "credential_type=iam_user", "policy_document=-"),
    ]
    for step in steps:
        succeeded(vaultlet(server, *step, stdin=POLICY_DOCUMENT))
    return DynamicSecret(mount, f"{mount}/creds/my-app-role", renewable=True)


@pytest.fixture
def dynamic_secrets(server, request) -> Iterator[DynamicSecret]:
    if server.kind == "openbao":
        secrets = _pki_secrets(server)
    else:
        secrets = _aws_secrets(server, request.getfixturevalue("moto"))
    yield secrets
    http(server, "DELETE", f"sys/mounts/{secrets.mount}")


def issue(server: ServerProcess, secrets: DynamicSecret) -> dict:
    """Read (or, for PKI, write) the role's creds path as the walkthrough does, via the CLI."""
    if secrets.role_path.startswith(secrets.mount + "/issue/"):
        result = vaultlet(
            server, "write", "-format=json", secrets.role_path, "common_name=a.example.test", "ttl=1h"
        )
    else:
        result = vaultlet(server, "read", "-format=json", secrets.role_path)
    return json.loads(succeeded(result))


def test_lease_lifecycle(server, dynamic_secrets):
    secret = issue(server, dynamic_secrets)
    lease_id = secret["lease_id"]
    assert lease_id.startswith(dynamic_secrets.role_path + "/")
    assert secret["renewable"] is dynamic_secrets.renewable

    looked_up = succeeded(vaultlet(server, "lease", "lookup", lease_id))
    rows = table_rows(looked_up)
    assert (rows["id"], rows["path"]) == (lease_id, dynamic_secrets.role_path)
    assert without_rows(looked_up, "ttl") == without_rows(
        bao(server, "lease", "lookup", lease_id).stdout, "ttl"
    )
    # The walkthrough's other spelling of the same lookup.
    assert table_rows(succeeded(vaultlet(server, "write", "sys/leases/lookup", f"lease_id={lease_id}")))[
        "id"
    ] == (lease_id)
    listed = json.loads(
        succeeded(vaultlet(server, "list", "-format=json", f"sys/leases/lookup/{dynamic_secrets.role_path}"))
    )
    assert lease_id.rsplit("/", 1)[1] in listed

    renewed = vaultlet(server, "lease", "renew", "-increment=1h", lease_id)
    if dynamic_secrets.renewable:
        renewed_rows = table_rows(succeeded(renewed))
        assert (renewed_rows["lease_id"], renewed_rows["lease_renewable"]) == (lease_id, "true")
    else:
        assert renewed.returncode == 2
        assert "Code: 400. Errors:\n\n* lease is not renewable" in renewed.stderr

    revoked = vaultlet(server, "lease", "revoke", "-sync", lease_id)
    assert succeeded(revoked) == f"Success! Revoked lease: {lease_id}\n"
    gone = vaultlet(server, "lease", "lookup", lease_id)
    assert gone.returncode == 2 and "Code: 400." in gone.stderr


def test_revoking_a_lease_prefix(server, dynamic_secrets):
    lease_ids = [issue(server, dynamic_secrets)["lease_id"] for _ in range(2)]
    revoked = vaultlet(server, "lease", "revoke", "-prefix", "-sync", dynamic_secrets.role_path)
    assert succeeded(revoked) == f"Success! Revoked any leases with prefix: {dynamic_secrets.role_path}\n"
    for lease_id in lease_ids:
        assert vaultlet(server, "lease", "lookup", lease_id).returncode == 2


# --- policies and audit devices (both used by the walkthrough) ----------------------------------


def test_policy_commands(server, tmp_path):
    name = unique("aws-app")
    rules = 'path "aws/creds/app-s3-role" {\n  capabilities = ["read"]\n}\n'
    policy_file = tmp_path / "aws-app-policy.hcl"
    policy_file.write_text(rules)

    assert succeeded(vaultlet(server, "policy", "write", name, str(policy_file))) == (
        f"Success! Uploaded policy: {name}\n"
    )
    assert succeeded(vaultlet(server, "policy", "read", name)) == rules
    assert json.loads(succeeded(vaultlet(server, "policy", "read", "-format=json", name))) == {
        "policy": rules
    }
    assert name in succeeded(vaultlet(server, "policy", "list")).split("\n")
    assert name in json.loads(succeeded(vaultlet(server, "policy", "list", "-format=json")))

    mixed = vaultlet(server, "policy", "write", name.upper(), "-", stdin=rules)
    assert succeeded(mixed) == f"Success! Uploaded policy: {name}\n"
    assert mixed.stderr == f'Policy name was converted from "{name.upper()}" to "{name}"\n'

    assert succeeded(vaultlet(server, "policy", "delete", name)) == f"Success! Deleted policy: {name}\n"
    missing = vaultlet(server, "policy", "read", name)
    assert (missing.returncode, missing.stderr) == (2, f"No policy named: {name}\n")


def test_audit_commands(server, tmp_path):
    path = unique("file")
    enabled = vaultlet(
        server, "audit", "enable", f"-path={path}", "file", f"file_path={tmp_path / 'audit.log'}"
    )
    if server.kind == "openbao":
        # OpenBao only accepts audit devices declared in its configuration file.
        assert enabled.returncode == 2
        assert f"URL: PUT {server.address}/v1/sys/audit/{path}\nCode: 400." in enabled.stderr
    else:
        assert succeeded(enabled) == f"Success! Enabled the file audit device at: {path}/\n"
        assert re.search(rf"^{path}/ +file ", succeeded(vaultlet(server, "audit", "list")), re.MULTILINE)
    listed = vaultlet(server, "audit", "list", "-format=json")
    assert succeeded(listed) == bao(server, "audit", "list", "-format=json").stdout
    disabled = vaultlet(server, "audit", "disable", path)
    assert succeeded(disabled) == f"Success! Disabled audit device (if it was enabled) at: {path}/\n"


# --- operator init on a server that has never been initialised -----------------------------------


def _start_uninitialized(kind: str, workdir: Path) -> ServerProcess:
    port = processes.free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    listener = f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n'
    if kind == "vaultlet":
        config = 'storage "sqlite" {\n  path = "vaultlet.db"\n}\nseal "file" {\n  path = "seal.key"\n}\n'
        return processes.start_vaultlet_config(workdir, config + listener, root_token="", port=port)
    config_path = workdir / "openbao.hcl"
    config_path.write_text('storage "inmem" {}\ndisable_mlock = true\n' + listener)
    argv = [str(processes.VENV_BIN / "bao"), "server", f"-config={config_path}"]
    log_path = workdir / "openbao.log"
    process = processes.start_process(argv, log_path, cwd=workdir)
    address = f"http://127.0.0.1:{port}"
    processes.wait_for_http(f"{address}/v1/sys/health", process=process)
    return ServerProcess("openbao", address, "", process, workdir, log_path, argv)


@pytest.fixture
def uninitialized_server(server, tmp_path) -> Iterator[ServerProcess]:
    fresh = _start_uninitialized(server.kind, tmp_path / "fresh")
    yield fresh
    fresh.stop()


def test_operator_init_writes_the_key_file(uninitialized_server, tmp_path):
    before = vaultlet(uninitialized_server, "status")
    assert before.returncode == 2
    assert table_rows(before.stdout)["Initialized"] == "false"

    key_file = tmp_path / "unseal.key"
    result = vaultlet(uninitialized_server, "operator", "init", f"-key-file={key_file}")
    text = succeeded(result)
    assert text.startswith(f"Unseal Keys: written to {key_file}\n\nInitial Root Token: ")
    assert "Vault initialized with 1 key shares and a key threshold of 1." in " ".join(text.split())

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    (key,) = key_file.read_text().split()
    assert len(base64.b64decode(key)) >= 16
    assert key not in text + result.stderr

    after = vaultlet(uninitialized_server, "status")
    assert table_rows(after.stdout)["Initialized"] == "true"


def test_operator_init_json(uninitialized_server):
    parsed = json.loads(succeeded(vaultlet(uninitialized_server, "operator", "init", "-format=json")))
    assert (parsed["unseal_shares"], parsed["unseal_threshold"]) == (1, 1)
    assert len(parsed["unseal_keys_b64"]) == len(parsed["unseal_keys_hex"]) == 1
    assert parsed["root_token"]
    again = vaultlet(uninitialized_server, "operator", "init")
    assert again.returncode == 2
    assert f"URL: PUT {uninitialized_server.address}/v1/sys/init\nCode: 400." in again.stderr


def test_server_subcommand_is_handed_to_the_server(server, tmp_path):
    result = vaultlet(server, "server", f"-config={tmp_path / 'missing.hcl'}")
    assert result.returncode != 0
    assert "Usage: vaultlet" not in result.stdout + result.stderr


def test_auth_method_lifecycle(server):
    path = unique("approle")
    enabled = vaultlet(server, "auth", "enable", f"-path={path}", "-description=apps", "approle")
    assert succeeded(enabled) == f"Success! Enabled approle auth method at: {path}/\n"
    table = succeeded(vaultlet(server, "auth", "list"))
    # bao's table ends with the plugin version (n/a for builtins).
    assert re.search(rf"^{path}/ +approle +\S+ +apps +n/a$", table, re.MULTILINE)
    assert re.search(r"^token/ +token ", table, re.MULTILINE)
    listed = json.loads(succeeded(vaultlet(server, "auth", "list", "-format=json")))
    assert listed[f"{path}/"]["type"] == "approle"
    assert json.loads(bao(server, "auth", "list", "-format=json").stdout)[f"{path}/"]["type"] == "approle"
    disabled = vaultlet(server, "auth", "disable", path)
    assert succeeded(disabled) == f"Success! Disabled the auth method (if it existed) at: {path}/\n"
    assert f"{path}/" not in json.loads(succeeded(vaultlet(server, "auth", "list", "-format=json")))
