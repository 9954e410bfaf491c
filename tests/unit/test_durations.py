import pytest

from vaultlet.durations import DurationError, format_go_duration, format_human, parse_duration


@pytest.mark.parametrize(
    "value, seconds",
    [
        (3600, 3600),
        ("3600", 3600),
        ("1h", 3600),
        ("90s", 90),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("2m0s", 120),
        ("", 0),
        ("0", 0),
        ("1d", 86400),
        (" 15m ", 900),
    ],
)
def test_parse_duration_accepts_vault_forms(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["abc", "1x", "h", "1h 30m", True, None, [1], "--1s"])
def test_parse_duration_rejects_garbage(value):
    with pytest.raises(DurationError):
        parse_duration(value)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (60, "1m0s"),
        (120, "2m0s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (43200, "12h0m0s"),
        (2764800, "768h0m0s"),
        (1.5, "1.5s"),
        (0.25, "250ms"),
    ],
)
def test_format_go_duration_matches_go(seconds, text):
    assert format_go_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds, text",
    [
        (2764800, "768h"),
        (3600, "1h"),
        (5400, "1h30m"),
        (45, "45s"),
        (1800, "30m"),
        (3605, "1h5s"),
        (3660, "1h1m"),
        (0, "0s"),
    ],
)
def test_format_human_matches_vault_cli(seconds, text):
    assert format_human(seconds) == text


@pytest.mark.parametrize(
    "value", [float("inf"), float("-inf"), float("nan"), 10**30, -(10**30), "9" * 30, "3000000000h"]
)
def test_durations_beyond_gos_int64_nanoseconds_are_refused(value):
    # Go's time.Duration holds about 292 years; int(inf) used to escape as OverflowError (500).
    with pytest.raises(DurationError):
        parse_duration(value)


def test_the_longest_duration_go_holds_still_parses():
    assert parse_duration(9_223_372_036) == 9_223_372_036
