"""The ``policy`` commands: write, read, list and delete ACL policies."""

from __future__ import annotations

from vaultlet.cli.commands import listed_keys
from vaultlet.cli.context import CommandError, Context, reporting
from vaultlet.cli.registry import command

POLICIES = "sys/policies/acl"


def policy_name(raw: str) -> str:
    """Policy names are case-insensitive; the server stores them lower-cased."""
    return raw.strip().lower()


@command("policy write", synopsis="Upload a named policy from a file", usage="[options] NAME PATH")
def policy_write(ctx: Context) -> int:
    raw_name, source = ctx.require_arguments(2, 2)
    name = policy_name(raw_name)
    rules = _read_policy_source(ctx, source.strip())
    with reporting("Error uploading policy"):
        ctx.client.call("PUT", f"{POLICIES}/{name}", {"policy": rules})
    if raw_name != name:
        ctx.err(f'Policy name was converted from "{raw_name}" to "{name}"')
    ctx.out(f"Success! Uploaded policy: {name}")
    return 0


def _read_policy_source(ctx: Context, source: str) -> str:
    """The policy text from a file, or from stdin when the path is ``-``."""
    if source == "-":
        return ctx.stdin.read()
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise CommandError(f"Error opening policy file: {error}") from None


@command("policy read", synopsis="Print the contents of a policy", usage="[options] NAME")
def policy_read(ctx: Context) -> int:
    name = policy_name(ctx.require_arguments(1, 1)[0])
    with reporting(f"Error reading policy named {name}"):
        secret = ctx.client.read(f"{POLICIES}/{name}")
    rules = ((secret or {}).get("data") or {}).get("policy")
    if not rules:
        ctx.err(f"No policy named: {name}")
        return 2
    if ctx.output_format == "table":
        ctx.out(rules.strip())
        return 0
    return ctx.output_data({"policy": rules})


@command("policy list", synopsis="List the installed policies")
def policy_list(ctx: Context) -> int:
    ctx.require_arguments(0, 0)
    with reporting("Error listing policies"):
        names = listed_keys(ctx.client.list(POLICIES)) or []
    if ctx.output_format != "table":
        return ctx.output_data(names)
    for name in names:
        ctx.out(name)
    return 0


@command("policy delete", synopsis="Delete a policy by name", usage="[options] NAME")
def policy_delete(ctx: Context) -> int:
    name = policy_name(ctx.require_arguments(1, 1)[0])
    with reporting(f"Error deleting {name}"):
        ctx.client.delete(f"{POLICIES}/{name}")
    ctx.out(f"Success! Deleted policy: {name}")
    return 0
