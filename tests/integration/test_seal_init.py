"""Production mode: uninitialised → `bao operator init` → sealed/unsealed states, with Vault's codes."""

from __future__ import annotations

import json

from support.processes import bao, free_port, http, production_config, start_vaultlet_config


def test_init_seal_unseal_lifecycle_with_the_bao_cli(tmp_path):
    port = free_port()
    server = start_vaultlet_config(tmp_path, production_config(tmp_path, port), "", port)
    try:
        status, body, _ = http(server, "GET", "sys/health", token=None)
        assert status == 501 and body["initialized"] is False
        assert http(server, "GET", "sys/seal-status", token=None)[1]["initialized"] is False
        assert http(server, "GET", "sys/mounts", token="x") == (
            503,
            {"errors": ["Vault is sealed"]},
            '{"errors": ["Vault is sealed"]}',
        )

        init = json.loads(
            bao(
                server,
                "operator",
                "init",
                "-key-shares=1",
                "-key-threshold=1",
                "-format=json",
                env={"VAULT_TOKEN": ""},
            ).stdout
        )
        root_token, key = init["root_token"], init["unseal_keys_b64"][0]
        assert (tmp_path / "seal.key").exists() and oct((tmp_path / "seal.key").stat().st_mode)[-3:] == "600"
        server.root_token = root_token
        assert http(server, "GET", "sys/health", token=None)[0] == 200
        assert json.loads(bao(server, "token", "lookup", "-format=json").stdout)["data"]["policies"] == [
            "root"
        ]

        bao(server, "operator", "seal")
        status, body, _ = http(server, "GET", "sys/health", token=None)
        assert status == 503 and body["sealed"] is True
        assert http(server, "GET", "sys/health?sealedcode=200", token=None)[0] == 200
        assert http(server, "GET", "auth/token/lookup-self")[0] == 503
        status_cli = bao(server, "status", check=False)
        assert status_cli.returncode == 2 and "Sealed" in status_cli.stdout

        wrong = bao(server, "operator", "unseal", "A" * 43 + "=", check=False)
        assert wrong.returncode == 2
        bao(server, "operator", "unseal", key)
        assert http(server, "GET", "sys/seal-status", token=None)[1]["sealed"] is False
        assert http(server, "GET", "auth/token/lookup-self")[0] == 200
    finally:
        server.stop()
    restarted = start_vaultlet_config(tmp_path, production_config(tmp_path, port), root_token, port)
    try:
        assert http(restarted, "GET", "auth/token/lookup-self")[0] == 200  # unsealed from the key file
    finally:
        restarted.stop()
