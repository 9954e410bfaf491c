"""Response wrapping and the request bodies Vault accepts, against a real server and real clients.

One ``vaultlet server -dev -dev-aws=moto`` serves every test (the embedded moto stands in for
AWS); the `bao` CLI, hvac and the vaultlet CLI talk to it over HTTP. The differential test at
the end sends the same wrapping sequence to a real OpenBao (``bao server -dev``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import hvac
import pytest

from support.access import ok, token_with, unique, write_policy
from support.aws_engine import caller_arn, user_exists, wait_for
from support.processes import bao, http, start_openbao_dev, start_vaultlet_dev, start_vaultlet_production

INVALID = "wrapping token is not valid or does not exist"
BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"


def vaultlet(server, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    """The vaultlet CLI against the server, as a separate process."""
    env = server.client_env(token)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BACKEND_DIR), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "vaultlet.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def succeeded(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = start_vaultlet_dev(tmp_path_factory.mktemp("wrapping"), extra_args=["-dev-aws=moto"])
    ok(http(started, "POST", "sys/auth/approle", {"type": "approle"}))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def moto(server):
    found = re.search(r"AWS \(moto\) is at (http://127\.0\.0\.1:\d+)", server.log_text())
    assert found, server.log_text()
    return SimpleNamespace(endpoint=found.group(1))


def _role(server, **settings) -> tuple[str, str]:
    name = unique("role")
    ok(http(server, "POST", f"auth/approle/role/{name}", {"token_policies": "default", **settings}))
    return name, ok(http(server, "GET", f"auth/approle/role/{name}/role-id"))["data"]["role_id"]


def _wrap(server, method: str, path: str, body=None, ttl: str = "60s", token: str | None = "") -> dict:
    status, answer, text = http(server, method, path, body, token=token, headers={"X-Vault-Wrap-TTL": ttl})
    assert status == 200, text
    return answer


def _bao_json(server, *args: str, token: str | None = None) -> dict:
    return json.loads(bao(server, *args, "-format=json", token=token).stdout)


# -- bao write -f (the JSON body `null`) and form bodies ----------------------------------


def test_bao_write_force_sends_null_and_every_path_takes_it_as_an_empty_request(server):
    role, _ = _role(server)
    secret = _bao_json(server, "write", "-f", f"auth/approle/role/{role}/secret-id")
    assert secret["data"]["secret_id"] and secret["data"]["secret_id_ttl"] == 0
    created = _bao_json(server, "write", "-f", "auth/token/create")
    assert created["auth"]["client_token"].startswith("hvs.")
    fresh = unique("fresh")
    assert "Success!" in bao(server, "write", "-f", f"auth/approle/role/{fresh}").stdout
    assert ok(http(server, "GET", f"auth/approle/role/{fresh}"))["data"]["bind_secret_id"] is True
    for path in ("auth/token/tidy", "sys/leases/tidy", "sys/leases/revoke-prefix/aws/creds/nothing"):
        result = bao(server, "write", "-f", path, check=False)
        assert result.returncode == 0, (path, result.stderr)
    # What the CLI puts on the wire, byte for byte: `null` without a Content-Type.
    status, body, text = http(
        server, "PUT", f"auth/approle/role/{role}/secret-id", raw=b"null", headers={"Content-Type": ""}
    )
    assert status == 200 and body["warnings"] is None, text


def test_a_body_that_is_not_an_object_is_refused_with_openbaos_message(server):
    for raw, kind in ((b"[1]", "array"), (b'"s"', "string"), (b"5", "number")):
        status, body, _ = http(server, "PUT", "auth/token/create", raw=raw, headers={"Content-Type": ""})
        assert status == 400
        assert body["errors"] == [
            f"failed to decode JSON input: json: cannot unmarshal {kind} into Go value of type "
            "map[string]interface {}"
        ]


def test_form_posts_are_read_as_vault_reads_them(server):
    role = unique("form")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, text = http(
        server,
        "POST",
        f"auth/approle/role/{role}",
        raw=b"token_policies=a&token_policies=b&token_ttl=60",
        headers=form,
    )
    assert status == 204, text
    data = ok(http(server, "GET", f"auth/approle/role/{role}"))["data"]
    assert (data["token_policies"], data["token_ttl"]) == (["a", "b"], 60)  # repeats join with ","
    # JSON mislabelled as a form is still JSON, as in Vault.
    ok(http(server, "POST", f"auth/approle/role/{role}", raw=b'  {"token_ttl": "70"}', headers=form))
    assert ok(http(server, "GET", f"auth/approle/role/{role}"))["data"]["token_ttl"] == 70
    status, body, _ = http(server, "POST", f"auth/approle/role/{role}", raw=b"token_ttl=%zz", headers=form)
    assert (status, body["errors"]) == (400, ["error parsing form data"])


# -- wrapping: the trusted-orchestrator flow -------------------------------------------------


def test_wrapped_secret_id_unwraps_once_with_bao_and_logs_in(server):
    role, role_id = _role(server)
    wrapped = _bao_json(server, "write", "-wrap-ttl=60s", "-f", f"auth/approle/role/{role}/secret-id")
    info = wrapped["wrap_info"]
    assert wrapped["data"] is None and info["ttl"] == 60
    assert info["creation_path"] == f"auth/approle/role/{role}/secret-id"
    assert info["token"].startswith("hvs.") and info["accessor"] and info["wrapped_accessor"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", info["creation_time"])

    # The CI job holds nothing but the wrapping token: it is its own VAULT_TOKEN.
    secret_id = bao(server, "unwrap", "-field=secret_id", token=info["token"]).stdout.strip()
    login = _bao_json(server, "write", "auth/approle/login", f"role_id={role_id}", f"secret_id={secret_id}")
    assert login["auth"]["policies"] == ["default"]
    accessors = ok(http(server, "LIST", f"auth/approle/role/{role}/secret-id"))["data"]["keys"]
    assert info["wrapped_accessor"] in accessors

    again = bao(server, "unwrap", info["token"], check=False)
    assert again.returncode == 2 and INVALID in again.stderr


def test_hvac_unwraps_first_party_and_third_party(server):
    role, _ = _role(server)
    root = hvac.Client(url=server.address, token=server.root_token)
    wrapped = root.write_data(f"auth/approle/role/{role}/secret-id", wrap_ttl="60s")
    assert wrapped["data"] is None and wrapped["wrap_info"]["ttl"] == 60
    first = wrapped["wrap_info"]["token"]
    unwrapped = hvac.Client(url=server.address, token=first).sys.unwrap()
    assert unwrapped["data"]["secret_id"] and unwrapped["request_id"]
    third = _wrap(server, "PUT", "sys/wrapping/wrap", {"password": "p", "n": 5})["wrap_info"]["token"]
    assert root.sys.unwrap(token=third)["data"] == {"password": "p", "n": 5}
    with pytest.raises(hvac.exceptions.InvalidRequest, match=INVALID):
        root.sys.unwrap(token=third)
    with pytest.raises(hvac.exceptions.InvalidRequest, match=INVALID):
        hvac.Client(url=server.address, token=first).sys.unwrap()


def _unwrap_concurrently(server, body, caller, attempts: int = 8) -> list:
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        calls = [
            pool.submit(http, server, "PUT", "sys/wrapping/unwrap", body, token=caller)
            for _ in range(attempts)
        ]
        return [call.result() for call in calls]


def test_racing_unwraps_of_one_token_give_the_secret_exactly_once(server):
    # A token on its last use must not pass for an unlimited one while its revocation is pending.
    for third_party in (False, True, False, True, False, True):
        token = _wrap(server, "PUT", "sys/wrapping/wrap", {"once": "only"})["wrap_info"]["token"]
        answers = _unwrap_concurrently(server, *(({"token": token}, "") if third_party else (None, token)))
        delivered = [parsed for status, parsed, _ in answers if status == 200]
        assert [answer["data"] for answer in delivered] == [{"once": "only"}], answers
        assert all(status in (400, 403) for status, _, _ in answers if status != 200)


def test_an_expired_wrapping_token_fails(server):
    token = _wrap(server, "PUT", "sys/wrapping/wrap", {"a": "b"}, ttl="1s")["wrap_info"]["token"]
    time.sleep(1.5)
    for method, path, body, caller in (
        ("PUT", "sys/wrapping/unwrap", None, token),
        ("POST", "sys/wrapping/lookup", {"token": token}, None),
        ("PUT", "sys/wrapping/unwrap", {"token": token}, ""),
    ):
        status, answer, _ = http(server, method, path, body, token=caller)
        assert (status, answer["errors"]) == (400, [INVALID])


def test_lookup_needs_no_token_and_does_not_use_the_wrapping_token(server):
    token = _wrap(server, "PUT", "sys/wrapping/wrap", {"a": "b"}, ttl="90")["wrap_info"]["token"]
    for _ in range(2):
        looked = ok(http(server, "POST", "sys/wrapping/lookup", {"token": token}, token=None))["data"]
        assert looked["creation_path"] == "sys/wrapping/wrap" and looked["creation_ttl"] == 90
    status, body, _ = http(server, "POST", "sys/wrapping/lookup", token=None)
    assert (status, body["errors"]) == (403, ["error validating wrapping token: token is empty"])
    status, body, _ = http(server, "POST", "sys/wrapping/lookup")  # root is no wrapping token
    assert (status, body["errors"]) == (400, [INVALID])
    assert ok(http(server, "PUT", "sys/wrapping/unwrap", token=token))["data"] == {"a": "b"}


def test_rewrap_moves_the_response_to_a_new_token_and_revokes_the_old(server):
    old = _wrap(server, "PUT", "sys/wrapping/wrap", {"k": "v"}, ttl="120")["wrap_info"]["token"]
    # The wrapping token's own policy does not reach rewrap; the attempt uses it up.
    sacrificed = _wrap(server, "PUT", "sys/wrapping/wrap", {"k": "v"})["wrap_info"]["token"]
    assert http(server, "PUT", "sys/wrapping/rewrap", token=sacrificed)[0] == 403
    assert http(server, "PUT", "sys/wrapping/unwrap", token=sacrificed)[0] == 400
    new = ok(http(server, "PUT", "sys/wrapping/rewrap", {"token": old}))["wrap_info"]
    assert (new["ttl"], new["creation_path"]) == (120, "sys/wrapping/wrap") and new["token"] != old
    assert http(server, "PUT", "sys/wrapping/unwrap", token=old)[1]["errors"] == [INVALID]
    assert ok(http(server, "PUT", "sys/wrapping/unwrap", token=new["token"]))["data"] == {"k": "v"}


def test_a_wrapped_login_and_a_wrapped_token_are_real_tokens(server):
    role, role_id = _role(server)
    secret_id = ok(http(server, "PUT", f"auth/approle/role/{role}/secret-id"))["data"]["secret_id"]
    login = {"role_id": role_id, "secret_id": secret_id}
    wrapped = _wrap(server, "PUT", "auth/approle/login", login, token=None)["wrap_info"]
    assert wrapped["creation_path"] == "auth/approle/login"
    auth = ok(http(server, "PUT", "sys/wrapping/unwrap", token=wrapped["token"]))["auth"]
    assert auth["accessor"] == wrapped["wrapped_accessor"] and auth["metadata"] == {"role_name": role}
    assert ok(http(server, "GET", "auth/token/lookup-self", token=auth["client_token"]))["data"]["path"] == (
        "auth/approle/login"
    )
    child = _wrap(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "1h"})["wrap_info"]
    created = ok(http(server, "PUT", "sys/wrapping/unwrap", token=child["token"]))["auth"]
    assert created["accessor"] == child["wrapped_accessor"] and created["lease_duration"] == 3600


def test_the_wrapping_token_may_only_unwrap(server):
    token = _wrap(server, "PUT", "sys/wrapping/wrap", {"a": "b"})["wrap_info"]["token"]
    looked = ok(http(server, "POST", "auth/token/lookup", {"token": token}))["data"]
    assert looked["policies"] == ["response-wrapping"] and looked["num_uses"] == 1
    assert (looked["renewable"], looked["orphan"], looked["explicit_max_ttl"]) == (False, True, 60)
    assert http(server, "GET", "auth/token/lookup-self", token=token)[0] == 403
    assert http(server, "PUT", "sys/wrapping/unwrap", token=token)[0] == 400  # the denied call used it up


def test_the_response_wrapping_policy_cannot_be_assigned_or_changed(server):
    status, body, _ = http(
        server, "POST", "auth/token/create", {"policies": ["response-wrapping", "default"]}
    )
    assert (status, body["errors"]) == (400, ['cannot assign policy "response-wrapping"'])
    status, body, _ = http(server, "PUT", "sys/policies/acl/response-wrapping", {"policy": 'path "*" {}'})
    assert (status, body["errors"]) == (400, ['cannot update "response-wrapping" policy'])
    status, body, _ = http(server, "DELETE", "sys/policies/acl/response-wrapping")
    assert (status, body["errors"]) == (400, ['cannot delete "response-wrapping" policy'])
    text = ok(http(server, "GET", "sys/policies/acl/response-wrapping"))["data"]["policy"]
    assert 'path "sys/wrapping/unwrap"' in text


# -- policy limits and the header ------------------------------------------------------------------


def test_policy_min_and_max_wrapping_ttl_are_enforced(server):
    role, _ = _role(server)
    name = unique("wrap-limits")
    write_policy(
        server,
        name,
        f'path "auth/approle/role/{role}/secret-id" {{\n  capabilities = ["update"]\n'
        '  min_wrapping_ttl = "30s"\n  max_wrapping_ttl = "5m"\n}\n'
        f'path "auth/approle/role/{role}/role-id" {{\n  capabilities = ["read"]\n}}\n',
    )
    token = token_with(server, name)
    path = f"auth/approle/role/{role}/secret-id"
    for ttl, expected in ((None, 403), ("10s", 403), ("10m", 403), ("0", 403), ("30s", 200), ("300", 200)):
        headers = {"X-Vault-Wrap-TTL": ttl} if ttl else {}
        status, body, text = http(server, "PUT", path, token=token, headers=headers)
        assert status == expected, (ttl, text)
        if status == 200:
            assert body["data"] is None and body["wrap_info"]["token"]
    # A path without limits answers with or without wrapping.
    assert http(server, "GET", f"auth/approle/role/{role}/role-id", token=token)[0] == 200
    capabilities = ok(http(server, "POST", "sys/capabilities-self", {"paths": [path]}, token=token))
    assert capabilities["data"][path] == ["update"]  # limits are not capabilities


def test_a_bad_wrap_ttl_header_gets_openbaos_400(server):
    cases = {
        "abc": 'time: invalid duration "abc"',
        "1.5": 'time: missing unit in duration "1.5"',
        "60S": 'time: unknown unit "S" in duration "60S"',
        "-5": "requested wrap ttl cannot be negative",
    }
    for value, reason in cases.items():
        status, body, _ = http(server, "GET", "auth/token/lookup-self", headers={"X-Vault-Wrap-TTL": value})
        assert (status, body["errors"]) == (400, [f"error parsing X-Vault-Wrap-TTL header: {reason}"])
    status, body, _ = http(server, "PUT", "sys/wrapping/wrap", {"a": 1})
    assert (status, body["errors"]) == (400, ["endpoint requires response wrapping to be used"])
    headers = {"X-Vault-Wrap-TTL": "60", "X-Vault-Wrap-Format": "jwt"}
    status, body, _ = http(server, "PUT", "sys/wrapping/wrap", {"a": 1}, headers=headers)
    assert status == 400 and "jwt is not supported" in body["errors"][0]  # refused, not ignored


def test_answers_without_a_body_are_not_wrapped(server):
    headers = {"X-Vault-Wrap-TTL": "60"}
    status, _, text = http(server, "POST", f"auth/approle/role/{unique('nobody')}", {}, headers=headers)
    assert status == 204, text
    status, body, _ = http(server, "GET", "sys/health", headers=headers)
    assert status == 200 and "wrap_info" not in body


# -- AWS credentials ---------------------------------------------------------------------------------


_ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def test_wrapped_aws_credentials_work_against_moto_and_their_lease_is_revocable(server, moto):
    role = unique("wrapped-iam")
    ok(
        http(
            server,
            "POST",
            f"aws/roles/{role}",
            {
                "credential_type": "iam_user",
                "policy_document": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    }
                ),
            },
        )
    )
    wrapped = _bao_json(server, "read", "-wrap-ttl=60s", f"aws/creds/{role}")
    assert wrapped["data"] is None and wrapped["lease_id"] == ""  # nothing readable on the way
    token = wrapped["wrap_info"]["token"]
    unwrapped = json.loads(succeeded(vaultlet(server, "unwrap", "-format=json", token)))
    keys, lease_id = unwrapped["data"], unwrapped["lease_id"]
    assert lease_id.startswith(f"aws/creds/{role}/") and unwrapped["lease_duration"] > 0
    username = caller_arn(moto, keys).rsplit("/", 1)[-1]
    assert user_exists(moto, username)
    assert ok(http(server, "PUT", "sys/leases/lookup", {"lease_id": lease_id}))["data"]["id"] == lease_id
    bao(server, "lease", "revoke", lease_id)
    assert wait_for(lambda: not user_exists(moto, username))
    status, body, _ = http(server, "PUT", "sys/leases/lookup", {"lease_id": lease_id})
    assert (status, body["errors"]) == (400, ["invalid lease"])


# -- the vaultlet CLI ---------------------------------------------------------------------------------


def test_vaultlet_cli_wraps_with_wrap_ttl_and_unwraps(server):
    role, role_id = _role(server)
    shown = succeeded(vaultlet(server, "write", "-wrap-ttl=2m", "-f", f"auth/approle/role/{role}/secret-id"))
    assert "wrapping_token_ttl:" in shown and "2m" in shown
    token = re.search(r"wrapping_token:\s+(\S+)", shown).group(1)
    secret_id = succeeded(vaultlet(server, "unwrap", "-field=secret_id", token=token))
    ok(http(server, "PUT", "auth/approle/login", {"role_id": role_id, "secret_id": secret_id}, token=None))
    again = vaultlet(server, "unwrap", token)
    assert again.returncode == 2 and INVALID in again.stderr
    read = json.loads(succeeded(vaultlet(server, "read", "-wrap-ttl=30", "-format=json", "sys/mounts/aws")))
    assert read["wrap_info"]["ttl"] == 30 and read["wrap_info"]["creation_path"] == "sys/mounts/aws"


# -- audit and storage ---------------------------------------------------------------------------------


def _audit_hash(server, value: str) -> str:
    return ok(http(server, "POST", "sys/audit-hash/wrapaudit", {"input": value}))["data"]["hash"]


def test_audit_entries_hmac_the_wrapping_token_and_the_unwrapped_secret(server, tmp_path):
    log = tmp_path / "audit.log"
    ok(http(server, "PUT", "sys/audit/wrapaudit", {"type": "file", "options": {"file_path": str(log)}}))
    try:
        role, _ = _role(server)
        info = _wrap(server, "PUT", f"auth/approle/role/{role}/secret-id")["wrap_info"]
        secret_id = ok(http(server, "PUT", "sys/wrapping/unwrap", token=info["token"]))["data"]["secret_id"]
        text = log.read_text()
        hashed = {name: _audit_hash(server, info[name]) for name in ("token", "accessor", "wrapped_accessor")}
        hashed_secret_id = _audit_hash(server, secret_id)
    finally:
        ok(http(server, "DELETE", "sys/audit/wrapaudit"))
    for secret in (info["token"], info["accessor"], info["wrapped_accessor"], secret_id):
        assert secret not in text
    responses = [entry for entry in map(json.loads, text.splitlines()) if entry["type"] == "response"]
    wrapped = next(entry for entry in responses if entry["response"].get("wrap_info"))
    assert wrapped["request"]["wrap_ttl"] == 60 and "data" not in wrapped["response"]
    assert wrapped["response"]["wrap_info"] == {
        "ttl": 60,
        "token": hashed["token"],
        "accessor": hashed["accessor"],
        "creation_time": info["creation_time"],
        "creation_path": info["creation_path"],
        "wrapped_accessor": hashed["wrapped_accessor"],
    }
    unwrap = next(entry for entry in responses if entry["request"]["path"] == "sys/wrapping/unwrap")
    assert unwrap["auth"]["policies"] == ["response-wrapping"] and unwrap["auth"]["remaining_uses"] == 1
    assert unwrap["response"]["data"]["secret_id"] == hashed_secret_id


def test_the_wrapped_response_is_stored_encrypted(tmp_path):
    # A production server: its SQLite file is where the test can read it.
    production = start_vaultlet_production(tmp_path / "stored")
    try:
        marker = f"plaintext-{unique('marker')}"
        token = _wrap(production, "PUT", "sys/wrapping/wrap", {"marker": marker})["wrap_info"]["token"]
        stored = b"".join(path.read_bytes() for path in (tmp_path / "stored").glob("vaultlet.db*"))
        assert b"cubbyhole/" in stored  # the records are there (their keys are not secret)...
        assert marker.encode() not in stored and token.encode() not in stored  # ...their values are
        assert ok(http(production, "PUT", "sys/wrapping/unwrap", token=token))["data"] == {"marker": marker}
    finally:
        production.stop()


# -- differential: the same sequence against OpenBao --------------------------------------------------

# Deliberate differences, normalised away or skipped below:
# * token prefixes: vaultlet mints `hvs.` tokens (Vault 1.10+), OpenBao 2.7 `s.`; tokens, accessors,
#   ids and timestamps are compared by type only.
# * vaultlet's envelope carries `mount_type` (newer Vault does; OpenBao does not): ignored.
# * `X-Vault-Wrap-Format: jwt` is refused by vaultlet with a 400 (OpenBao signs a JWT): not sent.
# * creation_time has microseconds in vaultlet, nanoseconds in OpenBao (both RFC 3339).
# * auth blocks carry `identity_policies: null` in vaultlet (Vault sends it, OpenBao 2.7 omits it).
# * an ACL refusal reads "permission denied" rather than OpenBao's multierror text around the
#   same words (clients match the substring).
_IGNORED_KEYS = {"mount_type", "identity_policies"}


def _shape(value):
    """Key sets and value types, recursively; strings are only "str" (tokens, ids, times)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items() if key not in _IGNORED_KEYS}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def _ttls(parsed) -> tuple:
    """The TTL values a wrapping answer states (compared exactly, unlike other values)."""
    if not isinstance(parsed, dict):
        return ()
    wrap_info = parsed.get("wrap_info") or {}
    data = parsed.get("data") if isinstance(parsed.get("data"), dict) else {}
    return (wrap_info.get("ttl"), data.get("creation_ttl"))


