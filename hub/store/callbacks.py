"""Apply one status report (callback, simulator, reconciliation): by its sid, else through the row it names."""

from __future__ import annotations

from enum import StrEnum

from hub.status import MessageStatus, from_twilio
from hub.store.events import apply_event
from hub.store.reconcile import resolve_by_row
from hub.store.records import StatusUpdate
from hub.store.status_sql import record_and_apply
from hub.store.tables import Message

__all__ = ["Outcome", "apply_status"]


class Outcome(StrEnum):
    """What :func:`apply_status` did with a report."""

    APPLIED = "applied"  # the message moved to a new status
    RECORDED = "recorded"  # kept in the history; the status did not move (late, out of order, or unknown word)
    DUPLICATE = "duplicate"  # the same report was seen before; nothing stored
    PARKED = "parked"  # no message has this sid yet; applied when the worker stores it
    RECONCILED = "reconciled"  # no message had this sid; the row the callback names took it
    SECOND_SID = "second_sid"  # a second create at Twilio for the row the callback names: a duplicate, recorded


async def apply_status(update: StatusUpdate) -> str:
    """Store a status report and apply it to its message, monotonically.

    The common case is one commit (see :mod:`hub.store.status_sql`). When no message has the sid yet the event
    stays parked: the worker applies it when it stores the sid (:func:`hub.store.ledger.mark_submitted`). Because
    that may have happened between the lookup and the commit, the sid is looked up once more. Still unmatched, a
    report whose callback URL names its row is settled through that row (:mod:`hub.store.reconcile`).

    Returns:
        An :class:`Outcome` value.
    """
    done = await record_and_apply(update, from_twilio(update.status))
    if done.event_id is None:
        return Outcome.DUPLICATE.value
    if done.moved:
        return Outcome.APPLIED.value
    if done.message_id is not None:
        return Outcome.RECORDED.value
    row = await Message.select(Message.id, Message.status).where(Message.sid == update.sid).first()
    if row is not None:
        moved = await apply_event(done.event_id, row["id"], MessageStatus(row["status"]), update)
        return (Outcome.APPLIED if moved else Outcome.RECORDED).value
    if update.message_id is not None:
        return (await resolve_by_row(done.event_id, update)).value
    return Outcome.PARKED.value
