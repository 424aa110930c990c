"""Status events: store one, apply one to its message through the monotonic rules, apply the parked ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.status import MessageStatus, advance, from_twilio
from hub.store.records import StatusEventRecord, StatusUpdate
from hub.store.rows import event_record, utc, when
from hub.store.status_sql import change_columns
from hub.store.tables import Message, StatusEvent

S = MessageStatus
#: How often a compare-and-set of a message status is retried when another writer moved it first.
_CAS_ATTEMPTS = 8


async def record_event(
    *,
    message_id: int | None,
    sid: str | None,
    status: str,
    source: str,
    applied: bool,
    at: datetime | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
    dedupe_key: str | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """Insert one history event.

    Returns:
        Its id, or None when ``dedupe_key`` was already stored (a duplicate).
    """
    rows = (
        await StatusEvent.insert(
            StatusEvent(
                message=message_id,
                sid=sid,
                status=status,
                error_code=error_code,
                error_message=error_message,
                source=source,
                dedupe_key=dedupe_key,
                payload=payload or {},
                applied=applied,
                at=when(at),
            )
        )
        .on_conflict(target=StatusEvent.dedupe_key, action="DO NOTHING")
        .returning(StatusEvent.id)
    )
    return rows[0]["id"] if rows else None


def _changes(new: MessageStatus, update: StatusUpdate) -> dict[Any, Any]:
    return {getattr(Message, name): value for name, value in change_columns(new, update).items()}


async def apply_to_message(
    message_id: int, status: MessageStatus, current: MessageStatus, update: StatusUpdate
) -> bool:
    """Advance one message by a reported status with compare-and-set; True when its status moved.

    Safe under concurrent reports: each attempt only writes if the status is still the one it read.
    A ``read`` after ``delivered`` stamps ``read_at`` even though ``delivered`` was already final.
    """
    for _ in range(_CAS_ATTEMPTS):
        new = advance(current, status)
        if new == current:
            return False
        rows = (
            await Message.update(_changes(new, update))
            .where((Message.id == message_id) & (Message.status == current.value))
            .returning(Message.status)
        )
        if rows:
            return True
        row = await Message.select(Message.status).where(Message.id == message_id).first()
        if row is None:
            return False
        current = MessageStatus(row["status"])
    return False


async def apply_event(event_id: int, message_id: int, current: MessageStatus, update: StatusUpdate) -> bool:
    """Link stored event ``event_id`` to its message and apply it; True when the message's status moved."""
    reported = from_twilio(update.status)
    moved = reported is not None and await apply_to_message(message_id, reported, current, update)
    # applied only ever turns on: a racing apply_parked may have applied this event already.
    values: dict[Any, Any] = {StatusEvent.message: message_id}
    if moved:
        values[StatusEvent.applied] = True
    await StatusEvent.update(values).where(StatusEvent.id == event_id)
    return moved


async def apply_parked(message_id: int, sid: str) -> int:
    """Apply the reports that arrived for ``sid`` before the message stored it, oldest first.

    Returns:
        How many parked events were applied (moved the status).
    """
    parked = (
        await StatusEvent.select()
        .where((StatusEvent.sid == sid) & StatusEvent.message.is_null())
        .order_by(StatusEvent.id)
        .output(load_json=True)
    )
    moved = 0
    for row in parked:
        current = await Message.select(Message.status).where(Message.id == message_id).first()
        if current is None:
            return moved
        update = StatusUpdate(
            sid=sid,
            status=row["status"],
            at=utc(row["at"]) or when(None),
            source=row["source"],
            error_code=row["error_code"],
            error_message=row["error_message"],
        )
        moved += await apply_event(row["id"], message_id, MessageStatus(current["status"]), update)
    return moved


async def history(message_id: int) -> list[StatusEventRecord]:
    """Every event of a message, oldest first."""
    rows = (
        await StatusEvent.select()
        .where(StatusEvent.message == message_id)
        .order_by(StatusEvent.at)
        .order_by(StatusEvent.id)
        .output(load_json=True)
    )
    return [event_record(row) for row in rows]
