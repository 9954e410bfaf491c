"""The server process itself: TLS listener, graceful shutdown, config errors."""

from __future__ import annotations

import signal
import subprocess
import time

import hvac

from support.processes import VENV_BIN, free_port, production_config, start_vaultlet_config
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
