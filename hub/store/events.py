"""Status events: store one, apply a stored one to its message (by the one rule, ``sql/status.sql``), apply the
parked ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.status import from_twilio
from hub.store.records import StatusEventRecord, StatusUpdate
from hub.store.rows import event_record, utc, when
from hub.store.status_sql import apply_stored
from hub.store.tables import StatusEvent


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


async def apply_event(event_id: int, update: StatusUpdate) -> bool:
    """Link stored event ``event_id`` to the message holding ``update.sid`` and apply it by the one status rule
    (:func:`hub.store.status_sql.apply_stored`); True when the message's status moved."""
    return (await apply_stored(event_id, update, from_twilio(update.status))).moved


async def apply_parked(sid: str) -> int:
    """Apply the reports that arrived for ``sid`` before a message stored it to that message, oldest first.

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
        update = StatusUpdate(
            sid=sid,
            status=row["status"],
            at=utc(row["at"]) or when(None),
            source=row["source"],
            error_code=row["error_code"],
            error_message=row["error_message"],
        )
        moved += await apply_event(row["id"], update)
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
