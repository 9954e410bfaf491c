"""client.py: error translation, the status codes they become, settings, the client cache."""

from __future__ import annotations

import botocore.exceptions
import pytest

from vaultlet.engines.secrets.aws.client import (
    AwsError,
    AwsServerError,
    AwsThrottled,
    AwsUnreachable,
    ClientCache,
    ClientSettings,
    ConfigurationError,
    NoSuchEntity,
    StsApi,
    _botocore_config,
    build_clients,
    translate_error,
)
from vaultlet.engines.secrets.aws.errors import aws_failure
from vaultlet.errors import UpstreamError, UserError


def client_error(code: str, message: str = "msg", status: int = 400, operation: str = "CreateUser"):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "req-1"},
    }
    return botocore.exceptions.ClientError(response, operation)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("Throttling", "Rate exceeded"), AwsThrottled),
        (client_error("SomethingNew", status=429), AwsThrottled),
        (client_error("NoSuchEntity", "The user with name x cannot be found.", 404), NoSuchEntity),
        (client_error("EntityAlreadyExists", status=409), AwsError),
        (client_error("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409), AwsError),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), AwsUnreachable),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), AwsUnreachable),
        (botocore.exceptions.NoCredentialsError(), ConfigurationError),
    ],
)
def test_botocore_errors_become_domain_errors(error, kind):
    translated = translate_error(error, "CreateUser")
    assert type(translated) is kind
    assert translated.operation == "CreateUser"


def test_aws_messages_keep_vaults_layout():
    error = translate_error(client_error("EntityAlreadyExists", "User with name x already exists.", 409))
    assert (
        str(error)
        == "EntityAlreadyExists: User with name x already exists.\n\tstatus code: 409, request id: req-1"
    )


def test_refusals_are_400_and_throttling_or_unreachable_are_502_with_a_retry_hint():
    refused = aws_failure("Error creating IAM user", translate_error(client_error("AccessDenied", "no")))
    assert isinstance(refused, UserError) and refused.status == 400
    assert refused.messages == [
        "Error creating IAM user: AccessDenied: no\n\tstatus code: 400, request id: req-1"
    ]
    throttled = aws_failure(
        "Error creating IAM user", translate_error(client_error("Throttling", "Rate exceeded"))
    )
    assert isinstance(throttled, UpstreamError) and throttled.status == 502
    assert throttled.messages[0].startswith("Error creating IAM user: Throttling: Rate exceeded")
    assert "retry" in throttled.messages[0]
    down = aws_failure(
        "Error assuming role", translate_error(botocore.exceptions.EndpointConnectionError(endpoint_url="x"))
    )
    assert down.status == 502 and "retry later" in down.messages[0]


def test_a_5xx_that_survived_botocores_retries_is_502_and_remembers_the_retries():
    error = client_error("InternalFailure", "oops", 500)
    error.response["ResponseMetadata"]["RetryAttempts"] = 2
    translated = translate_error(error, "CreateUser")
    assert isinstance(translated, AwsServerError) and translated.retries == 2
    failed = aws_failure("Error creating IAM user", translated)
    assert isinstance(failed, UpstreamError) and failed.status == 502
    assert failed.messages[0].startswith("Error creating IAM user: InternalFailure: oops")
    assert "after retries" in failed.messages[0]
    assert translate_error(client_error("AccessDenied", "no")).retries == 0


def test_region_falls_back_like_vault(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert ClientSettings().resolved_region() == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    assert ClientSettings().resolved_region() == "eu-west-3"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert ClientSettings().resolved_region() == "ap-south-1"
    assert ClientSettings(region="us-west-2").resolved_region() == "us-west-2"


def test_sts_targets_use_sts_region_then_the_fallbacks():
    settings = ClientSettings(
        region="us-west-2",
        sts_endpoint="https://sts.a",
        sts_region="eu-west-1",
        sts_fallback_endpoints=("https://sts.b",),
        sts_fallback_regions=("eu-central-1",),
    )
    assert settings.sts_targets() == [("https://sts.a", "eu-west-1"), ("https://sts.b", "eu-central-1")]
    assert ClientSettings(region="us-west-2").sts_targets() == [(None, "us-west-2")]


def test_max_retries_maps_onto_botocore_standard_retries():
    assert _botocore_config(ClientSettings()).retries == {"mode": "standard"}
    assert _botocore_config(ClientSettings(max_retries=0)).retries == {"mode": "standard", "max_attempts": 0}
    assert _botocore_config(ClientSettings(max_retries=5)).retries == {"mode": "standard", "max_attempts": 5}


def test_a_malformed_endpoint_is_a_configuration_error():
    with pytest.raises(ConfigurationError) as caught:
        build_clients(ClientSettings(access_key="a", secret_key="b", iam_endpoint="localhost"))
    assert "localhost" in str(caught.value)
    refused = aws_failure("", caught.value)
    assert refused.status == 400


def test_the_cache_rebuilds_only_when_the_config_version_moves():
    version = {"value": 1}
    loads = []

    def load():
        loads.append(version["value"])
        return ClientSettings(access_key="a", secret_key="b", region="us-east-1")

    cache = ClientCache(version=lambda: version["value"], load_settings=load)
    first = cache.get()
    assert cache.get() is first and loads == [1]
    version["value"] = 2  # another worker wrote config/root
    second = cache.get()
    assert second is not first and loads == [1, 2]


class _FakeStsClient:
    def __init__(self, fail: bool):
        self.fail = fail
        self.calls = 0

    def get_caller_identity(self):
        self.calls += 1
        if self.fail:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://down")
        return {"Arn": "arn:aws:iam::1:user/x", "Account": "1", "UserId": "AIDA"}


def test_sts_falls_back_only_when_an_endpoint_is_unreachable():
    down, up = _FakeStsClient(fail=True), _FakeStsClient(fail=False)
    assert StsApi([down, up]).get_caller_identity().arn == "arn:aws:iam::1:user/x"
    assert (down.calls, up.calls) == (1, 1)
    with pytest.raises(AwsUnreachable):
        StsApi([_FakeStsClient(fail=True)]).get_caller_identity()


def test_secrets_do_not_appear_in_reprs():
    settings = ClientSettings(access_key="AKIA", secret_key="SENTINEL-SECRET")
    assert "SENTINEL-SECRET" not in repr(settings)
