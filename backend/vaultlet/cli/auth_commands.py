"""The ``auth`` commands: enable, disable and list auth methods (``sys/auth``)."""

from __future__ import annotations

from vaultlet.cli.context import Context, reporting
from vaultlet.cli.mount_commands import DETAILED_FLAG, enable_flags, list_mounts, mount_path, mount_request
from vaultlet.cli.registry import command


@command(
    "auth enable", synopsis="Enable an auth method", usage="[options] TYPE", flags=enable_flags("method")
)
def auth_enable(ctx: Context) -> int:
    (method,) = ctx.require_arguments(1, 1)
    method = method.strip()
    path = mount_path(ctx.flags["path"] or method)
    with reporting("Error enabling"):
        ctx.client.call("POST", f"sys/auth/{path}", mount_request(ctx, method))
    ctx.out(f"Success! Enabled {method} auth method at: {path}")
    return 0


@command("auth disable", synopsis="Disable an auth method", usage="[options] PATH")
def auth_disable(ctx: Context) -> int:
    path = mount_path(ctx.require_arguments(1, 1)[0])
    with reporting(f"Error disabling auth method at {path}"):
        ctx.client.call("DELETE", f"sys/auth/{path}")
    ctx.out(f"Success! Disabled the auth method (if it existed) at: {path}")
    return 0


@command("auth list", synopsis="List enabled auth methods", flags=[DETAILED_FLAG])
def auth_list(ctx: Context) -> int:
    return list_mounts(ctx, "sys/auth", "Error listing enabled authentications")
