"""OpenAPI 3.0 documents generated from the path declarations.

The same declarations that route, validate and answer ``?help=1`` produce the
document, so it cannot drift from what is served: every declared path, every
operation it supports (``list`` as a ``get`` with ``?list=true``, as Vault
documents it), its path parameters, request body and responses. Served whole
at ``sys/internal/specs/openapi`` and per path in ``?help=1`` answers.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from vaultlet.framework.path import Path
from vaultlet.framework.request import CREATE, DELETE, LIST, PATCH, READ, UPDATE

TITLE = "vaultlet API"
DESCRIPTION = "HTTP API that gives you full access to vaultlet. All API routes are prefixed with `/v1/`."
_HTTP_METHOD = {READ: "get", LIST: "get", UPDATE: "post", CREATE: "post", DELETE: "delete", PATCH: "patch"}
_VERB = {READ: "read", LIST: "list", UPDATE: "write", CREATE: "write", DELETE: "delete", PATCH: "patch"}
_METHOD_ORDER = ("get", "post", "patch", "delete")
_LIST_ONLY = {
    "name": "list",
    "description": "Must be set to `true`",
    "in": "query",
    "schema": {"type": "string", "enum": ["true"]},
    "required": True,
}
_LIST_TOO = {
    "name": "list",
    "description": "Return a list if `true`",
    "in": "query",
    "schema": {"type": "string"},
}


@dataclass(frozen=True)
class MountView:
    """Where a backend's paths appear in a document.

    ``prefix`` is the mount as clients call it (``sys/``, ``auth/approle/``; empty
    in a ``?help=1`` answer, whose paths are relative to the mount). With
    ``generic`` set, the mount segment becomes the template parameter
    ``{<generic>_mount_path}`` (Vault's ``?generic_mount_paths=true``), its
    default the real mount.
    """

    prefix: str
    tag: str
    generic: str = ""
    default_mount: str = ""


# -- pattern -> templates -------------------------------------------------------


def _structure(text: str, start: int = 0):
    """(index, char, depth) of every character from ``start`` that is neither escaped nor
    inside a ``[...]`` class; ``depth`` is the group nesting after the character."""
    depth, index, in_class = 0, start, False
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            depth += {"(": 1, ")": -1}.get(char, 0)
            yield index, char, depth
        index += 1


def _closing(pattern: str, start: int) -> int:
    """Index of the parenthesis closing the group opened at ``start``."""
    for index, char, depth in _structure(pattern, start):
        if char == ")" and depth == 0:
            return index
    raise ValueError(f"unbalanced pattern {pattern!r}")


def _alternatives(text: str) -> list[str]:
    """``text`` split at its top-level ``|`` (not inside groups or classes)."""
    cuts = [index for index, char, depth in _structure(text) if char == "|" and depth == 0]
    bounds = [-1, *cuts, len(text)]
    return [text[low + 1 : high] for low, high in itertools.pairwise(bounds)]


def expand_pattern(pattern: str) -> list[str]:
    """OpenAPI templates for a path regex: named groups become ``{name}``, an optional
    group ``(?:...)?`` yields the template without and with it, alternatives yield one
    template each, and look-arounds (conditions, not text) are dropped."""
    results: list[str] = []
    for alternative in _alternatives(pattern):
        for template in _expand(alternative):
            if template not in results:
                results.append(template)
    return results


def _expand(pattern: str) -> list[str]:
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = pattern.index("]", index + 1) + 1
            continue
        if pattern.startswith("(?P<", index):
            end = _closing(pattern, index)
            name = pattern[index + 4 : pattern.index(">", index)]
            rest = pattern[end + 1 :]
            if rest.startswith("?"):  # an optional named group: without, and with it
                head = pattern[:index]
                return _expand(head + rest[1:]) + _expand(head + "{" + name + "}" + rest[1:])
            return _expand(pattern[:index] + "{" + name + "}" + rest)
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), index):
            end = _closing(pattern, index)
            return _expand(pattern[:index] + pattern[end + 1 :])
        if pattern.startswith("(", index):
            end = _closing(pattern, index)
            body = pattern[index + 3 : end] if pattern.startswith("(?:", index) else pattern[index + 1 : end]
            head, rest = pattern[:index], pattern[end + 1 :]
            optional = rest.startswith("?")
            if optional:
                rest = rest[1:]
            expanded = [head + rest] if optional else []
            for choice in _alternatives(body):
                expanded.append(head + choice + rest)
            return [template for text in expanded for template in _expand(text)]
        index += 1
    return [_clean(pattern)]


def _clean(text: str) -> str:
    text = text.lstrip("^").removesuffix("$")
    text = re.sub(r"/\?$", "", text).replace("/?", "/")
    text = text.replace("\\", "")
    return re.sub(r"[$^?]", "", text)


def sample_path(template: str) -> str:
    """A concrete path for a template (each parameter replaced by a segment value)."""
    return re.sub(r"{\w+}", "sample", template)


# -- path items -----------------------------------------------------------------


def path_items(view: MountView, paths: Iterable[Path], schemas: dict[str, dict]) -> dict[str, dict]:
    """The document's path items for one backend; request schemas go into ``schemas``."""
    items: dict[str, dict] = {}
    for path in paths:
        for template in expand_pattern(path.pattern):
            _add_path_item(items, view, template, path, schemas)
    return {key: _ordered(item) for key, item in items.items()}


def _mount_segment(view: MountView) -> str:
    if not view.generic:
        return "/" + view.prefix
    auth = "auth/" if view.prefix.startswith("auth/") else ""
    return f"/{auth}{{{view.generic}_mount_path}}/"


def _add_path_item(items: dict, view: MountView, relative: str, path: Path, schemas: dict) -> None:
    template = _mount_segment(view) + relative
    if template.endswith("/") and len(template) > 1:
        template = template.rstrip("/")
    params = re.findall(r"{(\w+)}", relative)
    entry = items.setdefault(template, {"description": path.synopsis.strip()})
    parameters = _path_parameters(path, params)
    if view.generic:
        parameters.append(
            {
                "name": f"{view.generic}_mount_path",
                "description": "Path that the backend was mounted at",
                "in": "path",
                "schema": {"type": "string", "default": view.default_mount},
                "required": True,
            }
        )
    if parameters:
        entry["parameters"] = parameters
    if path.unauthenticated:
        entry["x-vault-unauthenticated"] = True
    if path.sudo:
        entry["x-vault-sudo"] = True
    if CREATE in path.operations or path.exists is not None:
        entry["x-vault-createSupported"] = True
    body_fields = {name: fld for name, fld in path.fields.items() if name not in params}
    for op_name in path.operations:
        method = _HTTP_METHOD.get(op_name)
        if method is None or (method in entry and op_name != LIST):
            continue
        if op_name == LIST and method in entry:
            # A path that reads and lists: one `get`, with `list` an optional query parameter.
            entry[method].setdefault("parameters", []).insert(0, dict(_LIST_TOO))
            continue
        entry[method] = _operation(view, template, path, op_name, body_fields, schemas)


def _operation(view: MountView, template: str, path: Path, op_name: str, body_fields, schemas) -> dict:
    operation = path.operation(op_name)
    operation_id = _operation_id(op_name, template)
    item: dict = {
        "summary": (operation.summary if operation and operation.summary else path.synopsis.strip()),
        "operationId": operation_id,
        "tags": [view.tag],
    }
    if op_name == LIST:
        query = [dict(_LIST_TOO if READ in path.operations else _LIST_ONLY)]
        item["parameters"] = query
    elif op_name == READ and body_fields and not _writes(path):
        # Nothing else can carry these fields: they are the query string of the `get`.
        item["parameters"] = [_query_parameter(name, fld) for name, fld in sorted(body_fields.items())]
    elif op_name in (UPDATE, CREATE, PATCH) and body_fields:
        schema_name = _camel(operation_id) + "Request"
        schemas[schema_name] = _request_schema(body_fields)
        media = "application/merge-patch+json" if op_name == PATCH else "application/json"
        item["requestBody"] = {
            "required": True,
            "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
        }
    item["responses"] = _responses(op_name)
    if READ in path.operations and op_name == LIST:
        item["operationId"] = _operation_id(READ, template)
    return item


def _writes(path: Path) -> bool:
    return any(op in path.operations for op in (UPDATE, CREATE, PATCH))


def _responses(op_name: str) -> dict:
    if op_name in (READ, LIST):
        return {"200": {"description": "OK"}}
    if op_name == DELETE:
        return {"204": {"description": "empty body"}}
    return {"200": {"description": "OK"}, "204": {"description": "empty body"}}


def _query_parameter(name: str, fld) -> dict:
    schema = fld.openapi_schema()
    description = schema.pop("description", "")
    return {"name": name, "description": description, "in": "query", "schema": schema}


def _request_schema(body_fields: dict) -> dict:
    schema: dict = {
        "type": "object",
        "properties": {name: fld.openapi_schema() for name, fld in sorted(body_fields.items())},
    }
    required = sorted(name for name, fld in body_fields.items() if fld.required)
    if required:
        schema["required"] = required
    return schema


def _path_parameters(path: Path, names: list[str]) -> list[dict]:
    return [
        {
            "name": name,
            "description": path.fields[name].description if name in path.fields else "",
            "in": "path",
            "schema": {"type": "string"},
            "required": True,
        }
        for name in names
    ]


def _operation_id(op_name: str, template: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", template)
    return "-".join([_VERB[op_name], *(word.lower() for word in words)])


def _camel(operation_id: str) -> str:
    return "".join(word.capitalize() for word in operation_id.split("-"))


def _ordered(item: dict) -> dict:
    """Vault's key order: description, parameters, extensions, then the methods."""
    head = {key: value for key, value in item.items() if key not in _METHOD_ORDER}
    return {**head, **{method: item[method] for method in _METHOD_ORDER if method in item}}


# -- the document ------------------------------------------------------------------


def document(paths: dict[str, dict], schemas: dict[str, dict], version: str) -> dict:
    return {
        "openapi": "3.0.2",
        "info": {
            "title": TITLE,
            "description": DESCRIPTION,
            "version": version,
            "license": {"name": "Mozilla Public License 2.0", "url": "https://www.mozilla.org/en-US/MPL/2.0"},
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def backend_document(paths: Iterable[Path], tag: str, version: str) -> dict:
    """The document of one backend's paths, relative to its mount (``?help=1`` answers)."""
    schemas: dict[str, dict] = {}
    items = path_items(MountView(prefix="", tag=tag), paths, schemas)
    return document(items, schemas, version)
