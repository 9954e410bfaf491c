"""The pinned, offline Terraform toolchain for tests and benchmarks.

scripts/install-terraform-toolchain.sh puts Terraform 1.15.5 at .venv/bin/terraform,
hashicorp/aws 3.39.0 in a filesystem mirror and the CI-only stand-in for
hashicorp/external behind dev_overrides. Everything here runs that binary by
absolute path with an environment built from scratch, so neither a `terraform`
elsewhere on PATH nor the developer's own AWS/Vault variables can leak in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
TERRAFORM = VENV / "bin" / "terraform"
CLI_CONFIG = VENV / "terraform" / "terraformrc"
INSTALL_SCRIPT = REPO / "scripts" / "install-terraform-toolchain.sh"
EXAMPLES = REPO / "examples"
MODULES = REPO / "modules"
CREDENTIALS_PROGRAM = REPO / "terraform" / "vaultlet_aws_credentials.py"

# Variables of the developer's shell that would change what Terraform, the AWS SDK or
# the credentials program do.
LEAKY_PREFIXES = ("VAULT_", "BAO_", "AWS_", "TF_", "VAULTLET_")


def ensure_toolchain() -> None:
    """Install the toolchain if needed (well under a second when it is already there)."""
    subprocess.run([str(INSTALL_SCRIPT)], check=True, env={**os.environ, "VENV": str(VENV)})


def clean_environment(home: Path, **extra: str) -> dict[str, str]:
    """A child environment: the venv's bin first on PATH, Terraform in automation mode."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(LEAKY_PREFIXES)}
    env.update(
        PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        TF_CLI_CONFIG_FILE=str(CLI_CONFIG),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        # Any AWS call that is not pointed at moto must fail fast, never reach out.
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


@dataclass
class TerraformRoot:
    """One root module run with its .terraform, state and plan in a private work dir."""

    directory: Path
    workdir: Path
    env: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def state_path(self) -> Path:
        return self.workdir / "terraform.tfstate"

    @property
    def plan_path(self) -> Path:
        return self.workdir / "plan.tfplan"

    def run(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        env = {**self.env, "TF_DATA_DIR": str(self.workdir / ".terraform")}
        result = subprocess.run(
            [str(TERRAFORM), *args],
            cwd=self.directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} failed ({result.returncode}) in {self.directory}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def var_flags(self) -> list[str]:
        return [f"-var={name}={value}" for name, value in self.variables.items()]

    def init(self) -> subprocess.CompletedProcess:
        return self.run("init", "-input=false", "-no-color")

    def plan(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(
            "plan",
            "-input=false",
            "-no-color",
            f"-state={self.state_path}",
            f"-out={self.plan_path}",
            *self.var_flags(),
            *extra,
            check=check,
        )

    def apply_plan(self, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(
            "apply",
            "-input=false",
            "-no-color",
            f"-state={self.state_path}",
            str(self.plan_path),
            check=check,
        )

    def apply(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(
            "apply",
            "-input=false",
            "-no-color",
            "-auto-approve",
            f"-state={self.state_path}",
            *self.var_flags(),
            *extra,
            check=check,
        )

    def destroy(self, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(
            "destroy",
            "-input=false",
            "-no-color",
            "-auto-approve",
            f"-state={self.state_path}",
            *self.var_flags(),
            check=check,
        )

    def output(self, name: str) -> str:
        return self.run("output", "-no-color", "-raw", f"-state={self.state_path}", name).stdout
