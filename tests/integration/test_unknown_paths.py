"""Paths that nothing serves: the ACL answers first (403), as in Vault; only a token allowed on
the path learns that no handler exists there (404). Compared with a real OpenBao."""

from __future__ import annotations

import pytest

from support.access import token_with, unique, write_policy
from support.processes import http

PROBES = [
    ("GET", "nomount-{id}/secret"),
    ("POST", "nomount-{id}/secret"),
    ("DELETE", "nomount-{id}/secret"),
    ("LIST", "nomount-{id}/"),
    ("GET", "sys/no-such-endpoint-{id}"),
    ("POST", "sys/no-such-endpoint-{id}"),
    ("GET", "auth/no-such-method-{id}/login"),
]


def _statuses(target, method: str, path: str, policy: str) -> dict[str, int]:
    write_policy(
        target,
        policy,
        f'path "{path.rstrip("/")}*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}',
    )
    body = {"a": "b"} if method == "POST" else None
    tokens = {
        "default token": token_with(target, "default"),
        "allowed token": token_with(target, policy),
        "root": "",
    }
    return {name: http(target, method, path, body, token=token)[0] for name, token in tokens.items()}


@pytest.mark.parametrize(("method", "template"), PROBES)
def test_unknown_paths_answer_as_openbao(server, openbao, method, template):
    path, policy = template.format(id=unique("x")), unique("allow-nomount")
    ours, theirs = _statuses(server, method, path, policy), _statuses(openbao, method, path, policy)
    assert ours == theirs
    assert ours["default token"] == 403 and ours["root"] in (404, 405)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("sys/mounts/sys", 'cannot unmount "sys/"'),
        ("sys/mounts/cubbyhole", 'cannot unmount "cubbyhole/"'),
        ("sys/auth/token", "token credential backend cannot be disabled"),
        ("sys/mounts/nothing-mounted-here", None),
    ],
)
def test_built_in_mounts_cannot_be_disabled(server, openbao, path, message):
    for target in (server, openbao):
        status, body, _ = http(target, "DELETE", path)
        assert (status, body["errors"] if body else None) == ((400, [message]) if message else (204, None))
    assert "sys/" in http(server, "GET", "sys/mounts")[1]["data"]
