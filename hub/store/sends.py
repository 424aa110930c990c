"""The send path's hot statements (``sql/send.sql``): claim rows, and record their submission to Twilio.

Every send runs both, one statement and one round trip each (through Piccolo they took 1 + 3 statements and
Piccolo's builder cost more CPU than PostgreSQL's own work: bench/profile_send.py). The semantics are those of
:func:`hub.store.ledger.claim_for_send` and :func:`hub.store.ledger.mark_submitted`, which call these.

Submissions are coalesced (a :data:`Submits` on the worker's runtime, :mod:`hub.coalesce`): the sends of a batch
finish their HTTP calls within milliseconds of each other, and their submits run as one statement, each caller
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
from hub.store import sql
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.runs import HELD_RUN_STATES

S = MessageStatus

__all__ = [
    "Submit",
    "Submits",
    "Submitted",
    "claim_rows",
    "new_submits",
    "owed_rows_of_run",
    "pending_rows",
    "submit_many",
    "submit_one",
]

_SEND = sql.statements("send")
_HELD = list(HELD_RUN_STATES)

#: What a submit returns: (the row after, whether reports for its sid are parked), or None when the row was
#: neither ``sending`` nor ``unknown`` (or was claimed again since the writer's claim).
Submitted = tuple[dict[str, Any], bool] | None


async def claim_rows(message_ids: list[int], at: datetime) -> list[dict[str, Any]]:
    """Claim every row of ``message_ids`` that is pending, due and whose run is not held; the rows after."""
    return await sql.fetch(_SEND["claim"], {"ids": message_ids, "now": at, "held_states": _HELD})


async def pending_rows(message_ids: list[int]) -> list[int]:
    """The ids of ``message_ids`` still ``pending``, ascending."""
    return [int(row["id"]) for row in await sql.fetch(_SEND["pending_of"], {"ids": message_ids})]


async def owed_rows_of_run(run_id: int, after_id: int, at: datetime, limit: int) -> list[int]:
    """Run ``run_id``'s next ``limit`` owed rows above ``after_id`` that may be sent at ``at``, ascending."""
    values = {"run": run_id, "after": after_id, "now": at, "held_states": _HELD, "n": limit}
    return [int(row["id"]) for row in await sql.fetch(_SEND["owed_of_run"], values)]


@dataclass(frozen=True, slots=True)
class Submit:
    """One submit: ``sid`` and the status Twilio returned (``reported``) for ``message_id``, with its history event.

    Attributes:
        engine: the engine it is written on (statements group by engine).
        claim: the writer's claim instant: the row must still carry it (None: whoever holds it).
    """

    engine: LoopPoolPostgresEngine
    message_id: int
    sid: str
    reported: MessageStatus
    source: str
    at: datetime
    claim: datetime | None = None


async def submit_one(item: Submit) -> Submitted:
    """Write ``item`` alone (inside a caller's transaction, or after its batch was refused)."""
    (result,) = await _submit_round(item.engine, [item])
    return result


async def submit_many(items: Sequence[Submit]) -> list[Submitted | BaseException]:
    """Write many submits: one statement per engine, the answers in the order of ``items``.

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
        return await submit_one(item)
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


def _submit_values(items: Sequence[Submit]) -> dict[str, list[Any]]:
    names = ("ids", "sids", "from_sending", "from_unknown", "ats", "finished_sending", "finished_unknown")
    values: dict[str, list[Any]] = {name: [] for name in (*names, "reported", "sources", "claims")}
    for item in items:
        from_sending, from_unknown = advance(S.SENDING, item.reported), advance(S.UNKNOWN, item.reported)
        values["ids"].append(item.message_id)
        values["sids"].append(item.sid)
        values["from_sending"].append(from_sending.value)
        values["from_unknown"].append(from_unknown.value)
        values["ats"].append(item.at)
        values["finished_sending"].append(item.at if from_sending in FINAL else None)
        values["finished_unknown"].append(item.at if from_unknown in FINAL else None)
        values["reported"].append(item.reported.value)
        values["sources"].append(item.source)
        values["claims"].append(item.claim)
    return values


async def _submit_round(engine: LoopPoolPostgresEngine, items: Sequence[Submit]) -> list[Submitted]:
    statement = _SEND["submit"]
    by_id: dict[int, tuple[dict[str, Any], bool]] = {}
    for row in await engine.fetch(statement.text, statement.args(_submit_values(items))):
        parked = bool(row.pop("parked"))
        by_id[int(row["id"])] = (row, parked)
    return [by_id.get(item.message_id) for item in items]


#: A coalesced submit: ``await submits(Submit(...))`` answers as :func:`submit_one` would.
Submits = Coalescer[Submit, Submitted]


def new_submits() -> Submits:
    """A coalescer of submits (one per worker runtime)."""
    return Coalescer(submit_many)
