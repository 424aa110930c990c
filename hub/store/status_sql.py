"""The status callback's hot path: store a report (deduplicated) and apply it to its message in one commit.

The reports of one event loop that arrive within a few milliseconds of each other are written by
one multi-row statement (``sql/status.sql``, through :class:`hub.coalesce.Coalescer`): one round trip and one
WAL flush per batch, and each caller returns only once the batch holding its report is committed. A batch
gives the same result as its reports applied one after another in arrival order (:func:`batch_rounds`).
Written by hand: Piccolo's builder and a commit per statement cost more than the database's own work.

The compare-and-set is "status is one from which the report moves it forward" (:func:`forward_from`),
evaluated on the row's latest version, so concurrent reports cannot move a status back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import msgspec

from hub.coalesce import Coalescer
from hub.status import FINAL, MessageStatus, advance
from hub.store import sql
from hub.store.db import current_engine
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.records import StatusUpdate
from hub.store.rows import when

S = MessageStatus

__all__ = [
    "BATCH_DELAY_S",
    "BATCH_MAX_ITEMS",
    "Recorded",
    "apply_stored",
    "batch_rounds",
    "change_columns",
    "forward_from",
    "record_and_apply",
]

_JSON = msgspec.json.Encoder()


class Recorded(msgspec.Struct, frozen=True):
    """What :func:`record_and_apply` did.

    Attributes:
        event_id: the stored event, or None when its dedupe key was seen before (a duplicate).
        message_id: the message with the report's sid, or None (the sid is not stored yet: parked).
        moved: whether the message's status moved.
    """

    event_id: int | None
    message_id: int | None
    moved: bool


def forward_from(reported: MessageStatus | None) -> list[str]:
    """The statuses a message may be in for ``reported`` to move it (pure; sorted). Empty for None."""
    return list(_forward(reported))


@functools.cache
def _forward(reported: MessageStatus | None) -> tuple[str, ...]:
    if reported is None:
        return ()
    return tuple(sorted(s.value for s in MessageStatus if s != reported and advance(s, reported) == reported))


def change_columns(new: MessageStatus, update: StatusUpdate) -> dict[str, Any]:
    """Column values a message takes when ``update`` moves it to ``new`` (pure)."""
    at = when(update.at)
    values: dict[str, Any] = {"status": new.value, "updated_at": at}
    if new == S.DELIVERED:
        values["delivered_at"] = at
    elif new == S.READ:
        values["read_at"] = at
    if new in {S.FAILED, S.UNDELIVERED}:
        values["error_code"] = update.error_code
        values["error_message"] = update.error_message
    elif new in {S.SENT, S.DELIVERED, S.READ}:
        # This attempt got through: an earlier attempt's error (kept in the history) no longer describes the row.
        values["error_code"] = None
        values["error_message"] = None
    if new in FINAL:
        values["finished_at"] = at
    return values


async def record_and_apply(update: StatusUpdate, reported: MessageStatus | None) -> Recorded:
    """Store ``update`` as an event and, when its sid is known, move the message to ``reported`` if forward.

    Args:
        update: the report.
        reported: our status for it (None for words we do not track: recorded only).
    """
    engine = current_engine()
    if engine.current_transaction.get() is None:
        return await _batches((update, reported))
    # Inside a caller's transaction the report must be written on that transaction's connection: alone.
    (recorded,) = await _write_round(engine, [(update, reported)])
    return recorded


async def apply_stored(event_id: int, update: StatusUpdate, reported: MessageStatus | None) -> Recorded:
    """Apply event ``event_id``, stored earlier for ``update`` (parked until its sid was stored, or stored before
    its message was found), to the message holding ``update.sid``: the same statement and rule as
    :func:`record_and_apply`, which links the event and inserts nothing. Alone, on the caller's transaction if any.

    Returns:
        The event, its message (None when no message holds the sid) and whether this call moved the message.
    """
    rows = await current_engine().fetch(_APPLY.text, _APPLY.args(_batch_args([(update, reported)], event_id)))
    row = next((row for row in rows if row["id"] == event_id), None)
    return Recorded(event_id, None, False) if row is None else Recorded(row["id"], row["message"], row["applied"])


#: Reports in one statement at most.
BATCH_MAX_ITEMS = 500
#: How long the first report of a batch waits for company, seconds.
BATCH_DELAY_S = 0.002

#: The one statement (sql/status.sql): a batch of reports with distinct sids and dedupe keys; one is a batch of one.
_APPLY = sql.statements("status")["record_and_apply"]

_Item = tuple[StatusUpdate, MessageStatus | None]


def batch_rounds(keys: Sequence[tuple[str, str]]) -> list[list[int]]:
    """Split a batch of ``(sid, dedupe_key)`` into rounds in which no sid and no key appears twice (pure).

    Each item goes to the round after the last one holding its sid or its key, so the rounds, run one after
    another, apply a sid's reports in arrival order: what applying them one by one would give.

    Returns:
        Indexes into ``keys``, round by round, in arrival order within a round.
    """
    rounds: list[list[int]] = []
    last: dict[tuple[int, str], int] = {}  # (0, sid) / (1, key) -> the round it last appeared in
    for index, (sid, key) in enumerate(keys):
        number = max(last.get((0, sid), -1), last.get((1, key), -1)) + 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(index)
        last[(0, sid)] = last[(1, key)] = number
    return rounds


def _batch_args(items: Sequence[_Item], event_id: int | None = None) -> dict[str, Any]:
    rows = []
    for update, reported in items:
        changes = change_columns(reported, update) if reported is not None else {}
        rows.append(
            {
                "event_id": event_id,
                "sid": update.sid,
                "status": update.status.strip().lower(),
                "error_code": update.error_code,
                "error_message": update.error_message,
                "source": update.source,
                "dedupe_key": update.effective_dedupe_key,
                "payload": update.payload,
                "at": when(update.at),
                "new_status": changes.get("status"),
                "forward": ",".join(_forward(reported)),
                "delivered_at": changes.get("delivered_at"),
                "read_at": changes.get("read_at"),
                "finished_at": changes.get("finished_at"),
                "sets_error": "error_code" in changes,
                "new_error_code": changes.get("error_code"),
                "new_error_message": changes.get("error_message"),
            }
        )
    return {"reports": _JSON.encode(rows).decode(), "sids": [update.sid for update, _ in items]}


async def _write_round(engine: LoopPoolPostgresEngine, items: Sequence[_Item]) -> list[Recorded]:
    rows = await engine.fetch(_APPLY.text, _APPLY.args(_batch_args(items)))
    stored = {row["dedupe_key"]: row for row in rows}
    out = []
    for update, _ in items:
        row = stored.get(update.effective_dedupe_key)
        out.append(Recorded(None, None, False) if row is None else Recorded(row["id"], row["message"], row["applied"]))
    return out


async def _write_one(engine: LoopPoolPostgresEngine, item: _Item) -> Recorded | BaseException:
    try:
        (recorded,) = await _write_round(engine, [item])
    except Exception as exc:
        return exc
    return recorded


async def _write_batch(items: list[_Item]) -> list[Recorded | BaseException]:
    """The coalescer's flush: the batch round by round; a failed round's reports and the rest one by one.

    One by one after a failure so that a report the database refuses (a value too long, say) fails its own
    callback only, not the others gathered with it; when the database is unreachable every one of them fails.
    """
    engine = current_engine()
    results: list[Recorded | BaseException | None] = [None] * len(items)
    rounds = batch_rounds([(update.sid, update.effective_dedupe_key) for update, _ in items])
    for number, indexes in enumerate(rounds):
        try:
            written: Sequence[Recorded | BaseException] = await _write_round(engine, [items[i] for i in indexes])
        except Exception:
            if len(items) == 1:
                raise
            rest = [i for later in rounds[number:] for i in later]
            for index in sorted(rest):
                results[index] = await _write_one(engine, items[index])
            break
        for index, result in zip(indexes, written, strict=True):
            results[index] = result
    return [result if result is not None else RuntimeError("report not written") for result in results]


_batches: Coalescer[_Item, Recorded] = Coalescer(_write_batch, max_items=BATCH_MAX_ITEMS, max_delay_s=BATCH_DELAY_S)
