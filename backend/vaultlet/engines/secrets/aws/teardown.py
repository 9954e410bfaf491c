"""The one routine that deletes an IAM user vaultlet created, and everything on it.

Lease revocation, write-ahead-log rollback and the orphan sweeper all call
:func:`delete_iam_user`. It is idempotent: run twice, or by two processes at
once, it ends with the user gone and no error, because anything that is already
missing once the user was seen counts as done.

The order is Vault's (pathUserRollback): list groups, inline policies, managed
policies and keys, then delete keys, detach managed policies, delete inline
policies, leave groups, delete the user. Unlike Vault, listings follow
pagination, and when DeleteUser answers DeleteConflict (a console password, MFA
device, signing certificate, SSH key or service credential was added to the user
out of band, hashicorp/vault#16685) those are removed and DeleteUser retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vaultlet.engines.secrets.aws.client import AwsError, IamApi, NoSuchEntity

log = logging.getLogger("vaultlet.backend.aws")


def delete_iam_user(iam: IamApi, username: str, *, accept_missing: bool) -> bool:
    """Delete ``username`` with its keys, policies and group memberships.

    Returns True when this call deleted the user, False when it was gone already
    (or another worker deleted it meanwhile): callers count deletions by it. A user that is not found is only
    accepted as gone when ``accept_missing`` is true, i.e. when it is older than
    IAM's eventual-consistency window; otherwise NoSuchEntity is raised so the
    caller retries later instead of forgetting a user that is merely not visible yet.
    """
    try:
        groups = iam.list_groups_for_user(username)
    except NoSuchEntity:
        if accept_missing:
            return False
        raise
    try:
        inline_policies = iam.list_user_policies(username)
        managed_policies = iam.list_attached_user_policies(username)
        keys = iam.list_access_keys(username)
    except NoSuchEntity:
        return False  # deleted by someone else since we looked: the end state is reached
    for key in keys:
        _ignoring_missing(iam.delete_access_key, key.access_key_id, username)
    for policy_arn in managed_policies:
        _ignoring_missing(iam.detach_user_policy, username, policy_arn)
    for policy_name in inline_policies:
        _ignoring_missing(iam.delete_user_policy, username, policy_name)
    for group in groups:
        _ignoring_missing(iam.remove_user_from_group, username, group)
    try:
        return _deleted(iam.delete_user, username)
    except AwsError as error:
        if error.code != "DeleteConflict":
            raise
        log.info("IAM user %s has credentials added out of band; removing them before deleting it", username)
        _delete_other_credentials(iam, username)
        return _deleted(iam.delete_user, username)


def _deleted(call: Callable, *args) -> bool:
    """True if the call deleted the entity, False if it was already gone."""
    try:
        call(*args)
    except NoSuchEntity:
        return False
    return True


def _delete_other_credentials(iam: IamApi, username: str) -> None:
    """What else DeleteUser requires gone: password, MFA, certificates, SSH keys, service credentials.

    Each kind is tried on its own; one that fails (e.g. a missing permission for a kind
    the user does not even have) must not stop the others. DeleteUser has the last word.
    """
    for remove in (
        _login_profile,
        _mfa_devices,
        _signing_certificates,
        _ssh_public_keys,
        _service_credentials,
    ):
        try:
            remove(iam, username)
        except AwsError as error:
            log.warning("could not remove %s of IAM user %s: %s", remove.__doc__, username, error.code)


def _login_profile(iam: IamApi, username: str) -> None:
    """the console password"""
    _ignoring_missing(iam.delete_login_profile, username)


def _mfa_devices(iam: IamApi, username: str) -> None:
    """the MFA devices"""
    for serial in iam.list_mfa_devices(username):
        _ignoring_missing(iam.deactivate_mfa_device, username, serial)
        if serial.startswith("arn:"):  # virtual devices are IAM resources of their own
            _ignoring_missing(iam.delete_virtual_mfa_device, serial)


def _signing_certificates(iam: IamApi, username: str) -> None:
    """the signing certificates"""
    for certificate_id in iam.list_signing_certificates(username):
        _ignoring_missing(iam.delete_signing_certificate, username, certificate_id)


def _ssh_public_keys(iam: IamApi, username: str) -> None:
    """the SSH public keys"""
    for key_id in iam.list_ssh_public_keys(username):
        _ignoring_missing(iam.delete_ssh_public_key, username, key_id)


def _service_credentials(iam: IamApi, username: str) -> None:
    """the service-specific credentials"""
    for credential_id in iam.list_service_specific_credentials(username):
        _ignoring_missing(iam.delete_service_specific_credential, username, credential_id)


def _ignoring_missing(call: Callable, *args):
    try:
        return call(*args)
    except NoSuchEntity:
        return None
