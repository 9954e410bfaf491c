"""Vault ACL policies: parsing and evaluation, as OpenBao does them.

``parse_policy`` turns policy text (HCL or JSON) into a ``Policy``. ``ACL`` compiles a token's
policies once; then ``check`` (called on every request) and ``capabilities`` (what
``sys/capabilities`` answers) look paths up without scanning every rule.

The rules follow OpenBao's ``vault/policy.go`` and ``vault/acl.go``, and OpenBao 2.7 confirms them
(``tests/integration/test_acl_differential.py``):

* A path pattern is one of three kinds. An *exact* path. A *prefix* glob that ends in ``*``
  (``*`` counts only as the last character, and the prefix may run across ``/``; a ``*``
  elsewhere is a literal character). A *segment* pattern that holds a ``+`` segment, which
  stands for exactly one segment and may also end in ``*``.
* Identical pattern strings, whether from one policy or several, are merged: their capabilities
  are unioned, except that a ``deny`` in any of them leaves only ``deny``. Different patterns are
  never merged.
* Lookup: an exact match wins. Otherwise the most specific matching glob or segment pattern
  wins: the first wildcard comes later, then it does not end in ``*``, then it has fewer ``+``,
  then it is longer, then it is lexically greater. Only the longest matching prefix glob takes
  part in that comparison.
* A LIST request (and ``sys/capabilities``, which OpenBao evaluates as LIST) whose path ends in
  ``/`` also tries the path without that slash: an exact rule first, and if no glob or segment
  pattern matches the full path, it tries them again on the trimmed path.
* Templated paths (``{{identity.entity.id}}``) need an identity entity, and vaultlet tokens
  have none. OpenBao drops such paths for a token without an entity, so the ACL ignores them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions
from lark.exceptions import LarkError, UnexpectedInput, UnexpectedToken

from vaultlet.durations import DurationError, parse_duration

DEFAULT_POLICY_NAME = "default"
ROOT_POLICY_NAME = "root"

# OpenBao 2.7's built-in default policy, byte for byte as `GET sys/policies/acl/default` returns it.
DEFAULT_POLICY_TEXT = """
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}


# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"""

# The policy of every response-wrapping token, built in and unchangeable, byte for byte as
# OpenBao 2.7 returns it from `GET sys/policies/acl/response-wrapping`.
RESPONSE_WRAPPING_POLICY_NAME = "response-wrapping"
RESPONSE_WRAPPING_POLICY_TEXT = """
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

path "auth/token/revoke-self" {
    capabilities = ["update"]
}
"""

# Capability bits. Plain ints rather than an IntFlag: `|` and `&` on IntFlag members are
# several times slower, and these run on every request.
DENY, CREATE, READ, UPDATE, DELETE, LIST, SUDO, PATCH, SCAN = (1 << shift for shift in range(9))
CAPABILITY_BITS: dict[str, int] = {
    "deny": DENY,
    "create": CREATE,
    "read": READ,
    "update": UPDATE,
    "delete": DELETE,
    "list": LIST,
    "sudo": SUDO,
    "patch": PATCH,
    "scan": SCAN,  # OpenBao only: recursive listing
}
ROOT_CAPABILITY = "root"

# The pre-capabilities syntax, `policy = "write"`, which OpenBao still accepts.
_LEGACY_POLICY_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "deny": ("deny",),
    "read": ("read", "list"),
    "write": ("create", "read", "update", "delete", "list"),
    "sudo": ("create", "read", "update", "delete", "list", "sudo"),
}

# Which capability a request operation needs. Revoke, renew and rollback reuse update, as in OpenBao.
_OPERATION_CAPABILITY: dict[str, int] = {
    "create": CREATE,
    "read": READ,
    "update": UPDATE,
    "patch": PATCH,
    "delete": DELETE,
    "list": LIST,
    "scan": SCAN,
    "revoke": UPDATE,
    "renew": UPDATE,
    "rollback": UPDATE,
}
_HELP_OPERATION = "help"
# Operations whose request parameters the allowed/denied/required rules govern (Vault's list).
_PARAMETER_CHECKED = frozenset(("read", "create", "update", "patch"))

