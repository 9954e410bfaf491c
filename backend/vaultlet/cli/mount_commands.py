"""The ``secrets`` commands: enable, disable, list and tune secrets engines."""

from __future__ import annotations

from typing import Any

from vaultlet.cli import output
from vaultlet.cli.commands import sanitize_path
from vaultlet.cli.context import Context, reporting
from vaultlet.cli.flags import Flag, FlagKind
from vaultlet.cli.registry import command
from vaultlet.durations import format_go_duration

# api.MountOutput / MountConfigOutput field order, for -format=json.
MOUNT_FIELDS = {
    "uuid": "",
    "type": "",
    "description": "",
    "accessor": "",
    "config": None,
    "options": None,
    "local": False,
    "seal_wrap": False,
    "external_entropy_access": False,
    "plugin_version": "",
    "running_plugin_version": "",
    "running_sha256": "",
    "deprecation_status": "",
}
MOUNT_CONFIG_FIELDS = {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False}

TTL_FLAGS = (
    Flag("default-lease-ttl", FlagKind.DURATION, "Default lease TTL of the engine, e.g. 1h.", default=0),
    Flag("max-lease-ttl", FlagKind.DURATION, "Maximum lease TTL of the engine, e.g. 24h.", default=0),
)


def mount_path(path: str) -> str:
    """Mount paths are shown with a trailing slash (``aws/``)."""
    return sanitize_path(path) + "/"


def _mount_options(ctx: Context) -> dict[str, str] | None:
    options = dict(ctx.flags["options"])
    if ctx.flags["version"] > 0:
        options["version"] = str(ctx.flags["version"])
    return options or None


def enable_flags(kind: str) -> list[Flag]:
    """The flags of ``secrets enable`` and ``auth enable`` (kind: "engine" or "method")."""
    return [
        Flag("path", FlagKind.STRING, f"Where to mount the {kind} (default: its type)."),
        Flag("description", FlagKind.STRING, f"Human-friendly description of the {kind}."),
        *TTL_FLAGS,
        Flag("force-no-cache", FlagKind.BOOL, f"Disable caching for this {kind}."),
        Flag("local", FlagKind.BOOL, f"Mark the {kind} as local-only (not replicated)."),
        Flag("seal-wrap", FlagKind.BOOL, "Enable seal wrapping of critical values."),
        Flag("external-entropy-access", FlagKind.BOOL, f"Give the {kind} access to external entropy."),
        Flag("options", FlagKind.MAP, "key=value mount options; repeatable."),
        Flag("version", FlagKind.INT, f"The {kind}'s version (KV: 1 or 2).", default=0),
    ]


@command(
    "secrets enable", synopsis="Enable a secrets engine", usage="[options] TYPE", flags=enable_flags("engine")
)
def secrets_enable(ctx: Context) -> int:
    (engine_type,) = ctx.require_arguments(1, 1)
    engine_type = engine_type.strip()
    path = mount_path(ctx.flags["path"] or engine_type)
    with reporting("Error enabling"):
        ctx.client.call("POST", f"sys/mounts/{path}", mount_request(ctx, engine_type))
    ctx.out(f"Success! Enabled the {engine_type} secrets engine at: {path}")
    return 0


def mount_request(ctx: Context, engine_type: str) -> dict[str, Any]:
    """The body api.MountInput produces (TTLs as Go durations, "0s" meaning the system default)."""
    return {
        "type": engine_type,
        "description": ctx.flags["description"] or "",
        "config": {
            "options": None,
            "default_lease_ttl": format_go_duration(ctx.flags["default-lease-ttl"]),
            "max_lease_ttl": format_go_duration(ctx.flags["max-lease-ttl"]),
            "force_no_cache": ctx.flags["force-no-cache"],
        },
        "local": ctx.flags["local"],
        "seal_wrap": ctx.flags["seal-wrap"],
        "external_entropy_access": ctx.flags["external-entropy-access"],
        "options": _mount_options(ctx),
    }


@command("secrets disable", synopsis="Disable a secrets engine", usage="[options] PATH")
def secrets_disable(ctx: Context) -> int:
    path = mount_path(ctx.require_arguments(1, 1)[0])
    with reporting(f"Error disabling secrets engine at {path}"):
        ctx.client.call("DELETE", f"sys/mounts/{path}")
    ctx.out(f"Success! Disabled the secrets engine (if it existed) at: {path}")
    return 0


DETAILED_FLAG = Flag("detailed", FlagKind.BOOL, "Show every setting of each mount (table output).")

# The -detailed table of `secrets list` and `auth list`; the sixth column differs.
_DETAILED_HEADER = (
    "Path", "Plugin", "Accessor", "Default TTL", "Max TTL", "{sixth}", "Replication", "Seal Wrap",
    "External Entropy Access", "Options", "Description", "UUID", "Version", "Running Version",
    "Running SHA256", "Deprecation Status",
)  # fmt: skip
# Builtin secrets mounts whose TTLs mean nothing: the CLI prints n/a for them.
_NO_TTL_TYPES = ("system", "cubbyhole")


