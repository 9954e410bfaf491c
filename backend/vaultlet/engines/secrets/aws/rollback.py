"""Settling write-ahead entries and sweeping orphaned IAM users (run from ``periodic``).

Both run in every worker process, so both claim their work first:

* :func:`settle_wal_entries` looks at entries idle for more than rollback_min_age
  (Vault's WALRollbackMinAge, 5 min by default: longer than IAM's eventual
  consistency in practice). It claims each (compare-and-set). If the lease
  ``<lease_path>/<entry id>`` exists, the lease owns the user and the entry is
  dropped; otherwise the user is deleted, but only if it carries this mount's
  ``vaultlet-lease-ref=<entry id>`` tag (a name clash must never delete someone
  else's user), and then the entry is dropped. A failed rollback keeps its claim
  until it lapses, which spaces the retries out.

* :func:`sweep_orphaned_users` catches what the log cannot: users whose entry was
  lost (storage restored from a backup, a lease force-revoked without its backend,
  a teardown that failed when the mount was disabled). One process per interval
  wins the turn; it lists users under every path the mount's roles used, and
  deletes those tagged ``vaultlet-issuer=<this mount>`` that are older than
  rollback_min_age and whose ``vaultlet-lease-ref`` names neither a live lease of
  the mount nor a write-ahead entry. Untagged users are never touched.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from vaultlet import telemetry
from vaultlet.engines.secrets.aws.client import AwsError, IamApi, IamUser, NoSuchEntity
from vaultlet.engines.secrets.aws.config_root import CONFIG_ROOT_KEY
from vaultlet.engines.secrets.aws.iam_users import ISSUER_TAG, LEASE_REF_TAG, USER_WAL_KIND
from vaultlet.engines.secrets.aws.roles import user_path_prefixes
from vaultlet.engines.secrets.aws.teardown import delete_iam_user
from vaultlet.framework.wal import WALEntry

if TYPE_CHECKING:
    from vaultlet.engines.secrets.aws.backend import AwsBackend

log = logging.getLogger("vaultlet.backend.aws")

# How long a rollback holds an entry; a failed one is retried when this lapses.
ROLLBACK_CLAIM_SECONDS = 60.0
ORPHAN_SWEEP_KEY = "orphan-sweep"


# -- write-ahead entries ---------------------------------------------------------


def settle_wal_entries(backend: AwsBackend, *, min_age: float | None = None) -> None:
    """Settle every entry idle longer than ``min_age`` (default: the server's rollback_min_age)."""
    age = backend.rollback_min_age if min_age is None else min_age
    for entry in backend.wal.older_than(age):
        claimed = backend.wal.claim(entry, backend.worker_id, ROLLBACK_CLAIM_SECONDS)
        if claimed is None:
            continue  # another worker (or the issuing request) got there first
        try:
            settle_entry(backend, claimed)
        except AwsError as error:
            log.warning("rollback of write-ahead entry %s failed, will retry: %s", entry.id, error)
        except Exception:  # noqa: BLE001 - one bad entry must not stop the others
            log.exception("rollback of write-ahead entry %s (%s) failed, will retry", entry.id, entry.kind)


def settle_entry(backend: AwsBackend, entry: WALEntry) -> None:
    if entry.kind != USER_WAL_KIND:
        log.error("unknown type to rollback: write-ahead entry %s has kind %r", entry.id, entry.kind)
        return
    username = entry.data["username"]
    lease_id = f"{entry.data['lease_path']}/{entry.id}"
    if backend.context.system.lease_exists(lease_id):
        backend.wal.delete(entry.id)  # handed over: the lease owns the user now
        return
    iam = backend.aws().iam
    if _carries_reference(iam, username, backend.context.mount_uuid, entry.id):
        if delete_iam_user(iam, username, accept_missing=True):
            telemetry.wal_rolled_back(backend.context.mount_path, entry.kind)
        log.info("rolled back IAM user %s (write-ahead entry %s, no lease was issued)", username, entry.id)
    backend.wal.delete(entry.id)


def _carries_reference(iam: IamApi, username: str, mount_uuid: str, wal_id: str) -> bool:
    try:
        tags = iam.list_user_tags(username)
    except NoSuchEntity:
        return False  # never created, or already deleted
    if tags.get(ISSUER_TAG) == mount_uuid and tags.get(LEASE_REF_TAG) == wal_id:
        return True
    log.warning("IAM user %s was not created by write-ahead entry %s; leaving it alone", username, wal_id)
    return False


# -- orphaned users --------------------------------------------------------------


def sweep_orphaned_users(backend: AwsBackend) -> int:
    """Delete this mount's users that nothing accounts for; returns how many."""
    interval = backend.root_config().orphan_sweep_interval
    if interval <= 0 or backend.storage.version(CONFIG_ROOT_KEY) is None:
        return 0
    if not _take_sweep_turn(backend, interval):
        return 0
    iam = backend.aws().iam
    cutoff = time.time() - backend.rollback_min_age
    deleted = 0
    for prefix in user_path_prefixes(backend.storage):
        for user in iam.list_users(prefix):
            if _is_orphan(backend, iam, user, cutoff):
                if not delete_iam_user(iam, user.name, accept_missing=True):
                    continue  # another worker's sweep got there first
                telemetry.orphan_deleted(backend.context.mount_path)
                log.warning("deleted orphaned IAM user %s (ours, but no lease or log entry)", user.name)
                deleted += 1
    return deleted


def _is_orphan(backend: AwsBackend, iam: IamApi, user: IamUser, cutoff: float) -> bool:
    if user.create_date is None or user.create_date.timestamp() > cutoff:
        return False  # young users may still be on their way to a lease
    try:
        tags = iam.list_user_tags(user.name)
    except NoSuchEntity:
        return False
    if tags.get(ISSUER_TAG) != backend.context.mount_uuid:
        return False
    reference = tags.get(LEASE_REF_TAG, "")
    # Log first, then leases: an entry is only dropped once its lease exists, and a
    # lease only goes away by deleting its user, so one of the two is always seen.
    if reference and backend.wal.exists(reference):
        return False
    return not (reference and reference in _live_lease_suffixes(backend))


def _live_lease_suffixes(backend: AwsBackend) -> set[str]:
    lease_ids = backend.context.system.lease_ids(backend.context.mount_path)
    return {lease_id.rsplit("/", 1)[-1] for lease_id in lease_ids}


def _take_sweep_turn(backend: AwsBackend, interval: float) -> bool:
    """Compare-and-set on the last sweep time: one process sweeps per interval.

    Keyed on the last run (not a precomputed next one), so shortening the interval
    in config/root takes effect at once.
    """
    now = time.time()
    record, version = backend.storage.get_with_version(ORPHAN_SWEEP_KEY)
    if record is not None and now - record.get("last_run", 0) < interval:
        return False
    return backend.storage.put_if_version(ORPHAN_SWEEP_KEY, {"last_run": now}, version)
