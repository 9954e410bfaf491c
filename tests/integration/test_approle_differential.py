"""AppRole's role API against a real OpenBao: the same requests, the same answers.

Compared: status codes, and the whole ``data`` object with ids (role_id, secret IDs,
accessors) and times normalised. Deliberate differences (commented where they apply):

- a bare address in ``secret_id_bound_cidrs``: OpenBao answers 500, vaultlet 400 with the
  same message (bad input is a 4xx here; see README, Compatibility notes);
- OpenBao wraps some errors in Go's "1 error occurred" text; vaultlet sends the bare message.
"""

from __future__ import annotations

import json

import pytest

from support.access import unique
from support.processes import http

PER_FIELD = [
    ("policies", "token_policies", "x,y"),
    ("token-ttl", "token_ttl", "1h"),
    ("token-max-ttl", "token_max_ttl", "2h"),
    ("secret-id-ttl", "secret_id_ttl", "3m"),
    ("secret-id-num-uses", "secret_id_num_uses", 3),
    ("secret-id-bound-cidrs", "secret_id_bound_cidrs", "10.1.0.0/16"),
    ("token-bound-cidrs", "token_bound_cidrs", "10.2.0.0/16,127.0.0.1/32"),
    ("period", "token_period", "5m"),
    ("token-num-uses", "token_num_uses", 4),
]

_VOLATILE = (
    "role_id",
    "secret_id",
    "secret_id_accessor",
    "creation_time",
    "last_updated_time",
    "expiration_time",
)


def _normalised(body):
    if not isinstance(body, dict):
        return body
    data = body.get("data")
    if isinstance(data, dict):
        data = {k: ("<set>" if k in _VOLATILE and v else v) for k, v in data.items()}
    errors = [e.removeprefix("1 error occurred:\n\t* ").strip() for e in body.get("errors") or []]
    return {"data": data, "errors": errors or body.get("errors"), "warnings": body.get("warnings") or None}


# (method, path suffix) -> (vaultlet's status, OpenBao's status) where they differ on purpose.
DELIBERATE = {("POST", "role/app", '{"secret_id_bound_cidrs": "10.0.0.1"}'): (400, 500)}


def _sequence(mount: str) -> list[tuple]:
    role = f"{mount}/role/app"
    steps = [
        ("POST", role, {"token_policies": "a,b", "secret_id_bound_cidrs": "127.0.0.1/32,10.0.0.0/8"}),
        ("GET", role, None),
        ("POST", f"{mount}/role/bare", {"bind_secret_id": True}),
        ("GET", f"{mount}/role/bare", None),
        ("POST", role, {"token_bound_cidrs": "127.0.0.1/32, 10.0.0.0/8"}),
        ("GET", role, None),
        ("POST", role, {"secret_id_bound_cidrs": "10.0.0.1"}),
        ("POST", role, {"token_bound_cidrs": "10.0.0.1"}),
        ("GET", role, None),
        ("GET", f"{mount}/role/nope", None),
        ("GET", f"{mount}/role/nope/policies", None),
        ("GET", f"{mount}/role/nope/role-id", None),
        ("POST", f"{mount}/role/nope/secret-id", {}),
        ("GET", f"{role}/local-secret-ids", None),
        ("POST", f"{role}/local-secret-ids", {"local_secret_ids": True}),
    ]
    for path, name, value in PER_FIELD:
        steps += [
            ("POST", f"{role}/{path}", {name: value}),
            ("GET", f"{role}/{path}", None),
            ("DELETE", f"{role}/{path}", None),
            ("GET", f"{role}/{path}", None),
        ]
    return steps


def _answers(target, mount: str) -> list[tuple]:
    assert http(target, "POST", f"sys/auth/{mount}", {"type": "approle"})[0] == 204
    answers = []
    for method, path, body in _sequence(f"auth/{mount}"):
        status, parsed, _ = http(target, method, path, body)
        key = (method, path.split("/", 2)[2], json.dumps(body))
        if key in DELIBERATE:
            assert status == DELIBERATE[key][target.kind == "openbao"], (key, status)
            status = "deliberately different"
        answers.append((method, path, status, _normalised(parsed)))
    return answers


def test_approle_role_api_answers_as_openbao(server, openbao):
    mount = unique("approle")
    ours, theirs = _answers(server, mount), _answers(openbao, mount)
    differences = [
        (mine, reference) for mine, reference in zip(ours, theirs, strict=True) if mine != reference
    ]
    assert not differences, "\n".join(map(repr, differences))


@pytest.mark.parametrize("target_name", ["server", "openbao"])
def test_secret_id_cidrs_read_back_as_given(request, target_name):
    target = request.getfixturevalue(target_name)
    mount = unique("approle")
    assert http(target, "POST", f"sys/auth/{mount}", {"type": "approle"})[0] == 204
    role = f"auth/{mount}/role/app"
    assert http(target, "POST", role, {"secret_id_bound_cidrs": "127.0.0.0/8"})[0] == 204
    issued = http(
        target,
        "POST",
        f"{role}/secret-id",
        {"cidr_list": "127.0.0.1/32", "token_bound_cidrs": "127.0.0.1/32"},
    )[1]["data"]
    looked_up = http(target, "POST", f"{role}/secret-id/lookup", {"secret_id": issued["secret_id"]})[1][
        "data"
    ]
    assert looked_up["cidr_list"] == ["127.0.0.1/32"] and looked_up["token_bound_cidrs"] == ["127.0.0.1/32"]
