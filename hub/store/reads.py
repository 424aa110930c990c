"""Reads for the API and the CLI: one message with its history, filtered pages, per-run counts and progress."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from piccolo.columns.combination import WhereRaw
from piccolo.custom_types import Combinable

from hub.status import MessageStatus, RunState
from hub.store import sql
from hub.store.events import history
from hub.store.records import MessageRecord, RunProgress, RunRecord
from hub.store.rows import message_record, utc, when
from hub.store.runs import get_run
from hub.store.tables import Message, Run
from hub.store.tallies import ledger_counts, status_counts

S = MessageStatus
_RECENT_SENDS = sql.statements("dashboard")["recent_sends"]
_OWED = (S.PENDING.value, S.SENDING.value)
#: Rows of a run whose recipient wrote after they were sent: the reply rule, ``hub_replied_rows`` (migration
#: 2026-12-07T08:10), which the funnel's count uses too. Its ids are read once (an array), then fetched by key.
_REPLIED = {
    True: "message.id = ANY(ARRAY(SELECT message FROM hub_replied_rows({})))",
    False: "message.id <> ALL(ARRAY(SELECT message FROM hub_replied_rows({})))",
}


def _select() -> object:
    return Message.select(*Message.all_columns(), Message.run.campaign.as_alias("campaign")).output(load_json=True)


async def get_message(message_id: int, *, with_history: bool = False) -> MessageRecord | None:
    """One ledger row with its campaign name, and its status history when asked (oldest first)."""
    row = await _select().where(Message.id == message_id).first()  # type: ignore[attr-defined]
    if row is None:
        return None
    return message_record(row, await history(message_id) if with_history else None)


def encode_cursor(message_id: int) -> str:
    """The opaque cursor that continues a listing after ``message_id``."""
    return str(message_id)


def decode_cursor(cursor: str) -> int:
    """The message id inside a cursor.

    Raises:
        ValueError: not a cursor this store issued.
    """
    value = int(cursor)
    if value < 0:
        raise ValueError("cursor must be a non-negative integer")
    return value


async def list_messages(
    *,
    status: MessageStatus | str | Collection[MessageStatus] | None = None,
    to: str | None = None,
    sid: str | None = None,
    error_code: int | None = None,
    run_id: int | None = None,
    replied: bool | None = None,
    campaign: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[MessageRecord], str | None]:
    """A page of messages, newest first (keyset pagination on id).

    Args:
        status: only this status (or these statuses).
        to: only this recipient (E.164).
        sid: only the row with this Twilio sid.
        error_code: only rows with this Twilio error code.
        run_id: only this run.
        replied: only rows of ``run_id`` whose recipient wrote to us at or after the row was sent (True), or
            only the others (False); needs ``run_id``.
        campaign: only runs of this campaign.
        since: created at or after (UTC).
        until: created before (UTC).
        cursor: ``next_cursor`` of the previous page.
        limit: page size (1..1000).

    Returns:
        ``(items, next_cursor)``; ``next_cursor`` is None on the last page.

    Raises:
        ValueError: a malformed cursor, or a limit out of range.
        TypeError: ``replied`` without ``run_id`` (the edges refuse it first).
    """
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be between 1 and 1000")
    if replied is not None and run_id is None:
        raise TypeError("replied needs run_id: replies are matched within a run")
    query = _select()
    conditions: list[Combinable] = []
    if isinstance(status, str):
        conditions.append(Message.status == MessageStatus(status).value)
    elif status is not None:
        conditions.append(Message.status.is_in([MessageStatus(s).value for s in status]))
    if to is not None:
        conditions.append(Message.recipient == to)
    if sid is not None:
        conditions.append(Message.sid == sid)
    if error_code is not None:
        conditions.append(Message.error_code == error_code)
    if run_id is not None:
        conditions.append(Message.run == run_id)
    if replied is not None:
        conditions.append(WhereRaw(_REPLIED[replied], run_id))
    if campaign is not None:
        conditions.append(Message.run.is_in(Run.select(Run.id).where(Run.campaign == campaign)))
    if since is not None:
        conditions.append(Message.created_at >= utc(since))
    if until is not None:
        conditions.append(Message.created_at < utc(until))
    if cursor is not None:
        conditions.append(Message.id < decode_cursor(cursor))
    for condition in conditions:
        query = query.where(condition)  # type: ignore[attr-defined]
    rows = await query.order_by(Message.id, ascending=False).limit(limit + 1)  # type: ignore[attr-defined]
    items = [message_record(row) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return items, next_cursor


async def run_counts(run_id: int) -> dict[str, int]:
    """Rows of a run per status (statuses with no rows are absent), from the run's tally (no scan of its rows)."""
    return (await status_counts([run_id]))[run_id]


