"""`make demo`: short-lived AWS credentials from vaultlet, used by Terraform, end to end.

1. installs the offline Terraform toolchain, the demo's part only (quick when already there);
2. starts `vaultlet server -dev -dev-aws=moto` (moto stands in for AWS; aws/ has a role `demo`);
3. issues one set of credentials through the vaultlet CLI;
4. applies examples/basic-sts: data "external" runs terraform/vaultlet_aws_credentials.py,
   the aws provider uses the assumed-role keys to create an S3 bucket;
5. prints who Terraform acted as and the bucket, checks the bucket in moto, destroys it;
6. stops everything. Any failing step stops the demo with a non-zero exit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TERRAFORM = BIN / "terraform"
EXAMPLE = REPO / "examples" / "basic-sts"
ROOT_TOKEN = "root"
DEMO_ROLE = "demo"
MOTO_ENDPOINT_LINE = re.compile(r"AWS \(moto\) is at (http://[\d.]+:\d+)")


class DemoFailed(Exception):
    pass


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(argv: list, env: dict, cwd: Path | None = None) -> str:
    result = subprocess.run([str(arg) for arg in argv], env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DemoFailed(
            f"{Path(str(argv[0])).name} {' '.join(map(str, argv[1:3]))} failed:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def start_dev_server(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    """vaultlet in dev mode with its embedded moto; returns the process, its address and moto's."""
    port = free_port()
    log_path = workdir / "vaultlet.log"
    process = subprocess.Popen(
        [
            BIN / "vaultlet",
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            "-dev-aws=moto",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoFailed(f"vaultlet exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{address}/v1/sys/health", timeout=2):
                break
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    else:
        raise DemoFailed(f"vaultlet did not answer within 60s:\n{log_path.read_text()}")
    found = MOTO_ENDPOINT_LINE.search(log_path.read_text())
    if not found:
        raise DemoFailed(f"vaultlet did not report its moto endpoint:\n{log_path.read_text()}")
    return process, address, found.group(1)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (gunicorn master, workers; it stops moto itself)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def demo_environment(address: str, home: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "AWS_", "TF_"))}
    env.update(
        VAULT_ADDR=address,
        VAULT_TOKEN=ROOT_TOKEN,
        HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # the pinned terraform and python3 first
        TF_CLI_CONFIG_FILE=str(BIN.parent / "terraform" / "terraformrc"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_DATA_DIR=str(home / ".terraform"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def bucket_exists(moto_endpoint: str, bucket: str) -> bool:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return bucket in {entry["Name"] for entry in s3.list_buckets()["Buckets"]}


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="vaultlet-demo-"))
    server = None
    try:
        step("Installing the offline Terraform toolchain (Terraform 1.15.5, hashicorp/aws 3.39.0)")
        # Only what the demo uses: no jq (apt-get), no build of the vaultlet/vaultlet provider.
        toolchain_env = {**os.environ, "TOOLCHAIN_FOR": "demo"}
        subprocess.run([REPO / "scripts" / "install-terraform-toolchain.sh"], check=True, env=toolchain_env)

        step("Starting `vaultlet server -dev -dev-aws=moto`")
        server, address, moto_endpoint = start_dev_server(workdir)
        env = demo_environment(address, workdir)
        print(f"    vaultlet at {address}, moto (standing in for AWS) at {moto_endpoint}")

        step(f"Issuing credentials through the CLI: vaultlet read aws/creds/{DEMO_ROLE}")
        secret = json.loads(run([BIN / "vaultlet", "read", "-format=json", f"aws/creds/{DEMO_ROLE}"], env))
        lease_id, arn = secret["lease_id"], secret["data"]["arn"]
        print(f"    lease {lease_id} for {secret['lease_duration']}s, acting as {arn}")
        run([BIN / "vaultlet", "lease", "revoke", secret["lease_id"]], env)

        variables = [
            f"-var=vault_address={address}",
            f"-var=vault_role={DEMO_ROLE}",
            f"-var=local_aws_endpoint={moto_endpoint}",
        ]
        state = [f"-state={workdir / 'terraform.tfstate'}"]
        step("terraform init && terraform apply examples/basic-sts")
        run([TERRAFORM, "init", "-input=false", "-no-color"], env, cwd=EXAMPLE)
        run(
            [TERRAFORM, "apply", "-input=false", "-no-color", "-auto-approve", *state, *variables],
            env,
            cwd=EXAMPLE,
        )
        outputs = json.loads(run([TERRAFORM, "output", "-json", *state], env, cwd=EXAMPLE))
        caller_arn, bucket = outputs["caller_arn"]["value"], outputs["bucket"]["value"]
        print(f"    Terraform acted as: {caller_arn}")
        print(f"    and created bucket: {bucket}")
        if ":assumed-role/" not in caller_arn:
            raise DemoFailed(f"expected an assumed-role session, got {caller_arn}")
        if not bucket_exists(moto_endpoint, bucket):
            raise DemoFailed(f"bucket {bucket} is not in moto")
        print("    (moto confirms the bucket exists)")

        step("terraform destroy")
        run(
            [TERRAFORM, "destroy", "-input=false", "-no-color", "-auto-approve", *state, *variables],
            env,
            cwd=EXAMPLE,
        )
        if bucket_exists(moto_endpoint, bucket):
            raise DemoFailed(f"bucket {bucket} is still in moto after destroy")
        print("    bucket gone")
    except (DemoFailed, subprocess.CalledProcessError, KeyError, ValueError) as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            step("Stopping vaultlet (and its moto)")
            stop(server)
        shutil.rmtree(workdir, ignore_errors=True)
    print("\nDemo complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
