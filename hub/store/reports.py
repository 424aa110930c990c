"""Operator reads: pages of runs, a run's failures by error code, why its owed rows wait, its rows for export."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime

import msgspec

from hub.status import MessageStatus, RunState
from hub.store.db import current_engine
from hub.store.reads import decode_cursor, encode_cursor
from hub.store.records import MessageRecord, RunRecord
from hub.store.rows import message_record, run_record, utc, when
from hub.store.tables import Run
from hub.store.tallies import error_counts

S = MessageStatus
#: Statuses that count as a run's failures (each grouped by Twilio error code).
FAILURE_STATUSES = (S.FAILED, S.UNDELIVERED, S.REJECTED, S.UNKNOWN, S.EXPIRED)
#: Rows per page of an export (one keyset query each: memory stays bounded whatever the run's size).
EXPORT_PAGE = 5000

__all__ = [
    "EXPORT_PAGE",
    "FAILURE_STATUSES",
    "FailureGroup",
    "WaitGroup",
    "export_page",
    "iter_run_messages",
    "run_failures",
    "run_waits",
    "runs_page",
]


class FailureGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Failed rows of a run sharing a status and an error code.

    Attributes:
        status: the final status (``failed``, ``undelivered``, ``rejected``...).
        error_code: Twilio's code, or None (a render error, an invalid number, an expiry).
        error_message: the message of the sample row (Twilio's, or ours).
        count: rows in the group.
        sample_to: the recipient of the group's first row.
    """

    status: str
    error_code: int | None
    error_message: str | None
    count: int
    sample_to: str


class WaitGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Owed rows of a run held back for one reason.

    Attributes:
        quiet_hours: held by the campaign's send window (``send_at`` in the future).
        error_code: the Twilio code of a transient failure they wait to retry, else None.
        reason: why, as the send path recorded it (``per-recipient limit reached``, ``daily tier budget of 5 ...``),
            up to its first ``;``; empty for quiet hours and rows due now.
        count: rows in the group.
        next_at: the earliest of them falls due then (UTC); None for rows due now.
    """

    quiet_hours: bool
    error_code: int | None
    reason: str
    count: int
    next_at: datetime | None

    @property
    def label(self) -> str:
        """Why, in words: quiet hours, the recorded reason (a cap, the tier budget, a retry), or due now."""
        if self.quiet_hours:
            return "outside the send window (quiet hours)"
        if self.error_code is not None:
            return f"retrying after error {self.error_code}: {self.reason}" if self.reason else "retrying"
        if self.reason:
            return self.reason
        return "due now" if self.next_at is None else "waiting"


# One row of each failure group, for its message and a number to look up (the counts come from the run's tally).
_FAILURE_SAMPLE = """
SELECT recipient, error_message FROM message
WHERE run = $1 AND status = $2 AND error_code IS NOT DISTINCT FROM $3 LIMIT 1
"""

# The reason a row waits is what the send path wrote when it gave the row back (error_message); the text after
# its first ';' carries per-row detail (the time), so groups use the part before it. $1 is now, $2 the run, $3 how
# many owed rows at most (NULL: all).
_WAITS = """
SELECT coalesce(send_at > $1, false) AS quiet_hours,
       CASE WHEN coalesce(next_attempt_at > $1, false) THEN error_code END AS error_code,
       CASE WHEN coalesce(next_attempt_at > $1, false) AND coalesce(send_at <= $1, true)
            THEN split_part(coalesce(error_message, ''), ';', 1) ELSE '' END AS reason,
       count(*) AS n,
       min(nullif(greatest(coalesce(send_at, $1), coalesce(next_attempt_at, $1)), $1)) AS next_at
