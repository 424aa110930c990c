"""A callback whose sid no row holds, resolved through the row its signed URL names (never by phone number).

Every create carries its ledger row id in its StatusCallback URL (:func:`hub.webhooks.status_callback_url`), and
Twilio signs that URL, so a callback says which row its message was created for even when the create's answer
(the sid) never reached us. What happens then depends on the row:

- no sid yet and ``unknown`` or ``pending`` (a create that timed out, or was released): Twilio has it, so the
  row takes the sid (never sent again) and the reports parked for it apply; unless the sid is an earlier,
  failed attempt of the row (in its history), whose late reports are only recorded;
- no sid yet and ``sending``: the worker's create is still answering; the report stays parked for it;
- a different sid: a previous attempt of the row (its sid is in the row's history), or a second create of the
  same row (an orphan): recorded in the row's history, counted as a duplicate, the row's status untouched;
- no sid and in any other state, or no such row: recorded (linked when the row exists), nothing moves.

A callback without a row id (a URL from before row ids) is applied by sid only: it stays parked until a row
stores its sid. Nothing is ever matched by recipient.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from hub.status import MessageStatus
from hub.store.events import apply_event, apply_parked, record_event
from hub.store.records import StatusUpdate
from hub.store.rows import is_unique_violation, utc, when
from hub.store.tables import EventSource, Message, StatusEvent

__all__ = ["Resolution", "resolve_by_row"]

log = logging.getLogger(__name__)

S = MessageStatus
#: States of a row without a sid that a callback naming it settles: Twilio has the create.
_ATTACHABLE = (S.UNKNOWN.value, S.PENDING.value)


class Resolution(StrEnum):
    """What :func:`resolve_by_row` did with a report (values are :func:`hub.store.events.apply_status` outcomes)."""

    RECONCILED = "reconciled"  # the named row took the sid
    APPLIED = "applied"  # the row had stored the sid meanwhile; the report moved it
    RECORDED = "recorded"  # in the row's history; its status did not move
    SECOND_SID = "second_sid"  # another create of the same row: a duplicate at Twilio, recorded
    PARKED = "parked"  # left for the worker (still sending), or no such row


async def resolve_by_row(event_id: int, update: StatusUpdate) -> Resolution:
    """Settle a stored, parked report through the row ``update.message_id`` names (see the module doc).

    Args:
        event_id: the report's stored event (parked: no message has its sid).
        update: the report; ``message_id`` is set.
    """
    assert update.message_id is not None
    row = (
        await Message.select(Message.id, Message.status, Message.sid, Message.claimed_at)
        .where(Message.id == update.message_id)
        .first()
    )
    if row is None:
        log.warning("callback for %r names message %r, which does not exist; parked", update.sid, update.message_id)
        return Resolution.PARKED
    status = MessageStatus(row["status"])
    if row["sid"] == update.sid:  # stored meanwhile
        moved = await _link(event_id, row["id"], update, apply=True)
        return Resolution.APPLIED if moved else Resolution.RECORDED
    if row["sid"] is None:
        if await _earlier_attempt(row["id"], update.sid, event_id):  # a failed attempt; the row is owed again
            await _link(event_id, row["id"], update)
            return Resolution.RECORDED
        if status.value in _ATTACHABLE and await _attach(row["id"], row["claimed_at"], status, update):
            return Resolution.RECONCILED
        if status == S.SENDING:
            return Resolution.PARKED  # the worker stores its sid and applies what was parked for it
        await _link(event_id, row["id"], update)
        log.warning("callback for %r names message %r (%s, no sid): recorded only", update.sid, row["id"], status)
        return Resolution.RECORDED
    await _link(event_id, row["id"], update)
    if await _earlier_attempt(row["id"], update.sid, event_id):
        return Resolution.RECORDED
    second = await record_event(
        message_id=row["id"],
        sid=update.sid,
        status=update.status.strip().lower(),
        source=EventSource.RECONCILE.value,
        applied=False,
        at=when(update.at),
        error_message=f"second create at Twilio for this row (its sid is {row['sid']}): a duplicate",
        dedupe_key=f"second-sid:{row['id']}:{update.sid}",
    )
    if second is None:
        return Resolution.RECORDED  # already counted
    log.error(
        "message %r: Twilio holds a second message %r for it (sid %r): a duplicate", row["id"], update.sid, row["sid"]
    )
    return Resolution.SECOND_SID


async def _link(event_id: int, message_id: int, update: StatusUpdate, *, apply: bool = False) -> bool:
    """Put the report in the row's history; with ``apply`` (the row holds its sid), also apply it (True when the
    status moved)."""
    if apply:
        return await apply_event(event_id, update)
    await StatusEvent.update({StatusEvent.message: message_id}).where(StatusEvent.id == event_id)
    return False


async def _earlier_attempt(message_id: int, sid: str, event_id: int) -> bool:
    """Whether ``sid`` was this row's before (an attempt that ended and was sent again): in its history already."""
    found = (
        await StatusEvent.select(StatusEvent.id)
        .where(
            (StatusEvent.message == message_id)
            & (StatusEvent.sid == sid)
            & (StatusEvent.id != event_id)
            & (StatusEvent.source != EventSource.CALLBACK.value)
        )
        .first()
    )
    return found is not None


async def _attach(message_id: int, claimed_at: object, status: MessageStatus, update: StatusUpdate) -> bool:
    """Store the sid on the row (still in ``status`` without a sid), then apply the reports parked for it."""
    at = when(update.at)
    try:
        rows = (
            await Message.update(
                {
                    Message.sid: update.sid,
                    Message.status: S.ACCEPTED.value,
                    Message.sent_at: utc(claimed_at) or at,  # type: ignore[arg-type]
                    Message.updated_at: at,
                    Message.next_attempt_at: None,
                    Message.error_code: None,
                    Message.error_message: None,
                }
            )
            .where((Message.id == message_id) & (Message.status == status.value) & Message.sid.is_null())
            .returning(Message.id)
        )
    except Exception as exc:  # the sid landed on another row meanwhile (unique): that row is its owner
        if is_unique_violation(exc):
            return False
        raise
    if not rows:
        return False
    await record_event(
        message_id=message_id,
        sid=update.sid,
        status=S.ACCEPTED.value,
        source=EventSource.RECONCILE.value,
        applied=True,
        at=at,
        error_message=f"{status.value} row named by a status callback: Twilio has its create",
    )
    await apply_parked(update.sid)
    log.info("message %r (%s) takes sid %r from a status callback naming it", message_id, status.value, update.sid)
    return True
