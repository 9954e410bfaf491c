"""sys/metrics: Vault's names, read by prometheus-client's own text parser, summed
across the gunicorn workers of a production-mode server that issued and revoked
real (moto) IAM users."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.access import ok, token_with, write_policy
from support.aws_engine import S3_GET_ONLY_POLICY, mount_aws, user_exists, users_tagged
from support.metrics import scrape, value
from support.processes import (
    VENV_BIN,
    free_port,
    http,
    production_config,
    start_vaultlet_production,
)

ISSUED = 8
REVOKED = 5
TOKENS = 3


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory, moto):
    """One server for the module; tests compare deltas or use their own mount."""
    server = start_vaultlet_production(
        tmp_path_factory.mktemp("metrics"), workers=2, extra='log_format = "json"'
    )
    yield server
    server.stop()


def test_counters_add_up_across_two_workers(two_workers, moto):
    server = two_workers
    mount = mount_aws(server, moto, http)
    ok(
        http(
            server,
            "POST",
            f"{mount.path}/roles/app",
            {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY},
        )
    )
    before = scrape(server)

    def issue(_):
        return ok(http(server, "GET", f"{mount.path}/creds/app"))

    with ThreadPoolExecutor(4) as pool:
        issued = list(pool.map(issue, range(ISSUED)))
    for answer in issued[:REVOKED]:
        ok(http(server, "PUT", "sys/leases/revoke", {"lease_id": answer["lease_id"]}))
    for _ in range(TOKENS):
        ok(http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "30m"}))
    after = scrape(server)

    # Both workers answered issuance requests (each request line names its worker).
    pids = {
        line["pid"]
        for line in _request_lines(server)
        if line["path"] == f"/v1/{mount.path}/creds/app" and line["status"] == 200
    }
    assert len(pids) == 2, pids

    mount_point = f"{mount.path}/"
    assert (
        value(
            after,
            "vaultlet_credentials_issued_total",
            mount_point=mount_point,
            role="app",
            credential_type="iam_user",
        )
        == ISSUED
    )
    route = f"vault_route_read_{mount.path.replace('-', '_')}__count"
    assert value(after, route) == ISSUED
    assert value(after, "vault_expire_revoke_count") - value(before, "vault_expire_revoke_count") == REVOKED
    assert value(after, "vaultlet_leases", mount_point=mount_point) == ISSUED - REVOKED
    assert value(after, "vault_expire_num_leases") - value(before, "vault_expire_num_leases") == (
        ISSUED - REVOKED + TOKENS
    )
    assert value(after, "vaultlet_aws_call_duration_seconds_count", api="CreateUser") == ISSUED
    assert value(after, "vaultlet_aws_call_duration_seconds_count", api="DeleteUser") == REVOKED
    assert (
        value(
            after,
            "vault_token_creation_total",
            auth_method="token",
            mount_point="auth/token/",
            creation_ttl="1h",
            token_type="service",
            namespace="root",
        )
        - value(
            before,
            "vault_token_creation_total",
            auth_method="token",
            mount_point="auth/token/",
            creation_ttl="1h",
            token_type="service",
            namespace="root",
        )
        == TOKENS
    )
    # Every request between the two scrapes, plus the first scrape itself.
    requests = ISSUED + REVOKED + TOKENS + 1
    assert value(after, "vault_core_handle_request_count") - value(
        before, "vault_core_handle_request_count"
    ) == (requests)
    assert after["vault_audit_log_request_failure_total"] == {(): 0.0}
    assert value(after, "vault_core_unsealed", cluster="vaultlet-cluster") == 1
    # The revoked users are gone from moto, the others are still there.
    names = sorted(users_tagged(moto, mount.uuid))
    assert len(names) == ISSUED - REVOKED
    assert all(user_exists(moto, name) for name in names)


def test_failed_revocations_and_aws_errors_are_counted(two_workers, moto):
    server = two_workers
    mount = mount_aws(server, moto, http)
    ok(
        http(
            server,
            "POST",
            f"{mount.path}/roles/app",
            {"credential_type": "iam_user", "policy_document": S3_GET_ONLY_POLICY},
        )
    )
    lease_id = ok(http(server, "GET", f"{mount.path}/creds/app"))["lease_id"]
    # IAM becomes unreachable: the revocation fails, is counted, and stays queued.
    dead = f"http://127.0.0.1:{free_port()}"
    ok(http(server, "POST", f"{mount.path}/config/root", {**_root_config(mount, moto), "iam_endpoint": dead}))
    status, _, text = http(server, "PUT", "sys/leases/revoke", {"lease_id": lease_id})
    # 502: AWS failed transiently; the lease stays queued (see README, "Lease claims and crashed workers").
    assert status == 502 and "failed to revoke 1 lease(s)" in text
    failed = scrape(server)
    assert value(failed, "vaultlet_lease_revocation_failures_total", mount_point=f"{mount.path}/") == 1
    # Teardown starts by listing the user's groups: that call failed, unreachable.
    assert value(failed, "vaultlet_aws_call_errors_total", api="ListGroupsForUser", code="RequestError") >= 1
    ok(http(server, "POST", f"{mount.path}/config/root", _root_config(mount, moto)))
    ok(http(server, "PUT", "sys/leases/revoke", {"lease_id": lease_id}))
    assert value(scrape(server), "vaultlet_leases", mount_point=f"{mount.path}/") == 0


def _root_config(mount, moto) -> dict:
    return {
        "access_key": mount.admin_key["AccessKeyId"],
        "secret_key": mount.admin_key["SecretAccessKey"],
        "region": "us-east-1",
        "iam_endpoint": moto.endpoint,
        "sts_endpoint": moto.endpoint,
        "max_retries": 0,
    }


def test_vault_counter_names_carry_no_total_suffix(two_workers):
    ok(http(two_workers, "POST", "auth/token/create", {"policies": ["default"]}))
    _, _, text = http(two_workers, "GET", "sys/metrics?format=prometheus")
    assert "# TYPE vault_token_creation counter" in text
    assert "\nvault_token_creation{" in text  # as Vault's go-metrics sink writes it
    assert "vault_token_creation_total" not in text


def test_metrics_need_read_on_sys_metrics(two_workers):
    server = two_workers
    denied = token_with(server)
    status, body, _ = http(server, "GET", "sys/metrics?format=prometheus", token=denied)
    assert (status, body) == (403, {"errors": ["permission denied"]})
    assert http(server, "GET", "sys/metrics", token=None)[0] == 403
    write_policy(server, "metrics-reader", 'path "sys/metrics" { capabilities = ["read"] }')
    allowed = token_with(server, "metrics-reader")
    assert "vault_core_handle_request_count" in scrape(server, token=allowed)


DENIED_READS = 9
DENIED_LISTS = 4


def test_denied_requests_add_up_across_two_workers(two_workers):
    """Every 403 counts once, per mount and operation, whichever worker refused it; a
    bad token counts too, and other errors (a 404 on an unused path) do not."""
    server = two_workers
    ok(http(server, "POST", "sys/mounts/denied-kv", {"type": "kv"}))
    ok(http(server, "PUT", "denied-kv/present", {"value": "x"}))
    weak = token_with(server)
    before = scrape(server)

    def read(_):
        return http(server, "GET", "denied-kv/present", token=weak)[0]

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(read, range(DENIED_READS)))
    statuses += [http(server, "GET", "denied-kv/?list=true", token=weak)[0] for _ in range(DENIED_LISTS)]
    statuses.append(http(server, "GET", "denied-kv/present", token="not-a-token")[0])
    assert statuses == [403] * (DENIED_READS + DENIED_LISTS + 1)
    assert http(server, "GET", "denied-kv/absent")[0] == 404  # root: not found, not denied
    after = scrape(server)

    pids = {line["pid"] for line in _request_lines(server) if line["path"] == "/v1/denied-kv/present"}
    assert len(pids) == 2, pids  # both workers refused some

    def delta(**labels):
        name = "vaultlet_requests_denied_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(mount_point="denied-kv/", operation="read") == DENIED_READS + 1
    assert delta(mount_point="denied-kv/", operation="list") == DENIED_LISTS
    labels = {dict(key)["mount_point"] for key in after["vaultlet_requests_denied_total"]}
    assert all(not label or label.endswith("/") for label in labels)  # mount paths, never request paths
    assert not any("present" in label or weak in label for label in labels)


def test_json_format_has_vaults_shape(two_workers, openbao):
    ok(http(two_workers, "POST", "auth/token/create", {"policies": ["default"]}))
    ours = ok(http(two_workers, "GET", "sys/metrics"))
    theirs = ok(http(openbao, "GET", "sys/metrics"))
    assert set(ours) == set(theirs) == {"Timestamp", "Gauges", "Points", "Counters", "Samples"}
    gauges = {g["Name"]: g for g in ours["Gauges"]}
    # OpenBao's in-memory sink shows the current 10 s interval only: any gauge it has will do.
    their_gauge_keys = {key for gauge in theirs["Gauges"] for key in gauge} or {"Name", "Value", "Labels"}
    assert set(gauges["vault.expire.num_leases"]) == their_gauge_keys
    creation = [c for c in ours["Counters"] if c["Name"] == "vault.token.creation"]
    assert sum(c["Count"] for c in creation) >= 1
    assert {"Name", "Count", "Sum", "Labels"} <= set(creation[0])
    handle = next(s for s in ours["Samples"] if s["Name"] == "vault.core.handle_request")
    assert handle["Count"] >= 1 and handle["Sum"] > 0


def test_listener_can_open_metrics_to_unauthenticated_scrapers(tmp_path):
    server = start_vaultlet_production(
        tmp_path, listener_extra="telemetry {\n    unauthenticated_metrics_access = true\n  }"
    )
    try:
        assert "vault_core_unsealed" in scrape(server, token=None)
        assert http(server, "GET", "sys/mounts", token=None)[0] == 403  # nothing else opens up
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("telemetry", "message"),
    [
        ('telemetry {\n  statsd_address = "127.0.0.1:8125"\n}', "unsupported setting(s) statsd_address"),
        ("telemetry {\n  disable_hostname = false\n}", "never prefixes metric names with the host name"),
    ],
)
def test_telemetry_settings_vaultlet_cannot_honour_are_refused(tmp_path, telemetry, message):
    config = tmp_path / "server.hcl"
    config.write_text(production_config(tmp_path, free_port(), extra=telemetry))
    result = subprocess.run(
        [str(VENV_BIN / "vaultlet"), "server", f"-config={config}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert message in result.stderr


def test_prometheus_retention_zero_turns_the_text_format_off(tmp_path):
    server = start_vaultlet_production(tmp_path, extra='telemetry {\n  prometheus_retention_time = "0s"\n}')
    try:
        status, body, _ = http(server, "GET", "sys/metrics?format=prometheus")
        assert (status, body) == (400, {"errors": ["prometheus is not enabled"]})
        assert ok(http(server, "GET", "sys/metrics"))["Gauges"]
    finally:
        server.stop()


def _request_lines(server) -> list[dict]:
    lines = []
    for text in server.log_text().splitlines():
        if text.startswith("{") and '"vaultlet.http.request"' in text:
            lines.append(json.loads(text))
    return lines


def test_counts_survive_a_worker_restart(tmp_path):
    """A worker that exits (here: SIGTERM, as gunicorn's own restarts do) leaves its
    counts in the sum, and the directory stays for the worker that replaces it."""
    server = start_vaultlet_production(tmp_path, workers=2)
    try:
        for _ in range(6):
            ok(http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "30m"}))
        booted = re.findall(r"Booting worker with pid: (\d+)", server.log_text())
        os.kill(int(booted[0]), signal.SIGTERM)
        assert _wait(lambda: len(re.findall(r"Booting worker with pid", server.log_text())) == 3)
        for _ in range(4):
            ok(http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "30m"}))
        after = scrape(server)
        labels = {
            "auth_method": "token",
            "mount_point": "auth/token/",
            "creation_ttl": "1h",
            "token_type": "service",
            "namespace": "root",
        }
        assert value(after, "vault_token_creation_total", **labels) == 10
    finally:
        server.stop()


def _wait(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


# Names vaultlet shares with OpenBao's Prometheus output after the same calls. OpenBao
# (unlike Vault) emits no vault_token_creation; vaultlet's is named and labelled after
# Vault's documentation.
SHARED_NAMES = {
    "vault_core_handle_request",
    "vault_expire_num_leases",
    "vault_expire_num_irrevocable_leases",
    "vault_expire_revoke",
    "vault_audit_log_request_failure",
    "vault_audit_log_response_failure",
    "vault_core_unsealed",
    "vault_route_update_auth_token_",
}


def test_vault_metric_names_and_types_match_openbaos(two_workers, openbao):
    families = {}
    for name, server in (("vaultlet", two_workers), ("openbao", openbao)):
        token = ok(http(server, "POST", "auth/token/create", {"policies": ["default"], "ttl": "1h"}))["auth"]
        ok(http(server, "POST", "auth/token/revoke-accessor", {"accessor": token["accessor"]}))
        ok(http(server, "POST", "sys/leases/revoke-prefix/auth/token/create/nothing-here"))
        _, _, text = http(server, "GET", "sys/metrics?format=prometheus")
        families[name] = {f.name: f.type for f in text_string_to_metric_families(text)}
    for metric in SHARED_NAMES:
        assert families["vaultlet"].get(metric) == families["openbao"].get(metric), metric
        assert families["vaultlet"].get(metric) is not None, metric
