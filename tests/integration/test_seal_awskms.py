"""seal "awskms": auto-unseal with a KMS key, against moto's KMS in its own server process.

The server starts uninitialised and sealed; `bao operator init` makes the root key,
KMS wraps it, the server unseals itself, serves, and unseals itself again after a
restart (two workers: each one decrypts on its own). When KMS refuses Decrypt it
stays sealed and says why; once KMS answers again, it unseals itself.

How KMS is made to refuse: moto 5 records `DisableKey` but still decrypts with a
disabled key (real KMS answers DisabledException), so a disabled key cannot be
shown against moto. moto does enforce IAM in server mode, so the test takes
kms:Decrypt away from the seal's identity with an explicit Deny (what a changed
key policy or a lost instance role does) and gives it back after. The server's
code path is the same for both: Decrypt fails with a KMS error.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import time

import boto3
import pytest

from support.processes import VENV_BIN, bao, free_port, http, start_moto, start_vaultlet_config
from vaultlet.storage.seals.awskms import WRAPPED_KEY_RECORD

CONFIG = """
storage "sqlite" {{ path = "{db}" }}
listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
}}
seal "awskms" {{
  region     = "us-east-1"
  kms_key_id = "{key_id}"
  endpoint   = "{endpoint}"
}}
workers = 2
"""


@pytest.fixture
def moto(tmp_path):
    server = start_moto(tmp_path / "moto")
    yield server
    server.stop()


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
SEAL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}],
}
DENY_DECRYPT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}],
}


def _iam_user(moto, iam, name: str, policy: dict) -> dict[str, str]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _client(moto, service: str, credentials: dict[str, str]):
    return boto3.client(service, endpoint_url=moto.endpoint, region_name="us-east-1", **credentials)


def _start(tmp_path, moto, key_id, port, seal_credentials, root_token=""):
    """The server finds its AWS credentials through boto3's default chain (the environment)."""
    config = CONFIG.format(db=tmp_path / "vaultlet.db", port=port, key_id=key_id, endpoint=moto.endpoint)
    env = {
        "AWS_ACCESS_KEY_ID": seal_credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": seal_credentials["aws_secret_access_key"],
    }
    return start_vaultlet_config(tmp_path, config, root_token, port, env=env)


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_awskms_seal_init_unseal_restart_and_disabled_key(tmp_path, moto):
    bootstrap = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    admin = _iam_user(moto, _client(moto, "iam", bootstrap), "admin", ALLOW_ALL)
    seal_identity = _iam_user(moto, _client(moto, "iam", bootstrap), "vaultlet-seal", SEAL_POLICY)
    kms, iam = _client(moto, "kms", admin), _client(moto, "iam", admin)
    key_id = kms.create_key(Description="vaultlet seal")["KeyMetadata"]["KeyId"]
    moto.set_iam_authorization(True)
    port = free_port()
    server = _start(tmp_path, moto, key_id, port, seal_identity)
    try:
        status, body, _ = http(server, "GET", "sys/seal-status", token=None)
        assert body["type"] == "awskms" and body["recovery_seal"] is True
        assert body["initialized"] is False and body["sealed"] is True
        assert http(server, "GET", "sys/health", token=None)[0] == 501

        # KMS Encrypt refused: init fails before anything is written, and can be retried.
        deny_encrypt = json.dumps(
            {**DENY_DECRYPT, "Statement": [{**DENY_DECRYPT["Statement"][0], "Action": "kms:Encrypt"}]}
        )
        iam.put_user_policy(UserName="vaultlet-seal", PolicyName="deny", PolicyDocument=deny_encrypt)
        status, body, _ = http(server, "PUT", "sys/init", {"recovery_shares": 0}, token=None)
        assert status == 500 and "KMS Encrypt of the new root key failed" in body["errors"][0]
        assert http(server, "GET", "sys/init", token=None)[1] == {"initialized": False}
        iam.delete_user_policy(UserName="vaultlet-seal", PolicyName="deny")

        # Vault's CLI asks for 5 recovery keys by default; vaultlet has none to give.
        refused = bao(server, "operator", "init", "-format=json", env={"VAULT_TOKEN": ""}, check=False)
        assert refused.returncode != 0 and "-recovery-shares=0" in refused.stderr
        init = json.loads(
            bao(
                server,
                "operator",
                "init",
                "-recovery-shares=0",
                "-recovery-threshold=0",
                "-format=json",
                env={"VAULT_TOKEN": ""},
            ).stdout
        )
        assert init["unseal_keys_b64"] == [] and init["recovery_keys_b64"] == []
        server.root_token = init["root_token"]
        assert http(server, "GET", "sys/health", token=None)[0] == 200
        assert http(server, "POST", "sys/mounts/kv", {"type": "kv"})[0] == 204
        assert http(server, "PUT", "kv/probe", {"value": "stored"})[0] == 204
        # A key under an auto-unseal seal is refused: nobody holds one.
        assert http(server, "PUT", "sys/unseal", {"key": "A" * 43 + "="}, token=None)[0] == 400
    finally:
        server.stop()
    _assert_no_plaintext_root_key(tmp_path / "vaultlet.db", kms)

    restarted = _start(tmp_path, moto, key_id, port, seal_identity, init["root_token"])
    try:
        # Two workers, each unsealed by its own KMS Decrypt: several requests reach both.
        for _ in range(6):
            status, body, _ = http(restarted, "GET", "kv/probe")
            assert status == 200 and body["data"] == {"value": "stored"}
    finally:
        restarted.stop()

    iam.put_user_policy(UserName="vaultlet-seal", PolicyName="deny", PolicyDocument=json.dumps(DENY_DECRYPT))
    refused = _start(tmp_path, moto, key_id, port, seal_identity, init["root_token"])
    try:
        status, body, _ = http(refused, "GET", "sys/seal-status", token=None)
        assert body["sealed"] is True and body["initialized"] is True
        assert body["seal_error"].startswith("KMS Decrypt of the root key failed: ")
        status, body, _ = http(refused, "GET", "sys/health", token=None)
        assert status == 503 and body["seal_error"].startswith("KMS Decrypt of the root key failed")
        assert http(refused, "GET", "kv/probe")[0] == 503
        log = refused.log_text()
        assert "awskms seal: the server stays sealed: KMS Decrypt of the root key failed" in log
        assert "not authorized to perform: kms:Decrypt" in log  # KMS's own words, in the log only
        assert init["root_token"] not in log and seal_identity["aws_secret_access_key"] not in log

        iam.delete_user_policy(UserName="vaultlet-seal", PolicyName="deny")

        # Sealed workers ask KMS again every few seconds; no restart needed.
        def every_worker_unsealed() -> bool:  # requests land on either worker: ask several times
            probes_served = all(http(refused, "GET", "kv/probe")[0] == 200 for _ in range(8))
            statuses = [http(refused, "GET", "sys/seal-status", token=None)[1] for _ in range(8)]
            return probes_served and all(not s["sealed"] and "seal_error" not in s for s in statuses)

        assert _wait_for(every_worker_unsealed, timeout=30)
    finally:
        refused.stop()


