"""Message and run states, and the monotonic rules that move between them (pure)."""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    """Where one ledger row stands. Values are stored in the database and shown in the API."""

    PENDING = "pending"  # owed: waiting for a worker (or for its send_at / rate slot)
    SENDING = "sending"  # claimed by a worker; a Twilio call may be in flight
    UNKNOWN = "unknown"  # crashed or timed out mid-call: Twilio may or may not have it
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    REJECTED = "rejected"  # invalid input: never sent
    SKIPPED = "skipped"  # opted out or duplicate: never sent
    CANCELED = "canceled"
    EXPIRED = "expired"


class RunState(StrEnum):
    """Lifecycle of a run (one firing of a campaign, or one bulk send)."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELED = "canceled"
    MISSED = "missed"


S = MessageStatus

#: States nothing moves out of. ``unknown`` is not final: reconciliation or a callback may settle it.
FINAL: frozenset[MessageStatus] = frozenset(
    {S.DELIVERED, S.READ, S.FAILED, S.UNDELIVERED, S.REJECTED, S.SKIPPED, S.CANCELED, S.EXPIRED}
)

#: States in which Twilio has the message (a sid exists or may exist).
HANDED_TO_TWILIO: frozenset[MessageStatus] = frozenset(
    {S.UNKNOWN, S.ACCEPTED, S.SCHEDULED, S.QUEUED, S.SENT, S.DELIVERED, S.READ, S.FAILED, S.UNDELIVERED}
)

#: Still owed by us: nothing has been handed to Twilio yet.
OWED: frozenset[MessageStatus] = frozenset({S.PENDING})

# Rank of Twilio-reported states: a callback may only move a message to a higher rank.
# read may arrive without delivered (Meta skips it when read follows at once).
_RANK: dict[MessageStatus, int] = {
    S.PENDING: 0,
    S.SENDING: 1,
    S.UNKNOWN: 2,
    S.ACCEPTED: 3,
    S.SCHEDULED: 3,
    S.QUEUED: 4,
    S.SENT: 5,
    S.DELIVERED: 6,
    S.READ: 7,
}
_TERMINAL_FAILURES = frozenset({S.FAILED, S.UNDELIVERED, S.CANCELED})

#: Twilio ``MessageStatus`` values we understand (the rest are recorded, not applied).
TWILIO_STATUSES: frozenset[str] = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "failed", "undelivered", "canceled"}
)


def from_twilio(value: str) -> MessageStatus | None:
    """Map a Twilio status string to ours; Twilio's ``sending`` means ``queued`` to us (it is past our claim).

    Returns None for values we do not track (``receiving``, ``partially_delivered``...).
    """
    value = value.strip().lower()
    if value == "sending":
        return S.QUEUED
    if value in TWILIO_STATUSES:
        return MessageStatus(value)
    return None


def advance(current: MessageStatus, reported: MessageStatus) -> MessageStatus:
    """Return the status after Twilio reports ``reported`` for a message now in ``current``.

    Status only moves forward: a late ``sent`` after ``delivered`` leaves ``delivered``. A failure
    (``failed``/``undelivered``/``canceled``) ends any state that has not reached ``delivered``.
    Once final, nothing changes (a ``read`` after ``failed`` is recorded, not applied), except that
    ``read`` may follow ``delivered``.
    """
    if current == reported:
        return current
    if current in _TERMINAL_FAILURES or current in {S.REJECTED, S.SKIPPED, S.EXPIRED}:
        return current
    if reported in _TERMINAL_FAILURES:
        return current if current in {S.DELIVERED, S.READ} else reported
    if reported not in _RANK:
        return current
    return reported if _RANK[reported] > _RANK[current] else current


def is_final(status: MessageStatus) -> bool:
    """True when no further change is expected for this message."""
    return status in FINAL
