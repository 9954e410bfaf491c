"""Parsing of seal blocks: Vault's awskms attributes and environment fallbacks, refusals."""

from __future__ import annotations

import pytest

from vaultlet import config
from vaultlet.storage.seals.awskms import AwsKmsSeal


def _config(tmp_path, seal_block: str) -> str:
    path = tmp_path / "server.hcl"
    path.write_text(
        f'storage "sqlite" {{ path = "db" }}\nlistener "tcp" {{ tls_disable = true }}\n{seal_block}\n'
    )
    return str(path)


def test_awskms_block_with_every_vault_attribute(tmp_path):
    seal = config.load(
        _config(
            tmp_path,
            'seal "awskms" { region = "eu-west-1"  kms_key_id = "alias/vaultlet"\n'
            'endpoint = "http://127.0.0.1:1"  access_key = "AKIAEXAMPLE"  secret_key = "s"\n'
            'session_token = "t" }',
        )
    ).seal
    assert isinstance(seal, AwsKmsSeal)
    assert (seal.kms_key_id, seal.region, seal.endpoint) == (
        "alias/vaultlet",
        "eu-west-1",
        "http://127.0.0.1:1",
    )
    assert seal.type == "awskms" and seal.auto_unseal


def test_awskms_environment_fallbacks_as_vault():
    seal = AwsKmsSeal.from_block(
        {},
        {
            "VAULT_AWSKMS_SEAL_KEY_ID": "key-1",
            "AWS_KMS_ENDPOINT": "http://kms.local",
            "AWS_REGION": "ap-south-1",
        },
    )
    assert (seal.kms_key_id, seal.endpoint, seal.region) == ("key-1", "http://kms.local", "ap-south-1")
    assert AwsKmsSeal.from_block({"kms_key_id": "k"}, {}).region == "us-east-1"  # Vault's default


def test_vault_seal_type_environment_selects_awskms(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULT_SEAL_TYPE", "awskms")
    monkeypatch.setenv("VAULT_AWSKMS_SEAL_KEY_ID", "key-2")
    assert config.load(_config(tmp_path, "")).seal.kms_key_id == "key-2"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ('seal "awskms" { region = "us-east-1" }', "needs kms_key_id"),
        ('seal "awskms" { kms_key_id = "k"  disabled = "true" }', "unsupported attribute(s) disabled"),
        ('seal "awskms" { kms_key_id = "k"  access_key = "a" }', "access_key and secret_key go together"),
        ('seal "shamir" { }', 'unknown seal type "shamir"'),
        ('seal "file" { path = "a" }\nseal "awskms" { kms_key_id = "k" }', "one seal block at most"),
    ],
)
def test_refused_seal_blocks(tmp_path, monkeypatch, block, message):
    monkeypatch.delenv("VAULT_AWSKMS_SEAL_KEY_ID", raising=False)
    with pytest.raises(config.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.load(_config(tmp_path, block))


def test_file_seal_still_parses(tmp_path):
    seal = config.load(_config(tmp_path, 'seal "file" { path = "seal.key" }')).seal
    assert isinstance(seal, config.SealConfig) and seal.key_file.endswith("seal.key")