def _sequence(target) -> list:
    """Every answer as (status, shape, errors); errors are compared verbatim."""
    answers = []

    def call(method, path, body=None, token="", **headers):
        status, parsed, _ = http(target, method, path, body, token=token, headers=headers)
        errors = parsed.get("errors") if isinstance(parsed, dict) else None
        if errors == ["1 error occurred:\n\t* permission denied\n\n"]:
            errors = ["permission denied"]
        answers.append(
            (method, path, status, errors if errors is not None else _shape(parsed), _ttls(parsed))
        )
        return parsed

    call("POST", "sys/auth/diffrole", {"type": "approle"})
    call("POST", "auth/diffrole/role/r", {"token_policies": "default"})
    role_id = call("GET", "auth/diffrole/role/r/role-id")["data"]["role_id"]
    call("PUT", "auth/diffrole/role/r/secret-id", None)
    secret = call("PUT", "auth/diffrole/role/r/secret-id", **{"X-Vault-Wrap-TTL": "60s"})
    wrapping = secret["wrap_info"]["token"]
    call("POST", "sys/wrapping/lookup", {"token": wrapping}, token=None)
    call("GET", "sys/wrapping/lookup", token=wrapping)
    secret_id = call("PUT", "sys/wrapping/unwrap", token=wrapping)["data"]["secret_id"]
    call("PUT", "sys/wrapping/unwrap", token=wrapping)
    login = call("PUT", "auth/diffrole/login", {"role_id": role_id, "secret_id": secret_id}, token=None)
    call("GET", "auth/token/lookup-self", token=login["auth"]["client_token"])
    data = call("PUT", "sys/wrapping/wrap", {"a": "b", "n": 5, "l": [1]}, **{"X-Vault-Wrap-TTL": "5m"})
    call("PUT", "sys/wrapping/unwrap", {"token": data["wrap_info"]["token"]})
    call("PUT", "sys/wrapping/unwrap", {"token": data["wrap_info"]["token"]})
    data = call("PUT", "sys/wrapping/wrap", {"a": "b"}, **{"X-Vault-Wrap-TTL": "120"})
    rewrapped = call("PUT", "sys/wrapping/rewrap", {"token": data["wrap_info"]["token"]})
    call("POST", "sys/wrapping/lookup", {"token": rewrapped["wrap_info"]["token"]}, token=None)
    call("PUT", "sys/wrapping/unwrap", {"token": data["wrap_info"]["token"]})
    call("POST", "auth/token/lookup", {"token": rewrapped["wrap_info"]["token"]})
    call("PUT", "sys/wrapping/rewrap", token=rewrapped["wrap_info"]["token"])
    call("PUT", "sys/wrapping/unwrap", token=rewrapped["wrap_info"]["token"])
    created = call("POST", "auth/token/create", {"policies": ["default"]}, **{"X-Vault-Wrap-TTL": "60"})
    call("PUT", "sys/wrapping/unwrap", {"token": created["wrap_info"]["token"]})
    call("POST", "auth/token/create", {"policies": ["response-wrapping"]})
    call("PUT", "sys/policies/acl/response-wrapping", {"policy": 'path "a" {capabilities=["read"]}'})
    call("DELETE", "sys/policies/acl/response-wrapping")
    call("PUT", "sys/wrapping/wrap", {"a": "b"})
    call("PUT", "sys/wrapping/unwrap")
    call("PUT", "sys/wrapping/unwrap", {"token": ""})
    call("PUT", "sys/wrapping/unwrap", {"token": "bogus"}, token=None)
    call("POST", "sys/wrapping/lookup", token=None)
    call("POST", "sys/wrapping/lookup", {"token": "bogus"}, token=None)
    for value in ("abc", "-5", "1.5", "60S", "1.5d"):
        call("PUT", "sys/wrapping/wrap", {"a": "b"}, **{"X-Vault-Wrap-TTL": value})
    call("PUT", "sys/policies/acl/difflimits", {"policy": _DIFF_POLICY})
    limited = call("POST", "auth/token/create", {"policies": ["difflimits"]})["auth"]["client_token"]
    for ttl in (None, "10s", "10m", "60s"):
        extra = {"X-Vault-Wrap-TTL": ttl} if ttl else {}
        call("PUT", "auth/diffrole/role/r/secret-id", token=limited, **extra)
    for ttl in ("100000h", "5d"):  # OpenBao caps neither end: no more must vaultlet
        huge = call("PUT", "sys/wrapping/wrap", {"a": "b"}, **{"X-Vault-Wrap-TTL": ttl})
        call("POST", "sys/wrapping/lookup", {"token": huge["wrap_info"]["token"]}, token=None)
    call("PUT", "sys/wrapping/wrap", {"a": "b"}, **{"X-Vault-Wrap-TTL": "500ms"})  # wrap_info.ttl 0
    owner = call("POST", "auth/token/create", {"policies": ["default"]})["auth"]["client_token"]
    call("PUT", "cubbyhole/app/db", {"password": "p"}, token=owner)
    call("GET", "cubbyhole/app/db", token=owner)
    call("GET", "cubbyhole/app/db")
    call("GET", "cubbyhole/?list=true", token=owner)
    call("GET", "cubbyhole/app/db", **{"X-Vault-Wrap-TTL": "60"})
    call("PUT", "cubbyhole/app/", {"password": "p"}, token=owner)
    call("DELETE", "cubbyhole/app/db", token=owner)
    call("GET", "cubbyhole/app/db", token=owner)
    call("DELETE", "sys/mounts/cubbyhole")
    looked_up = call("PUT", "sys/wrapping/wrap", {"a": "b"}, **{"X-Vault-Wrap-TTL": "60"})["wrap_info"][
        "token"
    ]
    call("GET", "cubbyhole/response", token=looked_up)
    call("PUT", "sys/wrapping/unwrap", token=looked_up)
    short = call("PUT", "sys/wrapping/wrap", {"a": "b"}, **{"X-Vault-Wrap-TTL": "1"})
    time.sleep(1.5)
    call("PUT", "sys/wrapping/unwrap", token=short["wrap_info"]["token"])
    return answers


