"""examples/long-apply: credentials from a credential_process profile outlive a short TTL.

profile/ renders the AWS profile (module aws-credentials, nothing read at plan), then
the main root runs plan -out / apply with a pause longer than the credentials live.
STS keys last at least 15 minutes, so the profile reports them as expiring early
(expiry window); the AWS SDK inside the aws provider must then run the program again
mid-apply and carry on. Neither the state nor the plan file may hold a key.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from support import terraform as tfkit

TTL_SECONDS = 900  # AWS's minimum for AssumeRole
LIFETIME_SECONDS = 4  # what the SDK is told each set of keys lives
PAUSE_SECONDS = 10  # longer than LIFETIME_SECONDS: the apply must refresh

ACCESS_KEY = re.compile(rb"(ASIA|AKIA)[A-Z0-9]{12,}")
MOTO_SESSION_TOKEN = re.compile(rb"FQoGZXIvYXdzE")


@pytest.fixture(scope="module")
def long_apply(broker, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("long-apply")
    issued_log = workdir / "issued.log"
    aws_config = workdir / "aws-config"
    env = broker.env(VAULTLET_CREDENTIAL_LOG=str(issued_log), AWS_CONFIG_FILE=str(aws_config))

    profile = tfkit.TerraformRoot(
        tfkit.EXAMPLES / "long-apply" / "profile",
        workdir / "profile",
        env,
        variables={
            "vault_address": broker.vault.address,
            "vault_role": "deploy",
            "ttl": str(TTL_SECONDS),
            "expiry_window_seconds": str(TTL_SECONDS - LIFETIME_SECONDS),
        },
    )
    profile.init()
    profile.apply()
    aws_config.write_text(profile.output("aws_config_profile"))

    main = tfkit.TerraformRoot(
        tfkit.EXAMPLES / "long-apply",
        workdir / "main",
        env,
        variables={"pause_seconds": str(PAUSE_SECONDS), "local_aws_endpoint": broker.moto.endpoint},
    )
    main.init()
    leases_before = broker.lease_ids("deploy")
    main.plan()
    applied = main.apply_plan(check=False)
    yield {
        "profile": profile,
        "main": main,
        "applied": applied,
        "issued_log": issued_log,
        "new_leases": broker.lease_ids("deploy") - leases_before,
    }
    main.destroy(check=False)


def test_profile_holds_a_credential_process_and_no_key(long_apply):
    text = Path(long_apply["main"].env["AWS_CONFIG_FILE"]).read_text()
    assert text.startswith("[profile vaultlet-long-apply]\ncredential_process = python3 -I -S ")
    assert f"--expiry-window {TTL_SECONDS - LIFETIME_SECONDS}s" in text
    assert not ACCESS_KEY.search(text.encode())


def test_apply_outlives_the_credentials(long_apply):
    applied = long_apply["applied"]
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete! Resources: 3 added" in applied.stdout


def test_provider_ran_the_program_again_mid_apply(long_apply):
    lines = long_apply["issued_log"].read_text().splitlines()
    assert all("mode=credential-process" in line for line in lines)
    # One set for plan, one when apply configures the provider, at least one after the pause.
    assert len(lines) >= 3, lines
    logged_leases = {re.search(r"lease_id=(\S+)", line).group(1) for line in lines}
    assert len(logged_leases) == len(lines), "every invocation must be a new lease"
    assert logged_leases <= long_apply["new_leases"]


def test_no_key_in_state_or_plan_file(long_apply):
    main = long_apply["main"]
    state = main.state_path.read_bytes()
    assert b"vaultlet-long-apply-after-" in state  # the check below looks at a real state
    with zipfile.ZipFile(main.plan_path) as plan:
        contents = [plan.read(name) for name in plan.namelist()]
    for blob in (state, *contents):
        assert not ACCESS_KEY.search(blob)
        assert not MOTO_SESSION_TOKEN.search(blob)
    profile_state = long_apply["profile"].state_path.read_bytes()
    assert not ACCESS_KEY.search(profile_state)
