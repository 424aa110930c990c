"""Run tallies agree with the ledger's rows through every kind of write, and folding them changes no count."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from hub.config import Settings
from hub.status import RunState
from hub.store import db, queries, tallies
from hub.store.records import NewMessage, StatusUpdate

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def run(coro):  # type: ignore[no-untyped-def]
    return db.run_sync(coro)


def a_run(rows: int, first: int = 0) -> int:
    created, _ = run(queries.create_run(kind="bulk", state=RunState.RUNNING))
    numbers = [f"+1415555{i:04d}" for i in range(first, first + rows)]
    run(queries.insert_messages(created.id, [NewMessage(recipient=number, body="hi") for number in numbers]))
    return created.id


def ledger_counts(settings: Settings, run_id: int) -> dict[tuple[str, int | None], int]:
    async def read() -> dict[tuple[str, int | None], int]:
        conn = await asyncpg.connect(settings.database.url)
        try:
            rows = await conn.fetch(
                "SELECT status, error_code, count(*) AS n FROM message WHERE run = $1 GROUP BY 1, 2", run_id
            )
        finally:
            await conn.close()
        return {(row["status"], row["error_code"]): row["n"] for row in rows}

    return asyncio.run(read())


def tally_counts(run_id: int) -> dict[tuple[str, int | None], int]:
    statuses = ["pending", "sending", "queued", "sent", "delivered", "read", "failed", "undelivered", "canceled"]
    return run(tallies.error_counts(run_id, statuses))


def send(run_id: int, count: int, then: str, code: int | None = None, at: datetime = T0) -> None:
    items, _ = run(queries.list_messages(run_id=run_id, status="pending", limit=1000))
    for item in sorted(items, key=lambda m: m.id)[:count]:
        assert run(queries.claim_for_send(item.id, now=at)) is not None
        sid = f"SM{item.id:032d}"
        run(queries.mark_submitted(item.id, sid, "queued", now=at))
        for status in ("sent", then):
            update = StatusUpdate(sid=sid, status=status, at=at, error_code=code if status == then else None)
            run(queries.apply_status(update))


def test_a_fresh_run_is_tallied_as_pending(pg_settings: Settings) -> None:
    run_id = a_run(25)
    assert run(queries.run_counts(run_id)) == {"pending": 25}


def test_tallies_follow_claims_submits_callbacks_and_cancel(pg_settings: Settings) -> None:
    run_id = a_run(30)
    send(run_id, 10, "delivered")
    send(run_id, 5, "read")
    send(run_id, 3, "failed", code=63016)
    run(queries.cancel_run(run_id))

    assert tally_counts(run_id) == ledger_counts(pg_settings, run_id)
    assert run(queries.run_counts(run_id)) == {"delivered": 10, "read": 5, "failed": 3, "canceled": 12}


def test_a_batch_claim_moves_every_row_it_took(pg_settings: Settings) -> None:
    run_id = a_run(8)
    items, _ = run(queries.list_messages(run_id=run_id, limit=100))
    claimed = run(queries.claim_batch_for_send([item.id for item in items][:5]))
    assert len(claimed) == 5
    assert run(queries.run_counts(run_id)) == {"pending": 3, "sending": 5}


def test_runs_are_tallied_apart(pg_settings: Settings) -> None:
    first, second = a_run(4), a_run(6)
    send(second, 2, "delivered")
    assert run(tallies.status_counts([first, second])) == {
        first: {"pending": 4},
        second: {"pending": 4, "delivered": 2},
    }


def test_folding_keeps_every_count_and_leaves_one_row_per_key(pg_settings: Settings) -> None:
    run_id = a_run(tallies.FOLD_AT + 50)
    send(run_id, tallies.FOLD_AT + 20, "delivered")  # several statements per row: far more tally rows than keys
    before = ledger_counts(pg_settings, run_id)

    assert tally_counts(run_id) == before  # this read folds
    pieces = asyncio.run(_scalar(pg_settings, "SELECT count(*) FROM run_tally WHERE run = $1", run_id))

    assert tally_counts(run_id) == before
    assert pieces == len(before)


_DIRECT_TOTALS = "SELECT status, error_code, count(*) AS n FROM message GROUP BY 1, 2"


def test_the_ledger_totals_for_metrics_match_every_row_and_fold_what_they_read(pg_settings: Settings) -> None:
    # Numbers apart: a recipient's sends are capped across runs.
    first, second, third = a_run(tallies.FOLD_AT + 30), a_run(12, first=5000), a_run(3, first=6000)
    send(first, tallies.FOLD_AT + 10, "delivered")  # far more tally rows than keys
    send(second, 4, "read")
    send(second, 2, "undelivered", code=63032)
    send(second, 3, "failed", code=63024)
    run(queries.cancel_run(third))
    direct = asyncio.run(_rows(pg_settings, _DIRECT_TOTALS))

    totals = run(queries.message_totals())

    by_status: dict[str, int] = {}
    by_code: dict[str, int] = {}
    for row in direct:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        if row["error_code"] is not None:
            by_code[str(row["error_code"])] = by_code.get(str(row["error_code"]), 0) + row["n"]
    assert totals == {"by_status": by_status, "by_error_code": by_code}
    assert by_code == {"63024": 3, "63032": 2}
    pieces = asyncio.run(_scalar(pg_settings, "SELECT count(*) FROM run_tally WHERE run = $1", first))
    assert pieces == len(ledger_counts(pg_settings, first))  # folded by the totals' read
    assert run(queries.message_totals()) == totals


def test_activity_counts_each_milestone_in_its_bucket(pg_settings: Settings) -> None:
    run_id = a_run(12)
    send(run_id, 4, "delivered", at=T0)
    send(run_id, 3, "read", at=T0 + timedelta(seconds=25))
    send(run_id, 2, "failed", code=63016, at=T0 + timedelta(seconds=65))

    points = run(tallies.activity(run_id, start=T0, bucket_s=60))

    by_minute = {point["at"]: (point["sent"], point["delivered"], point["read"], point["failed"]) for point in points}
    direct = asyncio.run(_rows(pg_settings, _DIRECT_ACTIVITY, run_id, T0))
    assert by_minute == {row["at"]: (row["sent"], row["delivered"], row["read"], row["failed"]) for row in direct}
    assert by_minute[T0][0] == 7  # sent in the first minute
    assert by_minute[T0 + timedelta(minutes=1)][3] == 2  # failed in the second


def test_deleting_a_run_drops_its_tallies(pg_settings: Settings) -> None:
    run_id = a_run(3)
    asyncio.run(_scalar(pg_settings, "DELETE FROM run WHERE id = $1 RETURNING id", run_id))
    assert asyncio.run(_scalar(pg_settings, "SELECT count(*) FROM run_tally WHERE run = $1", run_id)) == 0


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writers_never_lose_a_count(pg_settings: Settings, writers: int) -> None:
    run_id = a_run(200)

    async def write(part: int) -> None:
        conn = await asyncpg.connect(pg_settings.database.url)
        try:
            for _ in range(10):
                await conn.execute(
                    "UPDATE message SET status = CASE status WHEN 'pending' THEN 'queued' ELSE 'pending' END "
                    "WHERE run = $1 AND id % $2 = $3",
                    run_id,
                    writers,
                    part,
                )
        finally:
            await conn.close()

    async def all_writers() -> None:
        await asyncio.gather(*(write(part) for part in range(writers)))

    asyncio.run(all_writers())
    assert tally_counts(run_id) == ledger_counts(pg_settings, run_id)


_DIRECT_ACTIVITY = """
SELECT date_bin('60 seconds', v.at, $2) AS at, count(*) FILTER (WHERE v.kind = 's') AS sent,
       count(*) FILTER (WHERE v.kind = 'd') AS delivered, count(*) FILTER (WHERE v.kind = 'r') AS read,
       count(*) FILTER (WHERE v.kind = 'f') AS failed
FROM message m CROSS JOIN LATERAL (VALUES ('s', m.sent_at), ('d', m.delivered_at), ('r', m.read_at),
    ('f', CASE WHEN m.status IN ('failed', 'undelivered') THEN m.finished_at END)) AS v(kind, at)
WHERE m.run = $1 AND v.at IS NOT NULL GROUP BY 1
"""


async def _rows(settings: Settings, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database.url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _scalar(settings: Settings, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(settings.database.url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
