"""What a verified token's claims must satisfy, and what a login takes from them.

Pure functions over the decoded claims (no I/O), in the order OpenBao applies them:
the registered claims (``alg`` header, ``iss``, ``sub``, ``aud``, then ``nbf``/``exp``/
``iat`` with leeways, as hashicorp/cap's ``jwt.Validator``), then the role's user claim,
claim mappings, groups claim and bound claims (vault-plugin-auth-jwt's ``claims.go``).
Every failure raises :class:`ClaimError` with OpenBao's message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# What OpenBao accepts when jwt_supported_algs is empty (hashicorp/cap's supported set).
SUPPORTED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)
DEFAULT_LEEWAY = 150  # exp/nbf leeway when the claim is absent and the role says 0
DEFAULT_CLOCK_SKEW = 60
GLOB = "glob"
_BOUND = "error validating claims: "
STRING = "string"


class ClaimError(ValueError):
    """A claim the role or config does not accept; the message is OpenBao's."""


@dataclass
class Expected:
    """The registered-claim expectations of one login (cap's ``jwt.Expected``)."""

    issuer: str = ""
    subject: str = ""
    audiences: list[str] = field(default_factory=list)
    algorithms: list[str] = field(default_factory=list)
    clock_skew_leeway: int = 0
    expiration_leeway: int = 0
    not_before_leeway: int = 0


def _leeway(value: int, default: int) -> int:
    """0 means the default, a negative value means none (Vault's convention)."""
    if value < 0:
        return 0
    return value or default


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def _string_claim(claims: dict, name: str) -> str:
    value = claims.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ClaimError(
            f"json: cannot unmarshal {_go_type(value)} into Go struct field Claims.{name} of type string"
        )
    return value


def _audience(claims: dict) -> list[str]:
    value = claims.get("aud")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ClaimError("json: cannot unmarshal audience claim")


def _numeric_date(claims: dict, name: str) -> float:
    value = claims.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClaimError(
            f"json: cannot unmarshal {_go_type(value)} into Go struct field "
            f"Claims.{name} of type jwt.NumericDate"
        )
    return int(value)


def validate_registered(claims: dict, algorithm: str, expected: Expected, now: float | None = None) -> None:
    """The header's ``alg`` and the registered claims, checked as hashicorp/cap does."""
    if algorithm not in (expected.algorithms or SUPPORTED_ALGORITHMS):
        raise ClaimError("invalid algorithm (alg) header parameter: token signed with unexpected algorithm")
    issuer, subject = _string_claim(claims, "iss"), _string_claim(claims, "sub")
    audience = _audience(claims)
    if expected.issuer and expected.issuer != issuer:
        raise ClaimError("invalid issuer (iss) claim")
    if expected.subject and expected.subject != subject:
        raise ClaimError("invalid subject (sub) claim")
    if expected.audiences and not any(aud in audience for aud in expected.audiences):
        raise ClaimError("invalid audience (aud) claim: audience claim does not match any expected audience")
    _validate_times(claims, expected, time.time() if now is None else now)


def _validate_times(claims: dict, expected: Expected, now: float) -> None:
    issued_at = _numeric_date(claims, "iat")
    expiry = _numeric_date(claims, "exp")
    not_before = _numeric_date(claims, "nbf")
    if not (issued_at or expiry or not_before):
        raise ClaimError("no issued at (iat), not before (nbf), or expiration time (exp) claims in token")
    # A missing exp or nbf is derived from the others, widened by the role's leeways.
    if not expiry:
        expiry = max(issued_at, not_before) + _leeway(expected.expiration_leeway, DEFAULT_LEEWAY)
    if not not_before:
        not_before = issued_at or expiry - _leeway(expected.not_before_leeway, DEFAULT_LEEWAY)
    skew = _leeway(expected.clock_skew_leeway, DEFAULT_CLOCK_SKEW)
    if now + skew < not_before:
        raise ClaimError("invalid not before (nbf) claim: token not yet valid")
    if now - skew > expiry:
        raise ClaimError("invalid expiration time (exp) claim: token is expired")
    if issued_at and now + skew < issued_at:
        raise ClaimError("invalid issued at (iat) claim: token issued in the future")


# -- the role's claims ---------------------------------------------------------------