FROM (SELECT * FROM message WHERE status = 'pending' AND run = $2 LIMIT $3) AS owed
GROUP BY 1, 2, 3
ORDER BY n DESC
"""

# Keyset pages on the ledger's unique (run, recipient, step) index: each page is an index range scan.
_EXPORT_FIRST = """
SELECT m.*, r.campaign FROM message m JOIN run r ON r.id = m.run
WHERE m.run = $1 ORDER BY m.recipient, m.step LIMIT $2
"""
_EXPORT_NEXT = """
SELECT m.*, r.campaign FROM message m JOIN run r ON r.id = m.run
WHERE m.run = $1 AND (m.recipient, m.step) > ($3, $4) ORDER BY m.recipient, m.step LIMIT $2
"""


async def runs_page(
    *,
    campaign: str | None = None,
    states: Iterable[RunState] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[RunRecord], str | None]:
    """A page of runs, newest first (keyset on id), optionally of one campaign and in some states.

    Returns:
        ``(runs, next_cursor)``; ``next_cursor`` is None on the last page.

    Raises:
        ValueError: a malformed cursor, or a limit outside 1..1000.
    """
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be between 1 and 1000")
    query = Run.select().order_by(Run.id, ascending=False).limit(limit + 1)
    if campaign is not None:
        query = query.where(Run.campaign == campaign)
    wanted = [RunState(state).value for state in states or ()]
    if wanted:
        query = query.where(Run.state.is_in(wanted))
    if cursor is not None:
        query = query.where(Run.id < decode_cursor(cursor))
    rows = await query
    runs = [run_record(row) for row in rows[:limit]]
    return runs, encode_cursor(runs[-1].id) if len(rows) > limit else None


async def run_failures(run_id: int) -> list[FailureGroup]:
    """A run's failed rows grouped by status and error code, largest group first, each with a sample row.

    The counts are the run's tally (no scan of its rows); each group reads one sample row.
    """
    counts = await error_counts(run_id, [status.value for status in FAILURE_STATUSES])
    order = sorted(counts.items(), key=lambda item: (-item[1], item[0][0], item[0][1] is None, item[0][1] or 0))
    groups = []
    for (status, code), n in order:
        rows = await current_engine().fetch(_FAILURE_SAMPLE, [run_id, status, code])
        groups.append(
            FailureGroup(
                status=status,
                error_code=code,
                error_message=rows[0]["error_message"] if rows else None,
                count=n,
                sample_to=str(rows[0]["recipient"]) if rows else "",
            )
        )
    return groups


async def run_waits(run_id: int, now: datetime | None = None, *, sample: int | None = None) -> list[WaitGroup]:
    """A run's ``pending`` rows grouped by why they wait (quiet hours, a cap, a retry), or due now.

    Args:
        sample: group at most ``sample`` of the owed rows (any of them), for a bounded read on a large run;
            None groups them all.
    """
    rows = await current_engine().fetch(_WAITS, [when(now), run_id, sample])
    return [
        WaitGroup(
            quiet_hours=row["quiet_hours"],
            error_code=row["error_code"],
            reason=row["reason"],
            count=row["n"],
            next_at=utc(row["next_at"]),
        )
        for row in rows
    ]


async def export_page(run_id: int, after: tuple[str, int] | None, limit: int) -> list[MessageRecord]:
    """One page of a run's rows by (recipient, step), after the key ``after`` (None: from the start)."""
    if after is None:
        rows = await current_engine().fetch(_EXPORT_FIRST, [run_id, limit])
    else:
        rows = await current_engine().fetch(_EXPORT_NEXT, [run_id, limit, after[0], after[1]])
    return [message_record(row) for row in rows]


async def iter_run_messages(run_id: int, *, page: int | None = None) -> AsyncIterator[list[MessageRecord]]:
    """Every row of a run, a page at a time (at most ``page`` rows, :data:`EXPORT_PAGE` by default), by recipient.

    Each page is its own short query, so no transaction or connection is held between pages and memory holds one
    page: a million-row run streams in 200 queries.
    """
    size = page or EXPORT_PAGE
    after: tuple[str, int] | None = None
    while True:
        records = await export_page(run_id, after, size)
        if records:
            yield records
        if len(records) < size:
            return
        after = (records[-1].recipient, records[-1].step)
