"""What vaultlet issued and renewed during a Terraform run, read from a raw audit log.

The tests for the vaultlet Terraform provider must look for the exact keys the server
handed out in the state and plan files. A file audit device with `log_raw=true` (a
Vault option for exactly this kind of inspection; never use it in production) records
them; the device lives only for one test module and its file in that module's tmp dir.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from support import processes

SECRET_FIELDS = ("access_key", "secret_key", "security_token")


@dataclass(frozen=True)
class Issue:
    path: str
    lease_id: str
    time: datetime
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Renewal:
    lease_id: str
    lease_duration: int
    time: datetime


def _entries(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _responses(log: Path):
    for entry in _entries(log):
        if entry.get("type") == "response" and not entry.get("error"):
            yield entry, entry.get("request") or {}, entry.get("response") or {}


def _time(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))


def issues(log: Path, path_prefix: str) -> list[Issue]:
    """Every credentials response under `path_prefix` (e.g. `aws/creds/`), in order."""
    found = []
    for entry, request, response in _responses(log):
        data = response.get("data") or {}
        secrets = tuple(data[name] for name in SECRET_FIELDS if data.get(name))
        if request.get("path", "").startswith(path_prefix) and secrets:
            lease_id = (response.get("secret") or {}).get("lease_id", "")
            found.append(Issue(request["path"], lease_id, _time(entry), secrets))
    return found


def renewals(log: Path) -> list[Renewal]:
    """Every successful sys/leases/renew, in order."""
    found = []
    for entry, request, response in _responses(log):
        if request.get("path") == "sys/leases/renew":
            duration = int((response.get("secret") or {}).get("ttl") or response.get("lease_duration") or 0)
            found.append(Renewal((request.get("data") or {}).get("lease_id", ""), duration, _time(entry)))
    return found


@contextlib.contextmanager
def raw_audit_log(vault: processes.ServerProcess, log: Path, device: str):
    """A log_raw file audit device at sys/audit/<device> for the duration of the block."""
    body = {"type": "file", "options": {"file_path": str(log), "log_raw": "true"}}
    status, _, text = processes.http(vault, "PUT", f"sys/audit/{device}", body)
    assert status in (200, 204), text
    try:
        yield log
    finally:
        processes.http(vault, "DELETE", f"sys/audit/{device}")