def get_claim(claims: dict, name: str) -> Any:
    """A claim by name, or by JSON pointer (RFC 6901) when the name starts with ``/``.

    Numbers come back as :class:`Number` so that ``42`` in a bound claim matches the
    claim ``42`` but not the string ``"42"``, as in Vault (json.Number)."""
    value = claims.get(name) if not name.startswith("/") else _pointer(claims, name)
    if name == "aud" and isinstance(value, str):
        value = [value]
    return _as_number(value)


def _pointer(document: Any, pointer: str) -> Any:
    current = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            current = current.get(token)
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return None
        if current is None:
            return None
    return current


@dataclass(frozen=True)
class Number:
    text: str


def _as_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return Number(str(int(value)))


def _bound_value(value: Any) -> Any:
    """A bound claim's configured value: numbers as written in the JSON (json.Number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return Number(str(value))


def _normalize_list(value: Any) -> list | None:
    if isinstance(value, list):
        return value
    if isinstance(value, (str, bool, Number)):
        return [value]
    return None


def user_name(claims: dict, user_claim: str, json_pointer: bool = False) -> str:
    value = get_claim(claims, user_claim) if json_pointer else claims.get(user_claim)
    if value is None:
        raise ClaimError(f'claim "{user_claim}" not found in token')
    if not isinstance(value, str):
        raise ClaimError(f'claim "{user_claim}" could not be converted to string')
    return value


def mapped_metadata(claims: dict, claim_mappings: dict[str, str]) -> dict[str, str]:
    """Token metadata from ``claim_mappings`` (claim → metadata key); absent claims are skipped."""
    metadata: dict[str, str] = {}
    for source, target in claim_mappings.items():
        value = get_claim(claims, source)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ClaimError(f"error converting claim '{source}' to string")
        metadata[target] = value
    return metadata


def group_names(claims: dict, groups_claim: str) -> list[str]:
    if not groups_claim:
        return []
    raw = get_claim(claims, groups_claim)
    if raw is None:
        raise ClaimError(f'failed to fetch groups: "{groups_claim}" claim not found in token')
    values = _normalize_list(raw)
    if values is None:
        raise ClaimError(f'"{groups_claim}" claim could not be converted to string list')
    groups = []
    for value in values:
        if not isinstance(value, str):
            shown = value.text if isinstance(value, Number) else value
            raise ClaimError(f"value {shown} in groups claim could not be parsed as string")
        if value:
            groups.append(value)
    return groups


def glob_match(pattern: str, value: str) -> bool:
    """ryanuber/go-glob, which Vault uses: ``*`` matches any run of characters, nothing else
    is special (no ``?`` or ``[...]``, unlike fnmatch)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == value
    if not value.startswith(parts[0]) or not value.endswith(parts[-1]):
        return False
    position, end = len(parts[0]), len(value) - len(parts[-1])
    if end < position:
        return False
    for part in parts[1:-1]:
        found = value.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def validate_bound_claims(claims: dict, bound_claims: dict[str, Any], claims_type: str = STRING) -> None:
    """Every bound claim must be present and match one of its values (globs for ``glob``)."""
    for name, expected in bound_claims.items():
        actual = get_claim(claims, name)
        if actual is None:
            raise ClaimError(f'{_BOUND}claim "{name}" is missing')
        actual_values = _normalize_list(actual)
        if actual_values is None:
            raise ClaimError(f"{_BOUND}received claim is not a string, bool, int or list: {actual}")
        expected_values = _normalize_list(_bound_value(expected))
        if isinstance(expected, list):
            expected_values = [_bound_value(item) for item in expected]
        if expected_values is None:
            raise ClaimError(f"{_BOUND}bound claim is not a string, bool, int or list: {expected}")
        if not _any_match(expected_values, [_as_number(v) for v in actual_values], claims_type == GLOB):
            raise ClaimError(f'{_BOUND}claim "{name}" does not match any associated bound claim values')


def _any_match(expected_values: list, actual_values: list, use_globs: bool) -> bool:
    for expected in expected_values:
        for actual in actual_values:
            if use_globs:
                if isinstance(expected, str) and isinstance(actual, str) and glob_match(expected, actual):
                    return True
            elif type(expected) is type(actual) and expected == actual:
                return True
    return False
