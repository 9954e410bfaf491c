"""The credentials program as Terraform and the AWS SDK run it: a subprocess against a real vaultlet.

Checks the external data source protocol (reference/terraform.md §1.1), the
credential_process protocol (§4.1) and the failure contract: exactly one stderr
line, a non-zero exit, no secret in it.
"""

from __future__ import annotations

import calendar
import http.server
import json
import subprocess
import threading
import time

import pytest

from conftest import run_program
from support import processes
from support.tls import self_signed_certificate


def _one_line_failure(result: subprocess.CompletedProcess, *secrets: str) -> str:
    assert result.returncode != 0
    assert result.stdout == "", "stdout must be empty on failure (Terraform ignores it, the SDK may log it)"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got: {result.stderr!r}"
    for secret in secrets:
        assert secret not in result.stderr
    return lines[0]


def _child_token(broker, policies: list[str]) -> str:
    created = broker.vault_call("POST", "auth/token/create", {"policies": policies, "ttl": "10m"})
    return created["auth"]["client_token"]


def test_external_mode_prints_a_flat_object_of_strings(broker):
    started = time.time()
    result = run_program(broker, [], stdin=json.dumps({"role": "deploy", "ttl": "15m"}))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    output = json.loads(result.stdout)
    assert all(isinstance(value, str) for value in output.values())
    assert set(output) == {
        "access_key",
        "secret_key",
        "security_token",
        "lease_id",
        "lease_duration",
        "expiration",
        "arn",
    }
    assert output["access_key"].startswith("ASIA") and output["security_token"]
    assert output["arn"].startswith("arn:aws:sts::123456789012:assumed-role/vault-deploy/")
    assert output["lease_id"].startswith("aws/creds/deploy/")
    expires = calendar.timegm(time.strptime(output["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - (started + int(output["lease_duration"]))) <= 3
    assert 850 <= int(output["lease_duration"]) <= 900


def test_unset_query_keys_may_be_absent_or_empty(broker):
    """external >= 2.3.2 omits null keys; 2.3.1 sent them as "": both must work."""
    for query in ({"role": "deploy"}, {"role": "deploy", "role_arn": "", "ttl": "", "role_session_name": ""}):
        result = run_program(broker, [], stdin=json.dumps(query))
        assert result.returncode == 0, result.stderr


def test_sts_path_and_explicit_parameters(broker):
    query = {
        "role": "deploy",
        "type": "sts",
        "role_arn": broker.role_arn("deploy"),
        "role_session_name": "terraform-ci",
        "mount": "aws",
        "address": broker.vault.address,
    }
    result = run_program(broker, [], stdin=json.dumps(query))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["arn"].endswith("/vault-deploy/terraform-ci")


def test_credential_process_mode(broker):
    result = run_program(broker, ["credential-process", "--role", "deploy", "--ttl", "900"])
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["Version"] == 1
    assert set(output) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    # The credentials work: moto knows the session.
    identity = broker.aws_client(
        "sts",
        aws_access_key_id=output["AccessKeyId"],
        aws_secret_access_key=output["SecretAccessKey"],
        aws_session_token=output["SessionToken"],
    ).get_caller_identity()
    assert ":assumed-role/vault-deploy/" in identity["Arn"]


def test_env_mode_exports_for_eval(broker):
    result = run_program(broker, ["env", "--role", "deploy"])
    assert result.returncode == 0, result.stderr
    evaluated = subprocess.run(
        ["bash", "-c", result.stdout + 'echo "$AWS_ACCESS_KEY_ID $VAULTLET_LEASE_ID ${#AWS_SESSION_TOKEN}"'],
        capture_output=True,
        text=True,
        check=True,
    )
    shown = evaluated.stdout.split()
    # The program's own output (export lines) goes into the message only by line count and
    # keyword, never by value: it holds a secret key.
    described = [line.split("=", 1)[0] for line in result.stdout.splitlines()]
    shape = [len(line) for line in result.stdout.splitlines()], result.stdout.endswith("\n")
    assert len(shown) == 3, (described, shape, evaluated.stderr[-500:], result.stderr[-500:])
    assert shown[0].startswith("ASIA") and shown[1].startswith("aws/creds/deploy/") and int(shown[2]) > 0


def test_token_from_vault_token_file(broker):
    env = broker.env(VAULT_TOKEN="")
    (broker.home / ".vault-token").write_text(broker.vault.root_token)
    try:
        result = run_program(broker, [], stdin='{"role": "deploy"}', env=env)
    finally:
        (broker.home / ".vault-token").unlink()
    assert result.returncode == 0, result.stderr


def test_unknown_role(broker):
    result = run_program(broker, [], stdin='{"role": "no-such-role"}')
    line = _one_line_failure(result, broker.vault.root_token)
    assert line.startswith("vaultlet-aws-credentials: aws/creds/no-such-role: 400")
    assert "no-such-role" in line


def test_bad_token(broker):
    bad_token = "hvs.THIS-TOKEN-MUST-NOT-BE-PRINTED"
    result = run_program(broker, [], stdin='{"role": "deploy"}', env=broker.env(VAULT_TOKEN=bad_token))
    line = _one_line_failure(result, bad_token)
    assert "403" in line and "permission denied" in line


def test_token_without_permission(broker):
    token = _child_token(broker, ["default"])
    result = run_program(broker, [], stdin='{"role": "deploy"}', env=broker.env(VAULT_TOKEN=token))
    line = _one_line_failure(result, token)
    assert "403" in line


def test_unreachable_server_gives_up_within_the_timeout(broker):
    port = processes.free_port()  # nothing listens there
    started = time.monotonic()
    result = run_program(
        broker,
        [],
        stdin=json.dumps({"role": "deploy", "address": f"http://127.0.0.1:{port}", "timeout": "1.5s"}),
    )
    elapsed = time.monotonic() - started
    line = _one_line_failure(result, broker.vault.root_token)
    assert "cannot reach" in line and "gave up after" in line
    assert elapsed < 5


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]", '{"role": 7}', '{"role": "deploy"'])
def test_malformed_stdin(broker, stdin):
    _one_line_failure(run_program(broker, [], stdin=stdin), broker.vault.root_token)


def test_secrets_in_the_query_are_refused(broker):
    token = broker.vault.root_token
    result = run_program(broker, [], stdin=json.dumps({"role": "deploy", "token": "hvs.in-the-query"}))
    line = _one_line_failure(result, "hvs.in-the-query", token)
    assert "stored in Terraform state" in line


def test_credential_log_records_each_issue_without_secrets(broker, tmp_path):
    log = tmp_path / "issued.log"
    result = run_program(
        broker, [], stdin='{"role": "deploy"}', env=broker.env(VAULTLET_CREDENTIAL_LOG=str(log))
    )
    output = json.loads(result.stdout)
    line = log.read_text()
    assert f"lease_id={output['lease_id']}" in line and "mode=external" in line
    assert output["secret_key"] not in line and output["access_key"] not in line


# --------------------------------------------------------------------------- retries


class _FlakyVault(http.server.BaseHTTPRequestHandler):
    """Answers with the queued statuses first, then with a canned STS secret."""

    statuses: list[int] = []
    requests = 0

    def do_GET(self):  # noqa: N802 - the http.server API
        type(self).requests += 1
        if self.statuses:
            status = self.statuses.pop(0)
            body = json.dumps({"errors": [f"status {status}"]}).encode()
        else:
            status = 200
            body = json.dumps(
                {
                    "lease_id": "aws/creds/deploy/x",
                    "lease_duration": 900,
                    "data": {"access_key": "ASIAFLAKY", "secret_key": "s", "security_token": "t"},
                }
            ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_vault():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyVault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FlakyVault.requests = 0
    _FlakyVault.statuses = []
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("statuses", [[503, 502], [429, 500, 503]])
def test_transient_failures_are_retried(broker, flaky_vault, statuses):
    _, address = flaky_vault
    _FlakyVault.statuses = list(statuses)
    result = run_program(broker, [], stdin=json.dumps({"role": "deploy", "address": address}))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["access_key"] == "ASIAFLAKY"
    assert _FlakyVault.requests == len(statuses) + 1


def test_client_errors_are_not_retried(broker, flaky_vault):
    _, address = flaky_vault
    _FlakyVault.statuses = [400]
    result = run_program(broker, [], stdin=json.dumps({"role": "deploy", "address": address}))
    _one_line_failure(result)
    assert _FlakyVault.requests == 1


def test_retries_stop_at_the_timeout(broker, flaky_vault):
    _, address = flaky_vault
    _FlakyVault.statuses = [503] * 1000
    started = time.monotonic()
    result = run_program(
        broker, [], stdin=json.dumps({"role": "deploy", "address": address, "timeout": "1s"})
    )
    line = _one_line_failure(result)
    assert "503" in line and "gave up after" in line
    assert time.monotonic() - started < 4


# --------------------------------------------------------------------------- TLS and proxies


def _self_signed_certificate(directory) -> tuple[str, str]:
    cert_path, key_path = self_signed_certificate(directory)
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_vault(flaky_vault, tmp_path):
    import ssl

    server, address = flaky_vault
    cert_path, key_path = _self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return address.replace("http://", "https://"), cert_path


def test_https_with_the_ca_certificate(broker, tls_vault):
    address, cert_path = tls_vault
    result = run_program(
        broker, [], stdin=json.dumps({"role": "deploy", "address": address, "ca_cert": cert_path})
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["access_key"] == "ASIAFLAKY"


def test_https_with_an_unknown_certificate_fails_at_once(broker, tls_vault):
    address, _ = tls_vault
    started = time.monotonic()
    result = run_program(broker, [], stdin=json.dumps({"role": "deploy", "address": address}))
    line = _one_line_failure(result)
    assert "TLS" in line and "certificate" in line
    assert time.monotonic() - started < 5, "a certificate problem is not retried"


def test_https_skip_verify_and_vault_cacert(broker, tls_vault):
    address, cert_path = tls_vault
    skip = run_program(
        broker, [], stdin=json.dumps({"role": "deploy", "address": address, "tls_skip_verify": "true"})
    )
    assert skip.returncode == 0, skip.stderr
    from_env = run_program(
        broker,
        [],
        stdin=json.dumps({"role": "deploy", "address": address}),
        env=broker.env(VAULT_CACERT=cert_path),
    )
    assert from_env.returncode == 0, from_env.stderr


def test_proxy_settings_are_honoured(broker):
    """With a proxy configured the program goes through urllib, which applies NO_PROXY."""
    env = broker.env(HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1")
    assert run_program(broker, [], stdin='{"role": "deploy"}', env=env).returncode == 0
    through_dead_proxy = run_program(
        broker,
        [],
        stdin='{"role": "deploy", "timeout": "1s"}',
        env=broker.env(HTTP_PROXY="http://127.0.0.1:9"),
    )
    assert "cannot reach" in _one_line_failure(through_dead_proxy, broker.vault.root_token)
