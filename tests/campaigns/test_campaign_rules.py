"""The pure value rules of campaign files: durations, clocks, cron lines, zones, names, dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from hub.campaigns import rules
from hub.campaigns.duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("2d", timedelta(days=2)),
        (" 15 m ", timedelta(minutes=15)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["tomorrow", "12", "1.5h", "-2h", "0m", "2w", "h", ""])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="expected a"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=61), "61s"),
    ],
)
def test_format_duration_is_the_shortest_exact_form(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


@pytest.mark.parametrize("value", ["00:00", "09:30", "23:59", " 20:00 "])
def test_parse_clock_accepts(value: str) -> None:
    assert rules.parse_clock(value) == value.strip()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("24:00", "00:00 to 23:59"),
        ("9:00", "HH:MM"),
        ("09:60", "HH:MM"),
        ("9am", "HH:MM"),
        (1200, "in quotes"),
        (None, "HH:MM"),
    ],
)
def test_parse_clock_refuses(value: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        rules.parse_clock(value)


@pytest.mark.parametrize(
    "expr", ["0 9 * * MON", "*/15 8-18 * * mon-fri", "30 9 1 * *", "0 0 1 jan,jul *", "0 9 * * SAT,SUN"]
)
def test_check_cron_accepts(expr: str) -> None:
    assert rules.check_cron(expr, "Europe/Berlin") == expr


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("0 9 * *", "expected 5 cron fields"),
        ("0 0 9 * * MON", "expected 5 cron fields"),
        ("@daily", "expected 5 cron fields"),
        ("0 9 * * 8", "day-of-week numbers 0-7"),
        ("0 9 * * 5-1", "rising day range"),
        ("61 9 * * *", "maximum value"),
        ("0 24 * * *", "maximum value"),
        ("0 9 * 13 *", "maximum value"),
        ("0 9 * * FUNDAY", "Invalid weekday name"),
    ],
)
def test_check_cron_refuses(expr: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        rules.check_cron(expr, "UTC")


@pytest.mark.parametrize(("zone", "ok"), [("Europe/Berlin", True), ("UTC", True), ("Mars/Base", False), ("", False)])
def test_check_timezone(zone: str, ok: bool) -> None:
    if ok:
        assert rules.check_timezone(zone) == zone
    else:
        with pytest.raises(ValueError, match="IANA"):
            rules.check_timezone(zone)


@pytest.mark.parametrize(
    ("name", "ok"), [("spring-sale", True), ("a1", True), ("Spring", False), ("a_b", False), ("a b", False)]
)
def test_check_name(name: str, ok: bool) -> None:
    if ok:
        assert rules.check_name(name) == name
    else:
        with pytest.raises(ValueError, match=r"\[a-z0-9-\]\+"):
            rules.check_name(name)


@pytest.mark.parametrize(
    ("key", "expected"),
    [("1", "1"), (2, "2"), ("100", "100"), ("0", None), ("01", None), ("101", None), ("x", None), (True, None)],
)
def test_check_content_variable_key(key: Any, expected: str | None) -> None:
    if expected is not None:
        assert rules.check_content_variable_key(key) == expected
    else:
        with pytest.raises(ValueError, match="placeholder number"):
            rules.check_content_variable_key(key)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 9)),
        ("2026-12-01T09:00", datetime(2026, 12, 1, 9)),
        ("2026-12-01 09:00:00", datetime(2026, 12, 1, 9)),
    ],
)
def test_parse_datetime_accepts(value: Any, expected: datetime) -> None:
    assert rules.parse_datetime(value) == expected


@pytest.mark.parametrize("value", [date(2026, 12, 1), "2026-12-01", "soon", 1700000000])
def test_parse_datetime_refuses(value: Any) -> None:
    with pytest.raises(ValueError, match="expected a date and time"):
        rules.parse_datetime(value)
