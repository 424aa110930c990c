"""Run control: pause, resume, cancel, refused clearly when the run's state does not allow it (async, store-backed)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.errors import HubError
from hub.planning import as_utc
from hub.status import RunState
from hub.store import queries
from hub.store.records import RunRecord

__all__ = ["RunControlError", "cancel", "pause", "resume"]

S = RunState
PAUSABLE = (S.SCHEDULED, S.RUNNING)
CANCELABLE = (S.SCHEDULED, S.RUNNING, S.PAUSED)


class RunControlError(HubError):
    """The run does not exist, or its state does not allow the transition; the message says which."""


async def _refuse(run_id: int, action: str, allowed: tuple[RunState, ...]) -> RunControlError:
    run = await queries.get_run(run_id)
    if run is None:
        return RunControlError(f"no run {run_id}")
    states = ", ".join(state.value for state in allowed)
    return RunControlError(f"run {run_id} is {run.state.value}: only a run that is {states} can be {action}")


async def pause(run_id: int, *, now: datetime | None = None) -> RunRecord:
    """Stop claiming new sends of a run (workers' claims check the run state); messages in flight finish.

    Raises:
        RunControlError: no such run, or it is not scheduled or running.
    """
    run = await queries.set_run_state(run_id, S.PAUSED, from_states=PAUSABLE, now=now)
    if run is None:
        raise await _refuse(run_id, "paused", PAUSABLE)
    return run


async def resume(run_id: int, *, now: datetime | None = None) -> tuple[RunRecord, bool]:
    """Let a paused run send again, from where it stopped: no message is sent twice, none is skipped.

    A paused run that never started and is not yet due goes back to ``scheduled``.

    Returns:
        ``(run, fan_out_owed)``: when ``fan_out_owed``, the caller enqueues ``fan_out_run(run.id)`` (fan-out
        was interrupted or never ran; it resumes from its checkpoint). Owed messages are re-enqueued by the
        recovery sweep.

    Raises:
        RunControlError: no such run, or it is not paused.
    """
    at = as_utc(now or datetime.now(UTC))
    current = await queries.get_run(run_id)
    target = S.RUNNING
    if current is not None and current.started_at is None and current.scheduled_at is not None:
        target = S.SCHEDULED if as_utc(current.scheduled_at) > at else S.RUNNING
    run = await queries.set_run_state(run_id, target, from_states=[S.PAUSED], now=at)
    if run is None:
        raise await _refuse(run_id, "resumed", (S.PAUSED,))
    return run, run.state is S.RUNNING and run.fanned_out_at is None


async def cancel(run_id: int, *, now: datetime | None = None) -> int:
    """Cancel a run: every message not yet handed to Twilio ends ``canceled``.

    Returns:
        How many messages were canceled.

    Raises:
        RunControlError: no such run, or it is already finished, canceled or missed.
    """
    run = await queries.get_run(run_id)
    if run is None or run.state not in CANCELABLE:
        raise await _refuse(run_id, "canceled", CANCELABLE)
    return await queries.cancel_run(run_id, now=now)
