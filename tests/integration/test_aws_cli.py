"""The walkthrough's CLI session with the real ``bao`` binary, against vaultlet and moto."""

from __future__ import annotations

import json

from support.aws_engine import (
    access_key_user,
    create_admin_user,
    delete_role,
    delete_user,
    moto_client,
    unique,
    user_exists,
    wait_for,
)
from support.processes import bao

MY_APP_POLICY = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject"
            ],
            "Resource": "arn:aws:s3:::my-app-bucket/*"
        }
    ]
}
"""


def table(output: str) -> dict[str, str]:
    """`bao read` table output as a dict."""
    rows = {}
    for line in output.splitlines()[2:]:
        key, _, value = line.partition(" ")
        rows[key] = value.strip()
    return rows


def test_walkthrough_session(server, moto):
    mount = unique("aws")
    admin = unique("vault-user")
    key = create_admin_user(moto, admin)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::123456789012:user/{admin}"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    deploy_role = unique("deploy-role")
    role_arn = moto_client(moto, "iam").create_role(
        RoleName=deploy_role, AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]

    assert (
        "Success! Enabled the aws secrets engine"
        in bao(server, "secrets", "enable", f"-path={mount}", "aws").stdout
    )
    try:
        bao(
            server,
            "write",
            f"{mount}/config/root",
            f"access_key={key['AccessKeyId']}",
            f"secret_key={key['SecretAccessKey']}",
            "region=us-east-1",
            f"iam_endpoint={moto.endpoint}",
            f"sts_endpoint={moto.endpoint}",
        )
        shown = bao(server, "read", f"{mount}/config/root").stdout
        assert (
            key["AccessKeyId"] in shown and key["SecretAccessKey"] not in shown and "secret_key" not in shown
        )

        bao(
            server,
            "write",
            f"{mount}/roles/my-app-role",
            "credential_type=iam_user",
            "policy_document=-",
            input=MY_APP_POLICY,
        )
        role = table(bao(server, "read", f"{mount}/roles/my-app-role").stdout)
        assert role["credential_type"] == "iam_user"
        assert role["policy_document"] == json.dumps(json.loads(MY_APP_POLICY), separators=(",", ":"))

        issued = table(bao(server, "read", f"{mount}/creds/my-app-role").stdout)
        assert issued["lease_id"].startswith(f"{mount}/creds/my-app-role/")
        assert issued["lease_duration"] == "768h" and issued["lease_renewable"] == "true"
        assert issued["security_token"] == "<nil>" and issued["access_key"].startswith("AKIA")
        first_user = access_key_user(moto, issued["access_key"])
        assert first_user

        renewed = table(bao(server, "lease", "renew", "-increment=1h", issued["lease_id"]).stdout)
        assert renewed["lease_duration"] == "1h" and renewed["lease_renewable"] == "true"
        revoked = bao(server, "lease", "revoke", issued["lease_id"])
        assert "All revocation operations queued successfully!" in revoked.stdout
        assert wait_for(lambda: not user_exists(moto, first_user))

        bao(
            server,
            "write",
            f"{mount}/roles/deploy-role",
            "credential_type=assumed_role",
            f"role_arns={role_arn}",
            "default_sts_ttl=1h",
            "max_sts_ttl=4h",
        )
        sts = json.loads(bao(server, "read", "-format=json", f"{mount}/creds/deploy-role").stdout)
        assert sts["renewable"] is False and 3590 <= sts["lease_duration"] <= 3600
        assert sts["data"]["security_token"] and sts["data"]["arn"].startswith(
            f"arn:aws:sts::123456789012:assumed-role/{deploy_role}/"
        )

        users = []
        for _ in range(2):
            again = table(bao(server, "read", f"{mount}/creds/my-app-role").stdout)
            users.append(access_key_user(moto, again["access_key"]))
        leases = json.loads(
            bao(server, "list", "-format=json", f"sys/leases/lookup/{mount}/creds/my-app-role").stdout
        )
        assert len(leases) == 2
        bao(server, "lease", "revoke", "-prefix", f"{mount}/creds/my-app-role")
        assert wait_for(lambda: not any(user_exists(moto, name) for name in users))

        bao(server, "write", f"{mount}/config/lease", "lease=30m", "lease_max=1h")
        lease_config = table(bao(server, "read", f"{mount}/config/lease").stdout)
        assert (lease_config["lease"], lease_config["lease_max"]) == ("30m0s", "1h0m0s")

        listed = json.loads(bao(server, "list", "-format=json", f"{mount}/roles").stdout)
        assert listed == ["deploy-role", "my-app-role"]
    finally:
        bao(server, "secrets", "disable", mount)
        delete_role(moto, deploy_role)
        delete_user(moto, admin)


def test_enable_a_second_account_mount(server):
    enabled = bao(server, "secrets", "enable", "-path=aws-production", "aws")
    try:
        assert "Success! Enabled the aws secrets engine at: aws-production/" in enabled.stdout
        again = bao(server, "secrets", "enable", "-path=aws-production", "aws", check=False)
        assert again.returncode == 2 and "path is already in use at aws-production/" in again.stderr
        missing = bao(server, "read", "aws-production/config/root", check=False)
        assert missing.returncode == 2 and "No value found at aws-production/config/root" in missing.stderr
    finally:
        bao(server, "secrets", "disable", "aws-production")
