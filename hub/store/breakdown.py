"""What a run's rows amount to beyond their counts: rows by status and reason, replies, and sends over time (the
dashboard's reads; failures by error code and why owed rows wait are :mod:`hub.store.reports`')."""

from __future__ import annotations

from datetime import datetime

import msgspec

from hub.status import MessageStatus
from hub.store import sql
from hub.store.rows import utc
from hub.store.tallies import activity

__all__ = [
    "SAMPLE",
    "ReasonGroup",
    "TimelinePoint",
    "reason_groups",
    "replied_count",
    "run_timeline",
]

S = MessageStatus
_SQL = sql.statements("dashboard")
#: Rows grouped at most by a reason read: the read stays bounded on any run.
SAMPLE = 2_000


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


async def reason_groups(
    run_id: int, statuses: tuple[MessageStatus, ...], *, sample: int = SAMPLE, limit: int = 20
) -> list[ReasonGroup]:
    """A run's rows in ``statuses`` grouped by status and reason (e.g. why rows were skipped), the most frequent
    first, over at most ``sample`` such rows (any: a bounded read on a large run)."""
    values = {"run": run_id, "statuses": [s.value for s in statuses], "sample": sample, "top": limit}
    rows = await sql.fetch(_SQL["reason_groups"], values)
    return [ReasonGroup(status=row["status"], reason=row["reason"], count=int(row["count"])) for row in rows]


async def replied_count(run_id: int) -> int:
    """Recipients of a run who wrote to us at or after one of its rows to them was sent.

    The rule is the database function ``hub_replied_rows`` (the message search's ``replied`` filter uses it too):
    it starts from the inbound messages since the run was created (replies are few next to sends) and probes each
    sender's rows by index, never a scan of the run's rows.
    """
    rows = await sql.fetch(_SQL["replied_count"], {"run": run_id})
    return int(rows[0]["count"]) if rows else 0


async def run_timeline(run_id: int, *, start: datetime, bucket_s: int) -> list[TimelinePoint]:
    """Per ``bucket_s``-second bucket from ``start`` (10 s at the finest): rows sent, delivered, read and failed in
    it, from the run's activity tally."""
    return [
        TimelinePoint(
            at=utc(row["at"]),  # type: ignore[arg-type]
            sent=int(row["sent"]),
            delivered=int(row["delivered"]),
            read=int(row["read"]),
            failed=int(row["failed"]),
        )
        for row in await activity(run_id, start=start, bucket_s=bucket_s)
    ]