_DIFF_POLICY = """
path "auth/diffrole/role/r/secret-id" {
  capabilities = ["update"]
  min_wrapping_ttl = "30s"
  max_wrapping_ttl = "5m"
}
"""


def test_the_wrapping_sequence_answers_as_openbao_does(server, tmp_path):
    openbao = start_openbao_dev(tmp_path / "openbao")
    try:
        expected = _sequence(openbao)
    finally:
        openbao.stop()
    actual = _sequence(server)
    assert len(actual) == len(expected)
    for mine, theirs in zip(actual, expected, strict=True):
        assert mine == theirs


# -- the README, verbatim ---------------------------------------------------------------------------


def _readme_block(heading: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split(f"\n{heading}\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0]


def test_the_readme_orchestrator_commands_run_verbatim(tmp_path):
    fresh = start_vaultlet_dev(tmp_path / "readme")
    try:
        readme = _readme_block("## Response wrapping")
        script = f'set -euo pipefail\n{readme}\necho "CI_TOKEN=$CI_TOKEN"\n'
        env = fresh.client_env()
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONPATH"] = str(BACKEND_DIR)
        result = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        ci_token = re.search(r"CI_TOKEN=(\S+)", result.stdout).group(1)
        looked = ok(http(fresh, "GET", "auth/token/lookup-self", token=ci_token))["data"]
        assert looked["path"] == "auth/approle/login" and looked["meta"] == {"role_name": "ci"}
        assert "creation_path    auth/approle/role/ci/secret-id" in result.stdout
        orchestrator = token_with(fresh, "orchestrator")
        unwrapped = http(fresh, "PUT", "auth/approle/role/ci/secret-id", token=orchestrator)
        assert unwrapped[0] == 403  # the policy's min_wrapping_ttl: no header, no secret ID
    finally:
        fresh.stop()


def test_the_cli_wraps_sys_wrapping_wrap_by_default_as_vaults_does(server):
    shown = json.loads(succeeded(vaultlet(server, "write", "-format=json", "sys/wrapping/wrap", "k=v")))
    assert shown["wrap_info"]["ttl"] == 300 and shown["wrap_info"]["creation_path"] == "sys/wrapping/wrap"
    token = shown["wrap_info"]["token"]
    assert json.loads(succeeded(vaultlet(server, "unwrap", "-format=json", token)))["data"] == {"k": "v"}


# -- the cubbyhole -----------------------------------------------------------------------------------


def test_each_token_has_its_own_cubbyhole_which_goes_with_it(server):
    first, second = token_with(server), token_with(server)
    assert "Success!" in bao(server, "write", "cubbyhole/app/db", "password=p1", token=first).stdout
    ok(http(server, "PUT", "cubbyhole/app/db", {"password": "p2"}, token=second))
    assert ok(http(server, "GET", "cubbyhole/app/db", token=first))["data"] == {"password": "p1"}
    assert json.loads(bao(server, "list", "-format=json", "cubbyhole", token=first).stdout) == ["app/"]
    ok(http(server, "POST", "auth/token/revoke", {"token": first}))
    # A new token starts empty; the second token's secret is untouched.
    assert http(server, "GET", "cubbyhole/app/db", token=token_with(server))[0] == 404
    assert ok(http(server, "GET", "cubbyhole/app/db", token=second))["data"] == {"password": "p2"}
    status, body, _ = http(server, "PUT", "cubbyhole/empty", {}, token=second)
    assert (status, body["errors"]) == (400, ["missing data fields"])
    mounts = ok(http(server, "GET", "sys/mounts"))["data"]
    assert mounts["cubbyhole/"]["type"] == "cubbyhole" and mounts["cubbyhole/"]["local"] is True
    status, body, _ = http(server, "DELETE", "sys/mounts/cubbyhole")
    assert (status, body["errors"]) == (400, ['cannot unmount "cubbyhole/"'])


def test_a_wrapping_token_may_read_its_cubbyhole_response_once_with_vaults_warning(server):
    token = _wrap(server, "PUT", "sys/wrapping/wrap", {"a": "b"})["wrap_info"]["token"]
    read = ok(http(server, "GET", "cubbyhole/response", token=token))
    assert json.loads(read["data"]["response"])["data"] == {"a": "b"}
    assert "deprecated" in read["warnings"][0]
    assert http(server, "PUT", "sys/wrapping/unwrap", token=token)[1]["errors"] == [INVALID]
