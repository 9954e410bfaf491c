"""``vaultlet server -dev -dev-aws=moto``: an embedded moto, aws/ configured, a demo role."""

from __future__ import annotations

import re
import socket
from types import SimpleNamespace

from support.aws_engine import caller_arn
from support.processes import bao, http, start_vaultlet_dev


def test_dev_aws_serves_the_demo_role_and_stops_moto_on_exit(tmp_path):
    server = start_vaultlet_dev(tmp_path / "dev-aws", extra_args=["-dev-aws=moto", "-dev-workers=2"])
    try:
        found = re.search(r"AWS \(moto\) is at (http://127\.0\.0\.1:(\d+))", server.log_text())
        assert found, server.log_text()
        endpoint, port = found.group(1), int(found.group(2))
        for _ in range(4):  # whichever worker answers, aws/ is there
            status, issued, text = http(server, "GET", "aws/creds/demo")
            assert status == 200, text
        assert "assumed-role/vault-demo-role/" in caller_arn(
            SimpleNamespace(endpoint=endpoint), issued["data"]
        )
        shown = bao(server, "read", "aws/config/root").stdout
        assert "us-east-1" in shown and "secret_key" not in shown
    finally:
        server.stop()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # moto went with the server
