"""Journey entries in the ledger: enter, claim due timers and pending events, save each decision with its sends.

Hand-written SQL on PostgreSQL (the tables come from a raw migration). An entry's timer is its ``due_at``; the
sweep claims due entries with ``FOR UPDATE SKIP LOCKED``, and every save is a compare-and-set on ``version``, so
a timer and an event racing for one entry advance it once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from hub.status import FINAL
from hub.store import sql
from hub.store.db import current_engine
from hub.store.records import NewMessage

__all__ = [
    "ChangedMeanwhile",
    "ClaimedEvent",
    "EntryRead",
    "EntryRow",
    "EntrySave",
    "NewEntry",
    "PathLine",
    "StepCount",
    "claim_due",
    "claim_events",
    "event_run",
    "insert_entries",
    "lock_entries",
    "pin_journey",
    "queue_events",
    "read_entries",
    "requeue_events",
    "run_metas",
    "save_entries",
    "step_counts",
]


class NewEntry(msgspec.Struct, frozen=True):
    """A recipient entering: its number, rendered key, own variables and the entering event's data."""

    recipient: str
    key: str = ""
    vars: dict[str, Any] = {}
    event: dict[str, Any] = {}


class EntryRow(msgspec.Struct, frozen=True, kw_only=True):
    """One entry as stored, with its run's state."""

    id: int
    run: int
    campaign: str
    recipient: str
    key: str
    active: bool
    step: str
    phase: str
    reached_at: datetime
    due_at: datetime | None
    seen: list[str]
    outcome: str | None
    version: int
    last_message: int | None
    vars: dict[str, Any]
    event: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None
    run_state: str = ""


class ClaimedEvent(msgspec.Struct, frozen=True):
    """An event for one entry, taken off the queue in this transaction (it returns if the transaction fails)."""

    id: int
    entry: int
    type: str
    at: datetime
    message: int | None


_INSERT_ENTRIES = (
    "WITH t AS (SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[])"
    " AS t(recipient, key, vars, event)),"
    " ins AS (INSERT INTO journey_entry (run, campaign, recipient, key, step, phase, reached_at, due_at, vars, event,"
    " started_at)"
    " SELECT $1::bigint, $2::text, t.recipient, t.key, $3::text, 'entering', $8::timestamptz, $8::timestamptz,"
    " t.vars::jsonb, t.event::jsonb, $8::timestamptz FROM t"
    # Two lookups: an active entry through journey_entry_active, an ended one through journey_entry_ended.
    " WHERE NOT EXISTS (SELECT 1 FROM journey_entry p WHERE p.campaign = $2::text AND p.recipient = t.recipient"
    " AND p.key = t.key AND p.active)"
    " AND NOT EXISTS (SELECT 1 FROM journey_entry p WHERE p.campaign = $2::text AND p.recipient = t.recipient"
    " AND p.key = t.key AND NOT p.active"
    " AND ($9::boolean OR p.ended_at > $8::timestamptz - make_interval(secs => $10::float8)))"
    " ON CONFLICT (campaign, recipient, key) WHERE active DO NOTHING RETURNING id)"
)
_CHECKPOINT = ", mark AS (UPDATE run SET checkpoint = $11::int WHERE id = $1::bigint)"
_IDS = " SELECT array_agg(id ORDER BY id) AS ids FROM ins"

_PIN = (
    "UPDATE run SET meta = (meta::jsonb || jsonb_build_object('journey', $2::jsonb))::json"
    " WHERE id = $1 AND NOT (meta::jsonb ? 'journey') RETURNING id"
)
_PINNED = "SELECT meta::jsonb -> 'journey' AS journey FROM run WHERE id = $1"


