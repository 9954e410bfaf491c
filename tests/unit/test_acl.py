"""Unit tests for vaultlet.core.acl: parsing, error messages, precedence, check(), speed.

The expected error messages and capability answers were taken from OpenBao 2.7.2, and
tests/integration/test_acl_differential.py checks them against it again.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from support.acl_cases import PA, PB, PRECEDENCE_RULES, TIE_BREAK, synthetic_paths, synthetic_policies
from vaultlet.core.acl import (
    ACL,
    DEFAULT_POLICY_TEXT,
    ROOT_POLICY_NAME,
    Policy,
    PolicyError,
    RuleKind,
    parse_policy,
)


def acl_of(*texts: str) -> ACL:
    return ACL(parse_policy(f"p{index}", text) for index, text in enumerate(texts))


def only_rule(text: str):
    (rule,) = parse_policy("p", text).rules
    return rule


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "kind", "pattern"),
    [
        ("secret/data/x", RuleKind.EXACT, "secret/data/x"),
        ("secret/data/*", RuleKind.PREFIX, "secret/data/"),
        ("secret/da*", RuleKind.PREFIX, "secret/da"),
        ("*", RuleKind.PREFIX, ""),
        ("secret/+/x", RuleKind.SEGMENT, "secret/+/x"),
        ("secret/+/x*", RuleKind.SEGMENT, "secret/+/x*"),  # segment patterns keep their `*`
        ("+", RuleKind.SEGMENT, "+"),
        ("+/x", RuleKind.SEGMENT, "+/x"),
        ("secret/+b", RuleKind.SEGMENT, "secret/+b"),  # "/+" is enough for OpenBao
        ("secret/a+/x", RuleKind.EXACT, "secret/a+/x"),
        ("a/*/b", RuleKind.EXACT, "a/*/b"),  # `*` before the end is a plain character
        ("/lead/x", RuleKind.EXACT, "lead/x"),  # one leading slash is dropped
    ],
)
def test_path_kinds(written: str, kind: RuleKind, pattern: str):
    rule = only_rule(f'path "{written}" {{ capabilities = ["read"] }}')
    assert (rule.path, rule.kind, rule.pattern) == (written, kind, pattern)


def test_hcl_policy_keeps_every_rule_in_order():
    policy = parse_policy("pa", PA)
    assert isinstance(policy, Policy)
    assert policy.text == PA
    assert [rule.path for rule in policy.rules][:3] == [
        "aws-production/creds/*",
        "aws-production/creds/admin",
        "aws-production/creds/adm*",
    ]
    assert len(policy.rules) == 11


def test_json_policy():
    policy = parse_policy(
        "j", '{"path": {"a/*": {"capabilities": ["read", "list"]}, "b": {"policy": "write"}}}'
    )
    assert [(rule.path, rule.capabilities) for rule in policy.rules] == [
        ("a/*", ("read", "list")),
        ("b", ("create", "read", "update", "delete", "list")),
    ]


@pytest.mark.parametrize(
    ("legacy", "capabilities"),
    [
        ("deny", ("deny",)),
        ("read", ("read", "list")),
        ("write", ("create", "read", "update", "delete", "list")),
        ("sudo", ("create", "read", "update", "delete", "list", "sudo")),
    ],
)
def test_legacy_policy_keyword_maps_to_capabilities(legacy: str, capabilities: tuple[str, ...]):
    assert only_rule(f'path "x" {{ policy = "{legacy}" }}').capabilities == capabilities


def test_legacy_policy_adds_to_capabilities():
    rule = only_rule('path "x" {\n  policy = "read"\n  capabilities = ["patch"]\n}')
    assert rule.capabilities == ("read", "list", "patch")


def test_deny_discards_other_capabilities_and_skips_validation_after_it():
    rule = only_rule('path "x" { capabilities = ["read", "deny", "fly"] }')
    assert rule.capabilities == ("deny",)


def test_parameters_and_wrapping_limits_are_kept():
    rule = only_rule(
        """
        path "params/x" {
          capabilities = ["create"]
          required_parameters = ["name"]
          allowed_parameters = { "Name" = [], "ttl" = ["1h", 2] }
          denied_parameters = { "admin" = [] }
          min_wrapping_ttl = "1m"
          max_wrapping_ttl = 3600
          mfa_methods = ["totp"]
        }
        """
    )
    assert rule.required_parameters == ("name",)
    assert rule.allowed_parameters == {"name": [], "ttl": ["1h", 2]}  # names lower-cased like OpenBao
    assert rule.denied_parameters == {"admin": []}
    assert (rule.min_wrapping_ttl, rule.max_wrapping_ttl) == (60, 3600)
    assert rule.extra == {"mfa_methods": ["totp"]}


def test_odd_hcl_that_openbao_accepts():
    policy = parse_policy(
        "odd",
        'name = "ignored"\n'
        'path { capabilities = ["read"] }\n'
        'path "two" "labels" { capabilities = ["list"] }\n',
    )
    assert [(rule.path, rule.capabilities) for rule in policy.rules] == [
        ("path", ("read",)),
        ("two", ("list",)),
    ]


@pytest.mark.parametrize("text", ["", "# only a comment\n", 'path "x" {}'])
def test_policies_without_capabilities(text: str):
    assert all(rule.capabilities == () for rule in parse_policy("p", text).rules)


def test_templated_paths_are_marked_and_ignored_without_an_entity():
    policy = parse_policy("t", 'path "secret/{{identity.entity.id}}/*" { capabilities = ["read"] }')
    assert policy.templated
    assert ACL([policy]).capabilities("secret/{{identity.entity.id}}/x") == ["deny"]


def test_expired_paths_are_ignored():
    policy = parse_policy(
        "e",
        'path "old" {\n  capabilities = ["read"]\n  expiration = "2030-01-01T00:00:00Z"\n}',
    )
    assert ACL([policy], now=datetime(2029, 12, 31, tzinfo=UTC)).capabilities("old") == ["read"]
    assert ACL([policy], now=datetime(2030, 1, 2, tzinfo=UTC)).capabilities("old") == ["deny"]


def test_default_policy_grants():
    acl = ACL([parse_policy("default", DEFAULT_POLICY_TEXT)])
    assert acl.capabilities("auth/token/lookup-self") == ["read"]
    assert acl.capabilities("sys/leases/renew") == ["update"]
    assert acl.capabilities("cubbyhole/x") == ["create", "delete", "list", "read", "update"]
    assert acl.capabilities("identity/oidc/provider/p/authorize") == ["read", "update"]
    assert acl.capabilities("auth/token/create") == ["deny"]


# --------------------------------------------------------------------------------------------
# Errors (OpenBao's own wording, including its doubled "path" prefixes)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'path "x" { capabilities = ["fly"] }',
            'failed to parse policy: path "x": path "x": invalid capability "fly"',
        ),
        (
            'path "x" { capabilities = ["fly", "deny"] }',
            'failed to parse policy: path "x": path "x": invalid capability "fly"',
        ),
        (
            'path "x" { capabilities = ["root"] }',
            'failed to parse policy: path "x": path "x": invalid capability "root"',
        ),
        (
            'path "/a/+*" { capabilities = ["read"] }',
            'failed to parse policy: path "/a/+*": path "a/+*": '
            "invalid use of wildcards ('+*' is forbidden)",
        ),
        ('path "x" { policy = "fly" }', 'failed to parse policy: path "x": path "x": invalid policy "fly"'),
        (
            'path "x" {\n  capabilities = ["read"]\n  foo = 1\n}',
            'failed to parse policy: path "x": 1 error occurred:\n\t* invalid key "foo" on line 3\n\n',
        ),
        (
            "foo = 1\nbaz = 2\n",
            "failed to parse policy: 2 errors occurred:\n"
            '\t* invalid key "foo" on line 1\n\t* invalid key "baz" on line 2\n\n',
        ),
        (
            'path "x/{{nope" { capabilities = ["read"] }',
            'failed to parse policy: path "x/{{nope": '
            "failed to validate policy templating: unbalanced templating characters",
        ),
        (
            'path "x" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "10m"\n  max_wrapping_ttl = "1m"\n}',
            'failed to parse policy: path "x": max_wrapping_ttl cannot be less than min_wrapping_ttl',
        ),
        (
            'path "x" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "zz"\n}',
            'failed to parse policy: path "x": error parsing min_wrapping_ttl: time: invalid duration "zz"',
        ),
        (
            'path "x" {\n  capabilities = ["read"]\n  expiration = "nope"\n}',
            'failed to parse policy: path "x": path "x": invalid expiration time: '
            "could not parse string as date and time",
        ),
    ],
)
def test_error_messages_match_openbao(text: str, message: str):
    with pytest.raises(PolicyError) as raised:
        parse_policy("p", text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('path "x" {', "failed to parse policy: At 1:11: expected RBRACE got: EOF"),
        ('path "x" { capabilities = ["read"', "failed to parse policy: At 1:34: "),
        ('path "x" { capabilities = "read" }', 'failed to parse policy: path "x": path "x": capabilities'),
        # OpenBao's HCL 1 reader accepts truncated JSON; vaultlet deliberately does not.
        ('{"path": {"x": ', "failed to parse policy: "),
    ],
)
def test_syntax_errors(text: str, start: str):
    with pytest.raises(PolicyError) as raised:
        parse_policy("p", text)
    assert str(raised.value).startswith(start)


def test_policy_error_is_a_value_error():
    assert issubclass(PolicyError, ValueError)


# --------------------------------------------------------------------------------------------
# Precedence (vault-core.md §4.3)
# --------------------------------------------------------------------------------------------

PRECEDENCE_TABLE = [
    # path, pA alone, pA + pB
    ("aws-production/creds/foo", ["read"], ["read"]),
    ("aws-production/creds/admin", ["deny"], ["deny"]),
    ("aws-production/creds/adminx", ["read", "update"], ["read", "update"]),
    ("aws-production/creds/adm", ["read", "update"], ["read", "update"]),
    ("aws-production/creds", ["deny"], ["deny"]),
    ("aws-production/creds/", ["read"], ["read"]),
    ("aws-production/x/team-a", ["list"], ["list"]),
    ("aws-production/x/y/team-a", ["deny"], ["deny"]),
    ("aws-production/roles/x", ["delete"], ["delete"]),
    ("aws-production/roles/y", ["create"], ["create"]),
    ("aws-production/roles/y/z", ["deny"], ["deny"]),
    ("aws-production/sudo-thing", ["read", "sudo"], ["read", "sudo"]),
    ("aws-production/exact", ["read"], ["list", "read"]),
    ("kv/data/x", ["read"], ["update"]),
    ("kv/data/shared", ["read"], ["deny"]),
    ("sys/mounts", ["deny"], ["deny"]),
]


@pytest.mark.parametrize(("path", "pa_alone", "pa_and_pb"), PRECEDENCE_TABLE)
def test_precedence_table(path: str, pa_alone: list[str], pa_and_pb: list[str]):
    assert acl_of(PA).capabilities(path) == pa_alone
    assert acl_of(PA, PB).capabilities(path) == pa_and_pb
    assert acl_of(PB, PA).capabilities(path) == pa_and_pb  # policy order does not matter


@pytest.mark.parametrize(
    ("rule", "winner_path", "loser_path"),
    [
        ("a: first wildcard later", "r/foo/ab", "r/foo/b"),
        ("b: no trailing *", "r/bar/x/baz", "r/bar/x/bax"),
        ("b: + beats * at the same position", "r/glob/x", "r/glob/x/y"),
        ("c: fewer + segments", "r/qux/a/x/b", "r/qux/a/y/b"),
        ("d: longer", "r/len/x/bar/baz", "r/len/x/bar/bz"),
    ],
)
def test_comparison_rules(rule: str, winner_path: str, loser_path: str):
    # In PRECEDENCE_RULES the winning pattern of each pair grants read, the other one list; the
    # loser path matches only the list pattern.
    acl = acl_of(PRECEDENCE_RULES)
    assert acl.capabilities(winner_path) == ["read"], rule
    assert acl.capabilities(loser_path) == ["list"], rule


def test_comparison_rule_e_lexical_tie_break():
    # "+/b/+" and "+/+/c" tie on rules a-d for "a/b/c"; the lexically greater "+/b/+" wins.
    assert acl_of(TIE_BREAK).capabilities("a/b/c") == ["read"]


def test_identical_paths_union_and_deny_wipes():
    acl = acl_of(
        'path "s/x" { capabilities = ["read"] }\npath "s/+/y" { capabilities = ["list"] }',
        'path "s/x" { capabilities = ["update"] }\npath "s/+/y" { capabilities = ["deny"] }',
        'path "s/x" { capabilities = ["create"] }\npath "s/+/y" { capabilities = ["read"] }',
    )
    assert acl.capabilities("s/x") == ["create", "read", "update"]
    assert acl.capabilities("s/k/y") == ["deny"]


def test_exact_rule_without_capabilities_shadows_globs():
    assert acl_of('path "s/*" { capabilities = ["read"] }\npath "s/x" {}').capabilities("s/x") == ["deny"]


def test_star_matches_empty_suffix_and_crosses_slashes():
    acl = acl_of('path "s/adm*" { capabilities = ["read"] }')
    assert [acl.capabilities(path) for path in ("s/adm", "s/admin", "s/adm/x/y", "s/ad")] == [
        ["read"],
        ["read"],
        ["read"],
        ["deny"],
    ]


def test_plus_matches_exactly_one_segment_even_an_empty_one():
    acl = acl_of('path "s/+/x" { capabilities = ["read"] }')
    assert acl.capabilities("s/a/x") == ["read"]
    assert acl.capabilities("s//x") == ["read"]
    assert acl.capabilities("s/a/b/x") == ["deny"]


def test_segment_pattern_with_trailing_star():
    acl = acl_of('path "s/+/app-*" { capabilities = ["read"] }')
    assert acl.capabilities("s/t/app-") == ["read"]
    assert acl.capabilities("s/t/app-1/more") == ["read"]
    assert acl.capabilities("s/t/ap") == ["deny"]


def test_trailing_slash_for_list():
    acl = acl_of(
        'path "t/*" { capabilities = ["read"] }\npath "t/+" { capabilities = ["list"] }\n'
        'path "u/+" { capabilities = ["list"] }\npath "e/x" { capabilities = ["delete"] }'
    )
    assert acl.capabilities("e/x/") == ["delete"]  # exact rule found without the slash
    assert acl.capabilities("t/k/") == ["read"]  # a glob matches the full path, so no retry
    assert acl.capabilities("u/k/") == ["list"]  # nothing matches the full path: retried without "/"


def test_leading_slashes_are_ignored():
    acl = acl_of('path "/lead/x" { capabilities = ["read"] }')
    assert acl.capabilities("lead/x") == acl.capabilities("//lead/x") == ["read"]


def test_root_policy_allows_everything():
    acl = ACL([parse_policy(ROOT_POLICY_NAME, ""), parse_policy("pa", PA)])
    assert acl.capabilities("aws-production/creds/admin") == ["root"]
    result = acl.check("sys/anything", "delete")
    assert (result.allowed, result.root_privs, result.is_root, result.granting_policies) == (
        True,
        True,
        True,
        ["root"],
    )


def test_no_policies_deny_everything():
    assert ACL([]).capabilities("secret/x") == ["deny"]
    assert not ACL([]).check("secret/x", "read").allowed


# --------------------------------------------------------------------------------------------
# The indexes against a line-by-line transliteration of OpenBao's acl.go
# --------------------------------------------------------------------------------------------


def openbao_capabilities(rules: list[tuple[str, list[str]]], path: str) -> list[str]:
    """NewACL + AllowOperation(List) + Capabilities from vault/acl.go, with no indexes at all."""
    tables: dict[str, dict[str, set[str]]] = {"exact": {}, "prefix": {}, "segment": {}}
    for raw, capabilities in rules:
        pattern = raw.removeprefix("/")
        if pattern == "+" or "/+" in pattern or pattern.startswith("+/"):
            table, key = tables["segment"], pattern
        elif pattern.endswith("*"):
            table, key = tables["prefix"], pattern[:-1]
        else:
            table, key = tables["exact"], pattern
        existing = table.get(key)
        if existing is None:
            table[key] = {"deny"} if "deny" in capabilities else set(capabilities)
        elif "deny" not in existing:
            table[key] = {"deny"} if "deny" in capabilities else existing | set(capabilities)

    def non_exact(path: str) -> set[str] | None:
        candidates = []  # (first wildcard, is prefix, wildcards, literal, capabilities)
        prefixes = [key for key in tables["prefix"] if path.startswith(key)]
        if prefixes:
            longest = max(prefixes, key=len)
            candidates.append((len(longest), True, 0, longest, tables["prefix"][longest]))
        parts = path.split("/")
        for full, capabilities in tables["segment"].items():
            is_prefix = full.endswith("*")
            literal = full[:-1] if is_prefix else full
            segments = literal.split("/")
            if len(parts) < len(segments) or (not is_prefix and len(parts) != len(segments)):
                continue
            last = len(segments) - 1
            if all(
                segment in ("+", parts[index])
                or (is_prefix and index == last and parts[index].startswith(segment))
                for index, segment in enumerate(segments)
            ):
                candidates.append((full.index("+"), is_prefix, segments.count("+"), literal, capabilities))
        if not candidates:
            return None
        # Go's less(): earlier wildcard, prefix, more wildcards, shorter, lexically smaller lose.
        return max(candidates, key=lambda c: (c[0], not c[1], -c[2], len(c[3]), c[3]))[4]

    path = path.lstrip("/")
    found = tables["exact"].get(path)
    if found is None:
        found = tables["exact"].get(path.removesuffix("/"))
    if found is None:
        found = non_exact(path)
    if found is None and path.endswith("/"):
        found = non_exact(path[:-1])
    if not found or "deny" in found:
        return ["deny"]
    return sorted(found)


def random_rules(rng: random.Random) -> list[tuple[str, list[str]]]:
    rules: list[tuple[str, list[str]]] = []
    count = rng.randint(1, 12)
    while len(rules) < count:
        pattern = "/".join(rng.choice(["a", "b", "ab", "+", ""]) for _ in range(rng.randint(1, 4)))
        pattern += rng.choice(["", "*"])
        if "+*" not in pattern:
            rules.append((pattern, rng.choice([["read"], ["list"], ["deny"], ["update", "sudo"], []])))
    return rules


def test_indexes_agree_with_a_plain_transliteration_of_openbao():
    rng = random.Random(11)
    disagreements = []
    for _ in range(400):
        rules = random_rules(rng)
        text = "\n".join(
            f'path "{pattern}" {{ capabilities = {json.dumps(grants)} }}' for pattern, grants in rules
        )
        acl = ACL([parse_policy("p", text)])
        for _ in range(16):
            path = "/".join(rng.choice(["a", "b", "ab", "abc", "", "+"]) for _ in range(rng.randint(1, 5)))
            path += rng.choice(["", "/"])
            expected = openbao_capabilities(rules, path)
            if acl.capabilities(path) != expected:
                disagreements.append(f"{rules} {path!r}: expected {expected}, got {acl.capabilities(path)}")
    assert not disagreements, "\n".join(disagreements[:20])


# --------------------------------------------------------------------------------------------
# check()
# --------------------------------------------------------------------------------------------


def test_check_reports_granting_policies_of_the_needed_capability():
    acl = ACL([parse_policy("pa", PA), parse_policy("pb", PB)])
    assert acl.check("aws-production/exact", "read").granting_policies == ["pa"]
    assert acl.check("aws-production/exact", "list").granting_policies == ["pb"]
    denied = acl.check("aws-production/exact", "update")
    assert (denied.allowed, denied.granting_policies) == (False, [])


def test_check_distinguishes_every_operation():
    acl = acl_of('path "x" { capabilities = ["create", "patch"] }')
    allowed = {
        op for op in ("create", "read", "update", "patch", "delete", "list") if acl.check("x", op).allowed
    }
    assert allowed == {"create", "patch"}


def test_check_sudo_sets_root_privs_and_deny_blocks():
    acl = ACL([parse_policy("pa", PA)])
    sudo = acl.check("aws-production/sudo-thing", "read")
    assert (sudo.allowed, sudo.root_privs) == (True, True)
    assert acl.check("aws-production/sudo-thing", "update").root_privs  # reported even when not allowed
    assert not acl.check("aws-production/creds/admin", "read").allowed


def test_check_trailing_slash_fallbacks_only_for_list():
    acl = acl_of(
        'path "dir/app" { capabilities = ["list", "read"] }\npath "u/+" { capabilities = ["list", "read"] }'
    )
    assert acl.check("dir/app/", "list").allowed
    assert not acl.check("dir/app/", "read").allowed
    assert acl.check("u/k/", "list").allowed
    assert not acl.check("u/k/", "read").allowed


def test_check_renew_and_revoke_need_update_and_help_is_always_allowed():
    acl = acl_of('path "sys/leases/renew" { capabilities = ["update"] }')
    assert acl.check("sys/leases/renew", "renew").allowed
    assert acl.check("anything", "help").allowed


def test_check_rejects_unknown_operations():
    with pytest.raises(ValueError, match="unknown operation"):
        acl_of(PA).check("x", "fly")


# --------------------------------------------------------------------------------------------
# Many policies at once (the speed of the same set is measured in `make bench`)
# --------------------------------------------------------------------------------------------


def test_synthetic_policy_set_grants_what_it_says():
    acl = ACL(synthetic_policies())
    paths = synthetic_paths(1000)
    granted = [path for path in paths if "/elsewhere/" not in path]
    assert granted and all(acl.check(path, "read").allowed for path in granted)
    assert not any(acl.check(path, "read").allowed for path in paths if "/elsewhere/" in path)
    assert not any(acl.check(path, "update").allowed for path in paths)
