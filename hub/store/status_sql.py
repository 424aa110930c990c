"""The status callback's hot path: store a report (deduplicated) and apply it to its message in one commit.

PostgreSQL: one statement (a CTE does the compare-and-set update, the insert links the event to the
message), so one round trip and one WAL flush per callback. SQLite: three or four statements in one
``BEGIN IMMEDIATE`` transaction on the shared connection, in one thread hop. Written by hand: Piccolo's
builder and a commit per statement cost more than the database's own work.

The compare-and-set is "status is one from which the report moves it forward" (:func:`forward_from`),
evaluated on the row's latest version by both databases, so concurrent reports cannot move a status back.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from typing import Any

import msgspec

from hub.status import FINAL, MessageStatus, advance
from hub.store.db import current_engine
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.records import StatusUpdate
from hub.store.rows import when

S = MessageStatus

__all__ = ["Recorded", "change_columns", "forward_from", "record_and_apply"]

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
        json.dumps(dict(update.payload)),
        when(update.at),
    ]


async def record_and_apply(update: StatusUpdate, reported: MessageStatus | None) -> Recorded:
    """Store ``update`` as an event and, when its sid is known, move the message to ``reported`` if forward.

    Args:
        update: the report.
        reported: our status for it (None for words we do not track: recorded only).
    """
    engine = current_engine()
    changes = change_columns(reported, update) if reported is not None else {}
    forward = forward_from(reported)
    if isinstance(engine, LoopPoolPostgresEngine):
        return await _postgres(engine, update, changes, forward)
    return await engine.run_atomic(lambda connection: _sqlite(connection, update, changes, forward))


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


def _sqlite(
    connection: sqlite3.Connection, update: StatusUpdate, changes: dict[str, Any], forward: list[str]
) -> Recorded:
    # Runs inside BEGIN IMMEDIATE (HubSQLiteEngine.run_atomic): no other writer can interleave.
    values = _event_values(update)
    columns = ", ".join(_EVENT_COLUMNS)
    inserted = connection.execute(
        f"INSERT INTO status_event ({columns}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        values,
    ).fetchall()
    if not inserted:
        return Recorded(None, None, False)
    event_id = inserted[0]["id"]
    moved: list[dict[str, Any]] = []
    if changes and forward:
        sets = ", ".join(f"{name} = ?" for name in changes)
        marks = ", ".join("?" * len(forward))
        moved = connection.execute(
            f"UPDATE message SET {sets} WHERE sid = ? AND status IN ({marks}) RETURNING id",
            [*changes.values(), update.sid, *forward],
        ).fetchall()
    found = moved or connection.execute("SELECT id FROM message WHERE sid = ?", [update.sid]).fetchall()
    if not found:
        return Recorded(event_id, None, False)
    message_id = found[0]["id"]
    connection.execute(
        "UPDATE status_event SET message = ?, applied = ? WHERE id = ?", [message_id, bool(moved), event_id]
    )
    return Recorded(event_id, message_id, bool(moved))
