"""The generic path commands: ``read``, ``write``, ``list`` and ``delete``."""

from __future__ import annotations

from typing import Any

from vaultlet.cli import output
from vaultlet.cli.client import Secret
from vaultlet.cli.context import Context, UsageError, reporting
from vaultlet.cli.flags import Flag, FlagKind
from vaultlet.cli.kvdata import KeyValueError, parse_key_values, parse_string_lists
from vaultlet.cli.registry import command


def sanitize_path(path: str) -> str:
    """Drop surrounding whitespace and slashes, as the Vault CLI does before every request."""
    return path.strip().strip("/")


def key_value_arguments(ctx: Context, arguments: list[str], *, as_query: bool = False) -> dict[str, Any]:
    """Parse ``k=v`` arguments, reporting mistakes the way ``vault write`` does."""
    try:
        if as_query:
            return parse_string_lists(arguments, ctx.stdin)
        return parse_key_values(arguments, ctx.stdin)
    except KeyValueError as error:
        raise UsageError(f"Failed to parse K=V data: {error}") from None


@command("read", synopsis="Read data and retrieve secrets", usage="[options] PATH [K=V...]")
def read(ctx: Context) -> int:
    path, *arguments = ctx.require_arguments(1)
    path = sanitize_path(path)
    query = key_value_arguments(ctx, arguments, as_query=True)
    with reporting(f"Error reading {path}"):
        secret = ctx.client.read(path, query)
    if secret is None:
        ctx.err(f"No value found at {path}")
        return 2
    return ctx.output_secret(secret)


@command(
    "write",
    synopsis="Write data, configuration, and secrets",
    usage="[options] PATH [DATA K=V...]",
    flags=[Flag("force", FlagKind.BOOL, "Allow the write with no key=value pairs.", aliases=("f",))],
)
def write(ctx: Context) -> int:
    path, *arguments = ctx.require_arguments(1)
    if not arguments and not ctx.flags["force"]:
        raise UsageError("Must supply data or use -force")
    path = sanitize_path(path)
    data = key_value_arguments(ctx, arguments)
    with reporting(f"Error writing data to {path}"):
        secret = ctx.client.write(path, data)
    if secret is None:
        if ctx.output_format == "table":
            ctx.out(f"Success! Data written to: {path}")
        return 0
    return ctx.output_secret(secret)


@command("list", synopsis="List data or secrets", usage="[options] PATH")
def list_keys(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    path = sanitize_path(path)
    with reporting(f"Error listing {path}"):
        secret = ctx.client.list(path)
    keys = listed_keys(secret)
    if ctx.output_format != "table":
        # The Vault CLI prints the bare key array, or {} (and fails) when there is none.
        ctx.output_data({} if keys is None else keys)
        return 2 if keys is None else 0
    if secret is None:
        ctx.err(f"No value found at {path}")
        return 2
    if secret.get("data") is None:
        # Only warnings came back; show them.
        return ctx.output_secret(secret)
    if keys is None:
        ctx.err(f"No entries found at {path}")
        return 2
    ctx.print_warnings(secret)
    ctx.out(output.list_table(keys))
    return 0


def listed_keys(secret: Secret | None) -> list[str] | None:
    """``data.keys`` of a LIST response, or None when the response has no key list."""
    data = (secret or {}).get("data")
    keys = data.get("keys") if isinstance(data, dict) else None
    return keys if isinstance(keys, list) else None


@command("delete", synopsis="Delete secrets and configuration", usage="[options] PATH")
def delete(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    path = sanitize_path(path)
    with reporting(f"Error deleting {path}"):
        ctx.client.delete(path)
    if ctx.output_format == "table":
        ctx.out(f"Success! Data deleted (if it existed) at: {path}")
    return 0
