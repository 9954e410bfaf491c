"""examples/basic-sts applied by pytest-terraform against vaultlet and moto.

The module reads STS credentials from vaultlet through data "external", hands them
to the aws provider, and the provider creates a bucket with them. With moto's IAM
authorization on, a read-only role's credentials must be refused the bucket.
"""

from __future__ import annotations

import pytest
from pytest_terraform import terraform

from conftest import example_environment, tf_vars
from support import terraform as tfkit


@pytest.fixture(scope="module", autouse=True)
def basic_sts_environment(broker):
    """Set before pytest-terraform's fixture (autouse comes first) and restored after its destroy."""
    env = broker.env(**tf_vars(vault_role="deploy", local_aws_endpoint=broker.moto.endpoint))
    with example_environment(env):
        yield


terraform("basic-sts", scope="module", name="basic_sts")


def test_caller_identity_is_the_assumed_role(broker, basic_sts):
    caller_arn = basic_sts.outputs["caller_arn"]["value"]
    assert caller_arn.startswith("arn:aws:sts::123456789012:assumed-role/vault-deploy/vault-")
    assert basic_sts.outputs["lease_id"]["value"].startswith("aws/creds/deploy/")


def test_bucket_exists_in_moto(broker, basic_sts):
    bucket = basic_sts.outputs["bucket"]["value"]
    assert bucket.startswith("vaultlet-basic-sts-")
    names = [entry["Name"] for entry in broker.aws_client("s3").list_buckets()["Buckets"]]
    assert bucket in names
    tags = broker.aws_client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert {"Key": "CreatedBy", "Value": basic_sts.outputs["caller_arn"]["value"]} in tags


def test_static_credentials_are_in_state_as_documented(basic_sts):
    """The known cost of the data-source path (reference §0 #1): the keys sit in state."""
    state = basic_sts.terraform.show()
    module_resources = [
        resource
        for module in state["values"]["root_module"]["child_modules"]
        for resource in module["resources"]
    ]
    result = next(r for r in module_resources if r["type"] == "external")["values"]["result"]
    assert result["access_key"].startswith("ASIA")


def test_read_only_role_cannot_create_the_bucket(broker, tmp_path):
    root = tfkit.TerraformRoot(
        tfkit.EXAMPLES / "basic-sts",
        tmp_path,
        broker.env(),
        variables={"vault_role": "readonly", "local_aws_endpoint": broker.moto.endpoint},
    )
    root.init()
    with broker.iam_authorization():
        result = root.apply(check=False)
        root.destroy(check=False)
    assert result.returncode != 0
    assert "AccessDenied" in result.stderr, result.stderr
    assert "aws_s3_bucket.this" in result.stderr


def test_saved_resource_digest_holds_no_key(basic_sts):
    """pytest-terraform writes tf_resources.json beside the example; conftest scrubs it."""
    digest = (tfkit.EXAMPLES / "basic-sts" / "tf_resources.json").read_text()
    assert "ASIA" not in digest and "security_token" not in digest
