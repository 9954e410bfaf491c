"""Unit tests of the credentials program's pure parts (no server, no subprocess)."""

from __future__ import annotations

import calendar
import importlib.util
import io
import subprocess
import time

import pytest

from support import terraform as tfkit


def _load_program():
    spec = importlib.util.spec_from_file_location("vaultlet_aws_credentials", tfkit.CREDENTIALS_PROGRAM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


program = _load_program()

SECRET = {
    "lease_id": "aws/creds/deploy/abc",
    "lease_duration": 900,
    "renewable": False,
    "data": {
        "access_key": "ASIAEXAMPLEEXAMPLE01",
        "secret_key": "secret/with+chars",
        "security_token": "token'with$shell`chars",
        "arn": "arn:aws:sts::123456789012:assumed-role/vault-deploy/s",
    },
}


def parse_rfc3339(text: str) -> float:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def test_external_result_is_a_flat_object_of_strings():
    result = program.external_result(program.Credentials(SECRET, requested_at=1_000_000.0))
    assert all(isinstance(value, str) for value in result.values())
    assert result["lease_duration"] == "900"
    assert parse_rfc3339(result["expiration"]) == 1_000_900
    assert result["arn"].endswith("/vault-deploy/s")


def test_expiration_counts_from_before_the_request():
    credentials = program.Credentials(SECRET, requested_at=1_700_000_000.0)
    assert parse_rfc3339(credentials.expiration) == 1_700_000_000 + 900


def test_expiry_window_brings_expiration_forward():
    credentials = program.Credentials(SECRET, requested_at=1_700_000_000.0, expiry_window=300)
    assert parse_rfc3339(credentials.expiration) == 1_700_000_000 + 600


def test_expiry_window_longer_than_the_lease_is_refused():
    with pytest.raises(program.CredentialsError, match="not shorter than the lease"):
        program.Credentials(SECRET, requested_at=0, expiry_window=900)


def test_iam_user_keys_have_no_token_and_no_arn():
    secret = {**SECRET, "data": {"access_key": "AKIA1", "secret_key": "s", "security_token": None}}
    result = program.external_result(program.Credentials(secret, requested_at=0))
    assert result["security_token"] == ""
    assert "arn" not in result


def test_session_token_is_accepted_when_security_token_is_absent():
    secret = {**SECRET, "data": {"access_key": "ASIA1", "secret_key": "s", "session_token": "t"}}
    assert program.Credentials(secret, requested_at=0).security_token == "t"


def test_an_answer_without_keys_is_an_error_not_a_crash():
    with pytest.raises(program.CredentialsError, match="no access_key"):
        program.Credentials({"data": {"value": "kv"}}, requested_at=0)


def test_credential_process_result_follows_version_1():
    result = program.credential_process_result(program.Credentials(SECRET, requested_at=0))
    assert result["Version"] == 1
    assert set(result) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}


def test_env_lines_survive_a_real_shell():
    lines = program.env_lines(program.Credentials(SECRET, requested_at=0))
    script = (
        lines + 'printf "%s\\n%s\\n%s\\n" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"'
    )
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert shown.splitlines() == [
        SECRET["data"]["access_key"],
        SECRET["data"]["secret_key"],
        SECRET["data"]["security_token"],
    ]


