"""How AWS failures reach the client: Vault's texts, with our status codes.

Vault answers ``logical.ErrorResponse("Error creating IAM user: <aws error>")`` (400)
for anything AWS refused, and 502 when AWS throttled it (awsutil.CheckAWSError). We
do the same for refusals and throttling, and also answer 502 when the endpoint
cannot be reached or AWS still answers 5xx after botocore's retries (Vault: 400).
None of these is the caller's mistake, and a 5xx is what Vault's Go client, the
bao CLI and Terraform's providers retry; they never retry a 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vaultlet.engines.secrets.aws.client import AwsError, AwsServerError, AwsThrottled, AwsUnreachable
from vaultlet.errors import UpstreamError, UserError, VaultError

THROTTLED_HINT = "upstream rate limited: AWS is throttling requests; retry after a short delay"
UNREACHABLE_HINT = "AWS could not be reached; retry later"
SERVER_ERROR_HINT = "AWS failed to answer after retries; retry later"


def aws_failure(action: str, error: AwsError) -> VaultError:
    """The Vault error for ``action`` ("Error creating IAM user") failing with ``error``."""
    message = f"{action}: {error}" if action else str(error)
    if isinstance(error, AwsThrottled):
        return UpstreamError(f"{message} ({THROTTLED_HINT})")
    if isinstance(error, AwsUnreachable):
        return UpstreamError(f"{message} ({UNREACHABLE_HINT})")
    if isinstance(error, AwsServerError):
        return UpstreamError(f"{message} ({SERVER_ERROR_HINT})")
    return UserError(message)


@contextmanager
def reported_as(action: str) -> Iterator[None]:
    """Turn an AwsError raised inside the block into the client-facing error for ``action``."""
    try:
        yield
    except AwsError as error:
        raise aws_failure(action, error) from None
