"""Render API responses exactly as the Vault CLI prints them.

The Vault CLI decodes every response into Go values and prints them with
``fmt``'s ``%v`` verb inside columnized tables, or re-encodes them with
``encoding/json``.  The helpers here reproduce those conventions (``<nil>``,
``map[k:v]``, ``[a b]``, ``n/a`` for empty cells, sorted map keys, HTML-escaped
JSON) so that scripts written against ``vault``/``bao`` keep working.
Everything in this module is pure: it returns strings and never writes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from vaultlet.durations import format_human

# columnize's defaults as configured by the Vault CLI.
COLUMN_GLUE = "    "
EMPTY_CELL = "n/a"
# The Vault CLI wraps prose (warnings, success banners) at this width.
MAX_LINE_LENGTH = 78
# kr/text adds this penalty to lines that cannot be made short enough.
_OVERLONG_LINE_PENALTY = 100_000

WARNINGS_HEADER = "WARNING! The following warnings were returned from Vault:"

# Field order and zero values of the Go structs the CLI re-serialises (api.Secret et al.).
SECRET_FIELDS = {
    "request_id": "",
    "lease_id": "",
    "lease_duration": 0,
    "renewable": False,
    "data": None,
    "warnings": None,
}
AUTH_FIELDS = {
    "client_token": "",
    "accessor": "",
    "policies": None,
    "token_policies": None,
    "identity_policies": None,
    "metadata": None,
    "orphan": False,
    "entity_id": "",
    "lease_duration": 0,
    "renewable": False,
    "mfa_requirement": None,
}
WRAP_INFO_FIELDS = {
    "token": "",
    "accessor": "",
    "ttl": 0,
    "creation_time": "",
    "creation_path": "",
    "wrapped_accessor": "",
}


def go_value(value: Any) -> str:
    """Go's ``fmt.Sprintf("%v", v)`` for a value decoded from JSON."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    if isinstance(value, dict):
        # fmt prints map keys in sorted order.
        return "map[" + " ".join(f"{key}:{go_value(value[key])}" for key in sorted(value)) + "]"
    return str(value)


def go_quoted_list(values: Sequence[str] | None) -> str:
    """Go's ``%q`` for a ``[]string``: ``["default" "p1"]``; nil prints as ``[]``."""
    return "[" + " ".join(json.dumps(value, ensure_ascii=False) for value in values or ()) + "]"


def looks_like_duration(key: str) -> bool:
    """The keys whose integer values the Vault CLI shows as durations (``ttl``, ``*_period``...)."""
    return key in ("period", "ttl", "duration", "lease_max", "ttl_max") or key.endswith(
        ("_period", "_ttl", "_duration")
    )


def human_duration(value: Any) -> Any:
    """Integer seconds become ``768h``/``1h30m``; anything else (``"1h"``, floats) is left alone."""
    if isinstance(value, int) and not isinstance(value, bool):
        return format_human(value)
    return value


def columnize(rows: Iterable[Sequence[str]]) -> str:
    """Align rows into columns like github.com/ryanuber/columnize with the Vault CLI's settings."""
    cells = [[cell.strip() or EMPTY_CELL for cell in row] for row in rows]
    widths: list[int] = []
    for row in cells:
        for index, cell in enumerate(row):
            if index == len(widths):
                widths.append(len(cell))
            else:
                widths[index] = max(widths[index], len(cell))
    lines = []
    for row in cells:
        padded = [cell.ljust(widths[index]) for index, cell in enumerate(row[:-1])]
        lines.append(COLUMN_GLUE.join([*padded, row[-1]]) if row else "")
    return "\n".join(lines)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A columnized table whose header is underlined with dashes (``Key``/``---``)."""
    underline = ["-" * len(title) for title in header]
    return columnize([header, underline, *rows])


def key_value_table(rows: Iterable[tuple[str, Any]]) -> str:
    """The ``Key``/``Value`` table used for secrets; values are rendered with ``%v``."""
    return table(("Key", "Value"), [(key, go_value(value)) for key, value in rows])


def secret_rows(secret: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The rows of ``vault read``'s table: lease information, auth, wrapping, then sorted data."""
    return [
        *_lease_rows(secret),
        *_auth_rows(secret.get("auth")),
        *_wrap_info_rows(secret.get("wrap_info")),
        *data_rows(secret.get("data")),
    ]


