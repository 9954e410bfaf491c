"""Terraform tests: one vaultlet dev server and one moto for the whole session.

vaultlet's aws/ mount is configured the way an operator would (broker IAM user with
its own key in moto, roles that trust it), so that moto's IAM authorization can be
switched on for the AccessDenied test without changing anything else.

pytest-terraform is pointed at the pinned binary (.venv/bin/terraform) and at
examples/; it reads its environment from os.environ, which `example_environment`
sets for the duration of one test module and restores afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from pytest_terraform import tf as pytest_terraform_state

from support import processes
from support import terraform as tfkit

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
BROKER_USER = "vaultlet-broker"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets", "sts:GetCallerIdentity"],
            "Resource": "*",
        }
    ],
}
# vaultlet role name -> (moto role name, permissions)
ROLES = {
    "deploy": ("vault-deploy", ADMIN_POLICY),
    "readonly": ("vault-readonly", READ_ONLY_POLICY),
}


def pytest_configure(config):
    """Called when this conftest loads (pytest_configure is historic), after pytest-terraform's own:
    never let it pick whatever `terraform` is first on PATH."""
    config.option.dest_tf_binary = str(tfkit.TERRAFORM)
    config.option.dest_tf_mod_dir = str(tfkit.EXAMPLES)
    pytest_terraform_state.LazyTfBin.value = str(tfkit.TERRAFORM)
    pytest_terraform_state.LazyModuleDir.value = str(tfkit.EXAMPLES)


def pytest_terraform_modify_state(tfstate):
    """pytest-terraform saves a digest of the state as tf_resources.json beside each example
    (git-ignored); keep the issued keys and sensitive outputs out of that file."""
    state = tfstate.dict
    state["resources"].pop("external", None)
    outputs = state["outputs"].items()
    state["outputs"] = {name: output for name, output in outputs if not output.get("sensitive")}
    tfstate.update_dict(state)


@dataclass
class Broker:
    vault: processes.ServerProcess
    moto: processes.MotoServer
    home: Path
    broker_user_arn: str

    def role_arn(self, vault_role: str) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLES[vault_role][0]}"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a Terraform run, a script or the credentials program."""
        settings = {"VAULT_ADDR": self.vault.address, "VAULT_TOKEN": self.vault.root_token, **extra}
        return tfkit.clean_environment(self.home, **settings)

    def aws_client(self, service: str, **credentials: str):
        credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, endpoint_url=self.moto.endpoint, region_name=REGION, **credentials)

    def vault_call(self, method: str, path: str, body: dict | None = None) -> dict | None:
        status, parsed, text = processes.http(self.vault, method, path, body)
        assert status in (200, 204), f"{method} {path}: {status} {text}"
        return parsed

    def lease_ids(self, vault_role: str) -> set[str]:
        """Live leases of a role (sys/leases/lookup answers 404 when there are none)."""
        status, parsed, text = processes.http(self.vault, "LIST", f"sys/leases/lookup/aws/creds/{vault_role}")
        assert status in (200, 404), f"listing leases: {status} {text}"
        keys = parsed["data"]["keys"] if status == 200 else []
        return {f"aws/creds/{vault_role}/{key}" for key in keys}

    @contextlib.contextmanager
    def iam_authorization(self):
        """moto enforces IAM policies inside this block (the switch is global to moto)."""
        self.moto.set_iam_authorization(True)
        try:
            yield
        finally:
            self.moto.set_iam_authorization(False)


@pytest.fixture(scope="session")
def terraform_toolchain() -> None:
    tfkit.ensure_toolchain()


@pytest.fixture(scope="session")
def broker(session_dir, terraform_toolchain) -> Broker:
    moto = processes.start_moto(session_dir / "terraform-moto")
    vault = processes.start_vaultlet_dev(session_dir / "terraform-vaultlet")
    home = session_dir / "terraform-home"
    home.mkdir(exist_ok=True)
    try:
        broker = _configure(vault, moto, home)
        yield broker
    finally:
        vault.stop()
        moto.stop()


def _configure(vault: processes.ServerProcess, moto: processes.MotoServer, home: Path) -> Broker:
    """What an operator does: a broker IAM user with its key, target roles trusting it, aws/."""
    iam = boto3.client(
        "iam",
        endpoint_url=moto.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    broker_arn = iam.create_user(UserName=BROKER_USER)["User"]["Arn"]
    iam.put_user_policy(UserName=BROKER_USER, PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
    key = iam.create_access_key(UserName=BROKER_USER)["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": broker_arn}, "Action": "sts:AssumeRole"}],
    }
    broker = Broker(vault, moto, home, broker_arn)
    broker.vault_call("POST", "sys/mounts/aws", {"type": "aws"})
    broker.vault_call(
        "POST",
        "aws/config/root",
        {
            "access_key": key["AccessKeyId"],
            "secret_key": key["SecretAccessKey"],
            "region": REGION,
            "iam_endpoint": moto.endpoint,
            "sts_endpoint": moto.endpoint,
        },
    )
    for vault_role, (aws_role, policy) in ROLES.items():
        iam.create_role(RoleName=aws_role, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=aws_role, PolicyName="permissions", PolicyDocument=json.dumps(policy))
        broker.vault_call(
            "POST",
            f"aws/roles/{vault_role}",
            {
                "credential_type": "assumed_role",
                "role_arns": [broker.role_arn(vault_role)],
            },
        )
    return broker


@contextlib.contextmanager
def example_environment(env: dict[str, str]):
    """Replace os.environ (pytest-terraform's children inherit it) and restore it afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def tf_vars(**variables: str) -> dict[str, str]:
    return {f"TF_VAR_{name}": value for name, value in variables.items()}


def run_program(broker: Broker, args: list[str], stdin: str = "", env: dict[str, str] | None = None):
    """The credentials program as Terraform or the AWS SDK runs it: a subprocess."""
    import subprocess

    return subprocess.run(
        ["python3", "-I", "-S", str(tfkit.CREDENTIALS_PROGRAM), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env if env is not None else broker.env(),
        timeout=60,
    )
