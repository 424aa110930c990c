"""Run control: pause, resume, cancel. The one rule, used by the API, the dashboard and the CLI.

Which state each verb moves a run from and to is decided here; the callers only queue what a resumed run owes
(the API through its enqueuer, the CLI through the actors) and turn a refusal into their own answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.errors import HubError
from hub.planning import as_utc
from hub.status import RunState
from hub.store import queries
from hub.store.records import RunRecord

__all__ = [
    "CANCELABLE",
    "PAUSABLE",
    "RESUMABLE",
    "RunControlError",
    "RunNotFound",
    "RunStateConflict",
    "cancel",
    "fan_out_owed",
    "pause",
    "resume",
    "resume_target",
]

S = RunState
#: States from which each verb may move a run.
PAUSABLE = frozenset({S.SCHEDULED, S.RUNNING})
RESUMABLE = frozenset({S.PAUSED})
CANCELABLE = frozenset({S.SCHEDULED, S.RUNNING, S.PAUSED})


class RunControlError(HubError):
    """The run cannot be moved; the message says why."""


class RunNotFound(RunControlError):
    """No run has this id."""


class RunStateConflict(RunControlError):
    """The run's state does not allow the verb."""


def resume_target(run: RunRecord, now: datetime) -> RunState:
    """The state a paused run resumes to (pure): ``scheduled`` if it never started and is not due yet."""
    if run.started_at is None and run.scheduled_at is not None and as_utc(run.scheduled_at) > as_utc(now):
        return S.SCHEDULED
    return S.RUNNING


def fan_out_owed(run: RunRecord) -> bool:
    """Whether a resumed run still owes its fan-out (interrupted or never run; it resumes from its checkpoint)."""
    return run.state is S.RUNNING and run.kind == "campaign" and run.fanned_out_at is None


async def _refusal(run_id: int, verb: str) -> RunControlError:
    current = await queries.get_run(run_id)
    if current is None:
        return RunNotFound(f"no run {run_id}")
    return RunStateConflict(f"cannot {verb} run {run_id}: it is {current.state.value}")


async def _move(run_id: int, to: RunState, allowed: frozenset[RunState], verb: str, now: datetime) -> RunRecord:
    moved = await queries.set_run_state(run_id, to, from_states=allowed, now=now)
    if moved is None:
        raise await _refusal(run_id, verb)
    return moved


async def pause(run_id: int, *, now: datetime | None = None) -> RunRecord:
    """Stop claiming new sends of a run (claims check the run state); messages already in flight finish."""
    return await _move(run_id, S.PAUSED, PAUSABLE, "pause", as_utc(now or datetime.now(UTC)))


async def resume(run_id: int, *, now: datetime | None = None) -> RunRecord:
    """Let a paused run send again from where it stopped; the caller queues what it owes (its fan-out when
    ``fanned_out_at`` is unset, its due pending rows) when the run comes back ``running``."""
    at = as_utc(now or datetime.now(UTC))
    current = await queries.get_run(run_id)
    if current is None:
        raise RunNotFound(f"no run {run_id}")
    return await _move(run_id, resume_target(current, at), RESUMABLE, "resume", at)


async def cancel(run_id: int, *, now: datetime | None = None) -> int:
    """End every message of the run not yet handed to Twilio as ``canceled``; returns how many."""
    run = await queries.get_run(run_id)
    if run is None or run.state not in CANCELABLE:
        raise await _refusal(run_id, "cancel")
    return await queries.cancel_run(run_id, now=now)
