"""Schedules fire once: one run per campaign fire, across repeats, threads, restarts and DST."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.campaigns.spec import CampaignSpec, MessageSpec, RateLimit, Schedule
from hub.config import Settings
from hub.status import RunState
from hub.store import queries
from hub.store.db import run_sync
from scheduler.fire import Firer

FIRE = datetime(2026, 6, 1, 9, tzinfo=UTC)


def campaign(schedule: Schedule, name: str = "sale") -> CampaignSpec:
    return CampaignSpec(name=name, source=Path(f"{name}.yaml"), message=MessageSpec(body="hi"), schedule=schedule)


DAILY = campaign(Schedule(cron="0 9 * * *", timezone="UTC"))


class Clock:
    """A settable clock, shared by the firers of one test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Started(list[int]):
    """Records the runs whose fan-out was enqueued (stands in for ``fan_out_run.send``)."""

    def __call__(self, run_id: int) -> None:
        self.append(run_id)


@pytest.fixture
def started() -> Started:
    return Started()


@pytest.fixture
def make_firer(db_settings: Settings, started: Started) -> Callable[[datetime], Firer]:
    def make(now: datetime) -> Firer:
        return Firer(db_settings, clock=Clock(now), start_run=started)

    return make


def runs(name: str = "sale") -> list[queries.RunRecord]:
    return run_sync(queries.list_runs(campaign=name))


def test_a_second_fire_of_the_same_time_makes_no_second_run(make_firer: Callable[..., Firer], started: Started) -> None:
    first = make_firer(FIRE).fire(DAILY, FIRE)
    second = make_firer(FIRE + timedelta(seconds=2)).fire(DAILY, FIRE)
    assert (first.created, second.created) == (True, False)
    assert second.run_id == first.run_id
    assert started == [first.run_id]


