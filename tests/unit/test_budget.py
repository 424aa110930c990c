"""Daily tier budget arithmetic and message expiry (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.budget import daily_budget_decision, expires_at


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NOW = utc(2026, 6, 2, 12)


@pytest.mark.parametrize(
    ("count", "cap", "counted", "oldest", "expected"),
    [
        pytest.param(10**6, None, False, None, (True, None), id="no-cap"),
        pytest.param(0, 1000, False, None, (True, None), id="empty-window"),
        pytest.param(999, 1000, False, utc(2026, 6, 1, 13), (True, None), id="last-free-slot"),
        pytest.param(1000, 1000, False, utc(2026, 6, 1, 13), (False, utc(2026, 6, 2, 13)), id="full-waits-for-oldest"),
        pytest.param(1000, 1000, True, utc(2026, 6, 1, 13), (True, None), id="full-but-already-counted"),
        pytest.param(1200, 1000, False, utc(2026, 6, 1, 20), (False, utc(2026, 6, 2, 20)), id="over-cap"),
        pytest.param(1000, 1000, False, None, (False, NOW + timedelta(hours=24)), id="full-unknown-oldest"),
        pytest.param(1000, 1000, False, utc(2026, 6, 1, 11), (False, NOW), id="stale-oldest-frees-now"),
        pytest.param(0, 0, False, None, (False, None), id="zero-cap-never"),
    ],
)
def test_daily_budget_decision(
    count: int, cap: int | None, counted: bool, oldest: datetime | None, expected: tuple[bool, datetime | None]
) -> None:
    assert daily_budget_decision(count, cap, counted, oldest, NOW) == expected


@pytest.mark.parametrize(
    ("expires_after", "valid_until", "tz", "expected"),
    [
        pytest.param(None, None, "UTC", None, id="no-limit"),
        pytest.param(timedelta(hours=12), None, "UTC", utc(2026, 6, 2, 0), id="expires-after"),
        pytest.param(None, datetime(2026, 6, 1, 23, 59), "Asia/Kolkata", utc(2026, 6, 1, 18, 29), id="valid-until"),
        pytest.param(
            timedelta(hours=12), datetime(2026, 6, 1, 20), "UTC", utc(2026, 6, 1, 20), id="earlier-limit-wins"
        ),
        pytest.param(timedelta(hours=2), datetime(2026, 6, 2), "UTC", utc(2026, 6, 1, 14), id="expires-after-wins"),
        pytest.param(None, utc(2026, 6, 3), "Asia/Kolkata", utc(2026, 6, 3), id="aware-valid-until-kept"),
    ],
)
def test_expires_at(
    expires_after: timedelta | None, valid_until: datetime | None, tz: str, expected: datetime | None
) -> None:
    assert expires_at(utc(2026, 6, 1, 12), expires_after, valid_until, tz=tz) == expected
