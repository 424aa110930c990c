"""Who the ledger says was sent to recently: rebuilds the tier budget when Redis forgot it."""

from __future__ import annotations

from datetime import datetime

from hub.status import MessageStatus
from hub.store.rows import utc, when
from hub.store.tables import Message

__all__ = ["recipients_sent_since"]


async def recipients_sent_since(since: datetime) -> list[tuple[str, datetime]]:
    """Every recipient with a message handed to Twilio since ``since``, with the latest time.

    An ``unknown`` row (Twilio may have it) counts from its claim: counting a recipient Twilio never got only
    delays a send, missing one could exceed the tier. A ``sending`` row does not: it is being checked against
    the budget right now (the check comes after the claim).

    Args:
        since: the start of the window (aware).

    Returns:
        ``(recipient, last send)`` pairs, one per recipient, times in UTC.
    """
    start = utc(since)
    rows = await Message.select(Message.recipient, Message.sent_at, Message.claimed_at).where(
        (Message.sent_at >= start)
        | (Message.sent_at.is_null() & (Message.status == MessageStatus.UNKNOWN.value) & (Message.claimed_at >= start))
    )
    latest: dict[str, datetime] = {}
    for row in rows:
        at = when(row["sent_at"] or row["claimed_at"])
        if row["recipient"] not in latest or latest[row["recipient"]] < at:
            latest[row["recipient"]] = at
    return list(latest.items())
