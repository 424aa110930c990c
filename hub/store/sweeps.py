"""What the recovery and due sweeps ask of the ledger: owed rows to re-enqueue, stuck claims, expiries."""

from __future__ import annotations

from datetime import datetime

from hub.status import MessageStatus
from hub.store.events import record_event
from hub.store.ledger import due_condition
from hub.store.rows import utc, when
from hub.store.tables import Message, Run

S = MessageStatus

STALE_REASON = "claimed by a worker that never reported back; not re-sent (it may have reached Twilio)"


async def due_message_ids(
    now: datetime | None = None,
    limit: int = 1000,
    *,
    idle_since: datetime | None = None,
    after_id: int = 0,
    send_at_after: datetime | None = None,
    run_id: int | None = None,
) -> list[int]:
    """Ids of ``pending`` rows that are due and whose run is not paused, canceled or expired.

    Args:
        now: the sweep time (UTC).
        limit: at most this many ids.
        idle_since: only rows not touched since this instant (so rows with a live queue message
            are not enqueued again at every sweep); None takes every due row.
        after_id: only ids above this (to page through a large backlog).
        send_at_after: only rows with a ``send_at`` after this instant: rows that came due since the
            scheduler's previous due sweep (its watermark), so a backlog is not enqueued again each second.
        run_id: only rows of this run (so the sweeper can re-enqueue them with the run's own rate cap).

    Returns:
        Ascending ids.
    """
    at = when(now)
    condition = due_condition(at) & (Message.id > after_id)
    if idle_since is not None:
        condition = condition & (Message.updated_at <= utc(idle_since))
    if send_at_after is not None:
        condition = condition & (Message.send_at > utc(send_at_after))
    if run_id is not None:
        condition = condition & (Message.run == run_id)
    rows = await Message.select(Message.id).where(condition).order_by(Message.id).limit(limit)
    return [row["id"] for row in rows]


async def stale_sending(older_than: datetime, *, now: datetime | None = None, reason: str = STALE_REASON) -> list[int]:
    """Mark ``sending`` rows claimed before ``older_than`` as ``unknown`` (never re-sent blindly).

    Returns:
        The ids marked.
    """
    at = when(now)
    rows = (
        await Message.update({Message.status: S.UNKNOWN.value, Message.error_message: reason, Message.updated_at: at})
        .where((Message.status == S.SENDING.value) & (Message.claimed_at < utc(older_than)))
        .returning(Message.id, Message.sid)
    )
    for row in rows:
        await record_event(
            message_id=row["id"],
            sid=row["sid"],
            status=S.UNKNOWN.value,
            source="sweeper",
            applied=True,
            at=at,
            error_message=reason,
        )
    return sorted(row["id"] for row in rows)


async def expire_messages(now: datetime | None = None) -> int:
    """End as ``expired`` every ``pending`` row of a run whose ``expires_at`` has passed.

    Returns:
        The number of rows expired.
    """
    at = when(now)
    expired_runs = Run.select(Run.id).where(Run.expires_at <= at)
    rows = (
        await Message.update(
            {
                Message.status: S.EXPIRED.value,
                Message.finished_at: at,
                Message.updated_at: at,
                Message.error_message: "the run expired before this message could be sent",
            }
        )
        .where((Message.status == S.PENDING.value) & Message.run.is_in(expired_runs))
        .returning(Message.id)
    )
    return len(rows)