def _assert_no_plaintext_root_key(db_path, kms):
    """The stored record is KMS ciphertext; decrypted (as the server does), the 32-byte
    key appears nowhere in the database, in any encoding the server uses."""
    with sqlite3.connect(db_path) as connection:
        rows = connection.execute("SELECT key, value FROM vault_kv").fetchall()
    stored = dict(rows)
    record = json.loads(bytes(stored[WRAPPED_KEY_RECORD]))
    root_key = kms.decrypt(
        CiphertextBlob=base64.b64decode(record["ciphertext"]),
        EncryptionContext={"vaultlet:purpose": "root-key", "vaultlet:record": WRAPPED_KEY_RECORD},
    )["Plaintext"]
    assert len(root_key) == 32
    encodings = [root_key, base64.b64encode(root_key), root_key.hex().encode()]
    for _key, value in rows:
        blob = bytes(value)
        assert not any(encoded in blob for encoded in encodings)


def test_awskms_from_vaults_environment_variables_with_the_vaultlet_cli(tmp_path, moto):
    """No seal block: VAULT_SEAL_TYPE, VAULT_AWSKMS_SEAL_KEY_ID and AWS_KMS_ENDPOINT, as Vault reads
    them; `vaultlet operator init` (which asks for no recovery keys) initialises it."""
    bootstrap = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    key_id = _client(moto, "kms", bootstrap).create_key()["KeyMetadata"]["KeyId"]
    port = free_port()
    config = CONFIG.format(db=tmp_path / "vaultlet.db", port=port, key_id="", endpoint="")
    config = config[: config.index('seal "awskms"')] + "workers = 1\n"
    env = {
        "VAULT_SEAL_TYPE": "awskms",
        "VAULT_AWSKMS_SEAL_KEY_ID": key_id,
        "AWS_KMS_ENDPOINT": moto.endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    server = start_vaultlet_config(tmp_path, config, "", port, env=env)
    try:
        assert http(server, "GET", "sys/seal-status", token=None)[1]["type"] == "awskms"
        result = subprocess.run(
            [str(VENV_BIN / "vaultlet"), "operator", "init", "-format=json"],
            env=server.client_env("", VAULT_TOKEN=""),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["unseal_keys_b64"] == [] and answer["root_token"]
        server.root_token = answer["root_token"]
        assert http(server, "GET", "auth/token/lookup-self")[0] == 200
    finally:
        server.stop()
