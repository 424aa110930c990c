"""The send path's hot statements on PostgreSQL, written by hand: claim a row, and record its submission.

Every send runs both. Through Piccolo they took 1 + 3 statements (the submit: update, history insert, parked
lookup) and Piccolo's builder cost more CPU than PostgreSQL's own work (bench/profile_send.py: the four
statements were ~60 % of a send on the worker's loop). Here each is one statement and one round trip; the
semantics are those of :func:`hub.store.ledger.claim_for_send` and :func:`hub.store.ledger.mark_submitted`,
which call these on PostgreSQL (SQLite keeps the Piccolo path).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.status import FINAL, MessageStatus, advance
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.runs import HELD_RUN_STATES

S = MessageStatus

__all__ = ["CLAIM_BATCH_SQL", "CLAIM_SQL", "SUBMIT_SQL", "claim_batch_postgres", "claim_postgres", "submit_postgres"]

#: $1 id, $2 now, $3 held run states. The run condition matches ``ledger.due_condition``.
CLAIM_SQL = (
    "UPDATE message SET status = 'sending', attempts = attempts + 1, claimed_at = $2, updated_at = $2"
    " WHERE id = $1 AND status = 'pending'"
    " AND (send_at IS NULL OR send_at <= $2) AND (next_attempt_at IS NULL OR next_attempt_at <= $2)"
    " AND NOT EXISTS (SELECT 1 FROM run WHERE run.id = message.run"
    " AND (run.state = ANY($3::varchar[]) OR run.expires_at <= $2))"
    " RETURNING *"
)

#: $1 ids, $2 now, $3 held run states: :data:`CLAIM_SQL` for many rows in one statement (``send_batch``). A row
#: another worker holds is simply not returned (row locks make concurrent claims of one row exclusive).
CLAIM_BATCH_SQL = CLAIM_SQL.replace("WHERE id = $1 AND", "WHERE id = ANY($1::bigint[]) AND")

#: $1 id, $2 sid, $3 status from sending, $4 status from unknown, $5 now, $6 finished_at from sending,
#: $7 finished_at from unknown, $8 reported status (history), $9 source. The parked lookup reads the snapshot
#: before this statement, so the event inserted here (which has its message) is not counted.
SUBMIT_SQL = (
    "WITH moved AS ("
    " UPDATE message SET sid = $2, sent_at = $5, updated_at = $5,"
    " status = CASE status WHEN 'sending' THEN $3 ELSE $4 END,"
    " finished_at = CASE status WHEN 'sending' THEN $6::timestamptz ELSE $7::timestamptz END"
    " WHERE id = $1 AND status IN ('sending', 'unknown') RETURNING *"
    "), history AS ("
    " INSERT INTO status_event (message, sid, status, source, payload, applied, at)"
    " SELECT id, $2, $8, $9, '{}', true, $5 FROM moved RETURNING id"
    ")"
    " SELECT moved.*, EXISTS (SELECT 1 FROM status_event WHERE sid = $2 AND message IS NULL) AS parked"
    " FROM moved, history"
)


async def claim_postgres(engine: LoopPoolPostgresEngine, message_id: int, at: datetime) -> dict[str, Any] | None:
    """Claim ``message_id`` if it is pending, due and its run is not held; the row after, or None."""
    rows = await engine.fetch(CLAIM_SQL, [message_id, at, list(HELD_RUN_STATES)])
    return rows[0] if rows else None


async def claim_batch_postgres(
    engine: LoopPoolPostgresEngine, message_ids: list[int], at: datetime
) -> list[dict[str, Any]]:
    """Claim every row of ``message_ids`` that is pending, due and whose run is not held; the rows after."""
    return list(await engine.fetch(CLAIM_BATCH_SQL, [list(message_ids), at, list(HELD_RUN_STATES)]))


async def submit_postgres(
    engine: LoopPoolPostgresEngine, message_id: int, sid: str, reported: MessageStatus, source: str, at: datetime
) -> tuple[dict[str, Any], bool] | None:
    """Store ``sid`` and the status Twilio returned on a ``sending``/``unknown`` row, with its history event.

    Returns:
        (the row after, whether reports for ``sid`` are parked), or None when the row was in neither state.
    """
    from_sending, from_unknown = advance(S.SENDING, reported), advance(S.UNKNOWN, reported)
    args = [
        message_id,
        sid,
        from_sending.value,
        from_unknown.value,
        at,
        at if from_sending in FINAL else None,
        at if from_unknown in FINAL else None,
        reported.value,
        source,
    ]
    rows = await engine.fetch(SUBMIT_SQL, args)
    if not rows:
        return None
    row = dict(rows[0])
    parked = bool(row.pop("parked"))
    return row, parked
