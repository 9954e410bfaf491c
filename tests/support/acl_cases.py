"""ACL conformance data: policies, and the (policy set, path) probes to ask about.

Any implementation of `sys/capabilities` must give, for every probe, the answer OpenBao gives:
OpenBao itself, vaultlet's in-process `ACL`, or a vaultlet server over HTTP. The data is kept
apart from the test so that one corpus can serve them all.

Policy names are lower case because OpenBao lower-cases them when they are stored. Nothing
here imports vaultlet: the corpus must not borrow from the implementation it judges.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from vaultlet.core.acl import Policy, parse_policy

# The two policies behind the precedence table in vault-core.md §4.3 (openbao-captures/pA.hcl, pB.hcl).
PA = """
path "aws-production/creds/*" { capabilities = ["read"] }
path "aws-production/creds/admin" { capabilities = ["deny"] }
path "aws-production/creds/adm*" { capabilities = ["read", "update"] }
path "aws-production/+/team-a" { capabilities = ["list"] }
path "aws-production/roles/+" { capabilities = ["create"] }
path "aws-production/roles/x*" { capabilities = ["delete"] }
path "kv/data/*" { capabilities = ["read"] }
path "kv/data/shared" { capabilities = ["read"] }
path "aws-production/sudo-thing" { capabilities = ["read", "sudo"] }
path "aws-production/patchy" { capabilities = ["patch"] }
path "aws-production/exact" { capabilities = ["read"] }
"""

PB = """
path "kv/data/x" { capabilities = ["update"] }
path "kv/data/shared" { capabilities = ["deny"] }
path "aws-production/exact" { capabilities = ["list"] }
"""

# The AWS secrets engine walkthrough's policy.
WALKTHROUGH = """
path "aws/creds/app-s3-role" {
  capabilities = ["read"]
}
path "aws/creds/app-dynamo-role" {
  capabilities = ["read"]
}
path "aws/creds/admin-*" {
  capabilities = ["deny"]
}
"""

AWS_READER = """
# A broader grant on the same engine: the walkthrough's deny must still win where it is more specific.
path "aws/creds/*" { capabilities = ["read", "list"] }
path "aws/roles/*" { capabilities = ["list"] }
path "aws/creds/admin-*" { capabilities = ["read"] }
"""

GLOBS = """
path "secret/*" { capabilities = ["read", "list"] }
path "secret/team/*" { capabilities = ["create", "update"] }
path "secret/team/lead" { capabilities = ["read"] }
path "secret/te*" { capabilities = ["delete"] }
path "secret/empty-glob*" { capabilities = ["patch"] }
# A `*` that is not the last character is an ordinary character.
path "literal/*/star" { capabilities = ["read"] }
path "mid*dle/x*" { capabilities = ["update"] }
path "files/dir/" { capabilities = ["list"] }
"""

SEGMENTS = """
path "kv/+/config" { capabilities = ["read"] }
path "kv/+/+/deep" { capabilities = ["list"] }
path "kv/+/app-*" { capabilities = ["update"] }
path "kv/team-a/+" { capabilities = ["delete"] }
path "kv/*" { capabilities = ["patch"] }
path "kv/+/+" { capabilities = ["sudo"] }
path "kv/team-a/app-*" { capabilities = ["create"] }
path "+/shared/*" { capabilities = ["read"] }
# "+b" is not a whole segment: OpenBao files the path as a segment pattern but matches "+b" literally.
path "kv/+b/lit" { capabilities = ["create"] }
# No "/+" at all: an exact path that happens to contain "+".
path "kv/a+/x" { capabilities = ["read", "list"] }
"""

TRAILING = """
path "t/*" { capabilities = ["read"] }
path "t/+" { capabilities = ["list"] }
path "u/+" { capabilities = ["list"] }
path "v/+/w" { capabilities = ["update"] }
path "v/*" { capabilities = ["read"] }
path "e/x" { capabilities = ["delete"] }
path "e/*" { capabilities = ["read"] }
path "p/ab*" { capabilities = ["create"] }
path "p/a*" { capabilities = ["read"] }
"""

OVERLAP_A = """
path "shared/*" { capabilities = ["read"] }
path "shared/data" { capabilities = ["read"] }
path "shared/conf/*" { capabilities = ["read", "list"] }
path "shared/+/x" { capabilities = ["list"] }
path "shared/denied" { capabilities = ["update"] }
path "shared/both" { capabilities = ["create"] }
path "shared/+/y*" { capabilities = ["read"] }
"""

OVERLAP_B = """
path "shared/data" { capabilities = ["update"] }
path "shared/conf/*" { capabilities = ["deny"] }
path "shared/+/x" { capabilities = ["update"] }
path "shared/denied" { capabilities = ["deny"] }
path "shared/both" { capabilities = ["create", "sudo"] }
path "shared/+/y*" { capabilities = ["delete"] }
# An exact rule with no capabilities still shadows `shared/*`, so the answer is deny.
path "shared/empty" { capabilities = [] }
"""

SUDO_LEASES = """
path "sys/leases/revoke-prefix/*" { capabilities = ["update", "sudo"] }
path "sys/leases/revoke-force/*" { capabilities = ["update"] }
path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }
path "sys/audit*" { capabilities = ["read", "sudo"] }
path "auth/token/accessors/" { capabilities = ["list", "sudo"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""

ODD_CHARS = """
path "secret/data/user@example.com" { capabilities = ["read"] }
path "secret/data/v1.2.3/*" { capabilities = ["list"] }
path "secret/data/a-b_c.d" { capabilities = ["update"] }
path "secret/data/team-@-ops/+" { capabilities = ["read"] }
path "pki/issue/*.example.com" { capabilities = ["update"] }
path "secret/data/é*" { capabilities = ["create"] }
path "secret/data/~user:1=2" { capabilities = ["delete"] }
"""

NESTED = """
path "org/*" { capabilities = ["list"] }
path "org/dept/team/app/env/*" { capabilities = ["read"] }
path "org/dept/+/app/+/secret" { capabilities = ["update"] }
path "org/dept/+/app/prod/*" { capabilities = ["delete"] }
path "org/dept/team/app/env/prod/db/password" { capabilities = ["read", "sudo"] }
"""

LEGACY = """
path "old/r" { policy = "read" }
path "old/w" { policy = "write" }
path "old/s" { policy = "sudo" }
path "old/d" { policy = "deny" }
path "old/mixed" {
  policy = "read"
  capabilities = ["patch"]
}
"""

JSON_POLICY = """{
  "path": {
    "json/exact": {"capabilities": ["read", "update"]},
    "json/glob/*": {"capabilities": ["list"]},
    "json/+/seg": {"capabilities": ["delete"]}
  }
}"""

EXPIRY = """
path "exp/past" {
  capabilities = ["read"]
  expiration = "2001-01-01T00:00:00Z"
}
path "exp/future" {
  capabilities = ["read"]
  expiration = "2999-01-01T00:00:00Z"
}
"""

TEMPLATED = """
path "tpl/{{identity.entity.id}}/*" { capabilities = ["read"] }
path "tpl/{{identity.entity.name}}" { capabilities = ["read"] }
path "tpl/plain" { capabilities = ["list"] }
"""

PARAMETERS = """
path "params/x" {
  capabilities = ["create", "update"]
  required_parameters = ["name"]
  allowed_parameters = {
    "name" = []
    "ttl" = ["1h", "2h"]
  }
  denied_parameters = {
    "admin" = []
  }
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "1h"
}
"""

LEADING_SLASH = """
path "/lead/x" { capabilities = ["read"] }
path "//double/x" { capabilities = ["read"] }
path "/lead/glob*" { capabilities = ["list"] }
"""

ODD_SYNTAX = """
# HCL 1 calls a block without a label "path", and ignores labels after the first.
path {
  capabilities = ["read"]
}
path "two" "labels" {
  capabilities = ["update"]
}
path "repeat/x" { capabilities = ["read"] }
path "repeat/x" { capabilities = ["list"] }
path "repeat/y" { capabilities = ["deny"] }
path "repeat/y" { capabilities = ["read"] }
path "dup-caps" { capabilities = ["read", "read", "deny", "not-checked-after-deny"] }
"""

PLUS_ROOT = """
path "+" { capabilities = ["list"] }
path "+/x/*" { capabilities = ["update"] }
"""

CATCH_ALL = """
path "*" { capabilities = ["read"] }
path "sys/*" { capabilities = ["deny"] }
"""

# One pair of candidates per comparison rule (vault-core.md §4.3, rules a-e); the first of each pair wins.
PRECEDENCE_RULES = """
# (a) the first wildcard comes later
path "r/foo/a*" { capabilities = ["read"] }
path "r/foo/+" { capabilities = ["list"] }
# (b) not ending in `*` beats ending in `*`, at the same first-wildcard position
path "r/bar/+/baz" { capabilities = ["read"] }
path "r/bar/+/ba*" { capabilities = ["list"] }
path "r/glob/+" { capabilities = ["read"] }
path "r/glob/*" { capabilities = ["list"] }
# (c) fewer `+` segments
path "r/qux/+/x/+" { capabilities = ["read"] }
path "r/qux/+/+/+" { capabilities = ["list"] }
# (d) longer
path "r/len/+/bar/ba*" { capabilities = ["read"] }
path "r/len/+/bar/b*" { capabilities = ["list"] }
"""

# (e) everything else equal (first `+` at 0, no `*`, two `+`, five bytes): the lexically greater wins.
TIE_BREAK = """
path "+/b/+" { capabilities = ["read"] }
path "+/+/c" { capabilities = ["list"] }
"""

SCAN = """
path "scan/*" { capabilities = ["scan", "list"] }
"""


def generated_policies(seed: int, count: int, rules_each: int) -> dict[str, str]:
    """Random policies over a tiny alphabet, so that patterns collide and compete a lot."""
    rng = random.Random(seed)
    capability_sets = [["read"], ["list"], ["update", "sudo"], ["deny"], ["create", "read"], ["delete"]]
    policies = {}
    for number in range(count):
        blocks = []
        while len(blocks) < rules_each:
            pattern = "g/" + "/".join(rng.choice(["a", "b", "ab", "+", ""]) for _ in range(rng.randint(1, 3)))
            pattern += rng.choice(["", "", "*"])
            if "+*" in pattern:
                continue  # OpenBao refuses it; REJECTED_POLICIES covers that
            capabilities = json.dumps(rng.choice(capability_sets))
            blocks.append(f'path "{pattern}" {{ capabilities = {capabilities} }}')
        policies[f"generated-{seed}-{number}"] = "\n".join(blocks) + "\n"
    return policies


def generated_paths(seed: int, count: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    paths: list[str] = []
    while len(paths) < count:
        segments = [rng.choice(["a", "b", "ab", "abc", "", "+", "*"]) for _ in range(rng.randint(1, 4))]
        path = "g/" + "/".join(segments)
        path += rng.choice(["", "", "/"])
        if path not in paths:
            paths.append(path)
    return tuple(paths)


DEFAULT_POLICY_NAME = "default"  # built into every server, added to tokens unless refused

GENERATED = generated_policies(seed=2024, count=4, rules_each=14)

POLICIES: dict[str, str] = {
    "pa": PA,
    "pb": PB,
    "walkthrough": WALKTHROUGH,
    "aws-reader": AWS_READER,
    "globs": GLOBS,
    "segments": SEGMENTS,
    "trailing": TRAILING,
    "overlap-a": OVERLAP_A,
    "overlap-b": OVERLAP_B,
    "sudo-leases": SUDO_LEASES,
    "odd-chars": ODD_CHARS,
    "nested": NESTED,
    "legacy": LEGACY,
    "json-policy": JSON_POLICY,
    "expiry": EXPIRY,
    "templated": TEMPLATED,
    "parameters": PARAMETERS,
    "leading-slash": LEADING_SLASH,
    "odd-syntax": ODD_SYNTAX,
    "plus-root": PLUS_ROOT,
    "catch-all": CATCH_ALL,
    "precedence-rules": PRECEDENCE_RULES,
    "tie-break": TIE_BREAK,
    "scan": SCAN,
    **GENERATED,
}


@dataclass(frozen=True)
class ProbeSet:
    """A token's policies and the paths to ask `sys/capabilities` about for it."""

    name: str
    policies: tuple[str, ...]  # as sent to auth/token/create
    paths: tuple[str, ...]
    no_default_policy: bool = True

    @property
    def effective_policies(self) -> tuple[str, ...]:
        """What the token ends up with: OpenBao adds "default" unless told not to."""
        if self.no_default_policy or DEFAULT_POLICY_NAME in self.policies or "root" in self.policies:
            return self.policies
        return (*self.policies, DEFAULT_POLICY_NAME)


@dataclass(frozen=True)
class Probe:
    probe_set: ProbeSet
    path: str


PRECEDENCE_TABLE_PATHS = (
    "aws-production/creds/foo",
    "aws-production/creds/admin",
    "aws-production/creds/adminx",
    "aws-production/creds/adm",
    "aws-production/creds",
    "aws-production/creds/",
    "aws-production/x/team-a",
    "aws-production/x/y/team-a",
    "aws-production/roles/x",
    "aws-production/roles/y",
    "aws-production/roles/y/z",
    "aws-production/sudo-thing",
    "aws-production/exact",
    "kv/data/x",
    "kv/data/shared",
    "sys/mounts",
)

PA_EXTRA_PATHS = (
    "aws-production/creds/adm/x/y",
    "aws-production/creds/ad",
    "aws-production/creds/admin/",
    "aws-production/creds/admin/x",
    "aws-production/creds/foo/bar/baz",
    "aws-production/roles/x/y",
    "aws-production/roles/xylophone",
    "aws-production/roles/",
    "aws-production/roles",
    "aws-production//team-a",
    "aws-production/team-a",
    "aws-production/x/team-a/",
    "aws-production/x/team-ab",
    "aws-production/patchy",
    "aws-production/patchy/",
    "aws-production/sudo-thing/",
    "aws-production/exact/",
    "kv/data/",
    "kv/data",
    "kv/data/x/",
    "kv/data/shared/",
    "kv/data/shared/more",
    "/aws-production/creds/foo",
)

DEFAULT_POLICY_PATHS = (
    "auth/token/lookup-self",
    "auth/token/lookup-self/",
    "auth/token/renew-self",
    "auth/token/revoke-self",
    "auth/token/create",
    "sys/capabilities-self",
    "sys/capabilities",
    "sys/leases/renew",
    "sys/leases/lookup",
    "sys/leases/lookup/",
    "sys/leases/revoke",
    "cubbyhole",
    "cubbyhole/",
    "cubbyhole/secret",
    "cubbyhole/a/b/c",
    "sys/wrapping/wrap",
    "sys/wrapping/unwrap",
    "sys/tools/hash",
    "sys/tools/hash/",
    "sys/tools/hash/sha2-256",
    "sys/tools/hashx",
    "identity/oidc/provider/my-provider/authorize",
    "identity/oidc/provider//authorize",
    "identity/oidc/provider/a/b/authorize",
    "identity/entity/id/{{identity.entity.id}}",
    "identity/entity/id/1234",
    "identity/entity/name/",
    "sys/internal/ui/resultant-acl",
    "secret/data/anything",
)

PROBE_SETS: tuple[ProbeSet, ...] = (
    ProbeSet("pa-alone", ("pa",), PRECEDENCE_TABLE_PATHS + PA_EXTRA_PATHS),
    ProbeSet("pa-and-pb", ("pa", "pb"), PRECEDENCE_TABLE_PATHS + PA_EXTRA_PATHS),
    ProbeSet("pb-and-pa", ("pb", "pa"), PRECEDENCE_TABLE_PATHS),
    ProbeSet("default-only", (DEFAULT_POLICY_NAME,), DEFAULT_POLICY_PATHS, no_default_policy=False),
    ProbeSet(
        "walkthrough-with-default",
        ("walkthrough",),
        (
            "aws/creds/app-s3-role",
            "aws/creds/app-dynamo-role",
            "aws/creds/app-other-role",
            "aws/creds/admin-x",
            "aws/creds/admin-",
            "aws/creds/admin",
            "aws/creds/",
            "aws/creds/app-s3-role/",
            "aws/sts/app-s3-role",
            "auth/token/lookup-self",
            "cubbyhole/x",
            "sys/leases/renew",
        ),
        no_default_policy=False,
    ),
    ProbeSet(
        "walkthrough-and-reader",
        ("walkthrough", "aws-reader"),
        (
            "aws/creds/app-s3-role",
            "aws/creds/app-other-role",
            "aws/creds/admin-root",
            "aws/creds/admin-",
            "aws/creds/admin",
            "aws/creds/",
            "aws/creds",
            "aws/roles/",
            "aws/roles/app-s3-role",
            "aws/config/root",
        ),
    ),
    ProbeSet(
        "globs",
        ("globs",),
        (
            "secret/foo",
            "secret/",
            "secret",
            "secret/team/x",
            "secret/team/",
            "secret/team",
            "secret/team/lead",
            "secret/team/lead/",
            "secret/team/lead/x",
            "secret/tea",
            "secret/teams/x",
            "secret/empty-glob",
            "secret/empty-glob/",
            "secret/empty-globber/x/y",
            "literal/*/star",
            "literal/x/star",
            "literal/*/star/",
            "mid*dle/x",
            "mid*dle/xyz/1",
            "middle/x",
            "files/dir/",
            "files/dir",
            "files/dir/x",
            "secret/a/b/c/d/e/f",
        ),
    ),
    ProbeSet(
        "segments",
        ("segments",),
        (
            "kv/app/config",
            "kv//config",
            "kv/app/config/",
            "kv/app/config/x",
            "kv/a/b/deep",
            "kv/a/b/c/deep",
            "kv/a/deep",
            "kv/app/app-1",
            "kv/app/app-",
            "kv/app/app-1/sub",
            "kv/app/ap",
            "kv/team-a/x",
            "kv/team-a/config",
            "kv/team-a/app-1",
            "kv/team-a/",
            "kv/team-a",
            "kv/team-b/x",
            "kv/x/y",
            "kv/x/y/z",
            "kv/x",
            "kv/",
            "kv",
            "other/shared/x",
            "other/shared/",
            "other/shared",
            "kv/shared/x",
            "a/b/shared/x",
            "kv/+b/lit",
            "kv/zb/lit",
            "kv/a+/x",
            "kv/a+/x/",
            "kv/a/x",
        ),
    ),
    ProbeSet(
        "trailing-slashes",
        ("trailing",),
        (
            "t/k",
            "t/k/",
            "t/",
            "t",
            "u/k",
            "u/k/",
            "u/",
            "u",
            "v/k/w",
            "v/k/w/",
            "e/x",
            "e/x/",
            "e/x//",
            "p/ab",
            "p/ab/",
            "p/a/",
            "p/abc/d/",
        ),
    ),
    ProbeSet(
        "overlap",
        ("overlap-a", "overlap-b"),
        (
            "shared/data",
            "shared/conf/x",
            "shared/conf/",
            "shared/conf",
            "shared/k/x",
            "shared/k/x/",
            "shared/denied",
            "shared/both",
            "shared/empty",
            "shared/empty/",
            "shared/other",
            "shared/k/y",
            "shared/k/yes/no",
        ),
    ),
    ProbeSet(
        "overlap-reversed",
        ("overlap-b", "overlap-a"),
        ("shared/data", "shared/conf/x", "shared/k/x", "shared/denied", "shared/both", "shared/empty"),
    ),
    ProbeSet(
        "overlap-a-alone",
        ("overlap-a",),
        ("shared/data", "shared/conf/x", "shared/k/x", "shared/denied", "shared/both", "shared/empty"),
    ),
    ProbeSet(
        "sudo-paths",
        ("sudo-leases",),
        (
            "sys/leases/revoke-prefix/rabbitmq/creds/app",
            "sys/leases/revoke-prefix/",
            "sys/leases/revoke-prefix",
            "sys/leases/revoke-force/aws/creds/x",
            "sys/leases/lookup/aws/creds/",
            "sys/leases/lookup/",
            "sys/leases/lookup",
            "sys/leases/revoke",
            "sys/leases/renew",
            "sys/audit",
            "sys/audit/file",
            "sys/audit-hash/file",
            "auth/token/accessors/",
            "auth/token/accessors",
            "auth/token/accessors/x",
        ),
        no_default_policy=False,
    ),
    ProbeSet(
        "odd-characters",
        ("odd-chars",),
        (
            "secret/data/user@example.com",
            "secret/data/user@example.co",
            "secret/data/user@example.com/",
            "secret/data/v1.2.3/",
            "secret/data/v1.2.3/x.y",
            "secret/data/v1.2.4/x",
            "secret/data/a-b_c.d",
            "secret/data/a-b_c-d",
            "secret/data/team-@-ops/x",
            "secret/data/team-@-ops/x/y",
            "pki/issue/*.example.com",
            "pki/issue/www.example.com",
            "secret/data/é",
            "secret/data/éclair/x",
            "secret/data/e",
            "secret/data/~user:1=2",
        ),
    ),
    ProbeSet(
        "nested",
        ("nested",),
        (
            "org/dept/team/app/env/x",
            "org/dept/team/app/env/",
            "org/dept/team/app/env",
            "org/dept/team/app/env/prod/db/password",
            "org/dept/team/app/env/prod/db/password/",
            "org/dept/team/app/env/prod/db",
            "org/dept/x/app/y/secret",
            "org/dept/team/app/env/secret",
            "org/dept/x/app/prod/secret",
            "org/dept/x/app/prod/",
            "org/dept/x/app/prod",
            "org/dept/x/app/y/secret/z",
            "org/",
            "org",
            "organisation/x",
        ),
    ),
    ProbeSet(
        "syntax-variants",
        ("legacy", "json-policy", "expiry", "templated", "parameters", "leading-slash", "odd-syntax"),
        (
            "old/r",
            "old/w",
            "old/s",
            "old/d",
            "old/mixed",
            "old/r/",
            "json/exact",
            "json/glob/x",
            "json/glob/",
            "json/a/seg",
            "exp/past",
            "exp/future",
            "tpl/plain",
            "tpl/{{identity.entity.id}}/x",
            "tpl/{{identity.entity.name}}",
            "tpl/x",
            "params/x",
            "lead/x",
            "/lead/x",
            "//lead/x",
            "lead/x/",
            "double/x",
            "/double/x",
            "lead/globe",
            "lead/glob/",
            "path",
            "two",
            "labels",
            "two/labels",
            "repeat/x",
            "repeat/y",
            "dup-caps",
        ),
    ),
    ProbeSet(
        "plus-at-root",
        ("plus-root", "globs"),
        (
            "sys",
            "secret",
            "secret/",
            "anything",
            "anything/",
            "a/x/b",
            "a/x/",
            "a/x",
            "secret/x/y",
            "literal/*/star",
        ),
    ),
    ProbeSet(
        "catch-all",
        ("catch-all", "pa"),
        (
            "anything/at/all",
            "sys/mounts",
            "sys",
            "sys/",
            "aws-production/creds/admin",
            "aws-production/creds/foo",
            "aws-production/x/team-a",
            "kv/data/x",
        ),
    ),
    ProbeSet(
        "precedence-rules",
        ("precedence-rules",),
        (
            "r/foo/ab",
            "r/foo/a",
            "r/foo/b",
            "r/foo/ab/c",
            "r/bar/x/baz",
            "r/bar/x/bax",
            "r/bar/x/baz/y",
            "r/glob/x",
            "r/glob/x/y",
            "r/glob/",
            "r/qux/a/x/b",
            "r/qux/a/y/b",
            "r/len/x/bar/baz",
            "r/len/x/bar/bz",
            "r/len/x/bar/ba",
        ),
    ),
    ProbeSet("tie-break", ("tie-break",), ("a/b/c", "a/b/d", "a/x/c", "a/x/d")),
    ProbeSet("scan", ("scan",), ("scan/x", "scan/", "scan")),
    # Random policies whose patterns overlap heavily: two alone, then all four together.
    ProbeSet("generated-0", tuple(GENERATED)[:1], generated_paths(seed=1, count=60)),
    ProbeSet("generated-1", tuple(GENERATED)[1:2], generated_paths(seed=2, count=60)),
    ProbeSet("generated-all", tuple(GENERATED), generated_paths(seed=3, count=120)),
    ProbeSet("root-token", ("root",), ("sys/mounts", "secret/x", "aws/creds/admin-x")),
)

PROBES: tuple[Probe, ...] = tuple(
    Probe(probe_set, path) for probe_set in PROBE_SETS for path in probe_set.paths
)


@dataclass(frozen=True)
class RejectedPolicy:
    """Policy text OpenBao refuses. With `same_message`, vaultlet must say exactly what OpenBao says."""

    name: str
    text: str
    same_message: bool = True


REJECTED_POLICIES: tuple[RejectedPolicy, ...] = (
    RejectedPolicy("bad-capability", 'path "x" { capabilities = ["fly"] }'),
    RejectedPolicy("upper-case-capability", 'path "x" { capabilities = ["READ"] }'),
    RejectedPolicy("root-capability", 'path "x" { capabilities = ["root"] }'),
    RejectedPolicy("invalid-before-deny", 'path "x" { capabilities = ["fly", "deny"] }'),
    RejectedPolicy("leading-slash-capability", 'path "/x" { capabilities = ["fly"] }'),
    RejectedPolicy("plus-star", 'path "a/+*" { capabilities = ["read"] }'),
    RejectedPolicy("plus-star-leading-slash", 'path "/a/+*" { capabilities = ["read"] }'),
    RejectedPolicy("bad-legacy-policy", 'path "x" { policy = "fly" }'),
    RejectedPolicy("unknown-path-key", 'path "x" {\n  capabilities = ["read"]\n  foo = 1\n}'),
    RejectedPolicy("two-unknown-path-keys", 'path "/x" {\n  foo = 1\n  bar = 2\n}'),
    RejectedPolicy("unknown-top-level-key", 'foo = 1\npath "x" { capabilities = ["read"] }'),
    RejectedPolicy("two-unknown-top-level-keys", "foo = 1\nbaz = 2\n"),
    RejectedPolicy("unbalanced-template", 'path "x/{{nope" { capabilities = ["read"] }'),
    RejectedPolicy("closing-braces-first", 'path "x/}}" { capabilities = ["read"] }'),
    RejectedPolicy(
        "wrapping-ttl-order",
        'path "x" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "10m"\n  max_wrapping_ttl = "1m"\n}',
    ),
    RejectedPolicy("bad-wrapping-ttl", 'path "x" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "zz"\n}'),
    RejectedPolicy("bad-expiration", 'path "x" {\n  capabilities = ["read"]\n  expiration = "nope"\n}'),
    RejectedPolicy("unknown-json-key", '{"path": {"x": {"capabilities": ["read"], "foo": 1}}}'),
    # HCL syntax and type errors: both sides refuse, in their own parser's words.
    RejectedPolicy("unclosed-block", 'path "x" {', same_message=False),
    RejectedPolicy("unclosed-list", 'path "x" { capabilities = ["read"', same_message=False),
    RejectedPolicy("capabilities-not-a-list", 'path "x" { capabilities = "read" }', same_message=False),
)

# Policies OpenBao accepts even though they look wrong. (Its HCL 1 JSON reader even accepts
# truncated JSON such as `{"path": {"x": `; vaultlet deliberately refuses that.)
ACCEPTED_ODDITIES: dict[str, str] = {
    "star-in-the-middle": 'path "a/*/b" { capabilities = ["read"] }',
    "deny-then-garbage": 'path "x" { capabilities = ["deny", "fly"] }',
    "deny-skips-ttl-check": (
        'path "x" {\n  capabilities = ["deny"]\n  min_wrapping_ttl = "10m"\n  max_wrapping_ttl = "1m"\n}'
    ),
    "no-capabilities": 'path "x" {}',
    "comment-only": "# nothing here\n",
    "name-key": 'name = "ignored"\npath "x" { capabilities = ["read"] }',
    "unknown-template-selector": 'path "x/{{identity.entity.bogus}}" { capabilities = ["read"] }',
    "scan-capability": 'path "x/*" { capabilities = ["scan"] }',
}


# Four rule shapes, and a path that each one grants. Rule i of policy n sits on mount n % 7.
SYNTHETIC_RULES = ("{m}/data/app-{i}", "{m}/data/app-{i}/*", "{m}/+/team-{i}", "{m}/creds/role-{i}*")
SYNTHETIC_PATHS = ("{m}/data/app-{i}", "{m}/data/app-{i}/config/x", "{m}/kv/team-{i}", "{m}/creds/role-{i}-x")


def _synthetic(shapes: tuple[str, ...], number: int, rule: int, rules_each: int) -> str:
    return shapes[rule % len(shapes)].format(m=f"mount{number % 7}", i=number * rules_each + rule)


def synthetic_policies(count: int = 20, rules_each: int = 10) -> list[Policy]:
    policies = []
    for number in range(count):
        patterns = [_synthetic(SYNTHETIC_RULES, number, rule, rules_each) for rule in range(rules_each)]
        blocks = [f'path "{pattern}" {{ capabilities = ["read", "list"] }}' for pattern in patterns]
        policies.append(parse_policy(f"policy-{number}", "\n".join(blocks)))
    return policies


def synthetic_paths(count: int, policies: int = 20, rules_each: int = 10) -> list[str]:
    """Paths that some rule matches, plus one in four that nothing matches."""
    rng = random.Random(7)
    paths = []
    for _ in range(count):
        number, rule = rng.randrange(policies), rng.randrange(rules_each)
        if rng.random() < 0.25:
            paths.append(f"mount{rng.randrange(7)}/elsewhere/{rng.randrange(1000)}")
        else:
            paths.append(
                SYNTHETIC_PATHS[rule % 4].format(m=f"mount{number % 7}", i=number * rules_each + rule)
            )
    return paths
