"""AWS credentials from vaultlet's AWS secrets engine: the request and the lease calls.

Shared by the ephemeral resource and the data source. `<mount>/creds/<role>` or
`<mount>/sts/<role>`; the lease is renewed with sys/leases/renew and revoked with
sys/leases/revoke. With a role that has `verify_credentials`, vaultlet answers only
once AWS accepts the new IAM key, so the keys work the moment the answer arrives.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from vaultlet_provider import vault

CREDENTIAL_TYPES = ("creds", "sts")
ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
MOUNT_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
ROLE_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:role/([\x21-\x7E]+/)?[A-Za-z0-9+=,.@_-]{1,64}$"
)
# Renew once this share of the lease has passed, so a slow renewal still lands in time.
RENEW_AFTER_SHARE = 0.5


@dataclass(frozen=True)
class Issued:
    access_key: str
    secret_key: str
    security_token: str | None
    lease_id: str
    lease_duration: int
    renewable: bool
    arn: str | None
    issued_at: float

    @property
    def expiration(self) -> str:
        return rfc3339(self.issued_at + self.lease_duration)


def rfc3339(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validation_errors(
    mount: str | None, role: str | None, kind: str | None, role_arn: str | None
) -> list[str]:
    """What Terraform shows as diagnostics before anything is sent."""
    errors = []
    if mount is not None and not MOUNT_PATH.match(mount):
        errors.append(
            f"mount must be a path such as `aws` or `team/aws`, "
            f"without leading or trailing slashes (got {mount!r})"
        )
    if role is not None and not ROLE_NAME.match(role):
        errors.append(f"role must be a role name (letters, digits, `_.@-`), not a path (got {role!r})")
    if kind is not None and kind not in CREDENTIAL_TYPES:
        errors.append(f"type must be `creds` or `sts` (got {kind!r})")
    if role_arn and not ROLE_ARN.match(role_arn):
        errors.append("role_arn must be an IAM role ARN such as `arn:aws:iam::123456789012:role/deploy`")
    return errors


def issue(client: vault.Client, mount: str, role: str, kind: str, parameters: dict) -> Issued:
    """Read creds/sts; parameters with a None value are not sent."""
    body = {key: value for key, value in parameters.items() if value not in (None, "")}
    path = f"{mount.strip('/')}/{kind}/{role}"
    issued_at = time.time()
    answer = client.call("POST" if body else "GET", path, body or None) or {}
    data = answer.get("data") or {}
    if not data.get("access_key") or not data.get("secret_key"):
        raise vault.VaultError(f"{path}: the answer has no access_key/secret_key")
    return Issued(
        access_key=data["access_key"],
        secret_key=data["secret_key"],
        security_token=data.get("security_token") or None,
        lease_id=answer.get("lease_id") or "",
        lease_duration=int(answer.get("lease_duration") or 0),
        renewable=bool(answer.get("renewable")),
        arn=data.get("arn") or None,
        issued_at=issued_at,
    )


def renew(client: vault.Client, lease_id: str, increment: int | None) -> int:
    """sys/leases/renew; the lease's new duration in seconds."""
    body: dict = {"lease_id": lease_id}
    if increment:
        body["increment"] = increment
    answer = client.call("PUT", "sys/leases/renew", body) or {}
    return int(answer.get("lease_duration") or 0)


def revoke(client: vault.Client, lease_id: str) -> None:
    client.call("PUT", "sys/leases/revoke", {"lease_id": lease_id})


def renew_at(now: float, lease_duration: int) -> datetime:
    return datetime.fromtimestamp(now + max(1.0, lease_duration * RENEW_AFTER_SHARE), UTC)