_TOP_LEVEL_KEYS = ("name", "path")
_PATH_KEYS = (
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
)
# Kept verbatim on the rule for later features; vaultlet does not act on them yet.
_EXTRA_PATH_KEYS = (
    "comment",
    "mfa_methods",
    "pagination_limit",
    "list_scan_response_keys_filter_path",
    "control_group",
)
_HCL_OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=True)
_BLOCK_MARKER = "__is_block__"


class PolicyError(ValueError):
    """Policy text OpenBao would refuse. The message is the one OpenBao answers with."""


class RuleKind(Enum):
    EXACT = "exact"
    PREFIX = "prefix"  # ends in `*`, no `+` segment
    SEGMENT = "segment"  # has a `+` segment, may end in `*`


@dataclass(frozen=True)
class PathRule:
    """One `path "..." { ... }` block, validated and normalised.

    ``pattern`` is what rules are merged on and matched with: the path without a leading ``/``,
    and without the trailing ``*`` for a prefix glob (a segment pattern keeps its ``*``).
    """

    path: str  # as written in the policy
    pattern: str
    kind: RuleKind
    capabilities: tuple[str, ...]
    bits: int
    templated: bool = False
    expiration: datetime | None = None
    min_wrapping_ttl: int = 0
    max_wrapping_ttl: int = 0
    required_parameters: tuple[str, ...] = ()
    allowed_parameters: Mapping[str, list[Any]] | None = None  # keys lower-cased, as OpenBao does
    denied_parameters: Mapping[str, list[Any]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # mfa_methods, pagination_limit, ...

    def is_active(self, now: datetime) -> bool:
        return not self.templated and (self.expiration is None or now <= self.expiration)


@dataclass
class Policy:
    name: str
    text: str
    rules: list[PathRule]

    @property
    def templated(self) -> bool:
        return any(rule.templated for rule in self.rules)


@dataclass(slots=True)
class AuthorizationResult:
    allowed: bool
    root_privs: bool  # the matching rule grants sudo (or the token is root)
    granting_policies: list[str]
    is_root: bool = False


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


class _PathError(Exception):
    """An error inside one path block. OpenBao prefixes it with `path "<key>": `."""


def parse_policy(name: str, text: str) -> Policy:
    """Parse and validate policy text, with OpenBao's error messages."""
    document = _load_document(text)
    if report := _unknown_keys_report(document, _TOP_LEVEL_KEYS, text, after_line=0):
        raise PolicyError(f"failed to parse policy: {report}")
    rules = []
    for key, body in _path_blocks(document):
        try:
            rule = _parse_path_rule(key, body, text)
        except _PathError as error:
            raise PolicyError(f"failed to parse policy: path {_go_quote(key)}: {error}") from None
        rules.append(rule)
    return Policy(name=name, text=text, rules=rules)


def _load_document(text: str) -> dict[str, Any]:
    # OpenBao's HCL 1 parser also reads JSON; python-hcl2 does not, so JSON goes to json.
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise PolicyError(f"failed to parse policy: {error}") from None
    else:
        try:
            document = hcl2.loads(text, serialization_options=_HCL_OPTIONS)
        except (LarkError, ValueError) as error:
            raise PolicyError(f"failed to parse policy: {_describe_syntax_error(error)}") from None
    if not isinstance(document, dict):
        raise PolicyError("failed to parse policy: does not contain a root object")
    return document


def _describe_syntax_error(error: Exception) -> str:
    """A one-line account in the spirit of HCL 1's `At 1:12: ... got: EOF`."""
    if isinstance(error, UnexpectedToken):
        names = {"EOF" if name == "$END" else name for name in error.expected} - {"NL_OR_COMMENT"}
        expected = " or ".join(sorted(names))
        got = "EOF" if error.token.type == "$END" else repr(str(error.token).strip())
        return f"At {error.line}:{error.column}: expected {expected or 'something else'} got: {got}"
    if isinstance(error, UnexpectedInput):
        return f"At {error.line}:{error.column}: illegal char"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _path_blocks(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, body) for every path block, in order; repeated blocks are all kept."""
    declared = document.get("path")
    if declared is None:
        return
    for entry in declared if isinstance(declared, list) else [declared]:
        if not isinstance(entry, dict):
            raise PolicyError("failed to parse policy: path: expected an object")
        if _BLOCK_MARKER in entry:  # `path { ... }` without a label: HCL 1 names it "path"
            yield "path", entry
            continue
        for key, body in entry.items():
            for single_body in body if isinstance(body, list) else [body]:
                yield key, _innermost_body(key, single_body)


def _innermost_body(key: str, body: Any) -> dict[str, Any]:
    body = _labelled_block(body) or body
    if not isinstance(body, dict):
        raise PolicyError(f"failed to parse policy: path {_go_quote(key)}: expected an object")
    return {name: value for name, value in body.items() if name != _BLOCK_MARKER}


def _labelled_block(value: Any) -> dict[str, Any] | None:
    """The HCL block under any extra labels: `path "a" "b" {}` nests one dict per label.

    HCL 1 uses the first label as the path and ignores the others. JSON bodies carry no block
    marker, so they come back as None and are used as they are.
    """
    while isinstance(value, dict) and len(value) == 1 and _BLOCK_MARKER not in value:
        value = next(iter(value.values()))
    return value if isinstance(value, dict) and _BLOCK_MARKER in value else None


def _parse_path_rule(key: str, body: dict[str, Any], text: str) -> PathRule:
    # The checks run in the order OpenBao runs them, so the first error reported is the same.
    templated = _is_templated(key)
    if report := _unknown_keys_report(body, _PATH_KEYS, text, after_line=_line_of(text, key, 0)):
        raise _PathError(report)
    capabilities = _string_list(key, body, "capabilities")
    expiration = _parse_expiration(key, body.get("expiration"))
    pattern = key.removeprefix("/")  # policy paths are relative to /v1/
    if "+*" in pattern:
        raise _PathError(f"path {_go_quote(pattern)}: invalid use of wildcards ('+*' is forbidden)")
    kind, pattern = _classify(pattern)
    capabilities = _apply_legacy_policy(key, body.get("policy"), capabilities)
    bits, capabilities = _capability_bits(key, capabilities)
    rule = PathRule(
        path=key,
        pattern=pattern,
        kind=kind,
        capabilities=capabilities,
        bits=bits,
        templated=templated,
        expiration=expiration,
    )
    if bits & DENY:
        return rule  # OpenBao stops here for deny: the parameters cannot matter
    return _with_options(rule, key, body)


def _is_templated(key: str) -> bool:
    """Whether the path uses identity templating; rejects unbalanced braces like OpenBao."""
    before_first, *pieces = key.split("{{")
    if "}}" in before_first or any(len(piece.split("}}")) != 2 for piece in pieces):
        raise _PathError("failed to validate policy templating: unbalanced templating characters")
    return bool(pieces)


def _classify(pattern: str) -> tuple[RuleKind, str]:
    # Only a whole `+` segment is a wildcard, but OpenBao files any path with "/+" as a segment
    # pattern; such a "+x" segment then simply has to match literally.
    if pattern == "+" or "/+" in pattern or pattern.startswith("+/"):
        return RuleKind.SEGMENT, pattern
    if pattern.endswith("*"):
        return RuleKind.PREFIX, pattern[:-1]
    return RuleKind.EXACT, pattern


def _apply_legacy_policy(key: str, legacy: Any, capabilities: list[str]) -> list[str]:
    if not legacy:
        return capabilities
    if legacy not in _LEGACY_POLICY_CAPABILITIES:
        raise _PathError(f"path {_go_quote(key)}: invalid policy {_go_quote(str(legacy))}")
    if legacy == "deny":
        return ["deny"]
    return capabilities + list(_LEGACY_POLICY_CAPABILITIES[legacy])


def _capability_bits(key: str, capabilities: list[str]) -> tuple[int, tuple[str, ...]]:
    bits = 0
    for capability in capabilities:
        if capability == "deny":  # deny alone survives, and what follows it is not even validated
            return DENY, ("deny",)
        if capability not in CAPABILITY_BITS:
            raise _PathError(f"path {_go_quote(key)}: invalid capability {_go_quote(capability)}")
        bits |= CAPABILITY_BITS[capability]
    return bits, tuple(name for name, bit in CAPABILITY_BITS.items() if bits & bit)


def _with_options(rule: PathRule, key: str, body: dict[str, Any]) -> PathRule:
    """Parameter rules and wrapping limits, both enforced by ``ACL.check``."""
    min_ttl = _wrapping_ttl(body, "min_wrapping_ttl")
    max_ttl = _wrapping_ttl(body, "max_wrapping_ttl")
    if min_ttl and max_ttl and max_ttl < min_ttl:
        raise _PathError("max_wrapping_ttl cannot be less than min_wrapping_ttl")
    return replace(
        rule,
        min_wrapping_ttl=min_ttl,
        max_wrapping_ttl=max_ttl,
        required_parameters=tuple(_string_list(key, body, "required_parameters")),
        allowed_parameters=_parameter_map(key, body, "allowed_parameters"),
        denied_parameters=_parameter_map(key, body, "denied_parameters"),
        extra={name: body[name] for name in _EXTRA_PATH_KEYS if name in body},
    )


def _wrapping_ttl(body: Mapping[str, Any], name: str) -> int:
    if body.get(name) is None:
        return 0
    try:
        return parse_duration(body[name])
    except DurationError as error:
        raise _PathError(f"error parsing {name}: {error}") from None


def _string_list(key: str, body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or any(isinstance(item, (list, dict)) for item in value):
        raise _PathError(f"path {_go_quote(key)}: {name} must be a list of strings")
    return [_as_text(item) for item in value]


def _parameter_map(key: str, body: Mapping[str, Any], name: str) -> dict[str, list[Any]] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(values, list) for values in value.values()):
        raise _PathError(f"path {_go_quote(key)}: {name} must map parameter names to lists of values")
    # OpenBao matches request parameters case-insensitively, so it stores the names lower-cased.
    return {parameter.lower(): values for parameter, values in value.items()}


def _parse_expiration(key: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = _as_text(value).strip()
    try:
        if re.fullmatch(r"\d+", text):
            return datetime.fromtimestamp(int(text), tz=UTC)
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise _PathError(
            f"path {_go_quote(key)}: invalid expiration time: could not parse string as date and time"
        ) from None


def _as_text(value: Any) -> str:
    # HCL 1 decodes a bare number or bool where a string is expected; mimic with Go's spelling.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unknown_keys_report(
    mapping: Mapping[str, Any], valid: tuple[str, ...], text: str, after_line: int
) -> str:
    """OpenBao's report of keys it does not know (empty when all are known)."""
    unknown = [key for key in mapping if key not in valid and key != _BLOCK_MARKER]
    if not unknown:
        return ""
    return _multierror(
        [f"invalid key {_go_quote(key)} on line {_line_of(text, key, after_line)}" for key in unknown]
    )


def _line_of(text: str, key: str, after_line: int) -> int:
    """Best-effort line number of `key` (quoted or bare) at or after `after_line`, for messages."""
    token = re.compile(rf'(?:^|[\s{{,"]){re.escape(key)}"?\s*[=:{{"]')
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= after_line and token.search(line):
            return number
    return max(after_line, 1)


def _multierror(messages: list[str]) -> str:
    """The text of a Go `multierror.Error`, which OpenBao passes through to the client."""
    count = "1 error" if len(messages) == 1 else f"{len(messages)} errors"
    return f"{count} occurred:\n" + "".join(f"\t* {message}\n" for message in messages) + "\n"


def _go_quote(text: str) -> str:
    """Go's %q for the strings that appear in policies."""
    return json.dumps(text, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass
class _Grant:
    """The merged permissions of every rule that spells the same pattern."""

    bits: int = 0
    granted_by: dict[int, list[str]] = field(default_factory=dict)  # capability bit -> policy names
    rules: list[PathRule] = field(default_factory=list)
    parameters: ParameterRules = field(default_factory=lambda: ParameterRules())
    # Merged as OpenBao merges them: the lesser of the limits that are set (0: no limit).
    min_wrapping_ttl: int = 0
    max_wrapping_ttl: int = 0

    def merge(self, policy_name: str, rule: PathRule) -> None:
        if self.bits & DENY:
            return  # deny already won; nothing can be added
        self.rules.append(rule)
        if rule.bits & DENY:
            self.bits = DENY
            return
        self.bits |= rule.bits
        self.parameters = self.parameters.merged_with(rule)
        for bit in CAPABILITY_BITS.values():
            if rule.bits & bit and policy_name not in self.granted_by.setdefault(bit, []):
                self.granted_by[bit].append(policy_name)
        self.min_wrapping_ttl = _lesser_limit(self.min_wrapping_ttl, rule.min_wrapping_ttl)
        self.max_wrapping_ttl = _lesser_limit(self.max_wrapping_ttl, rule.max_wrapping_ttl)

    def wrapping_allowed(self, wrap_ttl: float) -> bool:
        """OpenBao's wrapping limits: a path with a limit must be asked for with a wrap TTL
        inside it (no X-Vault-Wrap-TTL at all is refused); limits merged into an empty range
        refuse everything."""
        if self.max_wrapping_ttl and (not wrap_ttl or wrap_ttl > self.max_wrapping_ttl):
            return False
        if self.min_wrapping_ttl and (not wrap_ttl or wrap_ttl < self.min_wrapping_ttl):
            return False
        return not (
            self.min_wrapping_ttl and self.max_wrapping_ttl and self.max_wrapping_ttl < self.min_wrapping_ttl
        )


def _lesser_limit(current: int, candidate: int) -> int:
    if candidate > 0 and (current == 0 or candidate < current):
        return candidate
    return current


@dataclass(frozen=True)
class ParameterRules:
    """``required_parameters``, ``allowed_parameters`` and ``denied_parameters`` of one pattern,
    merged across policies as Vault's ``NewACL`` merges them: required names add up; for
    allowed and denied, a key's value lists are concatenated, and an empty list (any value)
    on either side wins."""

    required: tuple[str, ...] = ()
    allowed: Mapping[str, list[Any]] = field(default_factory=dict)
    denied: Mapping[str, list[Any]] = field(default_factory=dict)

    def merged_with(self, rule: PathRule) -> ParameterRules:
        required = self.required + tuple(p for p in rule.required_parameters if p not in self.required)
        return ParameterRules(
            required=required,
            allowed=_merge_parameter_maps(self.allowed, rule.allowed_parameters),
            denied=_merge_parameter_maps(self.denied, rule.denied_parameters),
        )

    def permit(self, data: Mapping[str, Any]) -> bool:
        """Vault's ``AllowOperation`` parameter checks, for read, create, update and patch."""
        if any(name.lower() not in data for name in self.required):
            return False
        if not data:
            return True
        if "*" in self.denied:
            return False
        for name, value in data.items():
            values = self.denied.get(name.lower())
            if values is not None and _value_in_list(value, values):
                return False
        if not self.allowed or (len(self.allowed) == 1 and "*" in self.allowed):
            return True
        allow_any_name = "*" in self.allowed
        for name, value in data.items():
            values = self.allowed.get(name.lower())
            if values is None:
                if not allow_any_name:
                    return False
            elif not _value_in_list(value, values):
                return False
        return True


def _merge_parameter_maps(
    current: Mapping[str, list[Any]], added: Mapping[str, list[Any]] | None
) -> Mapping[str, list[Any]]:
    if not added:
        return current
    merged = dict(current)
    for name, values in added.items():
        if name in merged:
            # An empty list means "any value" and overrides any list it meets.
            merged[name] = [] if not values or not merged[name] else [*merged[name], *values]
        else:
            merged[name] = list(values)
    return merged


def _value_in_list(value: Any, allowed: list[Any]) -> bool:
    """An empty list holds every value; strings match Vault's globs (``*`` at either end)."""
    if not allowed:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Vault decodes JSON numbers as json.Number, which equals no value a policy can hold.
        return False
    for candidate in allowed:
        if isinstance(candidate, str) and isinstance(value, str):
            if _globbed_match(candidate, value):
                return True
        elif candidate == value and type(candidate) is type(value):
            return True
    return False


def _globbed_match(pattern: str, value: str) -> bool:
    """Vault's ``strutil.GlobbedStringsMatch``."""
    if len(pattern) < 2:
        return pattern == value
    prefix, suffix = pattern.startswith("*"), pattern.endswith("*")
    if prefix and suffix:
        return pattern[1:-1] in value
    if prefix:
        return value.endswith(pattern[1:])
    if suffix:
        return value.startswith(pattern[:-1])
    return pattern == value


# How specific a glob or segment pattern is; the greatest wins (rules a-e of the module docstring).
# Lengths and indexes count UTF-8 bytes and strings compare as bytes, like Go.
_Rank = tuple[int, int, int, int, str]


def _rank(literal: str, first_wildcard: int, ends_in_glob: bool, plus_segments: int) -> _Rank:
    return (first_wildcard, 0 if ends_in_glob else 1, -plus_segments, _byte_length(literal), literal)


def _byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


@dataclass(frozen=True)
class _SegmentPattern:
    """A pattern with `+` segments, e.g. `secret/+/config` or `teams/+/app-*`."""

    segments: tuple[str, ...]  # the pattern split on "/", without the trailing `*`
    ends_in_glob: bool
    rank: _Rank
    grant: _Grant

    @classmethod
    def compile(cls, pattern: str, grant: _Grant) -> _SegmentPattern:
        ends_in_glob = pattern.endswith("*")
        literal = pattern[:-1] if ends_in_glob else pattern
        segments = tuple(literal.split("/"))
        first_plus = _byte_length(pattern[: pattern.index("+")])
        rank = _rank(literal, first_plus, ends_in_glob, segments.count("+"))
        return cls(segments, ends_in_glob, rank, grant)


class _SegmentNode:
    """One level of the segment trie: what may follow the segments matched so far."""

    __slots__ = ("literal", "plus", "ending_here", "globs")

    def __init__(self) -> None:
        self.literal: dict[str, _SegmentNode] = {}  # next segment spelled out
        self.plus: _SegmentNode | None = None  # next segment is `+`
        self.ending_here: _SegmentPattern | None = None  # a pattern without `*` that ends here
        # Patterns ending in `*`: the next path segment must start with `partial`, and anything
        # may follow it, slashes included.
        self.globs: list[tuple[str, _SegmentPattern]] = []

    def child(self, segment: str) -> _SegmentNode:
        if segment == "+":
            self.plus = self.plus or _SegmentNode()
            return self.plus
        return self.literal.setdefault(segment, _SegmentNode())


class _SegmentTrie:
    """Segment patterns arranged by segment, so a lookup follows at most two branches per level
    (the literal segment and `+`) instead of trying every pattern."""

    def __init__(self, patterns: Iterable[_SegmentPattern]):
        self._root = _SegmentNode()
        for pattern in patterns:
            self._insert(pattern)

    def _insert(self, pattern: _SegmentPattern) -> None:
        fixed = pattern.segments[:-1] if pattern.ends_in_glob else pattern.segments
        node = self._root
        for segment in fixed:
            node = node.child(segment)
        if pattern.ends_in_glob:
            node.globs.append((pattern.segments[-1], pattern))
        else:
            node.ending_here = pattern

    def may_match(self, head: str) -> bool:
        return self._root.plus is not None or head in self._root.literal

    def best_match(self, parts: list[str]) -> _SegmentPattern | None:
        """The most specific pattern that matches the path split on "/"."""
        best: _SegmentPattern | None = None
        pending = [(self._root, 0)]
        while pending:
            node, depth = pending.pop()
            if depth == len(parts):
                if node.ending_here is not None:
                    best = _more_specific(best, node.ending_here)
                continue
            part = parts[depth]
            for partial, pattern in node.globs:
                if part.startswith(partial):
                    best = _more_specific(best, pattern)
            child = node.literal.get(part)
            if child is not None:
                pending.append((child, depth + 1))
            if node.plus is not None:
                pending.append((node.plus, depth + 1))
        return best


def _more_specific(current: _SegmentPattern | None, candidate: _SegmentPattern) -> _SegmentPattern:
    return candidate if current is None or candidate.rank > current.rank else current


class _PrefixTable:
    """Longest-prefix lookup: one dict probe per distinct prefix length, longest first.

    In CPython a few slice-and-probe steps beat walking a character trie node by node.
    """

    def __init__(self, grants: dict[str, _Grant]):
        # The rank is computed once here rather than on every lookup.
        self._entries = {
            prefix: (_rank(prefix, _byte_length(prefix), True, 0), grant) for prefix, grant in grants.items()
        }
        self._lengths = sorted({len(prefix) for prefix in grants}, reverse=True)

    def longest(self, path: str) -> tuple[_Rank, _Grant] | None:
        size = len(path)
        for length in self._lengths:
            if length <= size:
                entry = self._entries.get(path[:length])
                if entry is not None:
                    return entry
        return None


def _first_segment(prefix: str) -> str | None:
    """The first path segment a prefix glob pins down completely, if it contains a "/" at all."""
    head, slash, _ = prefix.partition("/")
    return head if slash else None


class _GlobIndex:
    """Prefix globs and segment patterns.

    Prefix globs are bucketed by their first path segment: `aws/creds/*` can only match paths
    under `aws/`, so a lookup only probes its own bucket plus the few globs without a `/` (`*`,
    `se*`). Segment patterns live in a trie keyed by segment.
    """

    def __init__(self, prefix_grants: dict[str, _Grant], segment_grants: dict[str, _Grant]):
        prefix_buckets = _bucket(prefix_grants)
        self._unbucketed_prefixes = _PrefixTable(prefix_buckets.pop(None, {}))
        self._prefixes_by_head = {head: _PrefixTable(grants) for head, grants in prefix_buckets.items()}
        self._segments = _SegmentTrie(
            _SegmentPattern.compile(pattern, grant) for pattern, grant in segment_grants.items()
        )

    def lookup(self, path: str) -> _Grant | None:
        head = path.partition("/")[0]
        prefix_rank, prefix_grant = self._longest_prefix(path, head) or (None, None)
        if not self._segments.may_match(head):
            return prefix_grant
        segment_match = self._segments.best_match(path.split("/"))
        if segment_match is not None and (prefix_rank is None or segment_match.rank > prefix_rank):
            return segment_match.grant
        return prefix_grant

    def _longest_prefix(self, path: str, head: str) -> tuple[_Rank, _Grant] | None:
        # A bucketed prefix contains "/", so it is longer than any unbucketed one that matches.
        table = self._prefixes_by_head.get(head)
        return (table.longest(path) if table else None) or self._unbucketed_prefixes.longest(path)


# OpenBao's order of capabilities in the resultant ACL (the newer ones come last).
_RESULTANT_ORDER = ("create", "delete", "list", "read", "sudo", "update", "patch", "scan")


def _resultant_rule(grant: _Grant) -> dict[str, Any]:
    names = [name for name in _RESULTANT_ORDER if grant.bits & CAPABILITY_BITS[name]]
    rule: dict[str, Any] = {"capabilities": ["deny"] if grant.bits & DENY or not names else names}
    if grant.bits & DENY:
        return rule
    if grant.min_wrapping_ttl:
        rule["min_wrapping_ttl"] = grant.min_wrapping_ttl
    if grant.max_wrapping_ttl:
        rule["max_wrapping_ttl"] = grant.max_wrapping_ttl
    parameters = grant.parameters
    if parameters.allowed:
        rule["allowed_parameters"] = {name: list(values) for name, values in parameters.allowed.items()}
    if parameters.denied:
        rule["denied_parameters"] = {name: list(values) for name, values in parameters.denied.items()}
    if parameters.required:
        rule["required_parameters"] = list(parameters.required)
    return rule


def _merge_rules(policies: list[Policy], now: datetime | None) -> dict[RuleKind, dict[str, _Grant]]:
    """Group every active rule by kind and pattern; identical patterns merge across policies."""
    now = now or datetime.now(UTC)
    grants: dict[RuleKind, dict[str, _Grant]] = {kind: {} for kind in RuleKind}
    for policy in policies:
        for rule in policy.rules:
            if rule.is_active(now):
                grants[rule.kind].setdefault(rule.pattern, _Grant()).merge(policy.name, rule)
    return grants


def _bucket(grants: dict[str, _Grant]) -> dict[str | None, dict[str, _Grant]]:
    buckets: dict[str | None, dict[str, _Grant]] = {}
    for pattern, grant in grants.items():
        buckets.setdefault(_first_segment(pattern), {})[pattern] = grant
    return buckets


class ACL:
    """The compiled policies of one token. Build once per policy set, then query freely.

    `now` decides which rules have passed their `expiration`; it defaults to the current time.
    """

    def __init__(self, policies: Iterable[Policy], now: datetime | None = None):
        policies = list(policies)
        self.policy_names = [policy.name for policy in policies]
        # OpenBao refuses to build an ACL that mixes root with other policies; tokens never carry
        # such a mix, so root simply wins here.
        self.is_root = ROOT_POLICY_NAME in self.policy_names
        grants = {kind: {} for kind in RuleKind} if self.is_root else _merge_rules(policies, now)
        self._exact: dict[str, _Grant] = grants[RuleKind.EXACT]
        self._prefixes: dict[str, _Grant] = grants[RuleKind.PREFIX]
        self._globs = _GlobIndex(grants[RuleKind.PREFIX], grants[RuleKind.SEGMENT])

    def resultant(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``sys/internal/ui/resultant-acl``: the merged exact and prefix rules, as OpenBao
        walks them (``+`` patterns are not part of its answer)."""
        return (
            {pattern: _resultant_rule(grant) for pattern, grant in sorted(self._exact.items())},
            {pattern: _resultant_rule(grant) for pattern, grant in sorted(self._prefixes.items())},
        )

    def capabilities(self, path: str) -> list[str]:
        """What `sys/capabilities` answers: sorted names, ["deny"] when nothing is granted."""
        if self.is_root:
            return [ROOT_CAPABILITY]
        grant = self._find(path, "list")  # OpenBao evaluates capabilities as a LIST request
        bits = grant.bits if grant else 0
        if not bits or bits & DENY:
            return ["deny"]
        return sorted(name for name, bit in CAPABILITY_BITS.items() if bits & bit)

    def check(
        self, path: str, operation: str, data: Mapping[str, Any] | None = None, *, wrap_ttl: float = 0.0
    ) -> AuthorizationResult:
        """May a request with this operation (and these parameters) go to this path?

        `root_privs` is for sudo paths. The parameter rules apply to read, create, update and
        patch, as in Vault. ``wrap_ttl`` is the request's X-Vault-Wrap-TTL in seconds (0: not
        wrapped), checked against the path's ``min_wrapping_ttl``/``max_wrapping_ttl``."""
        if self.is_root:
            return AuthorizationResult(
                allowed=True, root_privs=True, granting_policies=["root"], is_root=True
            )
        if operation == _HELP_OPERATION:
            return AuthorizationResult(allowed=True, root_privs=False, granting_policies=[])
        needed = _OPERATION_CAPABILITY.get(operation)
        if needed is None:
            raise ValueError(f"unknown operation {operation!r}")
        grant = self._find(path, operation)
        if grant is None:
            return AuthorizationResult(allowed=False, root_privs=False, granting_policies=[])
        allowed = bool(grant.bits & needed) and grant.wrapping_allowed(wrap_ttl)
        if allowed and operation in _PARAMETER_CHECKED:
            allowed = grant.parameters.permit(data or {})
        return AuthorizationResult(
            allowed=allowed,
            root_privs=bool(grant.bits & SUDO),
            granting_policies=list(grant.granted_by.get(needed, ())) if allowed else [],
        )

    def _find(self, path: str, operation: str) -> _Grant | None:
        path = path.lstrip("/")  # OpenBao strips leading slashes from request paths too
        grant = self._exact.get(path)
        if grant is not None:
            return grant
        listing = operation in ("list", "scan")
        if listing and path.endswith("/"):
            grant = self._exact.get(path[:-1])
            if grant is not None:
                return grant
        grant = self._globs.lookup(path)
        # OpenBao 2.7 retries the globs without the slash only for LIST, and only after the full
        # path matched nothing: with `t/*` and `t/+`, `t/k/` gets `t/*`, while `u/k/` gets `u/+`.
        if grant is None and operation == "list" and path.endswith("/"):
            grant = self._globs.lookup(path[:-1])
        return grant
