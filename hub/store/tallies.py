"""Run tallies: a run's counts by status and error code, and its sends per 10 s, without scanning its rows.

Triggers on ``message`` append each statement's net change to ``run_tally`` and ``run_activity`` (migration
``2026-12-07T06:00``); a read sums a run's rows, and folds them into one per key once there are more than
:data:`FOLD_AT` (the fold is one ``DELETE … RETURNING`` feeding an ``INSERT``: rows appended meanwhile are not in its
snapshot and stay, so nothing is lost or counted twice, and two folds at once cannot both take the same rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.store import sql
from hub.store.rows import utc

__all__ = ["ACTIVITY_BUCKET_S", "FOLD_AT", "activity", "error_counts", "ledger_counts", "status_counts"]

#: A run's tally rows beyond which a read folds them.
FOLD_AT = 200
#: Width of the activity buckets the triggers write, in seconds (the chart's finest resolution).
ACTIVITY_BUCKET_S = 10

_SQL = sql.statements("tallies")


async def _tallies(run_ids: Sequence[int] | None) -> dict[int, dict[tuple[str, int | None], int]]:
    """Net rows per (status, error code) of these runs (of every run with None); folds a run's pile of pieces."""
    if run_ids is None:
        rows = await sql.fetch(_SQL["every_tally"], {})
        out: dict[int, dict[tuple[str, int | None], int]] = {}
    else:
        rows = await sql.fetch(_SQL["run_tallies"], {"runs": list(run_ids)})
        out = {run_id: {} for run_id in run_ids}
    pieces: dict[int, int] = {}
    for row in rows:
        by_key = out.setdefault(row["run"], {})
        if row["n"]:
            by_key[(row["status"], row["error_code"])] = int(row["n"])
        pieces[row["run"]] = pieces.get(row["run"], 0) + int(row["pieces"])
    for run_id, count in pieces.items():
        if count - len(out[run_id]) > FOLD_AT:
            await sql.fetch(_SQL["fold_tally"], {"run": run_id})
    return out


async def ledger_counts() -> dict[tuple[str, int | None], int]:
    """Rows of the whole ledger per (status, error code), from every run's tally (for ``/metrics``).

    Reads the tally rows, not the ledger's: as many as runs times the keys each has, once folded (this read folds
    a run's too, as a run's read does).
    """
    totals: dict[tuple[str, int | None], int] = {}
    for by_key in (await _tallies(None)).values():
        for key, n in by_key.items():
            totals[key] = totals.get(key, 0) + n
    return {key: n for key, n in totals.items() if n}


async def status_counts(run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Rows per status of each run (statuses with no rows are absent)."""
    counts: dict[int, dict[str, int]] = {}
    for run_id, by_key in (await _tallies(run_ids)).items():
        per_status: dict[str, int] = {}
        for (status, _), n in by_key.items():
            per_status[status] = per_status.get(status, 0) + n
        counts[run_id] = {status: n for status, n in per_status.items() if n}
    return counts


async def error_counts(run_id: int, statuses: Sequence[str]) -> dict[tuple[str, int | None], int]:
    """Rows of a run in ``statuses`` per (status, error code)."""
    by_key = (await _tallies([run_id]))[run_id]
    return {key: n for key, n in by_key.items() if key[0] in statuses and n}


async def activity(run_id: int, *, start: datetime, bucket_s: int) -> list[dict[str, Any]]:
    """Rows of a run sent, delivered, read and failed per ``bucket_s`` seconds (a multiple of 10) from ``start``.

    Returns:
        ``{"at", "sent", "delivered", "read", "failed"}`` per bucket with any, oldest first.
    """
    values = {"run": run_id, "bucket_s": max(bucket_s, ACTIVITY_BUCKET_S), "origin": utc(start)}
    rows = await sql.fetch(_SQL["run_activity"], values)
    if sum(int(row["pieces"]) - int(row["slots"]) for row in rows) > FOLD_AT:
        await sql.fetch(_SQL["fold_activity"], {"run": run_id})
    return [dict(row) for row in rows]