async def message_totals() -> dict[str, dict[str, int]]:
    """Ledger rows by status, and rows with an error by Twilio error code (for ``/metrics``), from the run tallies
    (a GROUP BY over the ledger's rows would outlast the API's statement limit on a large one).

    Returns:
        ``{"by_status": {status: n}, "by_error_code": {code: n}}`` (absent keys mean zero).
    """
    by_status: dict[str, int] = {}
    by_error_code: dict[str, int] = {}
    for (status, code), n in (await ledger_counts()).items():
        by_status[status] = by_status.get(status, 0) + n
        if code is not None:
            by_error_code[str(code)] = by_error_code.get(str(code), 0) + n
    return {"by_status": by_status, "by_error_code": by_error_code}


async def run_progress(run_id: int, *, now: datetime | None = None, window_s: float = 60.0) -> RunProgress | None:
    """Counts, the send rate over the last ``window_s`` seconds, and an ETA for what is owed.

    A run started less than ``window_s`` ago is measured over its age (at least 1 s), so its first seconds show
    its real pace, not a fraction of it.

    Returns:
        None when the run does not exist.
    """
    run = await get_run(run_id)
    if run is None:
        return None
    return (await runs_progress([run], now=now, window_s=window_s))[0]


async def runs_progress(
    runs: Sequence[RunRecord], *, now: datetime | None = None, window_s: float = 60.0
) -> list[RunProgress]:
    """:func:`run_progress` of several runs in two queries (their tallies, and their recent sends)."""
    if not runs:
        return []
    at = when(now)
    windows = {run.id: _window(run, at, window_s) for run in runs}
    counts = await status_counts([run.id for run in runs])
    since = at - timedelta(seconds=max(windows.values()))
    rows = await sql.fetch(
        sql.statements("dashboard")["recent_sends"], {"runs": [run.id for run in runs], "since": since}
    )
    recent_any = {row["run"]: int(row["n"]) for row in rows}
    out = []
    for run in runs:
        window = windows[run.id]
        recent = recent_any.get(run.id, 0)
        if recent and window < max(windows.values()):  # a young run: count over its own age only
            recent = await Message.count().where(
                (Message.run == run.id) & (Message.sent_at >= at - timedelta(seconds=window))
            )
        out.append(_progress(run, counts[run.id], recent, window))
    return out


def _window(run: RunRecord, at: datetime, window_s: float) -> float:
    if run.started_at is None:
        return window_s
    return max(1.0, min(window_s, (at - run.started_at).total_seconds()))


def _progress(run: RunRecord, counts: dict[str, int], recent: int, window_s: float) -> RunProgress:
    rate = recent / window_s
    owed = sum(counts.get(s, 0) for s in _OWED)
    # A paused run has no ETA: its recent rate says nothing about when it ends.
    eta = owed / rate if owed and rate > 0 and run.state != RunState.PAUSED else None
    return RunProgress(
        run=run,
        counts=counts,
        total=sum(counts.values()),  # the rows written: a duplicate not stored is not counted
        owed=owed,
        rate_per_second=rate,
        eta_seconds=eta,
        window_s=window_s,
    )
