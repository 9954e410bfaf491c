"""The ``lease`` commands: lookup, renew and revoke."""

from __future__ import annotations

from vaultlet.cli import output
from vaultlet.cli.context import Context, UsageError, reporting
from vaultlet.cli.flags import Flag, FlagKind
from vaultlet.cli.registry import command


def _lease_id(ctx: Context) -> str:
    if not ctx.args:
        raise UsageError("Missing ID!")
    if len(ctx.args) > 1:
        raise UsageError(f"Too many arguments (expected 1, got {len(ctx.args)})")
    return ctx.args[0].strip()


@command("lease lookup", synopsis="Look up the lease of a secret", usage="[options] ID")
def lease_lookup(ctx: Context) -> int:
    lease_id = _lease_id(ctx)
    with reporting(f"error looking up lease id {lease_id}"):
        secret = ctx.client.call("PUT", "sys/leases/lookup", {"lease_id": lease_id})
    return ctx.output_secret(secret)


@command(
    "lease renew",
    synopsis="Renew the lease of a secret",
    usage="[options] ID",
    flags=[Flag("increment", FlagKind.DURATION, "Requested increment, e.g. 1h (0: the default TTL).", 0)],
)
def lease_renew(ctx: Context) -> int:
    lease_id = _lease_id(ctx)
    body = {"increment": ctx.flags["increment"], "lease_id": lease_id}
    with reporting(f"Error renewing {lease_id}"):
        secret = ctx.client.call("PUT", "sys/leases/renew", body)
    return ctx.output_secret(secret)


@command(
    "lease revoke",
    synopsis="Revoke leases and secrets",
    usage="[options] ID",
    flags=[
        Flag("prefix", FlagKind.BOOL, "Treat the ID as a prefix and revoke every lease under it."),
        Flag(
            "force", FlagKind.BOOL, "With -prefix: drop the leases even if the engine fails.", aliases=("f",)
        ),
        Flag("sync", FlagKind.BOOL, "Wait for the revocation instead of queueing it."),
    ],
)
def lease_revoke(ctx: Context) -> int:
    lease_id = ctx.require_arguments(1, 1)[0].strip()
    force, prefix, sync = ctx.flags["force"], ctx.flags["prefix"], ctx.flags["sync"]
    if force and not prefix:
        raise UsageError("Specifying -force requires also specifying -prefix")
    if force:
        ctx.err(
            output.wrap_at_length(
                "Warning! Force-removing leases can cause Vault to become out of sync with secret engines!"
            )
        )
    with reporting(_revoke_failure(lease_id, force, prefix)):
        if force:
            ctx.client.call("PUT", f"sys/leases/revoke-force/{lease_id}")
        else:
            endpoint = "revoke-prefix" if prefix else "revoke"
            ctx.client.call("PUT", f"sys/leases/{endpoint}/{lease_id}", {"sync": sync})
    ctx.out(_revoke_success(lease_id, force, prefix, sync))
    return 0


def _revoke_failure(lease_id: str, force: bool, prefix: bool) -> str:
    if force:
        return f"Error force revoking leases with prefix {lease_id}"
    if prefix:
        return f"Error revoking leases with prefix {lease_id}"
    return f"Error revoking lease {lease_id}"


def _revoke_success(lease_id: str, force: bool, prefix: bool, sync: bool) -> str:
    if force:
        return f"Success! Force revoked any leases with prefix: {lease_id}"
    if not sync:
        return "All revocation operations queued successfully!"
    if prefix:
        return f"Success! Revoked any leases with prefix: {lease_id}"
    return f"Success! Revoked lease: {lease_id}"
