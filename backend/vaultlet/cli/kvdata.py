"""``key=value`` arguments, with the Vault CLI's file and stdin conventions.

This mirrors go-secure-stdlib's kv-builder, which ``vault write`` uses:

* ``key=value`` sets a string; repeating a key collects the values in a list;
* ``key=@path`` reads the value from a file (``key=\\@x`` is the literal ``@x``);
* ``key=-`` reads the value from stdin, e.g. ``policy_document=-<<EOF``;
* a lone ``-`` (or ``@path``) merges a JSON object read from stdin (or the file).

Stdin can be consumed only once per command.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO


class KeyValueError(ValueError):
    """An argument could not be turned into data."""


class KeyValueParser:
    """Accumulates data from arguments; keeps track of whether stdin was used."""

    def __init__(self, stdin: TextIO):
        self._stdin = stdin
        self._stdin_consumed = False
        self.data: dict[str, Any] = {}

    def add_all(self, arguments: Iterable[str]) -> dict[str, Any]:
        for position, argument in enumerate(arguments, start=1):
            try:
                self.add(argument)
            except (KeyValueError, OSError) as error:
                reason = f"error reading file: {error}" if isinstance(error, OSError) else str(error)
                raise KeyValueError(
                    f"invalid key/value pair {_describe(argument, position)}: {reason}"
                ) from None
        return self.data

    def add(self, argument: str) -> None:
        if argument == "":
            return
        key, separator, value = argument.partition("=")
        if not separator:
            self._merge_json(argument)
            return
        self._set(key, self._resolve(value))

    def _merge_json(self, argument: str) -> None:
        if argument == "-":
            text = self._read_stdin()
        elif argument.startswith("@"):
            text = _read_file(argument[1:])
        else:
            raise KeyValueError("format must be key=value")
        try:
            document = json.loads(text)
        except ValueError as error:
            raise KeyValueError(f"invalid JSON: {error}") from None
        if not isinstance(document, dict):
            raise KeyValueError("JSON input must be an object")
        self.data.update(document)

    def _resolve(self, value: str) -> str:
        if value.startswith("@"):
            return _read_file(value[1:])
        if value.startswith("\\@"):
            return value[1:]
        if value == "-":
            return self._read_stdin()
        return value

    def _read_stdin(self) -> str:
        if self._stdin_consumed:
            raise KeyValueError("stdin already consumed")
        self._stdin_consumed = True
        return self._stdin.read()

    def _set(self, key: str, value: Any) -> None:
        if key not in self.data:
            self.data[key] = value
            return
        existing = self.data[key]
        self.data[key] = [*existing, value] if isinstance(existing, list) else [existing, value]


def _describe(argument: str, position: int) -> str:
    """Name the faulty argument without echoing it: values are often secrets (Vault prints them)."""
    key, separator, _ = argument.partition("=")
    return f'for key "{key}"' if separator else f"(argument {position})"


def _read_file(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def parse_key_values(arguments: Iterable[str], stdin: TextIO) -> dict[str, Any]:
    """The data ``vault write`` would send for these arguments."""
    return KeyValueParser(stdin).add_all(arguments)


def weak_string(value: Any) -> str:
    """mapstructure's weak string conversion, used where the Vault CLI wants strings."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def parse_string_lists(arguments: Iterable[str], stdin: TextIO) -> dict[str, list[str]]:
    """Arguments as query parameters (``vault read PATH k=v``): every value becomes a list."""
    data = parse_key_values(arguments, stdin)
    return {
        key: [weak_string(item) for item in value] if isinstance(value, list) else [weak_string(value)]
        for key, value in data.items()
    }


def parse_strings(arguments: Iterable[str], stdin: TextIO) -> dict[str, str]:
    """Arguments as a string map (``login``, ``audit enable`` options)."""
    return {key: weak_string(value) for key, value in parse_key_values(arguments, stdin).items()}
