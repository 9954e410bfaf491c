"""How a backend declares an endpoint: one ``Path`` holds its whole contract."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from vaultlet.framework.fields import Field
from vaultlet.framework.schema import InputValidator

# Vault's GenericNameRegex / GenericNameWithAtRegex, used for role names.
GENERIC_NAME = r"\w(?:[\w\-.]*\w)?"
GENERIC_NAME_WITH_AT = r"\w(?:[\w\-.@]*\w)?"


def named(name: str, pattern: str = GENERIC_NAME) -> str:
    return rf"(?P<{name}>{pattern})"


@dataclass(frozen=True)
class Operation:
    handler: Callable[..., Any]
    summary: str = ""


@dataclass
class Path:
    """An endpoint: URL pattern (relative to the mount), fields, operations, help.

    ``exists`` is Vault's existence check: it decides whether a write is a
    ``create`` or an ``update`` (which matters for ACLs). ``unauthenticated``
    paths need no token (logins, health); ``sudo`` paths need the sudo
    capability on top of the operation's own.
    """

    pattern: str
    operations: dict[str, Operation | Callable[..., Any]]
    fields: dict[str, Field] = field(default_factory=dict)
    exists: Callable[..., bool] | None = None
    synopsis: str = ""
    description: str = ""
    unauthenticated: bool = False
    sudo: bool = False
    # Vault's TakesArbitraryInput: keys beyond the declared fields are data (KV).
    arbitrary_input: bool = False

    @cached_property
    def regex(self) -> re.Pattern:
        return re.compile(f"^{self.pattern}$")

    @cached_property
    def validator(self) -> InputValidator:
        return InputValidator(self.fields, warn_unknown=not self.arbitrary_input)

    def operation(self, name: str) -> Operation | None:
        op = self.operations.get(name)
        if op is None:
            return None
        return op if isinstance(op, Operation) else Operation(op)

    def help_text(self, request_path: str) -> str:
        """Vault's help text of a path (``?help=1``, ``bao path-help``), in its layout."""
        synopsis = self.synopsis.strip()
        lines = [f"Request:        {request_path}", f"Matching Route: ^{self.pattern}$", "", synopsis, ""]
        if self.fields:
            lines.append("## PARAMETERS")
            for name, fld in sorted(self.fields.items()):
                description = fld.description.strip() or "<no description>"
                lines += ["", f"    {name} ({_HELP_TYPES.get(fld.type.name, fld.type.name)})", ""]
                lines += [f"        {line}" if line else "" for line in description.splitlines()]
        lines += ["", "## DESCRIPTION", "", self.description.strip() or synopsis]
        return "\n".join(lines)


# Vault's names of field types in help text.
_HELP_TYPES = {
    "lowercase_string": "lowercase string",
    "duration": "duration (sec)",
    "comma_string_slice": "slice",
    "string_slice": "slice",
    "kv_pairs": "keypair",
}
