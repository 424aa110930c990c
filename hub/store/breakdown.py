"""What a run's rows amount to beyond their counts: rows by status and reason, replies, and sends over time (the
dashboard's reads; failures by error code and why owed rows wait are :mod:`hub.store.reports`')."""

from __future__ import annotations

from datetime import datetime

import msgspec

from hub.status import MessageStatus
from hub.store.rows import utc
from hub.store.tables import Message

__all__ = [
    "FAILED_STATUSES",
    "ReasonGroup",
    "TimelinePoint",
    "reason_groups",
    "replied_count",
    "run_timeline",
]

S = MessageStatus
#: Rows that reached Twilio and came back failed (the chart's "failed" series).
FAILED_STATUSES = (S.FAILED, S.UNDELIVERED)


class ReasonGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Rows of a run in one status for one reason (``error_message``; None when none was recorded)."""

    status: str
    reason: str | None
    count: int


class TimelinePoint(msgspec.Struct, frozen=True, kw_only=True):
    """How many rows of a run reached each milestone within one time bucket (starting at ``at``, UTC)."""

    at: datetime
    sent: int
    delivered: int
    read: int
    failed: int


async def reason_groups(run_id: int, statuses: tuple[MessageStatus, ...], *, limit: int = 20) -> list[ReasonGroup]:
    """A run's rows in ``statuses`` grouped by status and reason, the most frequent first (e.g. why rows were
    skipped or rejected, or why owed rows wait: a paused run, quiet hours, the tier budget)."""
    rows = await Message.raw(
        "SELECT status, error_message AS reason, count(*) AS count FROM message "
        "WHERE run = {} AND status = ANY({}) GROUP BY status, error_message ORDER BY count(*) DESC LIMIT {}",
        run_id,
        [s.value for s in statuses],
        limit,
    )
    return [ReasonGroup(status=row["status"], reason=row["reason"], count=int(row["count"])) for row in rows]


async def replied_count(run_id: int, since: datetime | None) -> int:
    """Rows of a run whose recipient wrote to us after the row was sent.

    Starts from the inbound side (replies are few next to sends) bounded by ``since`` (the run's start).
    """
    rows = await Message.raw(
        "SELECT count(DISTINCT m.id) AS count FROM inbound_message i "
        "JOIN message m ON m.recipient = i.from_phone AND m.run = {} "
        "WHERE i.received_at >= {} AND m.sent_at IS NOT NULL AND i.received_at >= m.sent_at",
        run_id,
        utc(since) or datetime(1970, 1, 1).astimezone(),
    )
    return int(rows[0]["count"]) if rows else 0


async def run_timeline(run_id: int, *, start: datetime, bucket_s: int) -> list[TimelinePoint]:
    """Per ``bucket_s``-second bucket from ``start``: rows sent, delivered, read and failed in it."""
    rows = await Message.raw(
        "SELECT date_bin(make_interval(secs => {}), v.at, {}) AS at, "
        "count(*) FILTER (WHERE v.kind = 's') AS sent, count(*) FILTER (WHERE v.kind = 'd') AS delivered, "
        "count(*) FILTER (WHERE v.kind = 'r') AS read, count(*) FILTER (WHERE v.kind = 'f') AS failed "
        "FROM message m CROSS JOIN LATERAL (VALUES ('s', m.sent_at), ('d', m.delivered_at), ('r', m.read_at), "
        "('f', CASE WHEN m.status = ANY({}) THEN m.finished_at END)) AS v(kind, at) "
        "WHERE m.run = {} AND v.at IS NOT NULL GROUP BY 1 ORDER BY 1",
        bucket_s,
        utc(start),
        [s.value for s in FAILED_STATUSES],
        run_id,
    )
    return [
        TimelinePoint(
            at=utc(row["at"]),  # type: ignore[arg-type]
            sent=int(row["sent"]),
            delivered=int(row["delivered"]),
            read=int(row["read"]),
            failed=int(row["failed"]),
        )
        for row in rows
    ]
