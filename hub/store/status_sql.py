"""The status callback's hot path: store a report (deduplicated) and apply it to its message in one commit.

PostgreSQL: the reports of one event loop that arrive within a few milliseconds of each other are written by
one multi-row statement (:data:`BATCH_SQL`, through :class:`hub.coalesce.Coalescer`): one round trip and one
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
from hub.store.db import current_engine
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.records import StatusUpdate
from hub.store.rows import when

S = MessageStatus

__all__ = [
    "BATCH_DELAY_S",
    "BATCH_MAX_ITEMS",
    "BATCH_SQL",
    "Recorded",
    "batch_rounds",
    "change_columns",
    "forward_from",
    "record_and_apply",
]

_JSON = msgspec.json.Encoder()

_EVENT_COLUMNS = (
    "message",
    "sid",
    "status",
    "error_code",
    "error_message",
    "source",
    "dedupe_key",
    "payload",
    "applied",
    "at",
)


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


def _event_values(update: StatusUpdate) -> list[Any]:
    # Without message and applied: those come from the lookup.
    return [
        update.sid,
        update.status.strip().lower(),
        update.error_code,
        update.error_message,
        update.source,
        update.effective_dedupe_key,
        _JSON.encode(update.payload).decode(),
        when(update.at),
    ]


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
    changes = change_columns(reported, update) if reported is not None else {}
    return await _postgres(engine, update, changes, forward_from(reported))


async def _postgres(
    engine: LoopPoolPostgresEngine, update: StatusUpdate, changes: dict[str, Any], forward: list[str]
) -> Recorded:
    sid, status, error_code, error_message, source, dedupe_key, payload, at = _event_values(update)
    args: list[Any] = [sid, forward, status, error_code, error_message, source, dedupe_key, payload, at]
    sets = []
    for name, value in changes.items():
        args.append(value)
        sets.append(f"{name} = ${len(args)}")
    move = (
        f"UPDATE message SET {', '.join(sets)} WHERE sid = $1 AND status = ANY($2::varchar[]) RETURNING id"
        if sets
        else "SELECT id FROM message WHERE status = ANY($2::varchar[]) AND false"  # $2 typed even when unused
    )
    sql = (
        f"WITH moved AS ({move}) "
        f"INSERT INTO status_event ({', '.join(_EVENT_COLUMNS)}) VALUES ("
        "(SELECT id FROM message WHERE sid = $1), $1, $3, $4, $5, $6, $7, $8, EXISTS (SELECT 1 FROM moved), $9"
        ") ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, message, applied"
    )
    rows = await engine.fetch(sql, args)
    if not rows:
        return Recorded(None, None, False)
    return Recorded(rows[0]["id"], rows[0]["message"], bool(rows[0]["applied"]))


#: Reports in one statement at most.
BATCH_MAX_ITEMS = 500
#: How long the first report of a batch waits for company, seconds.
BATCH_DELAY_S = 0.002

# One statement for a batch of reports whose sids and dedupe keys are all distinct (one round of
# batch_rounds). Its rules are the single statement's: the compare-and-set moves a message only from a status in
# its report's forward set (evaluated on the row's latest version), every report is inserted as an event unless
# its dedupe key exists, linked to its message when the sid is known (parked otherwise), ``applied`` when it
# moved the message. Deadlock-free among concurrent batches: messages are locked in id order, and every lock is
# taken (moved_sids aggregates the whole UPDATE) before the events are inserted in dedupe-key order.
# The reports travel as one JSON array ($1) rather than an array per column: asyncpg's array encoding cost the API
# process ~25 us per report, more than the rest of the write; $2 (the sids) keeps the lock on the sid index.
BATCH_SQL = """
WITH input AS (
    SELECT * FROM json_to_recordset($1::json) AS i(
        sid varchar, status varchar, error_code int, error_message text, source varchar, dedupe_key varchar,
        payload json, at timestamptz, new_status varchar, forward text, delivered_at timestamptz,
        read_at timestamptz, finished_at timestamptz, sets_error bool
    )
),
locked AS (
    SELECT m.id, m.sid FROM message m WHERE m.sid = ANY($2::varchar[]) ORDER BY m.id FOR UPDATE
),
moved AS (
    UPDATE message m SET
        status = i.new_status,
        updated_at = i.at,
        delivered_at = COALESCE(i.delivered_at, m.delivered_at),
        read_at = COALESCE(i.read_at, m.read_at),
        finished_at = COALESCE(i.finished_at, m.finished_at),
        error_code = CASE WHEN i.sets_error THEN i.error_code ELSE m.error_code END,
        error_message = CASE WHEN i.sets_error THEN i.error_message ELSE m.error_message END
    FROM locked l JOIN input i ON i.sid = l.sid
    WHERE m.id = l.id AND i.new_status IS NOT NULL AND m.status = ANY(string_to_array(i.forward, ','))
    RETURNING m.sid
),
moved_sids AS (SELECT coalesce(array_agg(sid), '{}') AS sids FROM moved)
INSERT INTO status_event (message, sid, status, error_code, error_message, source, dedupe_key, payload, applied, at)
SELECT l.id, i.sid, i.status, i.error_code, i.error_message, i.source, i.dedupe_key, i.payload,
       i.sid = ANY(ms.sids), i.at
FROM input i CROSS JOIN moved_sids ms LEFT JOIN locked l ON l.sid = i.sid
ORDER BY i.dedupe_key
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id, message, applied, dedupe_key
"""

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


def _batch_args(items: Sequence[_Item]) -> list[Any]:
    rows = []
    for update, reported in items:
        changes = change_columns(reported, update) if reported is not None else {}
        rows.append(
            {
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
            }
        )
    return [_JSON.encode(rows).decode(), [update.sid for update, _ in items]]


async def _write_round(engine: LoopPoolPostgresEngine, items: Sequence[_Item]) -> list[Recorded]:
    rows = await engine.fetch(BATCH_SQL, _batch_args(items))
    stored = {row["dedupe_key"]: row for row in rows}
    out = []
    for update, _ in items:
        row = stored.get(update.effective_dedupe_key)
        out.append(Recorded(None, None, False) if row is None else Recorded(row["id"], row["message"], row["applied"]))
    return out


async def _write_one(engine: LoopPoolPostgresEngine, item: _Item) -> Recorded | BaseException:
    update, reported = item
    try:
        changes = change_columns(reported, update) if reported is not None else {}
        return await _postgres(engine, update, changes, forward_from(reported))
    except Exception as exc:
        return exc


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
