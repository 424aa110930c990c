"""Ledger-wide signals of the sender's health: the send rate now and how far status callbacks lag behind."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from hub.status import MessageStatus
from hub.store import sql
from hub.store.rows import utc
from hub.store.tables import Message

__all__ = ["RECENT_EVENTS", "WAITING_CAP", "CallbackLag", "callback_lag", "send_rate"]

S = MessageStatus
_SQL = sql.statements("dashboard")
#: Handed to Twilio, no status callback yet.
_AWAITING_CALLBACK = (S.ACCEPTED.value, S.QUEUED.value)
#: Rows counted at most when measuring the callback backlog (the page says "at least" past it).
WAITING_CAP = 10_000
#: Status events looked through for the latest callback.
RECENT_EVENTS = 100_000


class CallbackLag(msgspec.Struct, frozen=True, kw_only=True):
    """How far Twilio's status callbacks are behind the sends.

    Attributes:
        last_callback_at: when the latest status callback arrived (UTC), None if none in the recent history.
        waiting: rows handed to Twilio with no callback yet (capped at :data:`WAITING_CAP`).
        oldest_waiting_s: age of the oldest of those counted, in seconds.
    """

    last_callback_at: datetime | None
    waiting: int
    oldest_waiting_s: float | None


async def send_rate(now: datetime, window_s: float = 60.0) -> float:
    """Messages handed to Twilio per second over the last ``window_s`` seconds, across every run."""
    count = await Message.count().where(Message.sent_at >= utc(now) - timedelta(seconds=window_s))  # type: ignore[operator]
    return count / window_s


async def callback_lag(now: datetime) -> CallbackLag:
    """The latest callback's time, and the rows still waiting for their first one."""
    # Among the latest RECENT_EVENTS events only: a ledger of worker events with no callback is not scanned whole.
    last = await sql.fetch(_SQL["latest_callback"], {"recent": RECENT_EVENTS})
    waiting = await sql.fetch(_SQL["awaiting_callback"], {"statuses": list(_AWAITING_CALLBACK), "cap": WAITING_CAP})
    oldest = utc(waiting[0]["oldest"]) if waiting else None
    return CallbackLag(
        last_callback_at=utc(last[0]["at"]) if last else None,
        waiting=int(waiting[0]["n"]) if waiting else 0,
        oldest_waiting_s=(utc(now) - oldest).total_seconds() if oldest else None,  # type: ignore[operator]
    )
