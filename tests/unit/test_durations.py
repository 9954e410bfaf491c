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
