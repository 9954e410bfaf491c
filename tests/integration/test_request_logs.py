"""Server logs: one JSON line per request on stderr, carrying the audit entry's request
id and never a secret; Vault's log_level / log_format settings and flags."""

from __future__ import annotations

import json
import subprocess

from support.access import ok
from support.aws_engine import S3_GET_ONLY_POLICY, mount_aws
from support.processes import VENV_BIN, bao, http, start_vaultlet_dev, start_vaultlet_production


def test_json_request_lines_match_the_audit_log_and_hold_no_secret(tmp_path, moto):
    server = start_vaultlet_production(tmp_path, workers=2, extra='log_format = "json"')
    try:
        audit_log = tmp_path / "audit.log"
        bao(server, "audit", "enable", "file", f"file_path={audit_log}")
        mount = mount_aws(server, moto, http)
        ok(
            http(
                server,
                "POST",
                f"{mount.path}/roles/app",
                {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY},
            )
        )
        issued = ok(http(server, "GET", f"{mount.path}/creds/app"))["data"]
        token = ok(http(server, "POST", "auth/token/create", {"policies": ["default"]}))["auth"][
            "client_token"
        ]
        ok(http(server, "GET", "auth/token/lookup-self", token=token))
        assert http(server, "GET", f"{mount.path}/creds/app", token=token)[0] == 403
        server.stop()  # flush every worker's stderr
        text = server.log_text()
    finally:
        server.stop()

    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    requests_logged = [line for line in lines if line["@module"] == "vaultlet.http.request"]
    by_id = {line["request_id"]: line for line in requests_logged}
    for line in requests_logged:
        assert set(line) >= {"@timestamp", "@level", "request_id", "method", "path", "status", "duration_ms"}
        assert line["remote_addr"] == "127.0.0.1"
        assert line["duration_ms"] >= 0
    responses = [json.loads(entry) for entry in audit_log.read_text().splitlines()]
    responses = [entry for entry in responses if entry["type"] == "response"]
    assert len(responses) >= 6
    for entry in responses:
        logged = by_id[entry["request"]["id"]]  # the same id in both
        assert logged["path"] == "/v1/" + entry["request"]["path"]
    denied = [line for line in requests_logged if line["status"] == 403]
    assert [line["path"] for line in denied] == [f"/v1/{mount.path}/creds/app"]
    for secret in (issued["secret_key"], token, server.root_token, mount.admin_key["SecretAccessKey"]):
        assert secret not in text


def test_standard_format_and_log_level_flags(tmp_path):
    standard = start_vaultlet_dev(tmp_path / "standard")
    quiet = start_vaultlet_dev(tmp_path / "quiet", extra_args=["-log-level=warn", "-log-format=json"])
    try:
        for server in (standard, quiet):
            ok(http(server, "GET", "sys/mounts"))
        standard.stop()
        quiet.stop()
        request_lines = [line for line in standard.log_text().splitlines() if "vaultlet.http.request" in line]
        assert request_lines
        assert " [INFO]  vaultlet.http.request: request: request_id=" in request_lines[-1]
        assert "method=GET path=/v1/sys/mounts status=200" in request_lines[-1]
        assert "vaultlet.http.request" not in quiet.log_text()  # info is below warn
    finally:
        standard.stop()
        quiet.stop()


def test_unknown_log_settings_are_refused(tmp_path):
    for flag, message in (
        ("-log-format=xml", "unknown log format 'xml'"),
        ("-log-level=loud", "unknown log level"),
    ):
        result = subprocess.run(
            [str(VENV_BIN / "vaultlet"), "server", "-dev", flag], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1
        assert message in result.stderr
