"""The ``vaultlet`` command line: a Vault-compatible CLI plus the ``server`` sub-command.

Commands, flags, output and exit codes follow the Vault/OpenBao CLI so that
``vault ...`` recipes work when spelled ``vaultlet ...``: 0 on success, 1 for
usage errors, 2 for API errors (and for ``status`` on a sealed server).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

# Importing the command modules registers their commands.
from vaultlet.cli import (  # noqa: F401
    audit_commands,
    auth_commands,
    commands,
    kv_commands,
    lease_commands,
    mount_commands,
    operator_commands,
    policy_commands,
    token_commands,
    wrap_commands,
)
from vaultlet.cli.context import GLOBAL_FLAGS, OUTPUT_FORMATS, CommandError, Context
from vaultlet.cli.flags import FlagError, HelpRequested, describe, parse_arguments
from vaultlet.cli.registry import COMMANDS, Command, find, subcommands

PROGRAM = "vaultlet"
# mitchellh/cli's exit code when no command matched.
EXIT_UNKNOWN_COMMAND = 127
EXIT_INTERRUPTED = 130
# 128 + SIGPIPE, what a shell reports for a Go program whose reader went away.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vaultlet`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["server"]:
        # Imported lazily: the server pulls in far more than the client needs.
        from vaultlet.server import main as server_main

        return server_main(arguments[1:])
    try:
        return run(arguments, env=os.environ, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)
    except BrokenPipeError:
        # The reader went away (`vaultlet read ... | head -1`): finish quietly, as a Go CLI killed by
        # SIGPIPE would, instead of failing again while flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def run(
    arguments: Sequence[str], *, env: Mapping[str, str], stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """Run one client command and return its exit code."""
    found, rest = find(arguments)
    if found is None:
        return _unknown_command(arguments, stdout, stderr)
    try:
        parsed = parse_arguments(rest, (*GLOBAL_FLAGS, *found.flags))
    except HelpRequested:
        print(command_help(found), file=stdout)
        return 0
    except FlagError as error:
        print(error, file=stderr)
        return 1
    ctx = Context(parsed.positional, parsed.flags, env, stdin, stdout, stderr, parsed.given)
    if ctx.output_format not in OUTPUT_FORMATS:
        print(f"Invalid output format: {ctx.output_format}", file=stderr)
        return 1
    try:
        return found.handler(ctx)
    except CommandError as error:
        print(error, file=stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _unknown_command(arguments: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    if arguments[:1] in (["-h"], ["-help"], ["--help"], ["help"]):
        print(overview(), file=stdout)
        return 0
    group = subcommands(arguments[:1]) if arguments else []
    if group:
        print(group_help(arguments[0], group), file=stderr)
        return 1
    print(overview(), file=stderr)
    return EXIT_UNKNOWN_COMMAND


def overview() -> str:
    names = sorted({words[0] for words in COMMANDS})
    lines = [f"Usage: {PROGRAM} <command> [args]", "", "Commands:"]
    for name in names:
        single = COMMANDS.get((name,))
        synopsis = single.synopsis if single else f"Subcommands: {', '.join(_group_members(name))}"
        lines.append(f"    {name:<12}{synopsis}")
    lines.append(f"    {'server':<12}Start a vaultlet server")
    return "\n".join(lines)


def _group_members(name: str) -> list[str]:
    return [found.words[1] for found in subcommands([name]) if len(found.words) > 1]


def group_help(name: str, members: list[Command]) -> str:
    lines = [f"Usage: {PROGRAM} {name} <subcommand> [options] [args]", "", "Subcommands:"]
    lines += [f"    {found.words[-1]:<10}{found.synopsis}" for found in members]
    return "\n".join(lines)


def command_help(found: Command) -> str:
    sections = [f"Usage: {PROGRAM} {found.name} {found.usage}".rstrip(), f"  {found.synopsis}."]
    if found.flags:
        sections.append("Command Options:\n\n" + describe(found.flags))
    sections.append("Global Options:\n\n" + describe(GLOBAL_FLAGS))
    return "\n\n".join(sections)
