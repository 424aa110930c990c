"""Run control (pause, resume, cancel), `hub runs ...`, and the due-message sweep, on the real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from hub import run_control as control
from hub.cli import main
from hub.config import Settings
from hub.status import RunState
from hub.store import queries
from hub.store.db import run_sync
from hub.store.records import NewMessage, RunRecord
from scheduler.sweeps import DueMessages

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)


def new_run(state: RunState = RunState.RUNNING, **fields: object) -> int:
    run, _ = run_sync(queries.create_run(campaign="sale", state=state, **fields))  # type: ignore[arg-type]
    return run.id


def state_of(run_id: int) -> RunState:
    return run_sync(queries.get_run(run_id)).state


@pytest.mark.usefixtures("db_settings")
@pytest.mark.parametrize("state", [RunState.RUNNING, RunState.SCHEDULED])
def test_pause_holds_a_live_run(state: RunState) -> None:
    run_id = new_run(state)
    run_sync(control.pause(run_id))
    assert state_of(run_id) is RunState.PAUSED


@pytest.mark.usefixtures("db_settings")
@pytest.mark.parametrize("state", [RunState.FINISHED, RunState.CANCELED, RunState.MISSED, RunState.PAUSED])
def test_pause_refuses_a_run_that_is_not_live(state: RunState) -> None:
    run_id = new_run(state)
    with pytest.raises(control.RunControlError, match=f"cannot pause run {run_id}: it is {state.value}"):
        run_sync(control.pause(run_id))


@pytest.mark.usefixtures("db_settings")
def test_resume_continues_a_started_run_and_asks_for_fan_out_when_unfinished() -> None:
    run_id = new_run(RunState.RUNNING)
    run_sync(control.pause(run_id))
    run = run_sync(control.resume(run_id))
    assert (run.state, control.fan_out_owed(run)) == (RunState.RUNNING, True)


@pytest.mark.usefixtures("db_settings")
def test_resume_of_a_paused_run_not_yet_due_goes_back_to_scheduled() -> None:
    run_id = new_run(RunState.SCHEDULED, scheduled_at=T0 + timedelta(hours=1))
    run_sync(control.pause(run_id))
    run = run_sync(control.resume(run_id, now=T0))
    assert (run.state, control.fan_out_owed(run)) == (RunState.SCHEDULED, False)


@pytest.mark.usefixtures("db_settings")
def test_resume_refuses_a_run_that_is_not_paused() -> None:
    run_id = new_run(RunState.RUNNING)
    with pytest.raises(control.RunControlError, match=f"cannot resume run {run_id}: it is running"):
        run_sync(control.resume(run_id))


@pytest.mark.usefixtures("db_settings")
def test_cancel_ends_unsent_messages_canceled() -> None:
    run_id = new_run(RunState.PAUSED)
    run_sync(queries.insert_messages(run_id, [NewMessage(recipient=f"+491510000000{i}") for i in range(3)]))
    assert run_sync(control.cancel(run_id)) == 3
    assert state_of(run_id) is RunState.CANCELED


@pytest.mark.usefixtures("db_settings")
def test_control_of_a_missing_run_says_so() -> None:
    with pytest.raises(control.RunControlError, match="no run 999"):
        run_sync(control.cancel(999))


def hub(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(settings.root / "config.yaml"), *args])
    return result.exit_code, result.output


def test_hub_runs_pause_then_resume(pg_settings: Settings) -> None:
    run_id = new_run(RunState.RUNNING)
    assert hub(pg_settings, "runs", "pause", str(run_id))[0] == 0
    assert state_of(run_id) is RunState.PAUSED
    assert hub(pg_settings, "runs", "resume", str(run_id))[0] == 0
    assert state_of(run_id) is RunState.RUNNING


def test_hub_runs_cancel_of_a_finished_run_exits_1_with_the_reason(pg_settings: Settings) -> None:
    run_id = new_run(RunState.FINISHED)
    code, output = hub(pg_settings, "runs", "cancel", str(run_id))
    assert code == 1
    assert f"cannot cancel run {run_id}: it is finished" in output


class Enqueued(list[int]):
    def __init__(self) -> None:
        super().__init__()
        self.runs: list[int | None] = []

    def __call__(self, ids: list[int], run: RunRecord | None) -> None:
        self.extend(ids)
        self.runs.append(run.id if run is not None else None)


def rows_due_at(run_id: int, *moments: datetime) -> list[int]:
    rows = [NewMessage(recipient=f"+4915100000{i:03d}", send_at=at) for i, at in enumerate(moments)]
    return run_sync(queries.insert_messages(run_id, rows, now=T0 - timedelta(days=1)))


@pytest.mark.usefixtures("db_settings")
def test_due_sweep_enqueues_rows_as_they_come_due_and_only_once() -> None:
    run_id = new_run(RunState.RUNNING)
    early, soon, later = rows_due_at(run_id, T0 - timedelta(hours=1), T0 + timedelta(seconds=1), T0 + timedelta(days=1))
    enqueued = Enqueued()
    sweep = DueMessages(enqueued, start=T0)
    sweep(T0)
    sweep(T0 + timedelta(seconds=2))
    sweep(T0 + timedelta(seconds=3))
    # `early` came due long before the scheduler started: it is the recovery sweep's (idle rows).
    assert enqueued == [soon]
    assert early not in enqueued and later not in enqueued


@pytest.mark.usefixtures("db_settings")
def test_due_sweep_enqueues_rows_with_their_run() -> None:
    # Given due rows of two running runs
    first, second = new_run(RunState.RUNNING), new_run(RunState.RUNNING, fire_key="other")
    (a,) = rows_due_at(first, T0 + timedelta(seconds=1))
    (b,) = rows_due_at(second, T0 + timedelta(seconds=1))
    enqueued = Enqueued()
    # When they come due
    DueMessages(enqueued, start=T0)(T0 + timedelta(seconds=2))
    # Then each is enqueued with its own run (whose rate cap the enqueue applies)
    assert sorted(zip(enqueued, enqueued.runs, strict=True)) == [(a, first), (b, second)]


@pytest.mark.usefixtures("db_settings")
def test_due_sweep_passes_over_rows_of_a_paused_run() -> None:
    run_id = new_run(RunState.PAUSED)
    rows_due_at(run_id, T0 + timedelta(seconds=1))
    enqueued = Enqueued()
    DueMessages(enqueued, start=T0)(T0 + timedelta(seconds=2))
    assert enqueued == []
