"""Who holds a lease claim, and how everyone else can tell that it died.

A revocation claim on a lease (``vault_leases.claim_owner``) names an *owner*: one
server process (one gunicorn worker), identified by a fresh random id each time it
starts. Every owner keeps a row in ``vault_owners`` (id, host, pid, process start,
heartbeat) and beats every ``heartbeat_interval``. A claim is written
``<owner id>:<claimant>`` (the sweeper thread, or one synchronous revoke: claimants
of one process never take each other's claims), and counts only while its owner
is alive:

* its heartbeat is younger than ``owner_timeout`` (any node can judge this; on
  PostgreSQL the heartbeat and the comparison use the database's clock, so nodes
  with skewed clocks agree), and
* its row still exists: every owner checks the other owners *on its own host*
  (same hostname, boot id and PID namespace) and deletes the rows of those whose
  PID is gone, or now belongs to a process that started at another time.

A restarted server (or gunicorn's replacement for a killed worker) does that check
before it serves or sweeps anything, so the claims of the processes it replaces
are free at once, not after ``claim_timeout``. ``claim_until`` remains as the bound
on a live owner that hangs.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from functools import cache
from typing import TYPE_CHECKING

from vaultlet.storage.sql import OWNER_ID_LENGTH

if TYPE_CHECKING:
    from vaultlet.storage.sql import SQLStorage

log = logging.getLogger("vaultlet.expiration")


@cache
def host_identity() -> str:
    """Hostname, boot id and PID namespace: PIDs are comparable only within one of these."""
    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            parts.append(boot.read().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass  # no procfs: hostname alone (heartbeats still expire)
    return "/".join(parts)


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" if unknown or gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[19]  # field 22 of proc(5), counting after "pid (comm)"
    except (OSError, IndexError):
        return ""


def process_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, under another user
    return not started or process_start(pid) in ("", started)


class LeaseOwner:
    """This process's owner identity and its heartbeat thread."""

    def __init__(self, storage: SQLStorage, heartbeat_interval: float, owner_timeout: float):
        self.storage = storage
        self.heartbeat_interval = heartbeat_interval
        self.timeout = owner_timeout
        self.pid = os.getpid()
        self.id = secrets.token_hex(OWNER_ID_LENGTH // 2)
        self.host = host_identity()
        self._started = process_start(self.pid)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        self.storage.owner_heartbeat(self.id, self.host, self.pid, self._started)

    def claimant(self, who: str = "") -> str:
        """A claim name of this owner: one per concurrent revoker (sweeper, each request)."""
        return f"{self.id}:{who or secrets.token_hex(4)}"

    def ensure_registered(self) -> None:
        """Before claiming outside the heartbeat's life (a core that never started it)."""
        if self._thread is None:
            self.beat()

    def reap_dead_neighbours(self) -> list[str]:
        """Forget the owners on this host whose process is gone; returns their ids."""
        dead = [
            owner
            for owner, pid, started in self.storage.owners_on_host(self.host)
            if owner != self.id and not process_alive(pid, started)
        ]
        if dead:
            self.storage.forget_owners(dead)
            log.info("took over the lease claims of dead server processes: %s", ", ".join(dead))
        return dead

    def start(self) -> None:
        """Register, free the claims of dead processes on this host, then keep beating."""
        if self._thread is not None:
            return
        self.beat()
        self.reap_dead_neighbours()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lease-owner-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and drop the owner row: this process's claims are free at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.storage.forget_owners([self.id])
        except Exception:  # noqa: BLE001 - shutting down; the heartbeat will go stale anyway
            log.warning("could not deregister lease owner %s", self.id)

    def _run(self) -> None:
        beats = 0
        while not self._stop.wait(self.heartbeat_interval):
            try:
                self.beat()
                beats += 1
                if beats % 5 == 0:
                    self.reap_dead_neighbours()
                if beats % 600 == 0:
                    self.storage.forget_stale_owners(max(3600.0, 10 * self.timeout))
            except Exception:  # noqa: BLE001 - the heartbeat must survive storage hiccups
                log.exception("lease owner heartbeat failed")
