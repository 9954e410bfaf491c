"""Small helpers for the access-control tests: policies, tokens and KV mounts over HTTP."""

from __future__ import annotations

import uuid

from support.processes import ServerProcess, http


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(answer: tuple) -> dict | None:
    """The parsed body of a 200/204 answer; anything else fails the test with the body."""
    status, body, text = answer
    assert status in (200, 204), f"{status}: {text}"
    return body


def write_policy(server: ServerProcess, name: str, text: str) -> None:
    ok(http(server, "PUT", f"sys/policies/acl/{name}", {"policy": text}))


def token_with(
    server: ServerProcess, *policies: str, token: str | None = "", path_role: str = "", **request
) -> str:
    """A token with these policies plus default (only default when none are named; a token
    created without policies would inherit its creator's), created by root unless ``token`` says,
    through the token role ``path_role`` if given."""
    body = {"policies": list(policies) or ["default"], **request}
    path = f"auth/token/create/{path_role}" if path_role else "auth/token/create"
    body = ok(http(server, "POST", path, body, token=token))
    return body["auth"]["client_token"]


def enable_kv(server: ServerProcess, path: str | None = None) -> str:
    path = path or unique("kv")
    ok(http(server, "POST", f"sys/mounts/{path}", {"type": "kv"}))
    return path


def status_of(server: ServerProcess, method: str, path: str, body=None, token: str | None = "") -> int:
    return http(server, method, path, body, token=token)[0]
