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
def moto(session_dir):
    running = processes.start_moto(session_dir / "moto")
    yield running
    running.stop()
