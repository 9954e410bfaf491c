"""What a command needs while it runs: its arguments, the client and the output streams."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TextIO

from vaultlet.cli import output
from vaultlet.cli.client import ClientConfig, ClientError, Secret, VaultClient, environment_value
from vaultlet.cli.flags import Flag, FlagKind

OUTPUT_FORMATS = ("table", "json", "yaml")

# Accepted by every command, as the Vault CLI's HTTP and output flag sets are.
GLOBAL_FLAGS = (
    Flag("address", FlagKind.STRING, "Address of the server (default: $VAULT_ADDR)."),
    Flag("ca-cert", FlagKind.STRING, "PEM file used to verify the server's certificate ($VAULT_CACERT)."),
    Flag("tls-skip-verify", FlagKind.BOOL, "Do not verify TLS certificates. Not recommended."),
    Flag(
        "format",
        FlagKind.STRING,
        'Output format: "table", "json" or "yaml" (default: $VAULT_FORMAT or table).',
    ),
    Flag("field", FlagKind.STRING, "Print only the named field, raw, without a trailing newline."),
    Flag(
        "wrap-ttl",
        FlagKind.DURATION,
        "Wrap the response in a single-use token with this TTL ($VAULT_WRAP_TTL); "
        "unwrap it with `vaultlet unwrap`.",
    ),
)


class CommandError(Exception):
    """Ends the command: the message goes to stderr and the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CommandError):
    """Bad arguments; the Vault CLI exits with 1 for these."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=1)


@contextmanager
def reporting(action: str) -> Iterator[None]:
    """Turn a failed API call into ``<action>: Error making API request...`` and exit code 2."""
    try:
        yield
    except ClientError as error:
        raise CommandError(f"{action}: {error}") from None


@dataclass
class Context:
    args: list[str]
    flags: dict[str, Any]
    env: Mapping[str, str]
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    # Flags the user actually typed (as opposed to defaults).
    given: set[str] = field(default_factory=set)

    @property
    def output_format(self) -> str:
        return self.flags.get("format") or environment_value(self.env, "FORMAT") or "table"

    @property
    def field(self) -> str | None:
        return self.flags.get("field") or None

    @cached_property
    def client(self) -> VaultClient:
        config = ClientConfig.from_environment(
            self.env,
            address=self.flags.get("address"),
            ca_cert=self.flags.get("ca-cert"),
            skip_verify=bool(self.flags.get("tls-skip-verify")),
            wrap_ttl=self.flags.get("wrap-ttl"),
        )
        return VaultClient(config)

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)

    def output_secret(self, secret: Secret | None) -> int:
        """Print a response the way ``vault read`` does, honouring -field and -format."""
        if secret is None:
            return 0
        if self.field:
            return self.print_field(secret)
        if self.output_format != "table":
            self.out(self.render(output.secret_document(secret)))
            return 0
        self.print_warnings(secret)
        table = output.secret_table(secret)
        if table:
            self.out(table)
        return 0

    def output_data(self, data: Any) -> int:
        """Print non-secret data (mount lists, seal status) in a machine format."""
        self.out(self.render(data))
        return 0

    def render(self, document: Any) -> str:
        """A document in the chosen machine format (-format=json or -format=yaml)."""
        return output.to_yaml(document) if self.output_format == "yaml" else output.to_json(document)

    def print_warnings(self, secret: Secret) -> None:
        text = output.warnings_text(secret.get("warnings"))
        if text:
            self.stderr.write(text)

    def print_field(self, secret: Secret) -> int:
        value = output.raw_field(secret, self.field or "")
        if value is None:
            raise UsageError(f'Field "{self.field}" not present in secret')
        return self.print_raw(output.field_text(value, self.output_format))

    def print_raw(self, text: str) -> int:
        """Like the Vault CLI: no trailing newline when piped, so ``$(...)`` gets the exact value."""
        self.stdout.write(text + ("\n" if self.stdout.isatty() else ""))
        return 0

    def require_arguments(self, minimum: int, maximum: int | None = None) -> list[str]:
        """Check the positional argument count with the Vault CLI's messages."""
        count = len(self.args)
        if count < minimum:
            raise UsageError(f"Not enough arguments (expected {minimum}, got {count})")
        if maximum is not None and count > maximum:
            raise UsageError(f"Too many arguments (expected {maximum}, got {count})")
        return self.args
