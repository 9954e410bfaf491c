"""modules/aws-credentials in its ephemeral mode, with `terraform test` against the real
vaultlet provider and the session's vaultlet (Terraform's mock providers cannot mock
ephemeral resources, so these run blocks live in tests/live/, outside the offline set
that test_module_tests.py runs)."""

from __future__ import annotations

import re

from support import processes
from support import terraform as tfkit


def _sts_leases(broker) -> set[str]:
    status, parsed, text = processes.http(broker.vault, "LIST", "sys/leases/lookup/aws/sts/deploy")
    assert status in (200, 404), text
    return set(parsed["data"]["keys"]) if status == 200 else set()


def test_module_ephemeral_mode(broker, tmp_path):
    root = tfkit.TerraformRoot(tfkit.MODULES / "aws-credentials", tmp_path, broker.env())
    root.init()
    leases_before = broker.lease_ids("deploy") | _sts_leases(broker)
    result = root.run("test", "-no-color", "-test-directory=tests/live", check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    summary = re.search(r"Success! (\d+) passed, 0 failed", result.stdout)
    assert summary and int(summary.group(1)) >= 4, result.stdout
    assert (broker.lease_ids("deploy") | _sts_leases(broker)) - leases_before == set()
