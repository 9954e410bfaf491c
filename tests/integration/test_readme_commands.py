"""The README's command blocks marked ``<!-- README-test: make-dev -->`` run as written against
`vaultlet server -dev -dev-aws=moto` (what `make dev` starts), in the repository root, with
the project's own CLIs (vaultlet, bao, aws) first on PATH. Only the address changes: the
test server listens on a free port instead of 8200."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from support.processes import VENV_BIN, start_vaultlet_dev

REPO = Path(__file__).resolve().parents[2]
MARKER = "<!-- README-test: make-dev -->"


def _blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(re.escape(MARKER) + r"\n```sh\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    server = start_vaultlet_dev(tmp_path_factory.mktemp("readme-dev"), extra_args=["-dev-aws=moto"])
    yield server
    server.stop()


def test_the_readme_marks_its_runnable_blocks():
    assert len(_blocks()) >= 3


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_block_runs_as_written(dev_server, index, tmp_path):
    script = _blocks()[index].replace("http://127.0.0.1:8200", dev_server.address)
    env = dev_server.client_env()
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{script}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if "admin-root" in script:
        assert "permission denied" in result.stderr
    if "aws/creds/" in script:
        assert "access_key" in result.stdout
