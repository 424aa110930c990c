"""The ledger's bulk insert on PostgreSQL, written by hand: one statement per call, whatever the row count.

The rows travel as one array per column and ``unnest`` turns them back into rows, so the statement text (and
asyncpg's prepared statement) is the same for every call and no call meets asyncpg's 32,767-argument limit.
Compared with a ``VALUES`` list of 16 parameters per row, PostgreSQL plans one statement instead of a new one per
row count, and the client encodes 11 arrays instead of 16 x N arguments (bench/RESULTS.md, fan-out). The semantics
are those of :func:`hub.store.ledger.insert_messages`, which calls this.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from hub.status import FINAL, MessageStatus
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.records import NewMessage
from hub.store.rows import utc

__all__ = ["INSERT_SQL", "INSERT_WITH_CHECKPOINT_SQL", "insert_postgres"]

_FINAL_VALUES = sorted(status.value for status in FINAL)
_PENDING = MessageStatus.PENDING.value

# A column whose every value is its default travels as an empty array: unnest pads a shorter array with NULLs and
# the COALESCE puts the default back, so a fan-out chunk (no content variables, no media, all pending, due now)
# costs the client three arrays, not eleven. ``recipient`` is never null, so its array gives the row count.
_INSERT = (
    "WITH new AS ("
    "INSERT INTO message (run, step, recipient, body, content_sid, content_variables, media_url, status,"
    " error_code, error_message, attempts, send_at, created_at, updated_at, finished_at, meta)"
    " SELECT $1, COALESCE(t.step, 0), t.recipient, t.body, t.content_sid, t.content_variables::json,"
    " COALESCE(t.media_url, '[]')::json, COALESCE(t.status, 'pending'), t.error_code, t.error_message, 0, t.send_at,"
    " $2, $2, CASE WHEN t.status = ANY($3::text[]) THEN $2::timestamptz END, COALESCE(t.meta, '{}')::json"
    " FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[],"
    " $12::text[], $13::timestamptz[], $14::text[])"
    " AS t(step, recipient, body, content_sid, content_variables, media_url, status, error_code, error_message,"
    " send_at, meta)"
    " ON CONFLICT (run, recipient, step, entry) DO NOTHING RETURNING id, status)"
)
# One row back, the new pending ids as one array: decoding N result rows cost the client more than the insert.
_SELECT = " SELECT array_agg(id ORDER BY id) FILTER (WHERE status = 'pending') AS pending FROM new"

#: $1 run, $2 now, $3 final statuses (they get ``finished_at``), $4.. one array per column (empty: all default).
INSERT_SQL = _INSERT + _SELECT

#: :data:`INSERT_SQL` that also sets the run's fan-out checkpoint to $15 in the same statement, so the checkpoint
#: commits with the rows it covers: never ahead of them, never behind.
INSERT_WITH_CHECKPOINT_SQL = _INSERT + ", mark AS (UPDATE run SET checkpoint = $15 WHERE id = $1)" + _SELECT

_json = msgspec.json.Encoder()


def _text(value: Any) -> str:
    return _json.encode(value).decode()


def _unless_all_null(values: list[Any]) -> list[Any]:
    return values if any(value is not None for value in values) else []


def _columns(rows: Sequence[NewMessage]) -> list[list[Any]]:
    """One list per column of :data:`INSERT_SQL`, ``$4`` onwards; JSON columns as text (cast in SQL)."""
    steps = [row.step for row in rows]
    statuses: list[str] = [row.status for row in rows]
    media = [row.media_url for row in rows]
    variables = _unless_all_null([row.content_variables for row in rows])
    send_at = _unless_all_null([row.send_at for row in rows])
    return [
        steps if any(steps) else [],
        [row.recipient for row in rows],
        _unless_all_null([row.body for row in rows]),
        _unless_all_null([row.content_sid for row in rows]),
        [None if value is None else _text(value) for value in variables],
        [_text(value) if value else "[]" for value in media] if any(media) else [],
        [] if statuses.count(_PENDING) == len(statuses) else [MessageStatus(status).value for status in statuses],
        _unless_all_null([row.error_code for row in rows]),
        _unless_all_null([row.error_message for row in rows]),
        [utc(value) for value in send_at],
        [_text(row.meta) if row.meta else "{}" for row in rows],
    ]


async def insert_postgres(
    engine: LoopPoolPostgresEngine,
    run_id: int,
    rows: Sequence[NewMessage],
    at: datetime,
    *,
    checkpoint: int | None = None,
) -> list[int]:
    """Insert ``rows`` for run ``run_id`` in one statement (existing ``(run, recipient, step)`` left alone).

    Args:
        checkpoint: when given, the run's fan-out checkpoint is set to it by the same statement.

    Returns:
        Ids of the newly inserted ``pending`` rows, ascending.
    """
    args: list[Any] = [run_id, at, _FINAL_VALUES, *_columns(rows)]
    sql = INSERT_SQL
    if checkpoint is not None:
        sql = INSERT_WITH_CHECKPOINT_SQL
        args.append(checkpoint)
    inserted = await engine.fetch(sql, args)
    return list(inserted[0]["pending"] or [])
