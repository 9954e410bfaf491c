"""The ``access_keys`` secret type: renewal and revocation of issued credentials.

iam_user leases renew with the TTLs of ``config/lease`` and are revoked by deleting
the user. STS credentials cannot be revoked before they expire (AWS offers no way),
so their leases are not renewable and revoking them deletes nothing, as in Vault.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from vaultlet.engines.secrets.aws.client import AwsTransientError
from vaultlet.engines.secrets.aws.config_lease import LeaseConfig
from vaultlet.engines.secrets.aws.errors import aws_failure
from vaultlet.engines.secrets.aws.teardown import delete_iam_user
from vaultlet.errors import InternalError
from vaultlet.framework.backend import Lease, Renewal, SecretType

if TYPE_CHECKING:
    from vaultlet.engines.secrets.aws.backend import AwsBackend

ACCESS_KEYS = "access_keys"  # Vault's secretAccessKeyType


def is_sts(internal: dict[str, Any]) -> bool:
    """Vault's reading of ``is_sts``: absent means an old iam_user lease; a non-bool is corrupt."""
    value = internal.get("is_sts", False)
    if not isinstance(value, bool):
        raise InternalError("secret has is_sts but value could not be understood")
    return value


def renew_access_keys(backend: AwsBackend, lease: Lease) -> Renewal | None:
    if is_sts(lease.internal):
        return None  # STS credentials have a fixed lifetime
    config = LeaseConfig.load(backend.storage)
    return Renewal(ttl=config.lease, max_ttl=config.lease_max)


def revoke_access_keys(backend: AwsBackend, lease: Lease) -> None:
    """Delete the lease's IAM user; raising makes the core retry with backoff."""
    if is_sts(lease.internal):
        return
    username = lease.internal.get("username")
    if not isinstance(username, str) or not username:
        raise InternalError("secret is missing username internal data")
    # A user not found right after creation may just not be visible yet (IAM is
    # eventually consistent): only an older lease may treat "not found" as "gone".
    old_enough = time.time() - lease.issue_time > backend.rollback_min_age
    try:
        delete_iam_user(backend.aws().iam, username, accept_missing=old_enough)
    except AwsTransientError as error:
        # Tells the core (and a synchronous revoker's client) that this is worth retrying.
        raise aws_failure("Error deleting IAM user", error) from None
    wal_id = lease.internal.get("wal_id")
    if wal_id:
        backend.wal.delete(wal_id)  # the issuance it recorded is now settled


def revoke_is_local(_backend: AwsBackend, lease: Lease) -> bool:
    """An STS lease revokes without calling AWS; an iam_user one deletes a user."""
    return lease.internal.get("is_sts") is True


ACCESS_KEYS_SECRET = SecretType(
    ACCESS_KEYS, revoke=revoke_access_keys, renew=renew_access_keys, revoke_is_local=revoke_is_local
)