def test_env_lines_unset_a_stale_session_token_for_iam_user_keys():
    secret = {**SECRET, "data": {"access_key": "AKIA1", "secret_key": "s"}}
    assert "unset AWS_SESSION_TOKEN" in program.env_lines(program.Credentials(secret, requested_at=0))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{"role": "deploy", "token": "hvs.x"}', "refusing query key 'token'"),
        ('{"role": "deploy", "secret_id": "x"}', "refusing query key 'secret_id'"),
        ('{"role": "deploy", "rol": "x"}', "unknown query key 'rol'"),
        ('{"role": "deploy", "ttl": 900}', "must be a string"),
        ('["deploy"]', "must be a JSON object"),
        ("role=deploy", "stdin is not JSON"),
        ("{}", "role is required"),
        ('{"role": "aws/creds/deploy"}', "not a path"),
        ('{"role": "deploy", "type": "iam_user"}', "type must be creds or sts"),
        ('{"role": "deploy", "address": "vault:8200"}', "must start with http"),
        ('{"role": "deploy", "tls_skip_verify": "maybe"}', "true or false"),
        ('{"role": "deploy", "timeout": "0"}', "timeout must be positive"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(query, message):
    with pytest.raises(program.CredentialsError, match=message):
        program.settings_from_query(query, {})


def test_empty_query_values_mean_unset_as_older_external_providers_send_them():
    settings = program.settings_from_query('{"role": "deploy", "role_arn": "", "ttl": "", "mount": ""}', {})
    assert settings.mount == "aws"
    assert settings.request_parameters() == {}


def test_environment_fills_what_the_query_leaves_out():
    environ = {
        "VAULT_ADDR": "https://vault.example.com:8200/",
        "VAULT_NAMESPACE": "team",
        "VAULT_SKIP_VERIFY": "1",
    }
    settings = program.settings_from_query('{"role": "deploy", "mount": "/team/aws/"}', environ)
    assert (settings.address, settings.namespace, settings.tls_skip_verify) == (
        "https://vault.example.com:8200",
        "team",
        True,
    )
    assert settings.path == "team/aws/creds/deploy"


def test_flags_build_the_same_settings_as_the_query():
    from_flags = program.settings_from_args(
        ["--role", "deploy", "--type", "sts", "--ttl", "15m", "--address", "http://h:1"], {}
    )
    from_query = program.settings_from_query(
        '{"role": "deploy", "type": "sts", "ttl": "15m", "address": "http://h:1"}', {}
    )
    assert vars(from_flags) == vars(from_query)


@pytest.mark.parametrize(("text", "seconds"), [("30", 30), ("30s", 30), ("2m", 120), ("0.5", 0.5)])
def test_seconds_parse(text, seconds):
    assert program.parse_seconds(text, "timeout") == seconds


def test_redact_removes_secrets_and_newlines():
    assert (
        program.redact("bad token hvs.SECRET\nat line 2", ["hvs.SECRET"]) == "bad token <redacted> at line 2"
    )


def test_token_never_comes_from_anywhere_but_environment_or_file(tmp_path):
    client = program.VaultClient(program.Settings(role="r", address="http://h:1"), program.Deadline(1))
    with pytest.raises(program.CredentialsError, match="no Vault token"):
        program.resolve_token(client, {}, str(tmp_path))
    (tmp_path / ".vault-token").write_text("hvs.from-file\n")
    assert program.resolve_token(client, {}, str(tmp_path)) == "hvs.from-file"
    assert program.resolve_token(client, {"VAULT_TOKEN": "hvs.env"}, str(tmp_path)) == "hvs.env"
    with pytest.raises(program.CredentialsError, match="needs both"):
        program.resolve_token(client, {"VAULT_ROLE_ID": "r"}, str(tmp_path))


def test_usage_errors_exit_2_with_one_line(capsys):
    assert program.main(["credential-process", "--bogus"]) == program.EXIT_USAGE
    assert program.main(["frobnicate"]) == program.EXIT_USAGE
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(line.startswith("vaultlet-aws-credentials: ") for line in errors)


def test_help_goes_to_stdout():
    out = io.StringIO()
    program.run(["--help"], io.StringIO(), out, {})
    assert "credential-process" in out.getvalue()


def test_log_line_holds_identifiers_only(tmp_path):
    log = tmp_path / "issued.log"
    credentials = program.Credentials(SECRET, requested_at=0)
    program.log_issue(
        {"VAULTLET_CREDENTIAL_LOG": str(log)}, "external", program.Settings(role="deploy"), credentials
    )
    line = log.read_text()
    assert "lease_id=aws/creds/deploy/abc" in line
    assert not any(secret in line for secret in credentials.secrets)


def test_http_response_with_content_length():
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\n{}trailing"
    assert program.parse_http_response(raw) == (200, "OK", b"{}")


def test_http_response_chunked():
    head = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw = head + b'4\r\n{"a"\r\n3;ext=1\r\n:1}\r\n0\r\n\r\n'
    assert program.parse_http_response(raw) == (400, "Bad Request", b'{"a":1}')


@pytest.mark.parametrize(
    "raw",
    [b"garbage", b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
)
def test_malformed_http_responses_are_connection_errors(raw):
    with pytest.raises(OSError):
        program.parse_http_response(raw)


def test_proxy_variables_switch_to_urllib():
    assert not program.proxy_configured({})
    assert program.proxy_configured({"HTTPS_PROXY": "http://proxy:3128"})
    assert program.proxy_configured({"all_proxy": "socks5://proxy"})
