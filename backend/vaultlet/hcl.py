"""HCL documents (server config, ACL policies) as plain Python data.

python-hcl2 keeps HCL string quotes in keys and values and marks blocks with
``__is_block__``; this normalises its output to what the text means.
"""

from __future__ import annotations

import json
from typing import Any

import hcl2


class HCLError(ValueError):
    pass


def loads(text: str) -> dict[str, Any]:
    """Parse HCL (or JSON, which is valid HCL) into plain dicts, lists and scalars."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return json.loads(stripped)
        except ValueError as error:
            raise HCLError(str(error)) from None
    try:
        return _clean(hcl2.loads(text))
    except Exception as error:  # noqa: BLE001 - python-hcl2 raises lark errors of several kinds
        raise HCLError(
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        ) from None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value[1:-1]
    return value


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def blocks(document: dict[str, Any], name: str) -> list[tuple[str, dict[str, Any]]]:
    """``storage "sqlite" { ... }`` blocks as (label, body) pairs, in order."""
    found = document.get(name) or []
    if isinstance(found, dict):
        found = [found]
    pairs = []
    for item in found:
        for label, body in item.items():
            pairs.append((label, body if isinstance(body, dict) else {}))
    return pairs
