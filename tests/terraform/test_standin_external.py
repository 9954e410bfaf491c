"""The CI-only stand-in for hashicorp/external keeps the real provider's program protocol.

The registry is unreachable here, so every Terraform test runs against
terraform/standin-external/ (installed through dev_overrides). These checks pin
the documented behaviour (reference/terraform.md §1.1) the modules rely on, so a
test that passes here would pass with the real provider too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import terraform as tfkit

FIXTURE = Path(__file__).parent / "fixtures" / "external-protocol"


@pytest.fixture(scope="module")
def protocol_root(tmp_path_factory, terraform_toolchain):
    home = tmp_path_factory.mktemp("standin-home")
    root = tfkit.TerraformRoot(FIXTURE, tmp_path_factory.mktemp("standin"), tfkit.clean_environment(home))
    root.init()
    return root


def _apply(root: tfkit.TerraformRoot, **variables: str):
    root.variables = variables
    return root.apply(check=False)


def test_query_nulls_omitted_empty_strings_kept_and_id_is_dash(protocol_root, tmp_path):
    result = _apply(protocol_root, mode="echo", working_dir=str(tmp_path))
    assert result.returncode == 0, result.stderr
    printed = json.loads(protocol_root.run("output", "-json", f"-state={protocol_root.state_path}").stdout)
    echoed = printed["result"]["value"]
    assert json.loads(echoed["stdin"]) == {"kept": "value", "empty": ""}
    assert echoed["cwd"] == str(tmp_path)
    assert echoed["argc"] == "2", "the empty program element must be dropped"
    assert printed["id"]["value"] == "-"


def test_non_zero_exit_shows_stderr_and_ignores_stdout(protocol_root):
    result = _apply(protocol_root, mode="fail")
    assert result.returncode != 0
    assert "External Program Execution Failed" in result.stderr
    assert "the one line explaining the failure" in result.stderr
    assert "exit status 3" in result.stderr


def test_non_zero_exit_without_stderr_is_still_an_error(protocol_root):
    result = _apply(protocol_root, mode="silent-fail")
    assert result.returncode != 0
    assert "returned no additional error messaging" in " ".join(result.stderr.split())


@pytest.mark.parametrize("mode", ["number", "list"])
def test_results_must_be_an_object_of_strings(protocol_root, mode):
    result = _apply(protocol_root, mode=mode)
    assert result.returncode != 0
    assert "Unexpected External Program Results" in result.stderr
