"""The ``audit`` commands: enable, disable and list audit devices."""

from __future__ import annotations

from typing import Any

from vaultlet.cli import output
from vaultlet.cli.commands import sanitize_path
from vaultlet.cli.context import Context, UsageError, reporting
from vaultlet.cli.flags import Flag, FlagKind
from vaultlet.cli.kvdata import KeyValueError, parse_strings
from vaultlet.cli.mount_commands import DETAILED_FLAG
from vaultlet.cli.registry import command

# api.Audit field order, for -format=json.
AUDIT_FIELDS = {"type": "", "description": "", "options": None, "local": False, "path": ""}


def audit_path(path: str) -> str:
    return sanitize_path(path) + "/"


@command(
    "audit enable",
    synopsis="Enable an audit device",
    usage="[options] TYPE [CONFIG K=V...]",
    flags=[
        Flag("path", FlagKind.STRING, "Where to enable the device (default: its type)."),
        Flag("description", FlagKind.STRING, "Human-friendly description of the device."),
        Flag("local", FlagKind.BOOL, "Mark the device as local-only (not replicated)."),
    ],
)
def audit_enable(ctx: Context) -> int:
    if not ctx.args:
        raise UsageError(
            "Error enabling audit device: audit type missing. "
            "Valid types include 'file', 'socket' and 'syslog'."
        )
    device_type, *settings = ctx.args
    device_type = device_type.strip()
    path = audit_path(ctx.flags["path"] or device_type)
    with reporting("Error enabling audit device"):
        ctx.client.call("PUT", f"sys/audit/{path}", audit_request(ctx, device_type, settings))
    ctx.out(f"Success! Enabled the {device_type} audit device at: {path}")
    return 0


def audit_request(ctx: Context, device_type: str, settings: list[str]) -> dict[str, Any]:
    """api.EnableAuditOptions: device options are strings (``file_path=/var/log/audit.log``)."""
    try:
        options = parse_strings(settings, ctx.stdin)
    except KeyValueError as error:
        raise UsageError(f"Failed to parse K=V data: {error}") from None
    return {
        "type": device_type,
        "description": ctx.flags["description"] or "",
        "options": options,
        "local": ctx.flags["local"],
    }


@command("audit disable", synopsis="Disable an audit device", usage="[options] PATH")
def audit_disable(ctx: Context) -> int:
    path = audit_path(ctx.require_arguments(1, 1)[0])
    with reporting("Error disabling audit device"):
        ctx.client.call("DELETE", f"sys/audit/{path}")
    ctx.out(f"Success! Disabled audit device (if it was enabled) at: {path}")
    return 0


@command("audit list", synopsis="List enabled audit devices", flags=[DETAILED_FLAG])
def audit_list(ctx: Context) -> int:
    ctx.require_arguments(0, 0)
    with reporting("Error listing audits"):
        devices = (ctx.client.call("GET", "sys/audit") or {}).get("data") or {}
    if ctx.output_format != "table":
        return ctx.output_data(
            {path: output.project(devices[path], AUDIT_FIELDS) for path in sorted(devices)}
        )
    if not devices:
        ctx.out("No audit devices are enabled.")
        return 2
    if ctx.flags["detailed"]:
        # command/audit_list.go's detailed table.
        rows = [
            (
                devices[path].get("path", path),
                devices[path].get("type", ""),
                devices[path].get("description", ""),
                "local" if devices[path].get("local") else "replicated",
                output.go_value(devices[path].get("options") or {}),
            )
            for path in sorted(devices)
        ]
        ctx.out(output.table(("Path", "Type", "Description", "Replication", "Options"), rows))
        return 0
    rows = [
        (devices[path].get("path", path), devices[path].get("type", ""), devices[path].get("description", ""))
        for path in sorted(devices)
    ]
    ctx.out(output.table(("Path", "Type", "Description"), rows))
    return 0
