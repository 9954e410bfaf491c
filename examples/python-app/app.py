#!/usr/bin/env python3
"""Fetch dynamic AWS credentials from vaultlet with hvac, use them with boto3, revoke them.

The walkthrough's example, unchanged in substance: vaultlet speaks Vault's API, so
hvac works as it is. Environment:

    VAULT_ADDR                         vaultlet's address
    VAULT_ROLE_ID, VAULT_SECRET_ID     AppRole login (recommended for applications)
    VAULT_TOKEN                        used instead when no AppRole is given
    VAULT_AWS_ROLE                     role under aws/creds/ (default: s3-read-role)
    AWS_ENDPOINT_URL                   optional: a local AWS stand-in such as moto
"""

from __future__ import annotations

import os

import boto3
import hvac


def get_vault_client() -> hvac.Client:
    """A Vault client, logged in with AppRole when its credentials are in the environment."""
    client = hvac.Client(url=os.environ.get("VAULT_ADDR", "https://127.0.0.1:8200"))
    role_id, secret_id = os.environ.get("VAULT_ROLE_ID"), os.environ.get("VAULT_SECRET_ID")
    if role_id and secret_id:
        client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    if not client.is_authenticated():
        raise SystemExit("not authenticated: set VAULT_ROLE_ID and VAULT_SECRET_ID (or VAULT_TOKEN)")
    return client


def get_aws_credentials(vault_client: hvac.Client, role_name: str) -> dict:
    """Fetch AWS credentials from the AWS secrets engine (GET aws/creds/<role>)."""
    response = vault_client.secrets.aws.generate_credentials(name=role_name)
    return {
        "access_key": response["data"]["access_key"],
        "secret_key": response["data"]["secret_key"],
        "session_token": response["data"].get("security_token"),
        "lease_id": response["lease_id"],
        "lease_duration": response["lease_duration"],
    }


def create_boto3_session(credentials: dict) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["access_key"],
        aws_secret_access_key=credentials["secret_key"],
        aws_session_token=credentials["session_token"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


def main() -> None:
    vault = get_vault_client()
    creds = get_aws_credentials(vault, os.environ.get("VAULT_AWS_ROLE", "s3-read-role"))
    print(f"Credentials valid for {creds['lease_duration']} seconds")
    try:
        s3 = create_boto3_session(creds).client("s3")
        for bucket in s3.list_buckets()["Buckets"]:
            print(f"Bucket: {bucket['Name']}")
    finally:
        # Revoke even when the work failed, so the credentials do not outlive the job.
        vault.sys.revoke_lease(creds["lease_id"])
        print("Credentials revoked")


if __name__ == "__main__":
    main()
