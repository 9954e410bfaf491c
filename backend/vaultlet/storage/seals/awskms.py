"""``seal "awskms"``: auto-unseal with an AWS KMS key. The only module that calls KMS.

``sys/init`` makes the root key, has KMS encrypt it (``Encrypt`` with an encryption
context naming what it is) and stores the ciphertext in the database, in the same
transaction as the keyring it protects. Every worker, replica and restart then
unseals itself with ``Decrypt``; the plaintext key exists only in memory.

Why the database and not a file beside the config: every node of a PostgreSQL
cluster reads the same record, so nothing has to be copied between hosts or
mounted into pods, and the record is worthless without ``kms:Decrypt`` on the key.

Credentials come from boto3's default chain (environment, shared files, instance
or pod role) unless the block names ``access_key``/``secret_key``/``session_token``,
as Vault's awskms seal allows.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vaultlet.storage.seals import Seal, SealError

log = logging.getLogger("vaultlet.seal.awskms")

#: The raw (not barrier-encrypted: the barrier needs this key first) storage record.
WRAPPED_KEY_RECORD = "core/seal/awskms-root-key"
#: Bound into the ciphertext by KMS: a ciphertext of anything else will not decrypt here.
ENCRYPTION_CONTEXT = {"vaultlet:purpose": "root-key", "vaultlet:record": WRAPPED_KEY_RECORD}

#: Vault's awskms attributes that vaultlet honours; any other is refused.
SUPPORTED_ATTRIBUTES = ("region", "kms_key_id", "endpoint", "access_key", "secret_key", "session_token")
DEFAULT_REGION = "us-east-1"  # Vault's default for the awskms seal
RETRY_SECONDS = 5.0


class AwsKmsSeal(Seal):
    type = "awskms"
    auto_unseal = True
    retry_interval = RETRY_SECONDS

    def __init__(
        self,
        kms_key_id: str,
        region: str = DEFAULT_REGION,
        endpoint: str = "",
        access_key: str = "",
        secret_key: str = "",
        session_token: str = "",
    ):
        self.kms_key_id = kms_key_id
        self.region = region
        self.endpoint = endpoint
        self._credentials = {
            "aws_access_key_id": access_key or None,
            "aws_secret_access_key": secret_key or None,
            "aws_session_token": session_token or None,
        }
        self._client = None
        self.problem = ""

    @classmethod
    def from_block(cls, body: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> AwsKmsSeal:
        """The seal block's attributes, with Vault's environment fallbacks."""
        unknown = sorted(set(body) - set(SUPPORTED_ATTRIBUTES))
        if unknown:
            raise ValueError(
                f'seal "awskms": unsupported attribute(s) {", ".join(unknown)} '
                f"(vaultlet supports {', '.join(SUPPORTED_ATTRIBUTES)})"
            )
        values = {name: str(body.get(name) or "") for name in SUPPORTED_ATTRIBUTES}
        key_id = values["kms_key_id"] or environ.get("VAULT_AWSKMS_SEAL_KEY_ID", "")
        if not key_id:
            raise ValueError('seal "awskms" needs kms_key_id (or $VAULT_AWSKMS_SEAL_KEY_ID)')
        if bool(values["access_key"]) != bool(values["secret_key"]):
            raise ValueError('seal "awskms": access_key and secret_key go together')
        region = (
            values["region"]
            or environ.get("AWS_REGION", "")
            or environ.get("AWS_DEFAULT_REGION", "")
            or DEFAULT_REGION
        )
        return cls(
            kms_key_id=key_id,
            region=region,
            endpoint=values["endpoint"] or environ.get("AWS_KMS_ENDPOINT", ""),
            access_key=values["access_key"],
            secret_key=values["secret_key"],
            session_token=values["session_token"],
        )

    # -- the Seal interface --------------------------------------------------

    def load_key(self, storage) -> bytes | None:
        record = storage.get(WRAPPED_KEY_RECORD)
        if record is None:
            self._report("no KMS-wrapped root key is stored (initialise with `bao operator init`)", "")
            return None
        ciphertext = base64.b64decode(json.loads(record[0])["ciphertext"])
        try:
            answer = self._kms().decrypt(
                CiphertextBlob=ciphertext, KeyId=self.kms_key_id, EncryptionContext=ENCRYPTION_CONTEXT
            )
        except (ClientError, BotoCoreError) as error:
            code, message = _describe(error)
            self._report(f"KMS Decrypt of the root key failed: {code}", message)
            return None
        if self.problem:
            log.info("awskms seal: KMS Decrypt of the root key succeeded again")
        self.problem = ""
        return answer["Plaintext"]

    def wrap(self, root_key: bytes) -> dict[str, bytes]:
        try:
            answer = self._kms().encrypt(
                KeyId=self.kms_key_id, Plaintext=root_key, EncryptionContext=ENCRYPTION_CONTEXT
            )
        except (ClientError, BotoCoreError) as error:
            code, message = _describe(error)
            problem = f"awskms seal: KMS Encrypt of the new root key failed: {code}: {message}"
            raise SealError(problem) from None
        ciphertext = base64.b64encode(answer["CiphertextBlob"]).decode()
        record = {"key_id": answer["KeyId"], "ciphertext": ciphertext}
        return {WRAPPED_KEY_RECORD: json.dumps(record).encode()}

    # -- helpers -------------------------------------------------------------

    def _kms(self):
        if self._client is None:
            session = boto3.session.Session(region_name=self.region, **self._credentials)
            self._client = session.client(
                "kms",
                endpoint_url=self.endpoint or None,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10
                ),
            )
        return self._client

    def _report(self, problem: str, detail: str) -> None:
        """Log a new reason once (sealed servers are polled) and keep it for sys/seal-status,
        which anyone may read: it gets KMS's error code, the log also KMS's message."""
        if problem != self.problem:
            log.error("awskms seal: the server stays sealed: %s%s", problem, f" ({detail})" if detail else "")
        self.problem = problem


def _describe(error: Exception) -> tuple[str, str]:
    """KMS's error code and message (they name the key ARN, never a key's bytes)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return details.get("Code", "Error"), details.get("Message", "")
    return type(error).__name__, str(error)
