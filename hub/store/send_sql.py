"""The send path's hot statements on PostgreSQL, written by hand: claim a row, and record its submission.

Every send runs both. Through Piccolo they took 1 + 3 statements (the submit: update, history insert, parked
lookup) and Piccolo's builder cost more CPU than PostgreSQL's own work (bench/profile_send.py: the four
statements were ~60 % of a send on the worker's loop). Here each is one statement and one round trip; the
semantics are those of :func:`hub.store.ledger.claim_for_send` and :func:`hub.store.ledger.mark_submitted`,
which call these.

Submissions are coalesced (:data:`SUBMITS`, :mod:`hub.coalesce`): the sends of a batch finish their HTTP calls
within milliseconds of each other, and their submits run as one :data:`SUBMIT_BATCH_SQL` statement, each caller
returning once its own row is written, with the answer it would have got alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from hub.coalesce import Coalescer
from hub.status import FINAL, MessageStatus, advance
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.runs import HELD_RUN_STATES

S = MessageStatus

__all__ = [
    "CLAIM_BATCH_SQL",
    "CLAIM_SQL",
    "SUBMITS",
    "SUBMIT_BATCH_SQL",
    "SUBMIT_SQL",
    "Submit",
    "claim_batch_postgres",
    "claim_postgres",
    "submit_many_postgres",
    "submit_postgres",
]

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
#: $7 finished_at from unknown, $8 reported status (history), $9 source, $10 the writer's claim (``claimed_at``;
#: null: any). The parked lookup reads the snapshot before this statement, so the event inserted here (which has
#: its message) is not counted.
SUBMIT_SQL = (
    "WITH moved AS ("
    " UPDATE message SET sid = $2, sent_at = $5, updated_at = $5,"
    " status = CASE status WHEN 'sending' THEN $3 ELSE $4 END,"
    " finished_at = CASE status WHEN 'sending' THEN $6::timestamptz ELSE $7::timestamptz END"
    " WHERE id = $1 AND status IN ('sending', 'unknown')"
    " AND ($10::timestamptz IS NULL OR claimed_at = $10::timestamptz) RETURNING *"
    "), history AS ("
    " INSERT INTO status_event (message, sid, status, source, payload, applied, at)"
    " SELECT id, $2, $8, $9, '{}', true, $5 FROM moved RETURNING id"
    ")"
    " SELECT moved.*, EXISTS (SELECT 1 FROM status_event WHERE sid = $2 AND message IS NULL) AS parked"
    " FROM moved, history"
)

#: :data:`SUBMIT_SQL` for many rows in one statement, one array per argument (in this order): id, sid, status
#: from sending, status from unknown, now, finished_at from sending, finished_at from unknown, reported status,
#: source. The ids must be distinct (:func:`submit_many_postgres` splits repeats into later statements). The
#: parked lookup reads the snapshot before the statement, so the events inserted here are not counted.
SUBMIT_BATCH_SQL = (
    "WITH input AS ("
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
    " $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[], $10::timestamptz[])"
    " AS i(id, sid, from_sending, from_unknown, at, finished_sending, finished_unknown, reported, source, claim)"
    "), moved AS ("
    " UPDATE message SET sid = input.sid, sent_at = input.at, updated_at = input.at,"
    " status = CASE message.status WHEN 'sending' THEN input.from_sending ELSE input.from_unknown END,"
    " finished_at = CASE message.status WHEN 'sending' THEN input.finished_sending ELSE input.finished_unknown END"
    " FROM input WHERE message.id = input.id AND message.status IN ('sending', 'unknown')"
    " AND (input.claim IS NULL OR message.claimed_at = input.claim) RETURNING message.*"
    "), history AS ("
    " INSERT INTO status_event (message, sid, status, source, payload, applied, at)"
    " SELECT moved.id, moved.sid, input.reported, input.source, '{}', true, moved.sent_at"
    " FROM moved JOIN input ON input.id = moved.id"
    ")"
    " SELECT moved.*, EXISTS (SELECT 1 FROM status_event"
    " WHERE status_event.sid = moved.sid AND status_event.message IS NULL) AS parked"
    " FROM moved"
)

#: What a submit returns: (the row after, whether reports for its sid are parked), or None when the row was
#: neither ``sending`` nor ``unknown``.
Submitted = tuple[dict[str, Any], bool] | None


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
    engine: LoopPoolPostgresEngine,
    message_id: int,
    sid: str,
    reported: MessageStatus,
    source: str,
    at: datetime,
    claim: datetime | None = None,
) -> tuple[dict[str, Any], bool] | None:
    """Store ``sid`` and the status Twilio returned on a ``sending``/``unknown`` row, with its history event.

    Args:
        claim: the writer's claim instant: the row must still carry it (None: whoever holds it).

    Returns:
        (the row after, whether reports for ``sid`` are parked), or None when the row was in neither state or
        was claimed again since ``claim``.
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
        claim,
    ]
    rows = await engine.fetch(SUBMIT_SQL, args)
    if not rows:
        return None
    row = dict(rows[0])
    parked = bool(row.pop("parked"))
    return row, parked