def test_concurrent_fires_from_many_schedulers_make_one_run(make_firer: Callable[..., Firer], started: Started) -> None:
    firers = [make_firer(FIRE) for _ in range(6)]
    barrier = threading.Barrier(len(firers))
    outcomes = []

    def fire(firer: Firer) -> None:
        barrier.wait()
        outcomes.append(firer.fire(DAILY, FIRE))

    threads = [threading.Thread(target=fire, args=(firer,)) for firer in firers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(outcome.created for outcome in outcomes) == 1
    assert len(runs()) == 1
    assert len(started) == 1


def test_the_fall_back_double_fire_makes_one_run(make_firer: Callable[..., Firer], started: Started) -> None:
    nightly = campaign(Schedule(cron="30 2 * * *", timezone="Europe/Berlin"))
    first, repeat = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    make_firer(first).fire(nightly, first)
    make_firer(repeat).fire(nightly, repeat)
    assert [run.fire_key for run in runs()] == ["2026-10-25T02:30 Europe/Berlin"]
    assert len(started) == 1


def test_a_fire_late_within_grace_runs(make_firer: Callable[..., Firer], started: Started) -> None:
    outcome = make_firer(FIRE + timedelta(minutes=59)).fire(DAILY, FIRE)
    assert outcome.state is RunState.RUNNING
    assert started == [outcome.run_id]


def test_a_fire_late_beyond_grace_is_recorded_missed_and_not_started(
    make_firer: Callable[..., Firer], started: Started
) -> None:
    outcome = make_firer(FIRE + timedelta(hours=2)).fire(DAILY, FIRE)
    assert outcome.state is RunState.MISSED
    assert [run.state for run in runs()] == [RunState.MISSED]
    assert started == []


def test_the_run_records_when_it_was_scheduled_and_when_it_expires(make_firer: Callable[..., Firer]) -> None:
    spec = CampaignSpec(
        name="sale",
        source=Path("sale.yaml"),
        message=MessageSpec(body="hi"),
        schedule=Schedule(cron="0 9 * * *", timezone="UTC"),
        expires_after=timedelta(hours=12),
    )
    make_firer(FIRE + timedelta(minutes=1)).fire(spec, FIRE)
    (run,) = runs()
    assert (run.trigger, run.scheduled_at, run.expires_at) == (
        "schedule",
        FIRE,
        FIRE + timedelta(hours=12, minutes=1),
    )


def test_the_run_carries_the_campaign_rate_cap(make_firer: Callable[..., Firer]) -> None:
    spec = CampaignSpec(
        name="sale",
        source=Path("sale.yaml"),
        message=MessageSpec(body="hi"),
        schedule=Schedule(cron="0 9 * * *", timezone="UTC"),
        rate_limit=RateLimit(per_second=20),
    )
    make_firer(FIRE).fire(spec, FIRE)
    (run,) = runs()
    assert run.meta["rate_limit"] == {"per_second": 20}


def fired(name: str = "sale") -> list[tuple[str, RunState]]:
    return [(run.fire_key or "", run.state) for run in sorted(runs(name), key=lambda run: run.fire_key or "")]


HOURLY = campaign(Schedule(cron="0 * * * *", timezone="UTC"))


def test_a_first_start_after_a_fire_time_does_not_run_it(make_firer: Callable[..., Firer], started: Started) -> None:
    # Given a fresh deployment whose first scheduler starts at 09:10, after the 09:00 fire time
    make_firer(FIRE + timedelta(minutes=10)).catch_up([DAILY])
    # Then nothing runs and nothing is recorded: the fire was never asked for
    assert (runs(), started) == ([], [])


def test_a_fire_missed_while_down_runs_once_after_restarts_within_grace(
    make_firer: Callable[..., Firer], started: Started
) -> None:
    # Given a scheduler that saw the campaign at 08:00, was down at 09:00, started at 09:10 and again at 09:20
    for minutes in (-60, 10, 20):
        make_firer(FIRE + timedelta(minutes=minutes)).catch_up([DAILY])
    # Then the 09:00 fire ran once
    assert fired() == [("2026-06-01T09:00 UTC", RunState.RUNNING)]
    assert len(started) == 1


def test_after_a_long_downtime_only_the_latest_fire_runs_and_the_others_are_missed(
    make_firer: Callable[..., Firer], started: Started
) -> None:
    make_firer(FIRE - timedelta(hours=3, minutes=30)).catch_up([HOURLY])  # seen at 05:30
    make_firer(FIRE + timedelta(minutes=10)).catch_up([HOURLY])  # down from then until 09:10
    assert fired() == [
        ("2026-06-01T06:00 UTC", RunState.MISSED),
        ("2026-06-01T07:00 UTC", RunState.MISSED),
        ("2026-06-01T08:00 UTC", RunState.MISSED),
        ("2026-06-01T09:00 UTC", RunState.RUNNING),
    ]
    assert len(started) == 1


def test_a_fire_missed_beyond_grace_is_recorded_missed(make_firer: Callable[..., Firer], started: Started) -> None:
    make_firer(FIRE - timedelta(hours=1)).catch_up([DAILY])
    make_firer(FIRE + timedelta(hours=3)).catch_up([DAILY], lookback_s=4 * 3600)
    assert fired() == [("2026-06-01T09:00 UTC", RunState.MISSED)]
    assert started == []


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(campaign(Schedule(cron="0 9 * * *", timezone="Europe/Berlin")), id="another-zone"),
        pytest.param(campaign(Schedule(cron="30 8 * * *", timezone="UTC")), id="another-time"),
        pytest.param(
            CampaignSpec(
                name="sale",
                source=Path("sale.yaml"),
                message=MessageSpec(body="hi"),
                schedule=DAILY.schedule,
                enabled=False,
            ),
            id="disabled",
        ),
        pytest.param(campaign(Schedule(at=datetime(2026, 6, 1, 9), timezone="UTC")), id="one-shot-at"),
    ],
)
def test_a_schedule_changed_after_its_fire_time_does_not_fire_for_it(
    make_firer: Callable[..., Firer], started: Started, before: CampaignSpec
) -> None:
    # Given the campaign seen at 08:00 with another schedule (or disabled), and now (09:10) as the daily 09:00 one
    make_firer(FIRE - timedelta(hours=1)).catch_up([before])
    make_firer(FIRE + timedelta(minutes=10)).catch_up([DAILY])
    # Then its 09:00 fire is from before the schedule was first seen: nothing runs
    assert [run for run in runs() if run.fire_key == "2026-06-01T09:00 UTC" and run.state is RunState.RUNNING] == []
    assert started == []


