"""config/root (merge, secrets, template, validation) and config/lease (Go durations)."""

from __future__ import annotations

import re

import pytest

from support.aws_engine import call, make_backend
from vaultlet.engines.secrets.aws.config_lease import parse_lease_duration
from vaultlet.engines.secrets.aws.username_template import DEFAULT_USERNAME_TEMPLATE
from vaultlet.errors import NotFound, UserError


@pytest.fixture()
def backend(tmp_path):
    return make_backend(tmp_path)


def rejected(backend, path: str, data: dict) -> str:
    with pytest.raises(UserError) as caught:
        call(backend, "update", path, data)
    return caught.value.messages[0]


# -- config/root ------------------------------------------------------------------------


def test_root_config_is_404_until_written(backend):
    with pytest.raises(NotFound):
        call(backend, "read", "config/root")


def test_first_write_fills_defaults_and_never_returns_the_secret(backend):
    assert call(
        backend, "update", "config/root", {"access_key": "AKIAEXAMPLE", "secret_key": "SENTINEL"}
    ).is_empty
    data = call(backend, "read", "config/root").data
    assert "secret_key" not in data and "SENTINEL" not in repr(data)
    assert data == {
        "access_key": "AKIAEXAMPLE",
        "region": "",
        "iam_endpoint": "",
        "sts_endpoint": "",
        "sts_region": "",
        "sts_fallback_endpoints": None,
        "sts_fallback_regions": None,
        "max_retries": -1,
        "username_template": DEFAULT_USERNAME_TEMPLATE,
        "role_arn": "",
        "identity_token_audience": "",
        "identity_token_ttl": 3600,
        "orphan_sweep_interval": 600,
    }


def test_later_writes_merge(backend):
    call(backend, "update", "config/root", {"access_key": "A", "secret_key": "S", "region": "eu-west-1"})
    call(backend, "update", "config/root", {"iam_endpoint": "http://iam.local", "max_retries": 2})
    data = call(backend, "read", "config/root").data
    assert (data["access_key"], data["region"], data["iam_endpoint"], data["max_retries"]) == (
        "A",
        "eu-west-1",
        "http://iam.local",
        2,
    )
    assert backend.root_config().secret_key == "S"


def test_hvac_null_max_retries_means_not_supplied(backend):
    call(backend, "update", "config/root", {"access_key": "A", "secret_key": "S", "max_retries": None})
    assert call(backend, "read", "config/root").data["max_retries"] == -1


def test_empty_username_template_stores_the_default(backend):
    call(backend, "update", "config/root", {"username_template": "{{ .DisplayName }}"})
    call(backend, "update", "config/root", {"username_template": ""})
    assert call(backend, "read", "config/root").data["username_template"] == DEFAULT_USERNAME_TEMPLATE


def test_username_template_is_validated_at_write(backend):
    message = rejected(backend, "config/root", {"username_template": "{{ nope .Type }}"})
    assert message.startswith("unable to initialize username template: unable to parse template: ")
    assert 'function "nope" not defined' in message
    with pytest.raises(NotFound):
        call(backend, "read", "config/root")


def test_fallback_endpoints_and_regions_must_pair_up(backend):
    assert rejected(
        backend,
        "config/root",
        {"sts_fallback_endpoints": "https://a,https://b", "sts_fallback_regions": "r1"},
    ) == ("fallback endpoints and fallback regions must be the same length")
    call(
        backend,
        "update",
        "config/root",
        {"sts_fallback_endpoints": ["https://a", "https://b"], "sts_fallback_regions": "r1,r2"},
    )
    assert call(backend, "read", "config/root").data["sts_fallback_regions"] == ["r1", "r2"]


def test_workload_identity_rules(backend):
    assert rejected(backend, "config/root", {"access_key": "A", "identity_token_audience": "aud"}) == (
        "only one of 'access_key' or 'identity_token_audience' can be set"
    )
    assert rejected(backend, "config/root", {"identity_token_audience": "aud"}) == (
        "missing required 'role_arn' when 'identity_token_audience' is set"
    )
    message = rejected(
        backend, "config/root", {"identity_token_audience": "aud", "role_arn": "arn:aws:iam::1:role/r"}
    )
    assert "not supported" in message


def test_rotate_root_needs_stored_keys(backend):
    assert rejected(backend, "config/rotate-root", {}) == "no configuration found for config/root"
    call(backend, "update", "config/root", {"region": "us-east-1"})
    assert rejected(backend, "config/rotate-root", {}) == (
        "Cannot call config/rotate-root when either access_key or secret_key is empty"
    )


# -- config/lease ---------------------------------------------------------------------------


def hvac_convert(text: str) -> int:
    """hvac's integration-test helper: sum the (\\d+)([smh]) groups."""
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", text))


def test_lease_config_reads_back_as_go_durations(backend):
    with pytest.raises(NotFound):
        call(backend, "read", "config/lease")
    call(backend, "update", "config/lease", {"lease": "60s", "lease_max": "120s"})
    data = call(backend, "read", "config/lease").data
    assert data == {"lease": "1m0s", "lease_max": "2m0s"}
    assert hvac_convert(data["lease_max"]) == 120
    call(backend, "update", "config/lease", {"lease": "30m", "lease_max": "12h"})
    assert call(backend, "read", "config/lease").data == {"lease": "30m0s", "lease_max": "12h0m0s"}
    call(backend, "update", "config/lease", {"lease": "1h30m", "lease_max": "0"})
    assert call(backend, "read", "config/lease").data == {"lease": "1h30m0s", "lease_max": "0s"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lease_max": "1h"}, "'lease' is a required parameter"),
        ({"lease": "1h"}, "'lease_max' is a required parameter"),
        ({"lease": "soon", "lease_max": "1h"}, 'Invalid lease: time: invalid duration "soon"'),
        ({"lease": "1h", "lease_max": "90"}, 'Invalid lease_max: time: missing unit in duration "90"'),
        ({"lease": "2d", "lease_max": "1h"}, 'Invalid lease: time: unknown unit "d" in duration "2d"'),
    ],
)
def test_lease_config_validation(backend, data, message):
    assert rejected(backend, "config/lease", data) == message


def test_parse_lease_duration_accepts_go_units():
    assert parse_lease_duration("1h2m3s") == 3723
    assert parse_lease_duration("1500ms") == 1
    assert parse_lease_duration("0") == 0
