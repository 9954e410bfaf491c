"""Session fixtures: one real vaultlet dev server, one OpenBao, one moto.

``VAULTLET_TEST_TARGET=openbao`` points the ``server`` fixture at a real OpenBao
dev server instead, so API tests double as a conformance check of the tests
themselves against the reference implementation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import processes  # noqa: E402


def pytest_configure(config):
    """pytest-terraform (a test extra) looks for `terraform` on PATH as pytest starts and aborts the
    whole run without one; hand it the pinned .venv/bin/terraform (tests/terraform/) instead."""
    if hasattr(config.option, "dest_tf_binary") and not config.option.dest_tf_binary:
        config.option.dest_tf_binary = str(Path(sys.executable).parent / "terraform")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def server(session_dir):
    if os.environ.get("VAULTLET_TEST_TARGET") == "openbao":
        running = processes.start_openbao_dev(session_dir / "openbao-main")
    else:
        running = processes.start_vaultlet_dev(session_dir / "vaultlet-main")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def openbao(session_dir):
    running = processes.start_openbao_dev(session_dir / "openbao")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres():
    from support.postgres import start_postgres

    running = start_postgres()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def moto(session_dir):
    running = processes.start_moto(session_dir / "moto")
    yield running
    running.stop()