@command("secrets list", synopsis="List enabled secrets engines", flags=[DETAILED_FLAG])
def secrets_list(ctx: Context) -> int:
    return list_mounts(ctx, "sys/mounts", "Error listing secrets engines")


def list_mounts(ctx: Context, api_path: str, error_context: str) -> int:
    """``secrets list`` and ``auth list``: the mount table as Vault's CLI shows it."""
    ctx.require_arguments(0, 0)
    with reporting(error_context):
        secret = ctx.client.call("GET", api_path) or {}
    mounts = secret.get("data") or {}
    if ctx.output_format != "table":
        return ctx.output_data({path: mount_document(mounts[path]) for path in sorted(mounts)})
    if ctx.flags["detailed"]:
        ctx.out(detailed_mount_table(mounts, auth=api_path == "sys/auth"))
        return 0
    header = ["Path", "Type", "Accessor", "Description"]
    rows = [
        [path, mount.get("type", ""), mount.get("accessor", ""), mount.get("description", "")]
        for path, mount in sorted(mounts.items())
    ]
    if api_path == "sys/auth":
        # `auth list` also shows the plugin version (command/auth_list.go's simple table).
        header.append("Version")
        for row, (_path, mount) in zip(rows, sorted(mounts.items()), strict=True):
            row.append(mount.get("plugin_version", ""))
    ctx.out(output.table(header, rows))
    return 0


def detailed_mount_table(mounts: dict[str, Any], auth: bool) -> str:
    """``secrets list -detailed`` / ``auth list -detailed`` (command/secrets_list.go, auth_list.go)."""
    header = [title.format(sixth="Token Type" if auth else "Force No Cache") for title in _DETAILED_HEADER]
    rows = []
    for path, mount in sorted(mounts.items()):
        config = mount.get("config") or {}
        kind = mount.get("type", "")
        no_ttl = not auth and kind in _NO_TTL_TYPES

        def ttl(name: str, config=config, no_ttl=no_ttl) -> str:
            return "n/a" if no_ttl else str(config.get(name) or "system")

        sixth = config.get("token_type", "") if auth else output.go_value(bool(config.get("force_no_cache")))
        rows.append(
            (
                path,
                config.get("plugin_name", kind) if kind == "plugin" else kind,
                mount.get("accessor", ""),
                ttl("default_lease_ttl"),
                ttl("max_lease_ttl"),
                sixth,
                "local" if mount.get("local") else "replicated",
                output.go_value(bool(mount.get("seal_wrap"))),
                output.go_value(bool(mount.get("external_entropy_access"))),
                output.go_value(mount.get("options") or {}),
                mount.get("description", ""),
                mount.get("uuid", ""),
                mount.get("plugin_version", ""),
                mount.get("running_plugin_version", ""),
                mount.get("running_sha256", ""),
                mount.get("deprecation_status", ""),
            )
        )
    return output.table(header, rows)


def mount_document(mount: dict[str, Any]) -> dict[str, Any]:
    document = output.project(mount, MOUNT_FIELDS)
    config = mount.get("config") or {}
    # Extra config settings are omitempty in Go: only the ones that are set appear.
    extras = {key: value for key, value in sorted(config.items()) if key not in MOUNT_CONFIG_FIELDS and value}
    document["config"] = {**output.project(config, MOUNT_CONFIG_FIELDS), **extras}
    return document


@command(
    "secrets tune",
    synopsis="Tune a secrets engine's configuration",
    usage="[options] PATH",
    flags=[
        *TTL_FLAGS,
        Flag("description", FlagKind.STRING, "New description of the engine."),
        Flag("options", FlagKind.MAP, "key=value mount options; repeatable."),
        Flag("version", FlagKind.INT, "Engine version (KV: 1 or 2).", default=0),
    ],
)
def secrets_tune(ctx: Context) -> int:
    path = mount_path(ctx.require_arguments(1, 1)[0])
    with reporting(f"Error tuning secrets engine {path}"):
        ctx.client.call("POST", f"sys/mounts/{sanitize_path(path)}/tune", tune_request(ctx))
    ctx.out(f"Success! Tuned the secrets engine at: {path}")
    return 0


def tune_request(ctx: Context) -> dict[str, Any]:
    """api.MountConfigInput: an empty TTL string leaves the current value unchanged."""
    body: dict[str, Any] = {
        "options": _mount_options(ctx),
        "default_lease_ttl": _ttl_to_api(ctx.flags["default-lease-ttl"]),
        "max_lease_ttl": _ttl_to_api(ctx.flags["max-lease-ttl"]),
        "force_no_cache": False,
    }
    if "description" in ctx.given:
        body["description"] = ctx.flags["description"]
    return body


def _ttl_to_api(seconds: int) -> str:
    """0 means "unchanged" (empty), a negative TTL means "use the system value"."""
    if seconds == 0:
        return ""
    return "system" if seconds < 0 else format_go_duration(seconds)
