"""The scheduler process wiring: campaign files become jobs, reloads follow the files, two schedulers fire once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from hub.config import Settings
from hub.status import RunState
from hub.store import queries
from hub.store.db import run_sync
from scheduler.catalog import CampaignCatalog
from scheduler.main import HubScheduler, Intervals, build_scheduler


class Started(list[int]):
    def __call__(self, run_id: int) -> None:
        self.append(run_id)


def with_campaigns(settings: Settings, folder: Path) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return msgspec.structs.replace(settings, paths=msgspec.structs.replace(settings.paths, campaigns=folder))


def write_campaign(folder: Path, name: str, schedule: str, *, enabled: bool = True) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nenabled: {str(enabled).lower()}\nbody: hi\n"
        f"audience: {{recipients: [{{phone: '+4915123456789'}}]}}\nschedule: {schedule}\n",
        encoding="utf-8",
    )
    return path


def fire_jobs(scheduler: HubScheduler) -> list[str]:
    return sorted(job.id for job in scheduler.aps.get_jobs() if job.id.startswith("fire:"))


def runs(name: str) -> list[queries.RunRecord]:
    return run_sync(queries.list_runs(campaign=name))


@pytest.fixture
def settings(pg_settings: Settings, tmp_path: Path) -> Settings:
    return with_campaigns(pg_settings, tmp_path / "campaigns")


def test_catalog_reports_added_changed_and_removed_campaigns(settings: Settings) -> None:
    folder = settings.paths.campaigns
    catalog = CampaignCatalog(settings)
    write_campaign(folder, "a", "{cron: '0 9 * * *', timezone: UTC}")
    write_campaign(folder, "b", "{cron: '0 9 * * *', timezone: UTC}")
    assert catalog.refresh() == (["a", "b"], [], [])
    write_campaign(folder, "a", "{cron: '0 10 * * *', timezone: UTC}")
    (folder / "b.yaml").unlink()
    assert catalog.refresh() == ([], ["a"], ["b"])
    assert not catalog.refresh()


def test_catalog_keeps_the_last_valid_version_of_a_broken_file(settings: Settings) -> None:
    folder = settings.paths.campaigns
    catalog = CampaignCatalog(settings)
    write_campaign(folder, "a", "{cron: '0 9 * * *', timezone: UTC}")
    catalog.refresh()
    (folder / "a.yaml").write_text("name: a\nschedule: {cron: 'not a cron'}\n", encoding="utf-8")
    assert not catalog.refresh()
    assert catalog.specs["a"].schedule is not None


def test_reload_replaces_jobs_as_files_change(settings: Settings) -> None:
    folder = settings.paths.campaigns
    scheduler = build_scheduler(settings, start_run=Started(), sweeps={})
    write_campaign(folder, "daily", "{cron: '0 9 * * *', timezone: UTC}")
    scheduler.reload()
    (first,) = fire_jobs(scheduler)
    write_campaign(folder, "daily", "{cron: '0 9 * * *', timezone: Asia/Kolkata}")
    scheduler.reload()
    (second,) = fire_jobs(scheduler)
    assert second != first and second.endswith("Asia/Kolkata")
    write_campaign(folder, "daily", "{cron: '0 9 * * *', timezone: Asia/Kolkata}", enabled=False)
    scheduler.reload()
    assert fire_jobs(scheduler) == []


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


NINE = datetime(2026, 6, 1, 9, tzinfo=UTC)


def test_a_fire_missed_while_down_is_caught_up_once_across_restarts(settings: Settings) -> None:
    write_campaign(settings.paths.campaigns, "flash", "{at: '2026-06-01T09:00:00', timezone: UTC}")
    started = Started()
    # A scheduler sees the campaign at 08:00, is down at 09:00, starts at 09:10, restarts at 09:20
    for now in (NINE - timedelta(hours=1), NINE + timedelta(minutes=10), NINE + timedelta(minutes=20)):
        build_scheduler(settings, clock=Clock(now), start_run=started, sweeps={}).reload()
    assert [run.state for run in runs("flash")] == [RunState.RUNNING]
    assert len(started) == 1


def test_a_fresh_deployment_does_not_fire_what_passed_before_its_first_start(settings: Settings) -> None:
    write_campaign(settings.paths.campaigns, "flash", "{at: '2026-06-01T09:00:00', timezone: UTC}")
    write_campaign(settings.paths.campaigns, "daily", "{cron: '0 9 * * *', timezone: UTC}")
    started = Started()
    build_scheduler(settings, clock=Clock(NINE + timedelta(minutes=10)), start_run=started, sweeps={}).reload()
    assert (runs("flash"), runs("daily"), started) == ([], [], [])


def test_a_frequent_cron_added_while_running_starts_nothing_for_past_slots(settings: Settings) -> None:
    clock = Clock(NINE)
    started = Started()
    scheduler = build_scheduler(settings, clock=clock, start_run=started, sweeps={})
    scheduler.reload()
    clock.now = NINE + timedelta(minutes=59, seconds=30)
    write_campaign(settings.paths.campaigns, "often", "{cron: '*/2 * * * *', timezone: UTC}")
    scheduler.reload()
    assert (runs("often"), started) == ([], [])
    assert fire_jobs(scheduler) == [f"fire:often:{(NINE + timedelta(hours=1)).isoformat()}:UTC"]


def test_a_daily_cron_committed_after_its_time_does_not_fire_now(settings: Settings) -> None:
    clock = Clock(NINE - timedelta(hours=2))
    started = Started()
    scheduler = build_scheduler(settings, clock=clock, start_run=started, sweeps={})
    scheduler.reload()
    clock.now = NINE + timedelta(minutes=20)
    write_campaign(settings.paths.campaigns, "daily", "{cron: '0 9 * * *', timezone: UTC}")
    scheduler.reload()
    assert (runs("daily"), started) == ([], [])
    assert fire_jobs(scheduler) == [f"fire:daily:{(NINE + timedelta(days=1)).isoformat()}:UTC"]


def _wait_for(condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_two_schedulers_fire_a_campaign_due_in_seconds_exactly_once(db_settings: Settings, tmp_path: Path) -> None:
    settings = with_campaigns(db_settings, tmp_path / "campaigns")
    at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0, tzinfo=None)
    write_campaign(settings.paths.campaigns, "flash", f"{{at: '{at.isoformat()}', timezone: UTC}}")
    started = Started()
    schedulers = [build_scheduler(settings, start_run=started, sweeps={}, intervals=Intervals()) for _ in range(2)]
    for scheduler in schedulers:
        scheduler.start()
    try:
        assert all(len(fire_jobs(s)) == 1 for s in schedulers)
        _wait_for(lambda: not any(fire_jobs(s) for s in schedulers), timeout_s=10)
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
    (run,) = runs("flash")
    assert run.state is RunState.RUNNING
    assert started == [run.id]
