"""What an error code does to the ledger beyond its row's status: a new attempt, a deferred run, a paused run."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from hub.status import MessageStatus, RunState
from hub.store.db import transaction
from hub.store.events import record_event
from hub.store.rows import utc, when
from hub.store.runs import lock_run, reopen_run
from hub.store.tables import EventSource, Message, Run

__all__ = ["defer_owed", "pause_run", "reopen_for_new_attempt"]

log = logging.getLogger(__name__)

S = MessageStatus
#: Statuses a callback's error code leaves a row in before it is owed again.
_FAILED = (S.FAILED.value, S.UNDELIVERED.value)


async def reopen_for_new_attempt(
    message_id: int,
    sid: str,
    *,
    next_attempt_at: datetime,
    error_code: int | None,
    reason: str,
    now: datetime | None = None,
) -> bool:
    """Make a row Twilio failed (``failed``/``undelivered`` as ``sid``) owed again: a new attempt, its own sid later.

    The failed attempt stays in the history under its sid; the row goes back to ``pending`` without a sid, due at
    ``next_attempt_at``, and a run that finished meanwhile runs again. Only while the row still holds ``sid``
    and that failure (a duplicate callback, or a row already reopened, changes nothing).

    Returns:
        True when the row was reopened.
    """
    at = when(now)
    found = await Message.select(Message.run).where(Message.id == message_id).first()
    if found is None:
        return False
    async with transaction():
        run_state = await lock_run(found["run"])  # before the row: finish_if_done counts it or is undone here
        if run_state == RunState.CANCELED:
            return False
        rows = (
            await Message.update(
                {
                    Message.status: S.PENDING.value,
                    Message.sid: None,
                    Message.next_attempt_at: utc(next_attempt_at),
                    Message.finished_at: None,
                    Message.error_code: error_code,
                    Message.error_message: reason,
                    Message.updated_at: at,
                }
            )
            .where((Message.id == message_id) & (Message.sid == sid) & Message.status.is_in(list(_FAILED)))
            .returning(Message.id)
        )
        if not rows:
            return False
        if run_state == RunState.FINISHED:
            await reopen_run(found["run"])
        await record_event(
            message_id=message_id,
            sid=sid,
            status="retry",
            source=EventSource.CALLBACK.value,
            applied=True,
            at=at,
            error_code=error_code,
            error_message=f"owed again as a new attempt from {next_attempt_at.isoformat()}: {reason}",
        )
    return True


async def defer_owed(run_id: int, until: datetime) -> int:
    """Hold every owed (``pending``) row of a run until at least ``until`` (a sender-wide cause, such as the tier).

    Returns:
        How many rows were deferred.
    """
    due = utc(until)
    rows = (
        await Message.update({Message.next_attempt_at: due})
        .where(
            (Message.run == run_id)
            & (Message.status == S.PENDING.value)
            & (Message.next_attempt_at.is_null() | (Message.next_attempt_at < due))
        )
        .returning(Message.id)
    )
    if rows:
        log.warning("run %r: %d owed message(s) deferred until %s", run_id, len(rows), due.isoformat() if due else due)
    return len(rows)


async def pause_run(run_id: int, reason: str) -> bool:
    """Pause a running or scheduled run, keeping ``reason`` in its meta (``paused_reason``) for operators.

    Returns:
        True when this call paused it (a run already paused, canceled or finished is left alone).
    """
    found = await Run.select(Run.meta).where(Run.id == run_id).first().output(load_json=True)
    if found is None:
        return False
    meta: dict[str, Any] = dict(found["meta"] or {})
    meta["paused_reason"] = reason
    rows = (
        await Run.update({Run.state: RunState.PAUSED.value, Run.meta: meta})
        .where((Run.id == run_id) & Run.state.is_in([RunState.RUNNING.value, RunState.SCHEDULED.value]))
        .returning(Run.id)
    )
    if rows:
        log.warning("run %r paused: %s", run_id, reason)
    return bool(rows)
