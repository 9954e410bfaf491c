"""OpenAPI 3.0 document generated from the path declarations (sys/internal/specs/openapi)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, LIST, PATCH, READ, UPDATE

_HTTP_METHOD = {READ: "get", UPDATE: "post", CREATE: "post", DELETE: "delete", PATCH: "patch"}


def _closing(pattern: str, start: int) -> int:
    """Index of the parenthesis closing the group opened at ``start``."""
    depth = 0
    index = start
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ValueError(f"unbalanced pattern {pattern!r}")


def expand_pattern(pattern: str) -> list[str]:
    """OpenAPI templates for a path regex: named groups become ``{name}`` and an
    optional group ``(?:...)?`` yields one template without and one with it."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if pattern.startswith("(?P<", index):
            end = _closing(pattern, index)
            name = pattern[index + 4 : pattern.index(">", index)]
            return expand_pattern(pattern[:index] + "{" + name + "}" + pattern[end + 1 :])
        if pattern.startswith("(?:", index):
            end = _closing(pattern, index)
            inner, rest = pattern[index + 3 : end], pattern[end + 1 :]
            if rest.startswith("?"):
                head = pattern[:index]
                return expand_pattern(head + rest[1:]) + expand_pattern(head + inner + rest[1:])
            return expand_pattern(pattern[:index] + inner + rest)
        index += 1
    text = re.sub(r"/\?$", "", pattern).replace("/?", "/").replace("\\", "")
    return [re.sub(r"[$^?]", "", text)]


def _request_body(body_fields: dict) -> dict:
    schema: dict = {
        "type": "object",
        "properties": {name: field.openapi_schema() for name, field in sorted(body_fields.items())},
    }
    required = sorted(name for name, field in body_fields.items() if field.required)
    if required:
        schema["required"] = required
    return {"content": {"application/json": {"schema": schema}}}


def _operation(path: Path, op_name: str, path_params: list[str]) -> dict:
    operation = path.operation(op_name)
    item: dict = {
        "summary": operation.summary if operation and operation.summary else path.synopsis.strip(),
        "responses": {"200": {"description": "OK"}, "204": {"description": "empty body"}},
    }
    body_fields = {name: field for name, field in path.fields.items() if name not in path_params}
    if op_name in (UPDATE, CREATE, PATCH) and body_fields:
        item["requestBody"] = _request_body(body_fields)
    if op_name == LIST:
        item["parameters"] = [
            {"name": "list", "in": "query", "required": True, "schema": {"type": "string", "enum": ["true"]}}
        ]
    return item


def _path_parameters(path: Path, names: list[str]) -> list[dict]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": path.fields[name].description if name in path.fields else "",
            "schema": {"type": "string"},
        }
        for name in names
    ]


def path_items(mount_path: str, paths: Iterable[Path]) -> dict[str, dict]:
    items: dict[str, dict] = {}
    for path in paths:
        for template in expand_pattern(path.pattern):
            _add_path_item(items, "/" + mount_path + template, path)
    return items


def _add_path_item(items: dict[str, dict], template: str, path: Path) -> None:
    """Add one declaration's operations under ``template``; LIST goes to the
    trailing-slash form, as Vault documents it."""
    params = re.findall(r"{(\w+)}", template)
    for op_name in path.operations:
        if op_name == LIST:
            target, method = template.rstrip("/") + "/", "get"
        else:
            target, method = template, _HTTP_METHOD.get(op_name)
        if method is None:
            continue
        entry = items.setdefault(target, {"description": path.synopsis.strip()})
        if params:
            entry["parameters"] = _path_parameters(path, params)
        if path.unauthenticated:
            entry["x-vault-unauthenticated"] = True
        if path.sudo:
            entry["x-vault-sudo"] = True
        entry.setdefault(method, _operation(path, op_name, params))


def document(path_items_by_mount: dict[str, dict], version: str) -> dict:
    paths: dict[str, dict] = {}
    for items in path_items_by_mount.values():
        paths.update(items)
    return {
        "openapi": "3.0.2",
        "info": {
            "title": "vaultlet",
            "description": "HTTP API that gives you full access to vaultlet (Vault-compatible).",
            "version": version,
            "license": {"name": "MPL-2.0"},
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {}},
    }
