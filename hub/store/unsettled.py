"""What reconciliation asks of the ledger: ``unknown`` rows without a sid, their rivals, the attach, the release."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from hub.reconcile_policy import Unsettled, attach_steps
from hub.status import MessageStatus, RunState
from hub.store.callbacks import apply_status
from hub.store.db import transaction
from hub.store.events import record_event
from hub.store.ledger import mark_submitted
from hub.store.records import StatusUpdate
from hub.store.rows import utc, when
from hub.store.runs import lock_run, reopen_run
from hub.store.tables import EventSource, Message

S = MessageStatus
_OPEN = [S.SENDING.value, S.UNKNOWN.value]


async def unsettled_rows(limit: int, *, after_id: int = 0) -> list[Unsettled]:
    """``unknown`` rows with no sid, by ascending id above ``after_id``, at most ``limit``."""
    rows = (
        await Message.select(Message.id, Message.recipient, Message.body, Message.content_sid, Message.claimed_at)
        .where((Message.status == S.UNKNOWN.value) & Message.sid.is_null() & (Message.id > after_id))
        .order_by(Message.id)
        .limit(limit)
    )
    return [
        Unsettled(
            id=row["id"],
            recipient=row["recipient"],
            body=row["body"],
            content_sid=row["content_sid"],
            claimed_at=utc(row["claimed_at"]),
        )
        for row in rows
    ]


async def rivals(row: Unsettled) -> int:
    """How many other rows of the recipient, without a sid and ``sending`` or ``unknown``, could own a message
    that matches ``row``: the same free-form body, or any template row (Twilio does not echo the ContentSid)."""
    condition = (
        (Message.recipient == row.recipient)
        & Message.sid.is_null()
        & Message.status.is_in(_OPEN)
        & (Message.id != row.id)
    )
    if row.body is not None and row.content_sid is None:
        condition = condition & (
            (Message.body == row.body) | Message.content_sid.is_not_null() | Message.body.is_null()
        )
    return int(await Message.count().where(condition))


async def owned_sids(sids: Collection[str]) -> set[str]:
    """Which of ``sids`` some ledger row already carries."""
    if not sids:
        return set()
    rows = await Message.select(Message.sid).where(Message.sid.is_in(list(sids)))
    return {row["sid"] for row in rows}


async def attach_found(
    message_id: int,
    sid: str,
    status: str,
    *,
    error_code: int | None = None,
    error_message: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Give an ``unknown`` row the message Twilio holds for it: the sid, then Twilio's status as a callback
    would bring it (a ``failed`` one with its error code and message), in one transaction.

    Args:
        message_id: the row.
        sid, status, error_code, error_message: what Twilio lists for the message.
        now: when (UTC).

    Returns:
        True when the row took the sid; False when it was no longer ``sending``/``unknown``.
    """
    stored_as, then = attach_steps(status)
    at = when(now)
    async with transaction():
        if await mark_submitted(message_id, sid, stored_as, now=at, source=EventSource.RECONCILE.value) is None:
            return False
        if then is not None:
            report = StatusUpdate(
                sid=sid,
                status=then,
                at=at,
                source=EventSource.RECONCILE.value,
                error_code=error_code,
                error_message=error_message,
                # Its own key: Twilio's callback for the same status, if it comes, is kept in the history too.
                dedupe_key=f"reconcile:{sid}:{then}",
            )
            await apply_status(report)
    return True


async def release_unknown(
    message_id: int, *, claimed_at: datetime, reason: str, now: datetime | None = None
) -> MessageStatus | None:
    """Put an ``unknown`` row Twilio never received back to ``pending`` (due at once), with a history event;
    a run that finished meanwhile goes back to ``running`` until the row settles. One transaction.

    A row of a canceled run becomes ``canceled`` instead: nothing sends a canceled run's pending rows, and
    ``cancel_run`` has already passed over this one (it was not pending then).

    Only the claim that was examined: a row claimed again or given a sid meanwhile is left alone.

    Returns:
        What the row became (``pending`` or ``canceled``); None when it was left alone.
    """
    at = when(now)
    found = await Message.select(Message.run).where(Message.id == message_id).first()
    if found is None:
        return None
    run_id: int = found["run"]
    async with transaction():
        # The run's lock before the row: the sweeper's finish_if_done either counts this row or is undone here.
        run_state = await lock_run(run_id)
        becomes = S.CANCELED if run_state == RunState.CANCELED else S.PENDING
        rows = (
            await Message.update(
                {
                    Message.status: becomes.value,
                    Message.next_attempt_at: None,
                    Message.error_code: None,
                    Message.error_message: reason,
                    Message.updated_at: at,
                }
            )
            .where(
                (Message.id == message_id)
                & (Message.status == S.UNKNOWN.value)
                & Message.sid.is_null()
                & (Message.claimed_at == utc(claimed_at))
            )
            .returning(Message.id)
        )
        if not rows:
            return None
        await record_event(
            message_id=message_id,
            sid=None,
            status=becomes.value,
            source=EventSource.RECONCILE.value,
            applied=True,
            at=at,
            error_message=reason,
        )
        if becomes == S.PENDING:
            await reopen_run(run_id)
    return becomes


__all__ = ["attach_found", "owned_sids", "release_unknown", "rivals", "unsettled_rows"]
