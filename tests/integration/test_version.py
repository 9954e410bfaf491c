"""The version a server reports: the Vault API vaultlet follows, vaultlet's own as build metadata."""

from __future__ import annotations

import json
import re

from support.processes import bao, http
from vaultlet import SERVER_VERSION, VAULT_API_VERSION, __version__

SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def test_health_and_seal_status_report_the_vault_api_version(server, openbao):
    assert f"{VAULT_API_VERSION}+vaultlet.{__version__}" == SERVER_VERSION
    for target in (server, openbao):
        health = http(target, "GET", "sys/health")[1]
        sealed = http(target, "GET", "sys/seal-status")[1]
        assert SEMVER.match(health["version"]) and health["version"] == sealed["version"], target.kind
    assert http(server, "GET", "sys/health")[1]["version"] == SERVER_VERSION
    status = json.loads(bao(server, "status", "-format=json").stdout)
    assert status["version"] == SERVER_VERSION
    assert http(server, "GET", "sys/internal/specs/openapi")[1]["info"]["version"] == SERVER_VERSION
