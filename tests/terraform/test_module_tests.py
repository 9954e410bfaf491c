"""`terraform test` for every module under modules/ (offline: mock providers, command = plan)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from support import terraform as tfkit

MODULES = sorted(path.name for path in tfkit.MODULES.iterdir() if (path / "tests").is_dir())


def test_every_module_has_terraform_tests():
    assert set(MODULES) >= {"aws-credentials", "aws-target-role", "broker-iam"}


@pytest.mark.parametrize("module", MODULES)
def test_module(module, tmp_path, terraform_toolchain):
    root = tfkit.TerraformRoot(tfkit.MODULES / module, tmp_path, tfkit.clean_environment(tmp_path))
    root.init()
    result = root.run("test", "-no-color", check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    summary = re.search(r"Success! (\d+) passed, 0 failed", result.stdout)
    assert summary and int(summary.group(1)) >= 10, result.stdout


def test_module_readmes_match_their_variables_and_outputs():
    result = subprocess.run(
        [sys.executable, str(tfkit.REPO / "scripts" / "terraform_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_hcl_is_formatted(tmp_path):
    directories = [tfkit.MODULES, tfkit.EXAMPLES, tfkit.REPO / "tests"]
    result = subprocess.run(
        [str(tfkit.TERRAFORM), "fmt", "-check", "-recursive", "-list=true", *map(str, directories)],
        capture_output=True,
        text=True,
        env=tfkit.clean_environment(tmp_path),
    )
    assert result.returncode == 0, f"run terraform fmt -recursive on: {result.stdout}{result.stderr}"
