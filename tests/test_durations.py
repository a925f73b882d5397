"""Durations as featsql meta writes them: short forms and ISO 8601."""
from __future__ import annotations

from datetime import timedelta

import pytest

from featsql.durations import format_duration, parse_duration


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("1h", timedelta(hours=1)),
    ("1d", timedelta(days=1)), ("2w", timedelta(weeks=2)), (" 12h ", timedelta(hours=12)),
    ("P1D", timedelta(days=1)), ("PT30M", timedelta(minutes=30)), ("p1w", timedelta(weeks=1)),
    ("P1DT12H", timedelta(days=1, hours=12)), ("PT1.5S", timedelta(seconds=1.5)),
    (3600, timedelta(hours=1)),
])
def test_parse(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("none", [None, 0, "0", "", "0s", "0d", "PT0S"])
def test_zero_or_absent_means_no_limit(none: object) -> None:
    assert parse_duration(none) is None


@pytest.mark.parametrize("bad", ["1 day", "1y", "d", "-1d", "1.5h", "P", "PT", "P1M", "1dd", True, "soon", -60])
def test_bad(bad: object) -> None:
    with pytest.raises(ValueError, match="expected a duration like"):
        parse_duration(bad)


@pytest.mark.parametrize(("seconds", "text"), [
    (30, "30s"), (90, "90s"), (900, "15m"), (3600, "1h"), (86400, "1d"), (1209600, "2w"),
    (129600, "36h"),
])
def test_format_round_trips(seconds: int, text: str) -> None:
    td = timedelta(seconds=seconds)
    assert format_duration(td) == text
    assert parse_duration(text) == td


def test_format_none_and_zero() -> None:
    assert format_duration(None) is None
    assert format_duration(timedelta(0)) == "0s"
