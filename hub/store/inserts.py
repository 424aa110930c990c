"""The values of the ledger's bulk insert (``sql/ledger.sql``: ``insert_messages``), one array per column.

The rows travel as one array per column and ``unnest`` turns them back into rows, so the statement text (and
asyncpg's prepared statement) is the same for every call and no call meets asyncpg's 32,767-argument limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from hub.status import FINAL, MessageStatus
from hub.store import sql
from hub.store.records import NewMessage
from hub.store.rows import utc

__all__ = ["insert_rows"]

_INSERT = sql.statements("ledger")["insert_messages"]
_FINAL_VALUES = sorted(status.value for status in FINAL)
_PENDING = MessageStatus.PENDING.value
_json = msgspec.json.Encoder()

# A big batch (a 20,000-number bulk send through the API) may outlast the pool's statement limit: it gets this
# much time per row when that is longer.
_SECONDS_PER_ROW = 0.0005

# A column whose every value is its default travels as an empty array: unnest pads a shorter array with NULLs and
# the COALESCE puts the default back, so a fan-out chunk (no content variables, no media, all pending, due now)
# costs the client three arrays, not eleven.


def _text(value: Any) -> str:
    return _json.encode(value).decode()


def _unless_all_null(values: list[Any]) -> list[Any]:
    return values if any(value is not None for value in values) else []


def _columns(rows: Sequence[NewMessage]) -> dict[str, list[Any]]:
    """The column arrays of ``insert_messages`` by parameter name; JSON columns as text (cast in SQL)."""
    steps = [row.step for row in rows]
    statuses: list[str] = [row.status for row in rows]
    media = [row.media_url for row in rows]
    variables = _unless_all_null([row.content_variables for row in rows])
    send_at = _unless_all_null([row.send_at for row in rows])
    return {
        "steps": steps if any(steps) else [],
        "recipients": [row.recipient for row in rows],
        "bodies": _unless_all_null([row.body for row in rows]),
        "content_sids": _unless_all_null([row.content_sid for row in rows]),
        "content_variables": [None if value is None else _text(value) for value in variables],
        "media_urls": [_text(value) if value else "[]" for value in media] if any(media) else [],
        "statuses": [] if statuses.count(_PENDING) == len(statuses) else [MessageStatus(s).value for s in statuses],
        "error_codes": _unless_all_null([row.error_code for row in rows]),
        "error_messages": _unless_all_null([row.error_message for row in rows]),
        "send_ats": [utc(value) for value in send_at],
        "metas": [_text(row.meta) if row.meta else "{}" for row in rows],
    }


async def insert_rows(
    run_id: int, rows: Sequence[NewMessage], at: datetime, *, checkpoint: int | None = None
) -> list[int]:
    """Insert ``rows`` for run ``run_id`` in one statement (existing ``(run, recipient, step)`` left alone).

    Args:
        checkpoint: when given, the run's fan-out checkpoint is set to it by the same statement.

    Returns:
        Ids of the newly inserted ``pending`` rows, ascending.
    """
    values = {"run": run_id, "now": at, "final_statuses": _FINAL_VALUES, "checkpoint": checkpoint, **_columns(rows)}
    inserted = await sql.fetch(_INSERT, values, at_least_s=len(rows) * _SECONDS_PER_ROW)
    return list(inserted[0]["pending"] or [])
