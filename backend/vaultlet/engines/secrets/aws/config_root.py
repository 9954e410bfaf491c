"""``config/root`` and ``config/rotate-root``: the credentials vaultlet uses to manage IAM.

As in current Vault, a write merges: the first write fills absent fields with their
defaults, later writes change only the fields they carry. ``secret_key`` is never
read back. The record's storage version is what every worker's client cache keys
on, so a write (or a rotation) takes effect everywhere at the next request.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaultlet.engines.secrets.aws.client import AwsError, ClientSettings
from vaultlet.engines.secrets.aws.errors import reported_as
from vaultlet.engines.secrets.aws.username_template import (
    DEFAULT_USERNAME_TEMPLATE,
    TemplateError,
    compile_template,
)
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import COMMA_STRING_SLICE, DURATION, INT, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, READ, UPDATE, Request

if TYPE_CHECKING:
    from vaultlet.engines.secrets.aws.backend import AwsBackend
    from vaultlet.framework.fields import FieldData
    from vaultlet.storage.barrier import StorageView

CONFIG_ROOT_KEY = "config/root"
DEFAULT_ORPHAN_SWEEP_INTERVAL = 600  # ten periodic ticks at the default 60 s


@dataclass
class RootConfig:
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    region: str = ""
    iam_endpoint: str = ""
    sts_endpoint: str = ""
    sts_region: str = ""
    sts_fallback_endpoints: list[str] = field(default_factory=list)
    sts_fallback_regions: list[str] = field(default_factory=list)
    max_retries: int = -1
    username_template: str = DEFAULT_USERNAME_TEMPLATE
    role_arn: str = ""
    identity_token_audience: str = ""
    identity_token_ttl: int = 3600
    orphan_sweep_interval: int = DEFAULT_ORPHAN_SWEEP_INTERVAL

    @classmethod
    def load(cls, storage: StorageView, *, cached: bool = False) -> RootConfig | None:
        """The stored config; ``cached`` reads through the version-checked cache (hot paths)."""
        record = storage.cached(CONFIG_ROOT_KEY) if cached else storage.get(CONFIG_ROOT_KEY)
        if record is None:
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: copy.deepcopy(v) for k, v in record.items() if k in known})

    @classmethod
    def load_with_version(cls, storage: StorageView) -> tuple[RootConfig | None, int | None]:
        """The stored config and the record version it was read at."""
        record, version = storage.get_with_version(CONFIG_ROOT_KEY)
        if record is None:
            return None, None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known}), version

    def save(self, storage: StorageView) -> None:
        storage.put(CONFIG_ROOT_KEY, dataclasses.asdict(self))

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            iam_endpoint=self.iam_endpoint,
            sts_endpoint=self.sts_endpoint,
            sts_region=self.sts_region,
            sts_fallback_endpoints=tuple(self.sts_fallback_endpoints),
            sts_fallback_regions=tuple(self.sts_fallback_regions),
            max_retries=self.max_retries,
        )

    def to_response(self) -> dict[str, Any]:
        return {
            "access_key": self.access_key,
            "region": self.region,
            "iam_endpoint": self.iam_endpoint,
            "sts_endpoint": self.sts_endpoint,
            "sts_region": self.sts_region,
            "sts_fallback_endpoints": self.sts_fallback_endpoints or None,
            "sts_fallback_regions": self.sts_fallback_regions or None,
            "max_retries": self.max_retries,
            "username_template": self.username_template,
            "role_arn": self.role_arn,
            "identity_token_audience": self.identity_token_audience,
            "identity_token_ttl": self.identity_token_ttl,
            "orphan_sweep_interval": self.orphan_sweep_interval,
        }


def client_settings(storage: StorageView) -> ClientSettings:
    """Settings for the client cache; no config means boto3's default chain and region."""
    config = RootConfig.load(storage)
    return config.client_settings() if config is not None else ClientSettings()


# -- handlers ---------------------------------------------------------------------


def config_root_exists(backend: AwsBackend, request: Request, fields: FieldData) -> bool:
    return backend.storage.version(CONFIG_ROOT_KEY) is not None


def config_root_read(backend: AwsBackend, request: Request, fields: FieldData) -> dict[str, Any]:
    config = RootConfig.load(backend.storage)
    if config is None:
        raise NotFound()
    return config.to_response()


def config_root_write(backend: AwsBackend, request: Request, fields: FieldData) -> None:
    config = RootConfig.load(backend.storage) or RootConfig()
    for name in _SETTABLE:
        if name in fields:
            setattr(config, name, fields[name])
    if not config.username_template:
        config.username_template = DEFAULT_USERNAME_TEMPLATE
    _validate(config)
    config.save(backend.storage)