def data_rows(data: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """Sorted ``key, value`` rows, with duration-looking integers humanised."""
    data = data or {}
    return [
        (key, human_duration(data[key]) if looks_like_duration(key) else data[key]) for key in sorted(data)
    ]


def _lease_rows(secret: Mapping[str, Any]) -> list[tuple[str, Any]]:
    duration = secret.get("lease_duration") or 0
    if duration <= 0:
        return []
    if not secret.get("lease_id"):
        # A TTL without a lease (KV's "ttl" key) is only a hint for clients to re-read.
        return [("refresh_interval", human_duration(duration))]
    return [
        ("lease_id", secret["lease_id"]),
        ("lease_duration", human_duration(duration)),
        ("lease_renewable", bool(secret.get("renewable"))),
    ]


def _auth_rows(auth: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    if auth is None:
        return []
    duration = auth.get("lease_duration") or 0
    metadata = auth.get("metadata") or {}
    return [
        ("token", auth.get("client_token", "")),
        ("token_accessor", auth.get("accessor", "")),
        # A zero duration is a root token, which never expires.
        ("token_duration", human_duration(duration) if duration else "∞"),
        ("token_renewable", bool(auth.get("renewable"))),
        ("token_policies", go_quoted_list(auth.get("token_policies"))),
        ("identity_policies", go_quoted_list(auth.get("identity_policies"))),
        ("policies", go_quoted_list(auth.get("policies"))),
        *((f"token_meta_{key}", metadata[key]) for key in sorted(metadata)),
    ]


def _wrap_info_rows(wrap_info: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    if wrap_info is None:
        return []
    rows = [
        ("wrapping_token:", wrap_info.get("token", "")),
        ("wrapping_accessor:", wrap_info.get("accessor", "")),
        ("wrapping_token_ttl:", human_duration(wrap_info.get("ttl", 0))),
        ("wrapping_token_creation_time:", wrap_info.get("creation_time", "")),
        ("wrapping_token_creation_path:", wrap_info.get("creation_path", "")),
    ]
    if wrap_info.get("wrapped_accessor"):
        rows.append(("wrapped_accessor:", wrap_info["wrapped_accessor"]))
    return rows


def secret_table(secret: Mapping[str, Any]) -> str | None:
    """The table ``vault read`` prints, or None when there is nothing to show."""
    rows = secret_rows(secret)
    return key_value_table(rows) if rows else None


def list_table(keys: Iterable[str]) -> str:
    """``vault list`` output: a sorted ``Keys`` column."""
    return table(("Keys",), [(key,) for key in sorted(keys)])


def warnings_text(warnings: Sequence[str] | None) -> str:
    """The ``WARNING!`` block the Vault CLI prints (to stderr) before a response."""
    if not warnings:
        return ""
    blocks = [wrap_at_length(f"* {warning}", padding=2) + "\n\n" for warning in warnings]
    return WARNINGS_HEADER + "\n\n" + "".join(blocks)


def sorted_keys(value: Any) -> Any:
    """Recursively sort mapping keys, as Go's encoding/json does for maps."""
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


def project(source: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Pick ``fields`` from a response in Go struct order, filling in Go zero values."""
    return {name: sorted_keys(source.get(name, zero)) for name, zero in fields.items()}


def secret_document(secret: Mapping[str, Any]) -> dict[str, Any]:
    """The secret as ``vault read -format=json`` re-serialises it (api.Secret field order)."""
    document = project(secret, SECRET_FIELDS)
    # api.Secret marks auth and wrap_info omitempty: they vanish when null.
    if secret.get("auth") is not None:
        document["auth"] = project(secret["auth"], AUTH_FIELDS)
    if secret.get("wrap_info") is not None:
        document["wrap_info"] = project(secret["wrap_info"], WRAP_INFO_FIELDS)
    return document


def to_json(value: Any) -> str:
    """Go's ``json.MarshalIndent(v, "", "  ")``, including its HTML-safe escaping."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    # These characters can only occur inside JSON strings, so plain replacement is safe.
    for character, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(character, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# What -field=NAME selects, per kind of response (command.RawField): NAME -> key in that block.
_AUTH_FIELD_SOURCES = {
    "token": "client_token",
    "token_accessor": "accessor",
    "token_duration": "lease_duration",
    "token_renewable": "renewable",
    "token_policies": "token_policies",
    "identity_policies": "identity_policies",
    "policies": "policies",
}
_WRAP_INFO_FIELD_SOURCES = {
    "wrapping_token": "token",
    "wrapping_accessor": "accessor",
    "wrapping_token_ttl": "ttl",
    "wrapping_token_creation_time": "creation_time",
    "wrapping_token_creation_path": "creation_path",
    "wrapped_accessor": "wrapped_accessor",
}
_ENVELOPE_FIELD_SOURCES = {
    "lease_duration": "lease_duration",
    "lease_id": "lease_id",
    "request_id": "request_id",
    "renewable": "renewable",
    "refresh_interval": "lease_duration",
}


def raw_field(secret: Mapping[str, Any], field: str) -> Any:
    """The value ``-field=NAME`` selects; None when absent (the CLI then fails)."""
    data = secret.get("data")
    # An auth (or wrapped) response answers for its own fields; anything else comes from data.
    for block_name, sources in (("auth", _AUTH_FIELD_SOURCES), ("wrap_info", _WRAP_INFO_FIELD_SOURCES)):
        block = secret.get(block_name)
        if block is not None:
            return block.get(sources[field]) if field in sources else _data_field(data, field)
    if field in _ENVELOPE_FIELD_SOURCES:
        source = _ENVELOPE_FIELD_SOURCES[field]
        return secret.get(source, SECRET_FIELDS[source])
    if field == "data" and data is not None:
        # KV v2 nests the payload under data.data; -field=data means that payload.
        return data.get("data", data)
    return _data_field(data, field)


def _data_field(data: Mapping[str, Any] | None, field: str) -> Any:
    return None if data is None else data.get(field)


def field_text(value: Any, output_format: str) -> str:
    """How ``-field`` prints a value: ``%v`` for tables, JSON or YAML otherwise."""
    if output_format == "table":
        return go_value(value)
    return to_yaml(value) if output_format == "yaml" else to_json(value)


class _GoYamlDumper(yaml.SafeDumper):
    """Emit YAML as the Vault CLI's (ghodss/yaml over go-yaml v2) does: keys sorted, block
    style, and strings that need quoting in double quotes rather than PyYAML's single ones."""

    def choose_scalar_style(self):
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _represent_go_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # go-yaml v2 also reads y/Y/n/N as booleans, so it quotes them where PyYAML would not.
    if value in ("y", "Y", "n", "N"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_GoYamlDumper.add_representer(str, _represent_go_str)


def to_yaml(value: Any) -> str:
    """The Vault CLI's ``-format=yaml``: the JSON document, re-encoded as YAML."""
    text = yaml.dump(
        _go_yaml_order(value),
        Dumper=_GoYamlDumper,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
        sort_keys=False,  # in go-yaml's order already
    )
    return text.removesuffix("\n").removesuffix("...").rstrip("\n")


def _go_yaml_order(value: Any) -> Any:
    """Mapping keys in go-yaml v2's order, recursively (JSON's order is plain string order)."""
    if isinstance(value, dict):
        return {key: _go_yaml_order(value[key]) for key in sorted(value, key=_GO_YAML_KEY)}
    if isinstance(value, list):
        return [_go_yaml_order(item) for item in value]
    return value


def _go_yaml_less(a: str, b: str) -> bool:
    """go-yaml v2's ``keyList.Less`` (sorter.go) for string keys: at the first difference a
    non-letter sorts before a letter, and runs of digits compare as numbers, so
    ``params-46c…`` comes before ``params-4261…`` and ``a9`` before ``a10``."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x == y:
            continue
        x_letter, y_letter = x.isalpha(), y.isalpha()
        if x_letter and y_letter:
            return x < y
        if x_letter or y_letter:
            return y_letter
        a_number = b_number = 0
        if x == "0" or y == "0":  # a zero inside a number is not a leading zero
            for j in range(i - 1, -1, -1):
                if not a[j].isdecimal():
                    break
                if a[j] != "0":
                    a_number = b_number = 1
                    break
        a_end, a_number = _digit_run(a, i, a_number)
        b_end, b_number = _digit_run(b, i, b_number)
        if a_number != b_number:
            return a_number < b_number
        if a_end != b_end:
            return a_end < b_end
        return x < y
    return len(a) < len(b)


def _digit_run(text: str, start: int, number: int) -> tuple[int, int]:
    """Where the digits from ``start`` end and their value, accumulated as Go's int64 does
    (wrapping on overflow)."""
    end = start
    while end < len(text) and text[end].isdecimal():
        number = (number * 10 + ord(text[end]) - ord("0")) & _UINT64
        end += 1
    return end, number - (1 << 64) if number >> 63 else number


_UINT64 = (1 << 64) - 1


def _go_yaml_compare(a: str, b: str) -> int:
    return -1 if _go_yaml_less(a, b) else (1 if _go_yaml_less(b, a) else 0)


_GO_YAML_KEY = functools.cmp_to_key(_go_yaml_compare)


def wrap_at_length(text: str, padding: int = 0) -> str:
    """Wrap prose like the Vault CLI (kr/text's minimum-raggedness wrap at 78 columns)."""
    words = text.strip().replace("\n", " ").split(" ")
    lines = _least_ragged_lines(words, MAX_LINE_LENGTH - padding)
    return "\n".join(" " * padding + " ".join(line) for line in lines)


def _least_ragged_lines(words: list[str], limit: int) -> list[list[str]]:
    """Break words into lines minimising the sum of squared slack (the last line is free)."""
    count = len(words)
    cost = [0] * (count + 1)
    next_break = [count] * (count + 1)
    for start in range(count - 1, -1, -1):
        length = len(words[start])
        best = None
        for end in range(start + 1, count + 1):
            if end > start + 1:
                length += 1 + len(words[end - 1])
            if end == count:
                if length <= limit or best is None:
                    best, next_break[start] = 0, count
                break
            slack = limit - length
            candidate = slack * slack + cost[end] + (_OVERLONG_LINE_PENALTY if length > limit else 0)
            if best is None or candidate < best:
                best, next_break[start] = candidate, end
        cost[start] = best or 0
    lines, start = [], 0
    while start < count:
        lines.append(words[start : next_break[start]])
        start = next_break[start]
    return lines