@dataclass(frozen=True, slots=True)
class Submit:
    """One :func:`submit_postgres` call, waiting to be written with others (:data:`SUBMITS`)."""

    engine: LoopPoolPostgresEngine
    message_id: int
    sid: str
    reported: MessageStatus
    source: str
    at: datetime
    claim: datetime | None = None


async def submit_many_postgres(items: Sequence[Submit]) -> list[Submitted | BaseException]:
    """:func:`submit_postgres` for many rows: one statement per engine, the answers in the order of ``items``.

    An id given twice goes into a later statement, so the second finds the row the first left (as two calls in
    a row would). A statement PostgreSQL refuses (a duplicate sid, a value too long, a deadlock with a sweep)
    wrote nothing: its items are then written one statement each, so only the row at fault fails, to its own
    caller. Anything else (the connection lost, the answer may be lost with it) is raised to every caller, as it
    would have been to each alone.
    """
    results: list[Submitted | BaseException] = [None] * len(items)
    for indexes in _rounds(items):
        engine = items[indexes[0]].engine
        try:
            written: Sequence[Submitted | BaseException] = await _submit_round(engine, [items[i] for i in indexes])
        except asyncpg.PostgresError as exc:
            written = [exc] if len(indexes) == 1 else [await _submit_alone(items[i]) for i in indexes]
        except Exception as exc:
            written = [exc] * len(indexes)
        for index, result in zip(indexes, written, strict=True):
            results[index] = result
    return results


async def _submit_alone(item: Submit) -> Submitted | BaseException:
    try:
        return await submit_postgres(
            item.engine, item.message_id, item.sid, item.reported, item.source, item.at, item.claim
        )
    except Exception as exc:
        return exc


def _rounds(items: Sequence[Submit]) -> list[list[int]]:
    """Indexes of ``items`` grouped into statements: one engine each, each id at most once, in call order."""
    rounds: list[tuple[LoopPoolPostgresEngine, set[int], list[int]]] = []
    for index, item in enumerate(items):
        # The first statement after the last one that holds this id (so repeats keep their order).
        start = 0
        for position, (_, ids, _) in enumerate(rounds):
            if item.message_id in ids:
                start = position + 1
        for engine, ids, indexes in rounds[start:]:
            if engine is item.engine:
                ids.add(item.message_id)
                indexes.append(index)
                break
        else:
            rounds.append((item.engine, {item.message_id}, [index]))
    return [indexes for _, _, indexes in rounds]


async def _submit_round(engine: LoopPoolPostgresEngine, items: list[Submit]) -> list[Submitted]:
    if len(items) == 1:
        item = items[0]
        return [
            await submit_postgres(engine, item.message_id, item.sid, item.reported, item.source, item.at, item.claim)
        ]
    columns: list[list[Any]] = [[] for _ in range(10)]
    for item in items:
        from_sending, from_unknown = advance(S.SENDING, item.reported), advance(S.UNKNOWN, item.reported)
        values = (
            item.message_id,
            item.sid,
            from_sending.value,
            from_unknown.value,
            item.at,
            item.at if from_sending in FINAL else None,
            item.at if from_unknown in FINAL else None,
            item.reported.value,
            item.source,
            item.claim,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    by_id: dict[int, tuple[dict[str, Any], bool]] = {}
    for row in await engine.fetch(SUBMIT_BATCH_SQL, columns):
        parked = bool(row.pop("parked"))
        by_id[int(row["id"])] = (row, parked)
    return [by_id.get(item.message_id) for item in items]


#: The coalesced submit: ``await SUBMITS(Submit(...))`` answers as :func:`submit_postgres` would.
SUBMITS: Coalescer[Submit, Submitted] = Coalescer(submit_many_postgres)