def test_catch_up_never_fires_a_disabled_campaign(make_firer: Callable[..., Firer], started: Started) -> None:
    off = CampaignSpec(
        name="sale", source=Path("sale.yaml"), message=MessageSpec(body="hi"), schedule=DAILY.schedule, enabled=False
    )
    make_firer(FIRE - timedelta(hours=1)).catch_up([off])
    make_firer(FIRE + timedelta(minutes=5)).catch_up([off])
    assert (runs(), started) == ([], [])


def test_a_campaign_file_removed_and_added_back_is_seen_anew(
    make_firer: Callable[..., Firer], started: Started
) -> None:
    make_firer(FIRE - timedelta(hours=1)).catch_up([DAILY])
    make_firer(FIRE - timedelta(minutes=30)).note_removed(["sale"])
    make_firer(FIRE + timedelta(minutes=10)).catch_up([DAILY])
    assert (runs(), started) == ([], [])


def test_an_at_first_seen_after_its_time_never_fires(make_firer: Callable[..., Firer], started: Started) -> None:
    once = campaign(Schedule(at=datetime(2026, 6, 1, 9), timezone="UTC"))
    for minutes in (10, 20, 90):
        make_firer(FIRE + timedelta(minutes=minutes)).catch_up([once])
    assert (runs(), started) == ([], [])


def test_an_at_seen_before_its_time_catches_up_after_downtime(
    make_firer: Callable[..., Firer], started: Started
) -> None:
    once = campaign(Schedule(at=datetime(2026, 6, 1, 9), timezone="UTC"))
    make_firer(FIRE - timedelta(days=1)).catch_up([once])
    make_firer(FIRE + timedelta(minutes=10)).catch_up([once])
    assert fired() == [("2026-06-01T09:00 UTC", RunState.RUNNING)]
    assert len(started) == 1


def test_every_scheduler_agrees_on_when_a_schedule_was_first_seen(pg_settings: Settings) -> None:
    seen = [run_sync(queries.note_schedule("sale", "v1", FIRE + timedelta(seconds=offset))) for offset in (0, 5, 9)]
    assert seen == [FIRE, FIRE, FIRE]
    assert run_sync(queries.note_schedule("sale", "v2", FIRE + timedelta(seconds=20))) == FIRE + timedelta(seconds=20)


def test_concurrent_schedulers_record_one_first_sighting(pg_settings: Settings) -> None:
    barrier = threading.Barrier(6)
    seen: list[datetime] = []

    def note(offset: int) -> None:
        barrier.wait()
        seen.append(run_sync(queries.note_schedule("sale", "v1", FIRE + timedelta(seconds=offset))))

    threads = [threading.Thread(target=note, args=(offset,)) for offset in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1


def test_a_due_scheduled_run_starts_once(make_firer: Callable[..., Firer], started: Started) -> None:
    run, _ = run_sync(queries.create_run(campaign="sale", trigger="cli", scheduled_at=FIRE))
    later, _ = run_sync(queries.create_run(campaign="sale", trigger="cli", scheduled_at=FIRE + timedelta(hours=1)))
    firer = make_firer(FIRE + timedelta(seconds=1))
    assert firer.start_due_runs() == [run.id]
    assert make_firer(FIRE + timedelta(seconds=2)).start_due_runs() == []
    assert started == [run.id]
    assert run_sync(queries.get_run(later.id)).state is RunState.SCHEDULED


def test_a_fire_whose_template_is_rejected_is_recorded_canceled_and_not_started(
    make_firer: Callable[..., Firer], started: Started
) -> None:
    from hub.store.templates import TemplateRecord

    sid = "HX" + "ab" * 16
    run_sync(
        queries.upsert_template(
            TemplateRecord(
                friendly_name="promo",
                language="en",
                content_sid=sid,
                body="Hi {{1}}",
                approval_status="rejected",
                rejection_reason="INVALID_FORMAT",
            )
        )
    )
    spec = CampaignSpec(
        name="promo",
        source=Path("promo.yaml"),
        message=MessageSpec(content_sid=sid, content_variables={"1": "{{ first_name }}"}),
        schedule=Schedule(cron="0 9 * * *", timezone="UTC"),
    )
    outcome = make_firer(FIRE).fire(spec, FIRE)
    assert outcome.state is RunState.CANCELED
    (run,) = runs("promo")
    assert "rejected" in run.meta["refused"]
    assert started == []
    # The fire stays exactly-once: a second scheduler finds the recorded run.
    assert make_firer(FIRE).fire(spec, FIRE).created is False
