"""The pure parts of response wrapping: the wrap-TTL header parser, the ACL's wrapping limits
(with OpenBao's merge rule), the wrap TTL a response gets, and the envelope of a wrapped answer."""

from __future__ import annotations

import pytest

from vaultlet.core.acl import ACL, parse_policy
from vaultlet.core.wrapping import ResponseWrapper, rfc3339_nano
from vaultlet.durations import DurationError, parse_duration_second_strict
from vaultlet.framework.request import Request, Response, WrapInfo


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60", 60),
        ("60s", 60),
        ("1h30m", 5400),
        ("5d", 432000),
        ("500ms", 0.5),
        (".5s", 0.5),
        ("0", 0),
        ("", 0),
        ("-5", -5),
        ("100000h", 360000000),
    ],
)
def test_wrap_ttl_header_values_parse_as_openbao_parses_them(text, seconds):
    assert parse_duration_second_strict(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", 'time: invalid duration "abc"'),
        ("1.5", 'time: missing unit in duration "1.5"'),
        ("60S", 'time: unknown unit "S" in duration "60S"'),
        ("1e3", 'time: unknown unit "e" in duration "1e3"'),
        ("1.5d", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        (".s", 'time: invalid duration ".s"'),
        ("99999999999h", 'time: invalid duration "99999999999h"'),
    ],
)
def test_bad_wrap_ttl_header_values_get_gos_messages(text, message):
    with pytest.raises(DurationError) as raised:
        parse_duration_second_strict(text)
    assert str(raised.value) == message


def _acl(*texts: str) -> ACL:
    return ACL(parse_policy(f"p{number}", text) for number, text in enumerate(texts))


def _limited(minimum: str, maximum: str) -> str:
    return (
        f'path "s/x" {{\n  capabilities = ["read"]\n  min_wrapping_ttl = "{minimum}"\n'
        f'  max_wrapping_ttl = "{maximum}"\n}}'
    )


LIMITED = 'path "s/x" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "30s"\n  max_wrapping_ttl = "5m"\n}'


@pytest.mark.parametrize(
    ("wrap_ttl", "allowed"),
    [(0, False), (10, False), (29.5, False), (30, True), (120, True), (300, True), (301, False)],
)
def test_a_path_with_wrapping_limits_needs_a_wrap_ttl_inside_them(wrap_ttl, allowed):
    assert _acl(LIMITED).check("s/x", "read", wrap_ttl=wrap_ttl).allowed is allowed


def test_limits_do_not_grant_and_do_not_reach_other_paths():
    acl = _acl(LIMITED, 'path "s/y" { capabilities = ["read"] }')
    assert not acl.check("s/x", "update", wrap_ttl=60).allowed  # the capability still decides first
    assert acl.check("s/y", "read").allowed and acl.check("s/y", "read", wrap_ttl=5).allowed
    assert acl.capabilities("s/x") == ["read"]


def test_identical_paths_merge_to_the_lesser_limits_as_in_openbao():
    acl = _acl(_limited("10s", "1h"), _limited("1m", "2m"))
    # min = lesser of 10s and 1m, max = lesser of 1h and 2m.
    assert acl.check("s/x", "read", wrap_ttl=10).allowed and acl.check("s/x", "read", wrap_ttl=120).allowed
    assert (
        not acl.check("s/x", "read", wrap_ttl=121).allowed
        and not acl.check("s/x", "read", wrap_ttl=5).allowed
    )


def test_merged_limits_that_cross_refuse_everything():
    low_max = 'path "s/x" {\n  capabilities = ["read"]\n  max_wrapping_ttl = "10s"\n}'
    high_min = 'path "s/x" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "1m"\n}'
    acl = _acl(low_max, high_min)
    assert not any(acl.check("s/x", "read", wrap_ttl=ttl).allowed for ttl in (0, 5, 10, 60, 600))


def test_root_and_help_ignore_wrapping_limits():
    assert ACL([parse_policy("root", "")]).check("s/x", "read").allowed
    assert _acl(LIMITED).check("s/x", "help").allowed


def _request(wrap_ttl: float = 0, path: str = "aws/creds/x") -> Request:
    return Request(operation="read", path=path, wrap_ttl=wrap_ttl)


@pytest.mark.parametrize(
    ("requested", "from_backend", "expected"),
    [(0, 0, 0), (60, 0, 60), (0, 120, 120), (60, 120, 60), (300, 120, 120)],
)
def test_the_wrap_ttl_is_the_shorter_of_the_request_and_the_backend(requested, from_backend, expected):
    response = Response(data={"a": 1}, wrap_info=WrapInfo(ttl=from_backend) if from_backend else None)
    assert ResponseWrapper.wrap_ttl(_request(requested), response) == expected


def test_a_wrapped_answer_carries_only_wrap_info_and_warnings():
    info = WrapInfo(
        ttl=60,
        creation_path="auth/token/create",
        token="hvs.x",
        accessor="acc",
        creation_time="2026-01-01T00:00:00.5Z",
        wrapped_accessor="child",
    )
    envelope = Response(wrap_info=info, warnings=["w"], mount_type="token").envelope("some-id")
    assert envelope == {
        "request_id": "",
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": None,
        "wrap_info": {
            "token": "hvs.x",
            "accessor": "acc",
            "ttl": 60,
            "creation_time": "2026-01-01T00:00:00.5Z",
            "creation_path": "auth/token/create",
            "wrapped_accessor": "child",
        },
        "warnings": ["w"],
        "auth": None,
    }
    assert not Response(wrap_info=info).is_empty  # no data, but still a 200 with a body
    assert "wrapped_accessor" not in WrapInfo(ttl=1, token="t").to_wire()


def test_creation_times_are_rfc3339_with_trimmed_fractions():
    assert rfc3339_nano(1796157043.5) == "2026-12-01T20:30:43.5Z"
    assert rfc3339_nano(1796157043.0) == "2026-12-01T20:30:43Z"
