"""ACL parameter rules (``required_parameters``, ``allowed_parameters``, ``denied_parameters``)
decided by vaultlet and by a real OpenBao on the same (policies, request) pairs.

Seeded random policies put the three rules on one KV path, in one or two policies (so the
merge across policies is exercised), and seeded random requests write or read that path
with parameters of several JSON types. Each server answers every request; the test compares
"denied" (403) against "allowed" (anything else). No deliberate differences.
"""

from __future__ import annotations

import json
import random

from support.access import token_with, unique, write_policy
from support.processes import http

NAMES = ["a", "b", "Mixed", "*"]
POLICY_VALUES = ["x", "y*", "*z", "*mid*", 1, True, "1"]
REQUEST_VALUES = ["x", "yes", "fooz", "amidb", "q", 1, True, "1", ["x"], {"k": "v"}]


def _hcl_value(value) -> str:
    return json.dumps(value)


def _random_map(rng: random.Random) -> dict[str, list]:
    chosen = rng.sample(NAMES, rng.randint(1, 3))
    return {name: rng.sample(POLICY_VALUES, rng.choice([0, 0, 1, 2])) for name in chosen}


def _random_rule(rng: random.Random, path: str) -> str:
    lines = [f'path "{path}" {{', '  capabilities = ["create", "read", "update", "patch"]']
    if rng.random() < 0.35:
        required = rng.sample(["a", "b", "Mixed"], rng.randint(1, 2))
        lines.append(f"  required_parameters = {json.dumps(required)}")
    for kind in ("allowed_parameters", "denied_parameters"):
        if rng.random() < 0.6:
            entries = ", ".join(
                f"{json.dumps(name)} = [{', '.join(map(_hcl_value, values))}]"
                for name, values in _random_map(rng).items()
            )
            lines.append(f"  {kind} = {{ {entries} }}")
    lines.append("}")
    return "\n".join(lines)


def _random_request(rng: random.Random) -> dict:
    names = rng.sample(["a", "b", "mixed", "Mixed", "other"], rng.randint(0, 3))
    return {name: rng.choice(REQUEST_VALUES) for name in names}


def _cases(seed: int, count: int, mount: str):
    rng = random.Random(seed)
    for index in range(count):
        path = f"{mount}/p{index}"
        rules = [_random_rule(rng, path) for _ in range(rng.choice([1, 1, 2]))]
        requests = [_random_request(rng) for _ in range(12)]
        yield index, rules, requests


def _decisions(server, mount: str, cases) -> list[tuple]:
    decisions = []
    for index, rules, requests in cases:
        names = []
        for number, rule in enumerate(rules):
            name = f"{mount}-{index}-{number}"
            write_policy(server, name, rule)
            names.append(name)
        token = token_with(server, *names)
        for body in requests:
            status, _, text = http(server, "POST", f"{mount}/p{index}", body or {"filler": "x"}, token=token)
            decisions.append((index, "write", json.dumps(body, sort_keys=True), status == 403))
            query = "&".join(f"{k}={v}" for k, v in body.items() if isinstance(v, str))
            status, _, _ = http(
                server, "GET", f"{mount}/p{index}" + (f"?{query}" if query else ""), token=token
            )
            decisions.append((index, "read", query, status == 403))
    return decisions


def test_parameter_rules_decide_as_openbao(server, openbao):
    mount = unique("params")
    for target in (server, openbao):
        assert http(target, "POST", f"sys/mounts/{mount}", {"type": "kv"})[0] == 204
    cases = list(_cases(seed=20261201, count=45, mount=mount))
    ours = _decisions(server, mount, cases)
    theirs = _decisions(openbao, mount, cases)
    assert len(ours) == len(theirs) >= 1000
    differences = [
        (mine, reference, cases[mine[0]][1])
        for mine, reference in zip(ours, theirs, strict=True)
        if mine != reference
    ]
    assert not differences, "\n".join(map(repr, differences[:20]))
    denied = sum(1 for decision in ours if decision[3])
    assert 0.1 * len(ours) < denied < 0.9 * len(ours), "the cases should both allow and deny"


def test_a_restricted_parameter_cannot_be_smuggled_past_the_policy(server):
    """The defect this replaces: the rules were parsed and ignored, so this write went through."""
    mount = unique("params")
    assert http(server, "POST", f"sys/mounts/{mount}", {"type": "kv"})[0] == 204
    name = unique("only-ttl")
    write_policy(
        server,
        name,
        f'path "{mount}/app" {{ capabilities = ["create", "update"]\n'
        f'  allowed_parameters = {{ "ttl" = ["1h", "2h"] }}\n  denied_parameters = {{ "admin" = [] }} }}',
    )
    token = token_with(server, name)
    assert http(server, "POST", f"{mount}/app", {"ttl": "1h"}, token=token)[0] == 204
    status, body, _ = http(server, "POST", f"{mount}/app", {"ttl": "9h"}, token=token)
    assert status == 403 and body["errors"] == ["permission denied"]
    assert http(server, "POST", f"{mount}/app", {"ttl": "1h", "other": "x"}, token=token)[0] == 403
    assert http(server, "POST", f"{mount}/app", {"admin": True}, token=token)[0] == 403
