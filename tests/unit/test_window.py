"""Quiet hours: the next opening of a send window per zone, across midnight and DST (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.campaigns.spec import CampaignSpec, MessageSpec, Schedule, SendWindow
from hub.window import held_until, next_opening, parse_hhmm, send_at_for


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


DAY = SendWindow(start="09:00", end="20:00")
NIGHT = SendWindow(start="22:00", end="06:00")


@pytest.mark.parametrize(
    ("now", "window", "tz", "expected"),
    [
        pytest.param(utc(2026, 6, 1, 2), DAY, "Asia/Kolkata", utc(2026, 6, 1, 3, 30), id="kolkata-before-opening"),
        pytest.param(utc(2026, 6, 1, 5), DAY, "Asia/Kolkata", utc(2026, 6, 1, 5), id="kolkata-inside"),
        pytest.param(utc(2026, 6, 1, 15), DAY, "Asia/Kolkata", utc(2026, 6, 2, 3, 30), id="kolkata-after-close"),
        pytest.param(
            utc(2026, 6, 1, 14, 30), DAY, "Asia/Kolkata", utc(2026, 6, 2, 3, 30), id="kolkata-end-is-exclusive"
        ),
        pytest.param(utc(2026, 6, 1, 3, 30), DAY, "Asia/Kolkata", utc(2026, 6, 1, 3, 30), id="start-is-inclusive"),
        pytest.param(utc(2026, 6, 1, 10), DAY, "America/Sao_Paulo", utc(2026, 6, 1, 12), id="sao-paulo-morning"),
        pytest.param(utc(2026, 6, 1, 2), DAY, "America/Sao_Paulo", utc(2026, 6, 1, 12), id="sao-paulo-previous-eve"),
        pytest.param(utc(2026, 6, 1, 23), NIGHT, "UTC", utc(2026, 6, 1, 23), id="night-window-before-midnight"),
        pytest.param(utc(2026, 6, 1, 3), NIGHT, "UTC", utc(2026, 6, 1, 3), id="night-window-after-midnight"),
        pytest.param(utc(2026, 6, 1, 6), NIGHT, "UTC", utc(2026, 6, 1, 22), id="night-window-closed-at-end"),
        pytest.param(utc(2026, 6, 1, 12), NIGHT, "UTC", utc(2026, 6, 1, 22), id="night-window-midday"),
        pytest.param(utc(2026, 6, 1, 12), NIGHT, "Asia/Kolkata", utc(2026, 6, 1, 16, 30), id="night-window-kolkata"),
        pytest.param(  # 01:30 CET on the spring day; 02:30 does not exist, the window opens at 03:30 CEST
            utc(2026, 3, 29, 0, 30),
            SendWindow(start="02:30", end="20:00"),
            "Europe/Berlin",
            utc(2026, 3, 29, 1, 30),
            id="berlin-start-in-spring-gap-shifts",
        ),
        pytest.param(  # the whole window lies in the gap that day: wait for the next day
            utc(2026, 3, 29, 0, 30),
            SendWindow(start="02:00", end="02:45"),
            "Europe/Berlin",
            utc(2026, 3, 30, 0),
            id="berlin-window-swallowed-by-gap",
        ),
        pytest.param(
            utc(2026, 3, 28, 20), DAY, "Europe/Berlin", utc(2026, 3, 29, 7), id="berlin-opening-after-spring-forward"
        ),
        pytest.param(
            utc(2026, 10, 25, 6), DAY, "Europe/Berlin", utc(2026, 10, 25, 8), id="berlin-opening-after-fall-back"
        ),
        pytest.param(utc(2026, 3, 8, 12), DAY, "America/New_York", utc(2026, 3, 8, 13), id="new-york-dst-start-day"),
        pytest.param(
            utc(2026, 6, 1, 12), SendWindow(start="10:00", end="10:00"), "UTC", utc(2026, 6, 1, 12), id="always-open"
        ),
        pytest.param(
            utc(2026, 6, 1, 23, 30),
            SendWindow(start="09:00", end="24:00"),
            "UTC",
            utc(2026, 6, 1, 23, 30),
            id="end-of-day-24h",
        ),
    ],
)
def test_next_opening(now: datetime, window: SendWindow, tz: str, expected: datetime) -> None:
    assert next_opening(now, window, tz) == expected


@pytest.mark.parametrize("text", ["9", "09-00", "25:00", "09:60", "ab:cd", "9:5", "24:01"])
def test_parse_hhmm_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        pytest.param("+919876543210", utc(2026, 6, 1, 3, 30), id="india-number-uses-kolkata"),
        pytest.param("+5511987654321", utc(2026, 6, 1, 12), id="brazil-number-uses-sao-paulo"),
        pytest.param("+4915123456789", utc(2026, 6, 1, 7), id="german-number-uses-berlin"),
        pytest.param("+18005550100", utc(2026, 6, 1, 9), id="zone-less-number-uses-campaign-zone"),
    ],
)
def test_send_at_for_reads_the_window_in_the_recipient_zone(phone: str, expected: datetime) -> None:
    assert send_at_for(phone, DAY, "UTC", utc(2026, 6, 1, 1)) == expected


def test_send_at_for_without_window_is_now() -> None:
    assert send_at_for("+919876543210", None, "UTC", utc(2026, 6, 1, 1)) == utc(2026, 6, 1, 1)


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        pytest.param(None, utc(2026, 6, 1, 23), None, id="no-schedule"),
        pytest.param(Schedule(cron="0 9 * * *"), utc(2026, 6, 1, 23), None, id="no-window"),
        pytest.param(Schedule(cron="0 9 * * *", send_window=DAY), utc(2026, 6, 1, 5), None, id="inside"),
        pytest.param(
            Schedule(cron="0 9 * * *", send_window=DAY), utc(2026, 6, 1, 15), utc(2026, 6, 2, 3, 30), id="after-close"
        ),
    ],
)
def test_held_until_says_when_a_campaign_message_may_go(
    schedule: Schedule | None, now: datetime, expected: datetime | None
) -> None:
    spec = CampaignSpec(name="sale", source=Path("sale.yaml"), message=MessageSpec(body="hi"), schedule=schedule)
    assert held_until(spec, "UTC", now)("+919876543210") == expected  # an Indian number: Asia/Kolkata