async def insert_entries(
    run_id: int,
    campaign: str,
    first_step: str,
    entries: Sequence[NewEntry],
    *,
    now: datetime,
    never_again: bool = False,
    reenter_after_s: float = 0.0,
    checkpoint: int | None = None,
) -> list[int]:
    """Enter recipients (each due at once, to take its first steps); the ones that may not enter are left out.

    A recipient does not enter while it has an active entry of the campaign with the same key, nor, after one
    ended, when ``never_again`` or within ``reenter_after_s`` of that end.

    Returns:
        The new entries' ids.
    """
    sql = _INSERT_ENTRIES + (_CHECKPOINT if checkpoint is not None else "") + _IDS
    args: list[Any] = [
        run_id,
        campaign,
        first_step,
        [entry.recipient for entry in entries],
        [entry.key for entry in entries],
        [json.dumps(entry.vars, default=str) for entry in entries],
        [json.dumps(entry.event, default=str) for entry in entries],
        now,
        never_again,
        reenter_after_s,
    ]
    if checkpoint is not None:
        args.append(checkpoint)
    rows = await current_engine().fetch(sql, args)
    return list(rows[0]["ids"] or []) if rows else []


def _entry(row: Any) -> EntryRow:
    return EntryRow(
        id=row["id"],
        run=row["run"],
        campaign=row["campaign"],
        recipient=row["recipient"],
        key=row["key"],
        active=row["active"],
        step=row["step"],
        phase=row["phase"],
        reached_at=row["reached_at"],
        due_at=row["due_at"],
        seen=list(row["seen"] or ()),
        outcome=row["outcome"],
        version=row["version"],
        last_message=row["last_message"],
        vars=_json(row["vars"]),
        event=_json(row["event"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        run_state=row["run_state"],
    )


def _json(text: str) -> dict[str, Any]:
    return {} if text == "{}" else _decode(text)  # most entries have no event (and many no own variables)


_decode = msgspec.json.Decoder(dict[str, Any]).decode


async def claim_due(now: datetime, limit: int) -> list[EntryRow]:
    """Lock up to ``limit`` entries of running runs whose timer is due (oldest first); call inside a transaction."""
    return [_entry(row) for row in await sql.fetch(_SQL["claim_due"], {"now": now, "limit": limit})]


async def claim_events(limit: int) -> list[ClaimedEvent]:
    """Take up to ``limit`` pending events off the queue (oldest first); call inside a transaction."""
    rows = await sql.fetch(_SQL["claim_events"], {"limit": limit})
    return sorted((ClaimedEvent(**row) for row in rows), key=lambda event: event.id)


async def lock_entries(ids: Sequence[int]) -> list[EntryRow]:
    """Lock these entries (in id order, so two callers never deadlock); call inside a transaction."""
    return [_entry(row) for row in await sql.fetch(_SQL["lock_entries"], {"ids": list(ids)})]


async def requeue_events(events: Sequence[ClaimedEvent]) -> None:
    """Put claimed events back on the queue (in this transaction), in their order."""
    await sql.fetch(
        _SQL["requeue_events"],
        {
            "entries": [event.entry for event in events],
            "types": [event.type for event in events],
            "ats": [event.at for event in events],
            "messages": [event.message for event in events],
        },
    )


async def run_metas(run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The meta (pinned campaign text) of these runs."""
    rows = await sql.fetch(_SQL["run_metas"], {"ids": list(run_ids)})
    return {row["id"]: json.loads(row["meta"]) if row["meta"] else {} for row in rows}


class EntrySave(msgspec.Struct, frozen=True, kw_only=True):
    """One entry's decision to write: its next state, path lines and message rows (``(step index, row)``)."""

    entry: EntryRow
    step: str
    phase: str
    reached_at: datetime
    due_at: datetime | None
    seen: Sequence[str]
    outcome: str | None
    path: Sequence[tuple[str, datetime, str, str | None]]
    messages: Sequence[tuple[int, NewMessage]]


class ChangedMeanwhile(Exception):
    """An entry of a batch was not at the version it was read at: the batch's transaction must roll back."""


_FINAL = [status.value for status in FINAL]


async def save_entries(saves: Sequence[EntrySave], *, now: datetime) -> list[tuple[int, int]]:
    """Write a batch of decisions: their message rows, then the entries (compare-and-set on each one's version) with
    their path lines, in one statement each.

    Call inside the transaction that locked the entries.

    Returns:
        ``(run, message id)`` of the new messages that are owed now (to enqueue).

    Raises:
        ChangedMeanwhile: an entry's version moved since it was read (then the caller's transaction must roll
            back: the statements wrote the others' rows).
    """
    if not saves:
        return []
    rows = await _insert_messages(saves, now)
    last_ids = {(row["entry"], row["step"]): row["id"] for row in rows}
    values: dict[str, list[Any]] = {name: [] for name in _SAVE_PARAMS}
    for save in saves:
        entry = save.entry
        last_send = save.messages[-1][0] if save.messages else None
        values["ids"].append(entry.id)
        values["runs"].append(entry.run)
        values["versions"].append(entry.version)
        values["steps"].append(save.step)
        values["phases"].append(save.phase)
        values["reached"].append(save.reached_at)
        values["dues"].append(save.due_at)
        values["seens"].append(",".join(save.seen))
        values["outcomes"].append(save.outcome)
        values["last_sends"].append(last_send)
        values["last_ids"].append(last_ids.get((entry.id, last_send)))
        values["lines"].append(_encode(save.path).decode() if save.path else None)
    # A generic plan of this statement (PostgreSQL's choice after five runs of a prepared statement) took 2-3x the
    # time of one planned for the batch's arrays (bench/journey_timers_bench.py).
    await current_engine().fetch("SET LOCAL plan_cache_mode = force_custom_plan", [])
    saved = await sql.fetch(_SQL["save_entries"], {**values, "now": now}, at_least_s=60.0)
    if saved[0]["saved"] != len(saves):
        raise ChangedMeanwhile(f"{len(saves) - saved[0]['saved']} of {len(saves)} entries changed meanwhile")
    owed = sorted((row["id"], row["run"]) for row in rows if row["status"] == "pending" and row["send_at"] is None)
    return [(run, message_id) for message_id, run in owed]


_EMPTY_MEDIA = "[]"


async def _insert_messages(saves: Sequence[EntrySave], now: datetime) -> list[Any]:
    """Insert the batch's new message rows; the ones written (a row already there is not), with their ids."""
    values: dict[str, list[Any]] = {name: [] for name in _MESSAGE_PARAMS}
    for save in saves:
        entry = save.entry
        for index, row in save.messages:
            values["m_entries"].append(entry.id)
            values["m_runs"].append(entry.run)
            values["m_steps"].append(index)
            values["m_recipients"].append(row.recipient)
            values["m_bodies"].append(row.body)
            values["m_content_sids"].append(row.content_sid)
            variables = row.content_variables
            values["m_content_variables"].append(None if variables is None else _encode(variables).decode())
            values["m_media_urls"].append(_encode(row.media_url).decode() if row.media_url else _EMPTY_MEDIA)
            values["m_statuses"].append(row.status.value)
            values["m_errors"].append(row.error_message)
            values["m_send_ats"].append(row.send_at)
            values["m_metas"].append(_encode(row.meta).decode())
    if not values["m_entries"]:
        return []
    return await sql.fetch(_SQL["insert_messages"], {**values, "now": now, "final_statuses": _FINAL}, at_least_s=60.0)


_encode = msgspec.json.Encoder().encode
_SQL = sql.statements("journeys")
_SAVE_PARAMS = tuple(name for name in _SQL["save_entries"].params if name != "now")
_MESSAGE_PARAMS = tuple(name for name in _SQL["insert_messages"].params if name not in ("now", "final_statuses"))


async def pin_journey(run_id: int, source: str, text: str) -> dict[str, Any]:
    """Pin the campaign text a journey run started with (the first caller wins); returns what is pinned."""
    engine = current_engine()
    await engine.fetch(_PIN, [run_id, json.dumps({"source": source, "text": text})])
    rows = await engine.fetch(_PINNED, [run_id])
    return json.loads(rows[0]["journey"]) if rows and rows[0]["journey"] else {}


# FOR SHARE: a concurrent finish_if_done (which locks the run) waits for this entry, or finishes the run first,
# and then this event opens a new one.
_OPEN_EVENT_RUN = (
    "SELECT id FROM run WHERE campaign = $1 AND state IN ('running', 'paused')"
    " AND (meta::jsonb ->> 'journey_events') = 'true' ORDER BY id DESC LIMIT 1 FOR SHARE"
)
# fanned_out_at is set: an event run has no audience to fan out (the sweeper must not start one).
_NEW_EVENT_RUN = (
    "INSERT INTO run (campaign, kind, trigger, state, started_at, fanned_out_at, created_at, checkpoint, meta)"
    " VALUES ($1, 'campaign', 'api', 'running', $2, $2, $2, 0,"
    " json_build_object('journey_events', true, 'journey', $3::json)) RETURNING id"
)
_QUEUE_EVENTS = (
    "INSERT INTO journey_event (entry, type, at)"
    " SELECT id, $2, $3 FROM journey_entry WHERE recipient = $1 AND active AND NOT id = ANY($4::bigint[])"
    " RETURNING entry"
)


async def event_run(campaign: str, source: str, text: str, now: datetime) -> int:
    """The campaign's one open run for event-entered recipients, created (pinning ``text``) when there is none.

    Call inside a transaction: a lock on the campaign's name makes two first events create one run.
    """
    engine = current_engine()
    await engine.fetch("SELECT pg_advisory_xact_lock(hashtext('hub.journey-events:' || $1::text))", [campaign])
    rows = await engine.fetch(_OPEN_EVENT_RUN, [campaign])
    if rows:
        return int(rows[0]["id"])
    pinned = json.dumps({"source": source, "text": text})
    rows = await engine.fetch(_NEW_EVENT_RUN, [campaign, now, pinned])
    return int(rows[0]["id"])


async def queue_events(recipient: str, type_: str, at: datetime, *, skip: Sequence[int] = ()) -> int:
    """Queue an event for each active entry of ``recipient`` (except ``skip``); returns how many got it."""
    rows = await current_engine().fetch(_QUEUE_EVENTS, [recipient, type_, at, list(skip)])
    return len(rows)


class PathLine(msgspec.Struct, frozen=True):
    step: str
    at: datetime
    outcome: str
    detail: str | None


class EntryRead(msgspec.Struct, frozen=True, kw_only=True):
    """An entry as the API shows it: where it stands and the path it took."""

    id: int
    run_id: int
    campaign: str
    to: str
    key: str
    active: bool
    step: str
    phase: str
    due_at: datetime | None
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    path: list[PathLine] = []


class StepCount(msgspec.Struct, frozen=True):
    step: str
    state: str
    count: int


_READ = (
    "SELECT id, run AS run_id, campaign, recipient AS to, key, active, step, phase, due_at, outcome, started_at,"
    " ended_at FROM journey_entry"
)
_PATHS = "SELECT entry, step, at, outcome, detail FROM journey_path WHERE entry = ANY($1::bigint[]) ORDER BY id, n"
_STEP_COUNTS = (
    "SELECT step, outcome AS state, count(*) AS count FROM journey_path WHERE run = $1 GROUP BY step, outcome"
    " UNION ALL SELECT step, 'at_step' AS state, count(*) AS count FROM journey_entry WHERE run = $1 AND active"
    " GROUP BY step"
    " UNION ALL SELECT meta::jsonb ->> 'journey_step' AS step, 'message_' || status AS state, count(*) AS count"
    " FROM message WHERE run = $1 AND entry IS NOT NULL GROUP BY 1, status"
)


async def read_entries(
    *,
    entry_id: int | None = None,
    run_id: int | None = None,
    to: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[EntryRead]:
    """Entries with their paths: one by id, or those of a run and/or a recipient (by id, after ``after_id``)."""
    where: list[str] = ["id > $1"]
    args: list[Any] = [after_id]
    for column, value in (("id", entry_id), ("run", run_id), ("recipient", to)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    args.append(limit)
    engine = current_engine()
    rows = await engine.fetch(f"{_READ} WHERE {' AND '.join(where)} ORDER BY id LIMIT ${len(args)}", args)
    paths: dict[int, list[PathLine]] = {}
    if rows:
        for line in await engine.fetch(_PATHS, [[row["id"] for row in rows]]):
            entry = line.pop("entry")
            paths.setdefault(entry, []).append(PathLine(**line))
    return [EntryRead(**row, path=paths.get(row["id"], [])) for row in rows]


async def step_counts(run_id: int) -> list[StepCount]:
    """Per step of a journey run: path outcomes, entries at the step now (``at_step``), its messages by status."""
    return [StepCount(**row) for row in await current_engine().fetch(_STEP_COUNTS, [run_id]) if row["step"]]
