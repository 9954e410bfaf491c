"""The server process itself: TLS listener, graceful shutdown, config errors."""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from http.client import HTTPConnection

import hvac
import pytest

from support.processes import (
    VENV_BIN,
    free_port,
    http,
    production_config,
    start_vaultlet_config,
    start_vaultlet_production,
)
from support.tls import self_signed_certificate


def test_tls_listener_serves_vault_clients(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    port = free_port()
    config = production_config(tmp_path, port).replace(
        "tls_disable = true", f'tls_cert_file = "{cert}"\n  tls_key_file = "{key}"'
    )
    config_path = tmp_path / "tls.hcl"
    config_path.write_text(config)
    process = subprocess.Popen(
        [str(VENV_BIN / "vaultlet"), "server", f"-config={config_path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        client = hvac.Client(url=f"https://127.0.0.1:{port}", verify=str(cert))
        deadline = time.time() + 30
        while True:
            try:
                status = client.sys.read_init_status()
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        assert status["initialized"] is False
        result = client.sys.initialize(secret_shares=1, secret_threshold=1)
        client.token = result["root_token"]
        assert client.is_authenticated()
        assert client.auth.token.lookup_self()["data"]["policies"] == ["root"]
        # Vault's default tls_min_version is tls12: a TLS 1.2-only client is served too.
        context = ssl.create_default_context(cafile=str(cert))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/v1/sys/health", context=context) as answer:
            assert json.loads(answer.read())["initialized"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_sigterm_shuts_down_gracefully(tmp_path):
    port = free_port()
    server = start_vaultlet_config(tmp_path, production_config(tmp_path, port), "", port)
    assert server.stop(signal.SIGTERM) == 0
    assert "Shutting down" in server.log_text()


def test_bad_config_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.hcl"
    config.write_text('storage "etcd" { address = "x" }\nlistener "tcp" { tls_disable = true }\n')
    result = subprocess.run(
        [str(VENV_BIN / "vaultlet"), "server", f"-config={config}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert 'unknown storage type "etcd"' in result.stderr
    no_tls = tmp_path / "notls.hcl"
    no_tls.write_text('storage "sqlite" { path = "x.db" }\nlistener "tcp" { address = "127.0.0.1:1" }\n')
    result = subprocess.run(
        [str(VENV_BIN / "vaultlet"), "server", f"-config={no_tls}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "tls_cert_file" in result.stderr


def _chunked_put(server, path: str, chunks: list[bytes]) -> tuple[int, str]:
    """A body without Content-Length: http.client sends an iterable chunked."""
    connection = HTTPConnection(server.address.removeprefix("http://"), timeout=60)
    try:
        headers = {"X-Vault-Token": server.root_token, "Content-Type": "application/json"}
        connection.request("PUT", f"/v1/{path}", body=iter(chunks), headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@pytest.mark.parametrize("http_server", ["granian", "gunicorn"])
def test_each_http_server_limits_bodies_and_stops_cleanly(tmp_path, http_server):
    """granian (the default) and gunicorn (selectable) serve the same app: the request
    size limit holds for sized and chunked bodies alike (a chunked body is never cut
    short silently), and SIGTERM stops the server with exit status 0."""
    server = start_vaultlet_production(
        tmp_path, workers=2, extra=f'http_server = "{http_server}"', listener_extra="max_request_size = 4096"
    )
    try:
        assert http(server, "POST", "sys/mounts/kv", {"type": "kv"})[0] == 204
        small = json.dumps({"value": "x" * 1000}).encode()
        assert _chunked_put(server, "kv/small", [small[:500], small[500:]])[0] == 204
        assert http(server, "GET", "kv/small")[1]["data"]["value"] == "x" * 1000
        large = json.dumps({"value": "x" * 5000}).encode()
        status, text = _chunked_put(server, "kv/large", [large[:3000], large[3000:]])
        assert status == 413 and "larger than the limit of 4096 bytes" in text
        assert (
            http(server, "PUT", "kv/large", raw=large, headers={"Content-Type": "application/json"})[0] == 413
        )
        assert http(server, "GET", "kv/large")[0] == 404
        booted = re.findall(r"Booting worker with pid: (\d+)", server.log_text())
        assert len(set(booted)) == 2
    finally:
        assert server.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize("http_server", ["granian", "gunicorn"])
def test_a_worker_that_cannot_boot_stops_the_server(tmp_path, http_server):
    """Every replacement would fail the same way: the server exits with status 3 (gunicorn's
    boot-error status) instead of respawning workers forever."""
    config = production_config(tmp_path, free_port(), extra=f'http_server = "{http_server}"', workers=2)
    config = config.replace(str(tmp_path / "vaultlet.db"), str(tmp_path / "missing" / "vaultlet.db"))
    config_path = tmp_path / "bootfail.hcl"
    config_path.write_text(config)
    result = subprocess.run(
        [str(VENV_BIN / "vaultlet"), "server", f"-config={config_path}"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "failed to boot" in result.stderr.lower()


def test_the_process_environment_is_not_read_as_request_headers(tmp_path):
    """granian copies the process environment into each request's WSGI environ: an
    HTTP_* variable there must not become a header of every request."""
    server = start_vaultlet_production(tmp_path, env={"HTTP_X_VAULT_NAMESPACE": "team-a"})
    try:
        status, body, text = http(server, "GET", "auth/token/lookup-self")
        assert status == 200, text
        assert body["data"]["policies"] == ["root"]
        sent = http(server, "GET", "auth/token/lookup-self", headers={"X-Vault-Namespace": "team-b"})
        assert sent[0] == 404 and "namespace not found" in sent[2]
    finally:
        server.stop()


def test_a_listen_address_in_use_is_one_clear_line(tmp_path):
    """As `vault server`: a port another process holds is a one-line error and status 1,
    before dev storage or workers are made (not the HTTP server's traceback)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        result = subprocess.run(
            [str(VENV_BIN / "vaultlet"), "server", "-dev", f"-dev-listen-address={address}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip() == (
        f"Error initializing listener of type tcp: listen tcp {address}: bind: address already in use"
    )
