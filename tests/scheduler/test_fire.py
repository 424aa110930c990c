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


def test_restart_within_grace_after_a_fire_catches_it_up_once(
    make_firer: Callable[..., Firer], started: Started
) -> None:
    # Given a scheduler that was down at 09:00 and starts at 09:10, then restarts at 09:20
    make_firer(FIRE + timedelta(minutes=10)).catch_up([DAILY])
    make_firer(FIRE + timedelta(minutes=20)).catch_up([DAILY])
    # Then the 09:00 fire ran once
    assert [(run.fire_key, run.state) for run in runs()] == [("2026-06-01T09:00 UTC", RunState.RUNNING)]
    assert len(started) == 1


def test_restart_beyond_grace_records_the_fire_missed(make_firer: Callable[..., Firer], started: Started) -> None:
    make_firer(FIRE + timedelta(hours=3)).catch_up([DAILY], lookback_s=4 * 3600)
    assert [(run.fire_key, run.state) for run in runs()] == [("2026-06-01T09:00 UTC", RunState.MISSED)]
    assert started == []


def test_catch_up_does_not_record_fires_from_before_the_campaign_file_changed(
    make_firer: Callable[..., Firer],
) -> None:
    make_firer(FIRE + timedelta(hours=3)).catch_up([DAILY], not_before={"sale": FIRE + timedelta(hours=1)})
    assert runs() == []


def test_catch_up_passes_over_disabled_campaigns(make_firer: Callable[..., Firer]) -> None:
    off = CampaignSpec(
        name="sale", source=Path("sale.yaml"), message=MessageSpec(body="hi"), schedule=DAILY.schedule, enabled=False
    )
    make_firer(FIRE + timedelta(minutes=5)).catch_up([off])
    assert runs() == []


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
    from hub.templates.guard import forget_cached_statuses

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
    forget_cached_statuses()
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
