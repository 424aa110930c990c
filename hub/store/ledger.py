"""The ledger's write path: insert rows in bulk, claim one for sending, and record what the send did."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from piccolo.columns.combination import WhereRaw

from hub.status import FINAL, MessageStatus, from_twilio
from hub.store.callbacks import settle_error_code
from hub.store.db import current_engine
from hub.store.events import apply_parked, record_event
from hub.store.inserts import insert_rows
from hub.store.records import MessageRecord, NewMessage
from hub.store.rows import message_record, utc, when
from hub.store.runs import HELD_RUN_STATES
from hub.store.sends import Submit, Submits, claim_rows, owed_rows_of_run, pending_rows, submit_one
from hub.store.tables import Message, Run

S = MessageStatus


async def insert_messages(
    run_id: int, rows: Sequence[NewMessage], *, now: datetime | None = None, checkpoint: int | None = None
) -> list[int]:
    """Write ledger rows in bulk; a row whose ``(run, recipient, step)`` exists is left alone.

    One statement of column arrays (``sql/ledger.sql``: ``insert_messages``), whatever the row count, written by hand:
    Piccolo's builder costs ~0.2 ms per row, many times the database's own work.

    Args:
        run_id: the run the rows belong to.
        rows: the rows; ``rejected`` / ``skipped`` rows are stored with their reason and never sent.
        now: creation time (UTC).
        checkpoint: also set the run's fan-out checkpoint (the audience position these rows reach): in the
            same statement, so it commits with the rows.

    Returns:
        Ids of the newly inserted ``pending`` rows, ascending: exactly the rows to enqueue. Re-running
        the same rows returns [].
    """
    return await insert_rows(run_id, rows, when(now), checkpoint=checkpoint)


def _held_runs(now: datetime) -> Any:
    # Paused or canceled runs, and runs past their expiry, hold their owed rows.
    return Run.select(Run.id).where(Run.state.is_in(list(HELD_RUN_STATES)) | (Run.expires_at <= now))


def due_condition(now: datetime) -> Any:
    """Where-clause of owed rows that may be sent at ``now`` (pending, due, run not held)."""
    return (
        # A literal, not a parameter: so the planner may read a run's owed rows through the partial index on them
        # (message_owed, migration 2026-12-07T11:45), which a generic plan with status = $1 cannot use.
        WhereRaw("message.status = 'pending'")
        & (Message.send_at.is_null() | (Message.send_at <= now))
        & (Message.next_attempt_at.is_null() | (Message.next_attempt_at <= now))
        & Message.run.not_in(_held_runs(now))
    )


async def claim_for_send(message_id: int, now: datetime | None = None) -> MessageRecord | None:
    """Atomically move a due ``pending`` row to ``sending`` (attempts + 1, ``claimed_at``).

    The only way into ``sending``: of any number of concurrent callers, one gets the row.

    Returns:
        The claimed row, or None: not pending (claimed, sent, canceled...), not due yet
        (``send_at`` / ``next_attempt_at`` in the future), or its run is paused, canceled or expired.
    """
    claimed = await claim_rows([message_id], when(now))  # sql/send.sql: claim (a batch of one)
    return message_record(claimed[0]) if claimed else None


async def claim_batch_for_send(message_ids: Sequence[int], now: datetime | None = None) -> list[MessageRecord]:
    """:func:`claim_for_send` for many rows in one statement (``send_batch``): the same rules per row.

    Returns:
        The rows claimed by this call, in id order (``RETURNING`` promises no order, and the sends go out in this
        one); an id that is not claimable now is simply absent.
    """
    if not message_ids:
        return []
    rows = await claim_rows(list(message_ids), when(now))  # sql/send.sql: claim
    return [message_record(row) for row in sorted(rows, key=lambda row: int(row["id"]))]


async def owed_of_run(run_id: int, *, after_id: int, limit: int, now: datetime | None = None) -> list[int]:
    """Ids of run ``run_id``'s rows above ``after_id`` that may be sent at ``now`` (``pending``, due, run not held;
    not touched after ``now``), ascending, at most ``limit``: :func:`hub.store.sweeps.due_message_ids` for one run,
    as the send path's top-up asks it once per batch (one named statement; Piccolo's builder cost 5x as much)."""
    if limit <= 0:
        return []
    return await owed_rows_of_run(run_id, after_id, when(now), limit)  # sql/send.sql: owed_of_run


async def pending_of(message_ids: Sequence[int]) -> list[int]:
    """The ids of ``message_ids`` still ``pending`` (owed, whether due or not), ascending."""
    return await pending_rows(list(message_ids)) if message_ids else []  # sql/send.sql: pending_of


async def mark_submitted(
    message_id: int,
    sid: str,
    twilio_status: str = "queued",
    *,
    now: datetime | None = None,
    source: str = "worker",
    claimed_at: datetime | None = None,
    submits: Submits | None = None,
) -> MessageRecord | None:
    """Record that Twilio took the message: its sid and the status Twilio returned; stamps ``sent_at``.

    Accepted from ``sending`` and from ``unknown`` (a slow worker reporting after the sweeper gave up).
    Status reports that arrived before the sid was stored are applied afterwards.

    Args:
        claimed_at: the writer's claim (:mod:`hub.claims`): only a row still carrying it moves (None: any claim).
        submits: the caller's coalescer (a worker's runtime has one): written with the submits of the same few ms
            on this loop in one statement. None: alone.

    Returns:
        The row after every parked report was applied, or None when the row was in neither state (or was
        claimed again since ``claimed_at``).
    """
    at = when(now)
    reported = from_twilio(twilio_status) or S.ACCEPTED
    engine = current_engine()
    # One statement (sql/send.sql: submit).
    submit = Submit(engine, message_id, sid, reported, source, at, claimed_at)
    if submits is None or engine.current_transaction.get() is not None:  # inside a transaction: not shared
        found = await submit_one(submit)
    else:
        found = await submits(submit)
    if found is None:
        return None
    submitted, parked = found
    if parked and await apply_parked(sid):
        submitted = await Message.select().where(Message.id == message_id).first().output(load_json=True)
        failed = submitted["status"] in (S.FAILED.value, S.UNDELIVERED.value)
        if failed and submitted["error_code"] is not None:  # a parked failure's code counts as a callback's
            await settle_error_code(sid, submitted["error_code"], submitted["error_message"], at)
            submitted = await Message.select().where(Message.id == message_id).first().output(load_json=True)
    return message_record(submitted)


async def release_for_retry(
    message_id: int,
    *,
    next_attempt_at: datetime,
    error_code: int | None = None,
    error_message: str | None = None,
    now: datetime | None = None,
    count_attempt: bool = True,
    claimed_at: datetime | None = None,
) -> MessageRecord | None:
    """Put a claimed row back to ``pending`` after a transient failure, not due before ``next_attempt_at``.

    Args:
        count_attempt: False for a wait that is not a send attempt (a rate limit or the daily tier budget held
            the message before it reached Twilio): the claim's ``attempts + 1`` is undone and the history
            records ``waiting`` instead of ``retry``, so pacing never uses up the retry budget.
        claimed_at: only a claim stamped with exactly this instant: the caller's own (:mod:`hub.claims`), also
            when it cannot know whether its claim committed (the connection died before the answer).

    Returns:
        The row, or None when it was not ``sending``.
    """
    at = when(now)
    values: dict[Any, Any] = {
        Message.status: S.PENDING.value,
        Message.next_attempt_at: utc(next_attempt_at),
        Message.error_code: error_code,
        Message.error_message: error_message,
        Message.updated_at: at,
    }
    if not count_attempt:
        values[Message.attempts] = Message.attempts - 1
    condition = (Message.id == message_id) & (Message.status == S.SENDING.value)
    if claimed_at is not None:
        condition = condition & (Message.claimed_at == utc(claimed_at))
    rows = await Message.update(values).where(condition).returning(*Message.all_columns())
    if not rows:
        return None
    await record_event(
        message_id=message_id,
        sid=None,
        status="retry" if count_attempt else "waiting",
        source="worker",
        applied=True,
        at=at,
        error_code=error_code,
        error_message=error_message,
    )
    return message_record(rows[0])


async def mark_final(
    message_id: int,
    status: MessageStatus,
    *,
    error_code: int | None = None,
    error_message: str | None = None,
    from_states: Iterable[MessageStatus] = (S.SENDING,),
    source: str = "worker",
    now: datetime | None = None,
    claimed_at: datetime | None = None,
) -> MessageRecord | None:
    """End a row without (or after an unclear) hand-over to Twilio: failed, skipped, unknown, canceled...

    Args:
        message_id: the row.
        status: the new status (``unknown`` too, though it is not final: it is never re-sent blindly).
        error_code: Twilio error code, when there is one.
        error_message: the reason, shown in the API.
        from_states: compare-and-set: only rows in one of these states move.
        source: who decided (``worker``, ``sweeper``, ``api``).
        now: time of the change (UTC).
        claimed_at: the writer's claim (:mod:`hub.claims`): only a row still carrying it moves (None: any).

    Returns:
        The row, or None when it was not in ``from_states`` (or was claimed again since ``claimed_at``).
    """
    at = when(now)
    status = MessageStatus(status)
    allowed = [MessageStatus(s).value for s in from_states]
    if not allowed:
        return None
    condition = (Message.id == message_id) & Message.status.is_in(allowed)
    if claimed_at is not None:
        condition = condition & (Message.claimed_at == utc(claimed_at))
    rows = (
        await Message.update(
            {
                Message.status: status.value,
                Message.error_code: error_code,
                Message.error_message: error_message,
                Message.updated_at: at,
                Message.finished_at: at if status in FINAL else None,
            }
        )
        .where(condition)
        .returning(*Message.all_columns())
    )
    if not rows:
        return None
    await record_event(
        message_id=message_id,
        sid=rows[0]["sid"],
        status=status.value,
        source=source,
        applied=True,
        at=at,
        error_code=error_code,
        error_message=error_message,
    )
    return message_record(rows[0])
