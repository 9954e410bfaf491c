"""``vaultlet unwrap``: read a response-wrapped secret, once."""

from __future__ import annotations

from vaultlet.cli.context import Context, reporting
from vaultlet.cli.registry import command


@command("unwrap", synopsis="Unwrap a wrapped secret", usage="[options] [TOKEN]")
def unwrap(ctx: Context) -> int:
    """As ``vault unwrap``: the wrapping token is the argument, or else the client token."""
    arguments = ctx.require_arguments(0, 1)
    with reporting("Error unwrapping"):
        secret = ctx.client.unwrap(arguments[0] if arguments else None)
    if secret is None:
        if ctx.output_format == "table":
            ctx.out("Successfully unwrapped. There was no data in the wrapped secret.")
        return 0
    return ctx.output_secret(secret)
