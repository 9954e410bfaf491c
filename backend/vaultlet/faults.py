"""Fault-injection points for crash-safety tests.

``VAULTLET_FAULT=<point>`` makes the process die (SIGKILL, no clean-up) when it
reaches that point, as a power cut or OOM kill would. ``VAULTLET_FAULT_FILE=<path>``
arms the point named in that file instead (empty or missing file: none), so a test
can arm and disarm points of a running server. Unset, a point costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "VAULTLET_FAULT"
FAULT_FILE_ENV = "VAULTLET_FAULT_FILE"


def point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name or _armed_in_file(name):
        os.kill(os.getpid(), signal.SIGKILL)


def _armed_in_file(name: str) -> bool:
    path = os.environ.get(FAULT_FILE_ENV)
    if not path:
        return False
    try:
        with open(path) as armed:
            return armed.read().strip() == name
    except OSError:
        return False