def _validate(config: RootConfig) -> None:
    if len(config.sts_fallback_endpoints) != len(config.sts_fallback_regions):
        raise UserError("fallback endpoints and fallback regions must be the same length")
    if config.identity_token_audience:
        if config.access_key:
            raise UserError("only one of 'access_key' or 'identity_token_audience' can be set")
        if not config.role_arn:
            raise UserError("missing required 'role_arn' when 'identity_token_audience' is set")
        raise UserError(
            "plugin workload identity federation (identity_token_audience) is not supported by vaultlet; "
            "configure access_key and secret_key, or leave them empty to use the AWS default credential chain"
        )
    try:
        compile_template(config.username_template)
    except TemplateError as error:
        raise UserError(str(error)) from None


def config_rotate_root(backend: AwsBackend, request: Request, fields: FieldData) -> dict[str, Any]:
    """Replace vaultlet's own access key: create a new one, save it, delete the old one."""
    config = RootConfig.load(backend.storage)
    if config is None:
        raise UserError("no configuration found for config/root")
    if not config.access_key or not config.secret_key:
        raise UserError("Cannot call config/rotate-root when either access_key or secret_key is empty")
    with reported_as("error fetching current user"):
        iam = backend.aws().iam
        username = iam.get_user().name
    with reported_as("error creating new access key"):
        new_key = iam.create_access_key(username)
    old_access_key = config.access_key
    config.access_key, config.secret_key = new_key.access_key_id, new_key.secret_access_key
    try:
        config.save(backend.storage)
    except Exception:
        # Not saved: the new key would be unknown to everyone, so take it back.
        _delete_key_quietly(backend, new_key.access_key_id, username)
        raise
    # The next client build (in every worker) uses the new key; delete the old one with it.
    with reported_as("error deleting old access key (the new key is saved and in use)"):
        backend.aws().iam.delete_access_key(old_access_key, username)
    return {"access_key": new_key.access_key_id}


def _delete_key_quietly(backend: AwsBackend, access_key_id: str, username: str) -> None:
    try:
        backend.aws().iam.delete_access_key(access_key_id, username)
    except AwsError:
        backend.logger.exception("could not delete the unsaved new root access key %s", access_key_id)


_FIELDS = {
    "access_key": Field(STRING, "Access key with permission to create new keys."),
    "secret_key": Field(STRING, "Secret key with permission to create new keys. Never returned."),
    "region": Field(STRING, "Region for API calls (else AWS_REGION, AWS_DEFAULT_REGION, us-east-1)."),
    "iam_endpoint": Field(STRING, "Endpoint to custom IAM server URL"),
    "sts_endpoint": Field(STRING, "Endpoint to custom STS server URL"),
    "sts_region": Field(STRING, "Specific region for STS API calls (should match sts_endpoint)."),
    "sts_fallback_endpoints": Field(
        COMMA_STRING_SLICE, "Fallback STS endpoints, tried in order when an endpoint cannot be reached."
    ),
    "sts_fallback_regions": Field(
        COMMA_STRING_SLICE, "Regions of sts_fallback_endpoints, one per endpoint, in the same order."
    ),
    "max_retries": Field(INT, "Maximum number of retries for recoverable exceptions of AWS APIs", default=-1),
    "username_template": Field(STRING, "Template to generate custom IAM usernames"),
    "role_arn": Field(STRING, "Role to assume with plugin workload identity (not supported)."),
    "identity_token_audience": Field(STRING, "Audience of plugin identity tokens (not supported)."),
    "identity_token_ttl": Field(DURATION, "TTL of plugin identity tokens (not supported).", default=3600),
    "orphan_sweep_interval": Field(
        DURATION,
        "vaultlet only: how often to look for IAM users this mount created that no lease or write-ahead "
        "entry accounts for, and delete them. Needs iam:ListUsers and iam:ListUserTags. 0 disables it.",
        default=DEFAULT_ORPHAN_SWEEP_INTERVAL,
    ),
}
_SETTABLE = tuple(_FIELDS)

paths = [
    Path(
        pattern="config/root",
        fields=_FIELDS,
        operations={READ: config_root_read, CREATE: config_root_write, UPDATE: config_root_write},
        exists=config_root_exists,
        synopsis="Configure the root credentials that are used to manage IAM.",
        description="""
Before doing anything, the AWS backend needs credentials that are able to manage
IAM policies, users, access keys, etc. This endpoint is used to configure those
credentials. They don't necessarily need to be root keys as long as they have
permission to manage IAM. Without access_key and secret_key, the AWS SDK's default
credential chain is used (environment, shared files, container or instance role).

Writes merge: only the parameters given change. secret_key is never returned.
""",
    ),
    Path(
        pattern="config/rotate-root",
        operations={UPDATE: config_rotate_root},
        synopsis="Request to rotate the AWS credentials used by Vault",
        description="""
This path attempts to rotate the AWS credentials used by Vault for this mount. It
is only valid if Vault has been configured to use AWS IAM credentials via the
config/root endpoint: a new access key is created for the same IAM user, saved,
and the old one is deleted. The response carries the new access key id.
""",
    ),
]
