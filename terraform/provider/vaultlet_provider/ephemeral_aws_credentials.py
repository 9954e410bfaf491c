"""ephemeral "vaultlet_aws_credentials": keys that never reach state or plan.

Terraform opens it in every phase (plan, then again at apply), so a saved plan always
applies with fresh keys. Renew extends a renewable lease (IAM users) before it ends; it
never issues new keys, because the provider configured with the old ones is already
running. Close revokes the lease, so nothing issued outlives the command.
"""

from __future__ import annotations

import time

import attrs
from pyvider.ephemerals import BaseEphemeralResource
from pyvider.exceptions import ResourceError
from pyvider.resources.private_state import PrivateState
from pyvider.schema import a_num, a_str, s_resource

from vaultlet_provider import aws_credentials, vault
from vaultlet_provider.provider import configured_client

TYPE_NAME = "vaultlet_aws_credentials"


@attrs.define(frozen=True)
class Config:
    role: str | None = None
    mount: str | None = "aws"
    type: str | None = "creds"
    ttl: str | None = None
    role_arn: str | None = None
    role_session_name: str | None = None
    mfa_code: str | None = None


@attrs.define(frozen=True)
class Result(Config):
    access_key: str | None = None
    secret_key: str | None = None
    security_token: str | None = None
    lease_id: str | None = None
    lease_duration: int | None = None
    expiration: str | None = None
    arn: str | None = None


@attrs.define(frozen=True)
class Lease(PrivateState):
    lease_id: str = ""
    lease_duration: int = 0


def schema():
    return s_resource(
        attributes={
            "mount": a_str("Path of the AWS secrets engine mount.", optional=True, default="aws"),
            "role": a_str("Role under the mount (`<mount>/<type>/<role>`).", required=True),
            "type": a_str(
                "`creds` (`<mount>/creds/<role>`, any credential type) or `sts` (`<mount>/sts/<role>`).",
                optional=True,
                default="creds",
            ),
            "ttl": a_str(
                "Lifetime of STS credentials (`900`, `15m`, `1h`). Default: the role's.", optional=True
            ),
            "role_arn": a_str("Role to assume when the vaultlet role allows several.", optional=True),
            "role_session_name": a_str("Session name of the assumed role.", optional=True),
            "mfa_code": a_str(
                "MFA code for session_token roles with an MFA device.", optional=True, sensitive=True
            ),
            "access_key": a_str("AWS access key id.", computed=True, sensitive=True),
            "secret_key": a_str("AWS secret access key.", computed=True, sensitive=True),
            "security_token": a_str(
                "STS session token; null for IAM-user keys.", computed=True, sensitive=True
            ),
            "lease_id": a_str("Lease of the credentials (revoked at close).", computed=True),
            "lease_duration": a_num(
                "Seconds the lease lasts from issue (or its last renewal).", computed=True
            ),
            "expiration": a_str("When the lease ends unless renewed (RFC 3339, UTC).", computed=True),
            "arn": a_str("ARN the credentials act as, when the server reports it.", computed=True),
        },
        version=0,
    )


class EphemeralAwsCredentials(BaseEphemeralResource[Result, Lease, Config]):
    config_class = Config
    result_class = Result
    private_state_class = Lease

    @classmethod
    def get_schema(cls):
        return schema()

    async def validate(self, config: Config | None) -> list[str]:
        if config is None:
            return []
        return aws_credentials.validation_errors(config.mount, config.role, config.type, config.role_arn)

    async def open(self, ctx):
        config: Config = ctx.config
        parameters = {
            "ttl": config.ttl,
            "role_arn": config.role_arn,
            "role_session_name": config.role_session_name,
            "mfa_code": config.mfa_code,
        }
        try:
            issued = aws_credentials.issue(
                configured_client(), config.mount or "aws", config.role, config.type or "creds", parameters
            )
        except vault.VaultError as error:
            raise _error("Cannot issue AWS credentials", str(error)) from None
        result = Result(
            **attrs.asdict(config),
            access_key=issued.access_key,
            secret_key=issued.secret_key,
            security_token=issued.security_token,
            lease_id=issued.lease_id,
            lease_duration=issued.lease_duration,
            expiration=issued.expiration,
            arn=issued.arn,
        )
        lease = Lease(lease_id=issued.lease_id, lease_duration=issued.lease_duration)
        renew_at = (
            aws_credentials.renew_at(issued.issued_at, issued.lease_duration) if issued.renewable else None
        )
        return result, lease, renew_at

    async def renew(self, ctx):
        lease: Lease | None = ctx.private_state
        if lease is None or not lease.lease_id:
            return None, None
        started = time.time()
        try:
            duration = aws_credentials.renew(configured_client(), lease.lease_id, lease.lease_duration)
        except vault.VaultError as error:
            raise _error("Cannot renew the AWS credentials' lease", str(error)) from None
        renewed = Lease(lease_id=lease.lease_id, lease_duration=lease.lease_duration)
        return renewed, aws_credentials.renew_at(started, duration)

    async def close(self, ctx) -> None:
        lease: Lease | None = ctx.private_state
        if lease is None or not lease.lease_id:
            return
        try:
            aws_credentials.revoke(configured_client(), lease.lease_id)
        except vault.VaultError as error:
            raise _error("Cannot revoke the AWS credentials' lease", str(error)) from None


def _error(summary: str, detail: str) -> ResourceError:
    # Terraform shows the summary as the error line and the message as its detail.
    error = ResourceError(detail)
    error.add_context("terraform.summary", summary)
    return error
