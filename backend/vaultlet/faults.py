"""Fault-injection points for crash-safety tests.

``VAULTLET_FAULT=<point>`` makes the process die (SIGKILL, no clean-up) when it
reaches that point, as a power cut or OOM kill would. Unset, a point costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "VAULTLET_FAULT"


def point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
