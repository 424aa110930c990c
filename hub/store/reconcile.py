"""Reconciliation: a callback for a sid no row has may belong to an ``unknown`` row (the worker never stored it).

A send that timed out after the request left (or whose worker died mid-call) ends ``unknown``: Twilio may
have the message, and we never learned its sid. When Twilio then reports on a sid we do not know, and
exactly one row for that recipient could be it (no sid, ``unknown``, created before the report, and no other
row of that recipient without a sid still ``sending``), the sid is attached to that row: Twilio did accept
it. Any doubt leaves the report parked.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.status import MessageStatus
from hub.store.events import apply_parked, record_event
from hub.store.records import StatusUpdate
from hub.store.rows import is_unique_violation, utc, when
from hub.store.tables import EventSource, Message

__all__ = ["recipient_of", "reconcile"]

log = logging.getLogger(__name__)

S = MessageStatus
_PREFIXES = ("whatsapp:", "sms:", "mms:")


def recipient_of(to: str | None) -> str | None:
    """The E.164 phone of a callback's ``To`` (pure): ``whatsapp:+14155550100`` -> ``+14155550100``."""
    if not to:
        return None
    value = to.strip()
    for prefix in _PREFIXES:
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    return value if value.startswith("+") else None


async def reconcile(update: StatusUpdate) -> int | None:
    """Attach ``update.sid`` to the one ``unknown`` row it can belong to, then apply the parked reports.

    Args:
        update: a report whose sid matched no row (already stored, parked).

    Returns:
        The row's id, or None when there is no candidate or more than one (the report stays parked).
    """
    phone = recipient_of(update.payload.get("To"))
    if phone is None:
        return None
    at = when(update.at)
    candidates = (
        await Message.select(Message.id, Message.status, Message.claimed_at)
        .where(
            (Message.recipient == phone)
            & Message.sid.is_null()
            & Message.status.is_in([S.SENDING.value, S.UNKNOWN.value])
            & (Message.created_at <= at)
        )
        .limit(2)
    )
    if len(candidates) != 1 or candidates[0]["status"] != S.UNKNOWN.value:
        if len(candidates) > 1:
            log.warning(
                "callback for %r stays parked: %d rows of its recipient could be it", update.sid, len(candidates)
            )
        return None
    return await _attach(candidates[0], update)


async def _attach(candidate: dict[str, Any], update: StatusUpdate) -> int | None:
    message_id: int = candidate["id"]
    at = when(update.at)
    try:
        rows = (
            await Message.update(
                {
                    Message.sid: update.sid,
                    Message.status: S.ACCEPTED.value,
                    Message.sent_at: utc(candidate["claimed_at"]) or at,
                    Message.updated_at: at,
                    Message.error_code: None,
                    Message.error_message: None,
                }
            )
            .where((Message.id == message_id) & (Message.status == S.UNKNOWN.value) & Message.sid.is_null())
            .returning(Message.id)
        )
    except Exception as exc:  # the sid landed on another row meanwhile (unique): that row is the one
        if is_unique_violation(exc):
            return None
        raise
    if not rows:
        return None
    await record_event(
        message_id=message_id,
        sid=update.sid,
        status=S.ACCEPTED.value,
        source=EventSource.RECONCILE.value,
        applied=True,
        at=at,
        error_message="unknown row matched to a callback for its recipient: Twilio accepted it",
    )
    await apply_parked(message_id, update.sid)
    log.info("message %r reconciled with sid %r from a status callback", message_id, update.sid)
    return message_id
