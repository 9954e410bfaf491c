"""data "vaultlet_aws_credentials": the vault provider's vault_aws_access_credentials, for migrations.

A data source's result is stored in the state and in saved plans: these keys are. Use
ephemeral "vaultlet_aws_credentials" instead wherever Terraform ≥ 1.10 allows. The lease
belongs to the provider's child token, which is revoked when the provider stops, so
IAM-user keys read here are deleted when the Terraform command ends (STS keys cannot be
revoked and live until AWS expires them).
"""

from __future__ import annotations

import time

import attrs
from pyvider.data_sources import BaseDataSource
from pyvider.exceptions import DataSourceError
from pyvider.schema import a_bool, a_num, a_str, s_data_source

from vaultlet_provider import aws_credentials, vault
from vaultlet_provider.provider import configured_client

TYPE_NAME = "vaultlet_aws_credentials"


@attrs.define(frozen=True)
class Config:
    role: str | None = None
    backend: str | None = None
    type: str | None = "creds"
    role_arn: str | None = None
    region: str | None = None
    ttl: str | None = None


@attrs.define(frozen=True)
class State(Config):
    id: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    security_token: str | None = None
    lease_id: str | None = None
    lease_duration: int | None = None
    lease_start_time: str | None = None
    lease_renewable: bool | None = None


def schema():
    return s_data_source(
        attributes={
            "backend": a_str("Path of the AWS secrets engine mount.", required=True),
            "role": a_str("Role under the mount.", required=True),
            "type": a_str("`creds` or `sts`.", optional=True, default="creds"),
            "role_arn": a_str("Role to assume when the vaultlet role allows several.", optional=True),
            "region": a_str("Region (kept for compatibility; vaultlet does not use it).", optional=True),
            "ttl": a_str("Lifetime of STS credentials.", optional=True),
            "id": a_str("The lease id.", computed=True),
            "access_key": a_str("AWS access key id (STORED IN STATE).", computed=True, sensitive=True),
            "secret_key": a_str("AWS secret access key (STORED IN STATE).", computed=True, sensitive=True),
            "security_token": a_str("STS session token (STORED IN STATE).", computed=True, sensitive=True),
            "lease_id": a_str("Lease of the credentials.", computed=True),
            "lease_duration": a_num("Seconds the lease lasts.", computed=True),
            "lease_start_time": a_str("When the lease started (RFC 3339).", computed=True),
            "lease_renewable": a_bool("Whether the lease is renewable.", computed=True),
        }
    )


class DataAwsCredentials(BaseDataSource[None, State, Config]):
    config_class = Config
    state_class = State

    @classmethod
    def get_schema(cls):
        return schema()

    async def _validate_config(self, config: Config) -> list[str]:
        return aws_credentials.validation_errors(config.backend, config.role, config.type, config.role_arn)

    async def read(self, ctx, **_capabilities):
        config: Config = ctx.config
        parameters = {"ttl": config.ttl, "role_arn": config.role_arn}
        try:
            issued = aws_credentials.issue(
                configured_client(), config.backend, config.role, config.type or "creds", parameters
            )
        except vault.VaultError as error:
            failure = DataSourceError(str(error))
            failure.add_context("terraform.summary", "Cannot issue AWS credentials")
            raise failure from None
        return State(
            **attrs.asdict(config),
            id=issued.lease_id,
            access_key=issued.access_key,
            secret_key=issued.secret_key,
            security_token=issued.security_token,
            lease_id=issued.lease_id,
            lease_duration=issued.lease_duration,
            lease_start_time=aws_credentials.rfc3339(issued.issued_at or time.time()),
            lease_renewable=issued.renewable,
        )
