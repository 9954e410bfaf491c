"""sys/host-info: the host the answering server process runs on.

Vault gathers these figures with gopsutil; vaultlet reads the same sources
(``/proc`` on Linux, ``os`` and ``platform`` elsewhere) with the standard
library. The sections and their key names are Vault's; a figure the host does
not expose is left out of its section rather than reported as 0, and a section
that cannot be read at all is named in a warning, as Vault does.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import time

from vaultlet.core.tokens import rfc3339
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response

_MEMINFO = {  # /proc/meminfo name -> Vault's key (values in kB there, bytes here)
    "MemTotal": "total",
    "MemAvailable": "available",
    "MemFree": "free",
    "Buffers": "buffers",
    "Cached": "cached",
    "Active": "active",
    "Inactive": "inactive",
    "Shmem": "shared",
    "SwapTotal": "swaptotal",
    "SwapFree": "swapfree",
}
_CPU_TIMES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guestNice")


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def cpu() -> list[dict]:
    """One entry per logical CPU (/proc/cpuinfo), with Vault's key names."""
    entries: list[dict] = []
    for block in _read("/proc/cpuinfo").split("\n\n"):
        info = dict(
            (key.strip(), value.strip())
            for key, _, value in (line.partition(":") for line in block.splitlines())
        )
        if "processor" not in info:
            continue
        entries.append(
            {
                "cpu": int(info["processor"]),
                "vendorId": info.get("vendor_id", ""),
                "family": info.get("cpu family", ""),
                "model": info.get("model", ""),
                "physicalId": info.get("physical id", ""),
                "coreId": info.get("core id", ""),
                "cores": 1,
                "modelName": info.get("model name", ""),
                "mhz": float(info.get("cpu MHz", 0) or 0),
                "flags": info.get("flags", "").split(),
                "microcode": info.get("microcode", ""),
            }
        )
    return entries


def cpu_times() -> list[dict]:
    """Seconds each CPU spent per state (/proc/stat counts clock ticks)."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = []
    for line in _read("/proc/stat").splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        seconds = [int(value) / ticks for value in values[: len(_CPU_TIMES)]]
        times.append({"cpu": name, **dict(zip(_CPU_TIMES, seconds, strict=False))})
    return times


def disk() -> list[dict]:
    usage = shutil.disk_usage("/")
    return [
        {
            "path": "/",
            "total": usage.total,
            "free": usage.free,
            "used": usage.used,
            "usedPercent": 100.0 * usage.used / usage.total if usage.total else 0.0,
        }
    ]


def host() -> dict:
    uname = platform.uname()
    info = {
        "hostname": socket.gethostname(),
        "os": uname.system.lower(),
        "kernelVersion": uname.release,
        "kernelArch": uname.machine,
    }
    try:
        uptime = float(_read("/proc/uptime").split()[0])
        info.update(uptime=int(uptime), bootTime=int(time.time() - uptime))
    except OSError:
        pass
    info["procs"] = sum(1 for name in os.listdir("/proc") if name.isdigit()) if os.path.isdir("/proc") else 0
    return info


def memory() -> dict:
    values = {}
    for line in _read("/proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        if name in _MEMINFO:
            values[_MEMINFO[name]] = int(rest.split()[0]) * 1024
    if "total" in values and "available" in values:
        values["used"] = values["total"] - values["available"]
        values["usedPercent"] = 100.0 * values["used"] / values["total"] if values["total"] else 0.0
    return values


_SECTIONS = {"cpu": cpu, "cpu_times": cpu_times, "disk": disk, "host": host, "memory": memory}


def host_info_read(backend, request, fields) -> Response:
    data: dict = {}
    warnings = []
    for name, collect in _SECTIONS.items():
        try:
            data[name] = collect()
        except (OSError, ValueError) as error:
            warnings.append(f"failed to collect {name} info: {type(error).__name__}")
    data["timestamp"] = rfc3339(time.time())
    return Response(data=data, warnings=warnings)


PATHS = [
    Path(
        pattern="host-info",
        operations={READ: host_info_read},
        synopsis="Information about the host instance that this server is running on.",
        description=(
            "The CPU, CPU times, disk, host and memory figures of the host the answering server "
            "process runs on, and when they were taken."
        ),
    ),
]
