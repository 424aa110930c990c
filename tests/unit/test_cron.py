"""Crontab day-of-week numbers mean what crontab means, whatever APScheduler 3 counts from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.cron import cron_trigger, crontab_weekdays


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("MON", "MON"),
        ("mon-fri", "mon-fri"),
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,6", "sun,sat"),
        ("5-7", "sun,fri,sat"),
        ("1-7", "*"),
        ("*/2", "sun,tue,thu,sat"),
        ("2/3", "tue,fri"),
    ],
)
def test_numbered_weekdays_become_names(field: str, expected: str) -> None:
    assert crontab_weekdays(field) == expected


@pytest.mark.parametrize("field", ["8", "5-1", "1-", "1-9"])
def test_invalid_numbered_weekdays_are_refused(field: str) -> None:
    with pytest.raises(ValueError):
        crontab_weekdays(field)


@pytest.mark.parametrize(
    ("expr", "weekday"),
    [("0 9 * * 1", 0), ("0 9 * * 0", 6), ("0 9 * * 7", 6), ("0 9 * * MON", 0), ("0 9 * * 5", 4)],
)
def test_trigger_fires_on_the_crontab_day(expr: str, weekday: int) -> None:
    # 2026-11-24 is a Tuesday.
    fire = cron_trigger(expr, "Europe/Berlin").get_next_fire_time(None, datetime(2026, 11, 24, tzinfo=UTC))
    assert fire is not None
    assert fire.weekday() == weekday
    assert (fire.hour, fire.minute) == (9, 0)


def test_trigger_needs_five_fields() -> None:
    with pytest.raises(ValueError, match="5 cron fields"):
        cron_trigger("0 0 9 * * MON", "UTC")
