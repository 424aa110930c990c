"""Schedule planning: fire times across DST, fire keys, misfire decisions (pure, injected times)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.campaigns.spec import CampaignSpec, MessageSpec, Schedule, SendWindow
from hub.planning import (
    CatchUp,
    PlannedFire,
    catch_up_fires,
    fire_key,
    fire_times,
    misfire_decision,
    next_fire_time,
    past_at,
    plan_next_fires,
    schedule_fingerprint,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


@pytest.mark.parametrize(
    ("schedule", "after", "until", "expected"),
    [
        pytest.param(  # 02:30 does not exist on 2026-03-29: it fires once, at 03:30 CEST
            Schedule(cron="30 2 * * *", timezone=BERLIN),
            utc(2026, 3, 28, 12),
            utc(2026, 3, 30, 12),
            [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)],
            id="berlin-spring-gap-fires-once-shifted",
        ),
        pytest.param(  # 02:30 happens twice on 2026-10-25 (00:30Z and 01:30Z): only the first fires
            Schedule(cron="30 2 * * *", timezone=BERLIN),
            utc(2026, 10, 24, 12),
            utc(2026, 10, 26, 12),
            [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
            id="berlin-fall-back-fires-once",
        ),
        pytest.param(
            Schedule(cron="0 9 * * *", timezone=BERLIN),
            utc(2026, 3, 28),
            utc(2026, 3, 30),
            [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)],
            id="berlin-9am-follows-the-offset-change",
        ),
        pytest.param(
            Schedule(cron="*/30 * * * *", timezone=BERLIN),
            utc(2026, 10, 24, 23, 50),
            utc(2026, 10, 25, 2, 40),
            [utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2), utc(2026, 10, 25, 2, 30)],
            id="berlin-frequent-cron-skips-the-repeated-hour",
        ),
        pytest.param(  # the first 02:30 is before `after`: the repeat is the same fire, not a new one
            Schedule(cron="30 2 * * *", timezone=BERLIN),
            utc(2026, 10, 25, 0, 45),
            utc(2026, 10, 25, 2),
            [],
            id="berlin-fall-back-repeat-after-window-start-is-not-new",
        ),
        pytest.param(
            Schedule(cron="30 2 * * *", timezone=NEW_YORK),
            utc(2026, 3, 7, 12),
            utc(2026, 3, 9, 12),
            [utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)],
            id="new-york-spring-gap",
        ),
        pytest.param(
            Schedule(cron="30 1 * * *", timezone=NEW_YORK),
            utc(2026, 10, 31, 12),
            utc(2026, 11, 2, 12),
            [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
            id="new-york-fall-back-fires-once",
        ),
        pytest.param(
            Schedule(cron="0 9 * * MON", timezone=NEW_YORK),
            utc(2026, 3, 1),
            utc(2026, 3, 17),
            [utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), utc(2026, 3, 16, 13)],
            id="new-york-weekly",
        ),
        pytest.param(
            Schedule(cron="0 9 * * *"),
            utc(2026, 6, 1),
            utc(2026, 6, 2),
            [utc(2026, 6, 1, 3, 30)],
            id="cron-without-timezone-uses-default",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 12, 1, 9), timezone=BERLIN),
            utc(2026, 11, 30),
            utc(2026, 12, 2),
            [utc(2026, 12, 1, 8)],
            id="at-naive-is-local",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 12, 1, 9, tzinfo=UTC), timezone=BERLIN),
            utc(2026, 11, 30),
            utc(2026, 12, 2),
            [utc(2026, 12, 1, 9)],
            id="at-aware-keeps-its-offset",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 12, 1, 9), timezone=BERLIN),
            utc(2026, 12, 1, 8),
            utc(2026, 12, 2),
            [],
            id="at-on-the-lower-bound-is-excluded",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 12, 1, 9), timezone=BERLIN),
            utc(2026, 11, 30),
            utc(2026, 12, 1, 8),
            [utc(2026, 12, 1, 8)],
            id="at-on-the-upper-bound-is-included",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 3, 29, 2, 30), timezone=BERLIN),
            utc(2026, 3, 29),
            utc(2026, 3, 30),
            [utc(2026, 3, 29, 1, 30)],
            id="at-in-the-gap-shifts-forward",
        ),
        pytest.param(Schedule(), utc(2026, 1, 1), utc(2027, 1, 1), [], id="no-at-no-cron"),
    ],
)
def test_fire_times(schedule: Schedule, after: datetime, until: datetime, expected: list[datetime]) -> None:
    assert fire_times(schedule, "Asia/Kolkata", after, until) == expected


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        pytest.param(
            Schedule(cron="30 9 * * mon-fri", timezone="America/Sao_Paulo"),
            utc(2026, 3, 6, 12),
            utc(2026, 3, 6, 12, 30),
            id="sao-paulo-weekday",
        ),
        pytest.param(Schedule(cron="0 0 1 1 *", timezone=BERLIN), utc(2026, 1, 2), utc(2026, 12, 31, 23), id="yearly"),
        pytest.param(Schedule(at=datetime(2026, 1, 1), timezone=BERLIN), utc(2026, 6, 1), None, id="at-in-the-past"),
    ],
)
def test_next_fire_time(schedule: Schedule, after: datetime, expected: datetime | None) -> None:
    assert next_fire_time(schedule, "UTC", after) == expected


def test_fire_key_collapses_the_fall_back_double_fire() -> None:
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert fire_key(first, BERLIN) == fire_key(second, BERLIN) == "2026-10-25T02:30 Europe/Berlin"


@pytest.mark.parametrize(
    ("fire_time", "tz", "expected"),
    [
        pytest.param(utc(2026, 3, 29, 1, 30), BERLIN, "2026-03-29T03:30 Europe/Berlin", id="spring-gap-shifted"),
        pytest.param(utc(2026, 12, 1, 8), BERLIN, "2026-12-01T09:00 Europe/Berlin", id="winter"),
        pytest.param(utc(2026, 12, 1, 8, 0, 5), "UTC", "2026-12-01T08:00:05 UTC", id="seconds-when-not-zero"),
        pytest.param(datetime(2026, 12, 1, 8), "Asia/Kolkata", "2026-12-01T13:30 Asia/Kolkata", id="naive-is-utc"),
    ],
)
def test_fire_key(fire_time: datetime, tz: str, expected: str) -> None:
    assert fire_key(fire_time, tz) == expected


def test_fire_keys_of_different_days_differ() -> None:
    assert fire_key(utc(2026, 6, 1, 7), BERLIN) != fire_key(utc(2026, 6, 2, 7), BERLIN)


@pytest.mark.parametrize(
    ("scheduled", "now", "grace_s", "expected"),
    [
        pytest.param(utc(2026, 6, 1, 9), utc(2026, 6, 1, 9), 3600, "run", id="on-time"),
        pytest.param(utc(2026, 6, 1, 9), utc(2026, 6, 1, 8, 59), 3600, "run", id="early"),
        pytest.param(utc(2026, 6, 1, 9), utc(2026, 6, 1, 9, 59), 3600, "run", id="late-within-grace"),
        pytest.param(utc(2026, 6, 1, 9), utc(2026, 6, 1, 10), 3600, "run", id="late-exactly-grace"),
        pytest.param(utc(2026, 6, 1, 9), utc(2026, 6, 1, 10, 0, 1), 3600, "missed", id="late-beyond-grace"),
        pytest.param(utc(2026, 6, 1, 9), utc(2026, 6, 1, 9, 0, 1), 0, "missed", id="zero-grace"),
    ],
)
def test_misfire_decision(scheduled: datetime, now: datetime, grace_s: float, expected: str) -> None:
    assert misfire_decision(scheduled, now, grace_s) == expected


def campaign(name: str, schedule: Schedule | None, *, enabled: bool = True) -> CampaignSpec:
    return CampaignSpec(
        name=name, source=Path(f"{name}.yaml"), message=MessageSpec(body="hi"), schedule=schedule, enabled=enabled
    )


def test_plan_next_fires_keeps_enabled_campaigns_that_fire_again() -> None:
    specs = [
        campaign("daily", Schedule(cron="0 9 * * *", timezone=BERLIN)),
        campaign("once", Schedule(at=datetime(2026, 6, 1, 12), timezone="UTC")),
        campaign("past", Schedule(at=datetime(2026, 1, 1), timezone="UTC")),
        campaign("off", Schedule(cron="* * * * *"), enabled=False),
        campaign("manual", None),
    ]
    assert plan_next_fires(specs, "UTC", utc(2026, 6, 1, 10)) == [
        PlannedFire("daily", utc(2026, 6, 2, 7), BERLIN),
        PlannedFire("once", utc(2026, 6, 1, 12), "UTC"),
    ]


def test_planned_fire_job_id_changes_with_the_time() -> None:
    assert PlannedFire("a", utc(2026, 6, 1), "UTC").job_id != PlannedFire("a", utc(2026, 6, 2), "UTC").job_id


HOURLY = Schedule(cron="0 * * * *", timezone="UTC")
EVERY_2_MIN = Schedule(cron="*/2 * * * *", timezone="UTC")
DAILY_9 = Schedule(cron="0 9 * * *", timezone="UTC")
NOW = utc(2026, 6, 1, 10, 20)


@pytest.mark.parametrize(
    ("schedule", "seen_since", "expected"),
    [
        pytest.param(EVERY_2_MIN, NOW, CatchUp(None, []), id="new-frequent-cron-starts-nothing-for-past-slots"),
        pytest.param(DAILY_9, utc(2026, 6, 1, 9, 20), CatchUp(None, []), id="daily-cron-committed-after-its-time"),
        pytest.param(HOURLY, NOW, CatchUp(None, []), id="fresh-deployment-first-start"),
        pytest.param(
            HOURLY,
            utc(2026, 6, 1, 7, 30),
            CatchUp(utc(2026, 6, 1, 10), [utc(2026, 6, 1, 8), utc(2026, 6, 1, 9)]),
            id="downtime-latest-runs-the-rest-missed",
        ),
        pytest.param(
            EVERY_2_MIN,
            utc(2026, 6, 1, 10, 13),
            CatchUp(utc(2026, 6, 1, 10, 20), [utc(2026, 6, 1, 10, m) for m in (14, 16, 18)]),
            id="frequent-cron-after-downtime-one-fire",
        ),
        pytest.param(
            Schedule(cron="0 10 * * *", timezone="UTC"),
            utc(2026, 6, 1, 8),
            CatchUp(utc(2026, 6, 1, 10), []),
            id="daily-seen-before-missed-within-grace",
        ),
        pytest.param(DAILY_9, utc(2026, 6, 1, 9), CatchUp(None, []), id="fire-at-the-instant-first-seen-never-runs"),
        pytest.param(
            Schedule(cron="0 8 * * *", timezone="UTC"),
            utc(2026, 6, 1, 7),
            CatchUp(None, [utc(2026, 6, 1, 8)]),
            id="missed-beyond-grace",
        ),
        pytest.param(
            HOURLY,
            utc(2026, 5, 1),
            CatchUp(utc(2026, 6, 1, 10), [utc(2026, 6, 1, h) for h in (7, 8, 9)]),
            id="lookback-bounds-the-missed",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 6, 1, 10), timezone="UTC"),
            utc(2026, 6, 1, 10, 5),
            CatchUp(None, []),
            id="at-first-seen-after-its-time-never-fires",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 6, 1, 10), timezone="UTC"),
            utc(2026, 5, 20),
            CatchUp(utc(2026, 6, 1, 10), []),
            id="at-seen-before-missed-within-grace",
        ),
        pytest.param(
            Schedule(at=datetime(2026, 6, 1, 8), timezone="UTC"),
            utc(2026, 5, 20),
            CatchUp(None, [utc(2026, 6, 1, 8)]),
            id="at-seen-before-missed-beyond-grace",
        ),
    ],
)
def test_catch_up_fires(schedule: Schedule, seen_since: datetime, expected: CatchUp) -> None:
    assert catch_up_fires(schedule, "UTC", NOW, grace_s=3600, lookback_s=4 * 3600, seen_since=seen_since) == expected


def test_a_grace_longer_than_the_lookback_still_finds_the_latest_fire() -> None:
    owed = catch_up_fires(DAILY_9, "UTC", NOW, grace_s=2 * 3600, lookback_s=60, seen_since=utc(2026, 6, 1))
    assert owed == CatchUp(utc(2026, 6, 1, 9), [])


def named(schedule: Schedule | None, *, enabled: bool = True) -> CampaignSpec:
    return campaign("sale", schedule, enabled=enabled)


@pytest.mark.parametrize(
    ("other", "same"),
    [
        pytest.param(named(Schedule(cron="0 9 * * *")), True, id="same-schedule"),
        pytest.param(
            named(Schedule(cron="0 9 * * *", send_window=SendWindow(start="09:00", end="18:00"))),
            True,
            id="send-window-does-not-move-fires",
        ),
        pytest.param(named(Schedule(cron="0 9 * * *", timezone="UTC")), True, id="explicit-default-zone"),
        pytest.param(named(Schedule(cron="0 10 * * *")), False, id="another-time"),
        pytest.param(named(Schedule(cron="0 9 * * *", timezone=BERLIN)), False, id="another-zone"),
        pytest.param(named(Schedule(cron="0 9 * * *"), enabled=False), False, id="disabled"),
        pytest.param(named(None), False, id="unscheduled"),
    ],
)
def test_schedule_fingerprint_changes_only_with_what_moves_fires(other: CampaignSpec, same: bool) -> None:
    base = named(Schedule(cron="0 9 * * *"))
    assert (schedule_fingerprint(base, "UTC") == schedule_fingerprint(other, "UTC")) is same


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param(Schedule(at=datetime(2026, 6, 1, 10)), utc(2026, 6, 1, 10), id="past"),
        pytest.param(Schedule(at=datetime(2026, 6, 1, 10, 20)), utc(2026, 6, 1, 10, 20), id="now-is-past"),
        pytest.param(Schedule(at=datetime(2026, 6, 1, 11)), None, id="future"),
        pytest.param(Schedule(at=datetime(2026, 6, 1, 12), timezone=BERLIN), utc(2026, 6, 1, 10), id="zoned"),
        pytest.param(Schedule(cron="0 9 * * *"), None, id="cron"),
    ],
)
def test_past_at(schedule: Schedule, expected: datetime | None) -> None:
    assert past_at(schedule, "UTC", NOW) == expected
