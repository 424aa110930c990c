"""What the run-tally triggers cost the writes of the send path: the same writes with the triggers on and off.

    .venv/bin/python bench/tally_cost_bench.py --rows 200000

On an emptied ledger each time: fan-out inserts (``insert_messages`` in 5,000-row statements), batch claims of 100
rows (``claim_batch_for_send``) and callback-like updates of 100 rows per statement, timed with the triggers and
with them disabled (``ALTER TABLE message DISABLE TRIGGER``), in alternating order for ``--rounds`` rounds; the
best of each kept (the machine is shared: the best is the closest to the work's own cost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import asyncpg
import bench_common as bc

TRIGGERS = ("message_tally_insert", "message_tally_update")


async def one_round(database_url: str, rows: int, triggers: bool) -> dict[str, float]:
    from hub.config import Settings
    from hub.status import RunState
    from hub.store import db, queries
    from hub.store.records import NewMessage

    admin = await asyncpg.connect(database_url)
    # Each round on an empty ledger: a table grown by the previous rounds would make later rounds slower.
    await admin.execute("TRUNCATE run, message, status_event, run_tally, run_activity RESTART IDENTITY CASCADE")
    await admin.execute("VACUUM ANALYZE message")
    verb = "ENABLE" if triggers else "DISABLE"
    for name in TRIGGERS:
        await admin.execute(f"ALTER TABLE message {verb} TRIGGER {name}")
    settings = Settings(database=Settings().database.__class__(url=database_url))
    await db.connect(settings)
    try:
        run, _ = await queries.create_run(kind="bulk", state=RunState.RUNNING)
        recipients = [NewMessage(recipient=bc.phone(i), body="hi") for i in range(rows)]
        began = time.perf_counter()
        for start in range(0, rows, 5000):
            await queries.insert_messages(run.id, recipients[start : start + 5000])
        insert_s = time.perf_counter() - began
        ids = [r["id"] for r in await admin.fetch("SELECT id FROM message WHERE run = $1 ORDER BY id", run.id)]
        claimed = ids[: min(rows, 20_000)]
        began = time.perf_counter()
        for start in range(0, len(claimed), 100):
            await queries.claim_batch_for_send(claimed[start : start + 100])
        claim_s = time.perf_counter() - began
        began = time.perf_counter()
        for start in range(0, len(claimed), 100):
            await admin.execute(
                "UPDATE message SET status = 'delivered', sent_at = now(), delivered_at = now() WHERE id = ANY($1)",
                claimed[start : start + 100],
            )
        update_s = time.perf_counter() - began
    finally:
        await db.disconnect()
        for name in TRIGGERS:
            await admin.execute(f"ALTER TABLE message ENABLE TRIGGER {name}")
        await admin.close()
    return {
        "insert µs/row": insert_s / rows * 1e6,
        "claim µs/row": claim_s / len(claimed) * 1e6,
        "update µs/row": update_s / len(claimed) * 1e6,
    }


_EXPLAINED = {
    "insert 5,000 rows": (
        "INSERT INTO message (run, step, recipient, body, media_url, status, attempts, created_at, updated_at, meta) "
        "SELECT $1, 1, '+4917' || lpad(i::text, 9, '0'), 'hi', '[]', 'pending', 0, now(), now(), '{}' "
        "FROM generate_series(1, 5000) AS i"
    ),
    "claim 100 rows": (
        "UPDATE message SET status = 'sending', attempts = attempts + 1, claimed_at = now() "
        "WHERE id IN (SELECT id FROM message WHERE run = $1 AND status = 'pending' LIMIT 100)"
    ),
    "callbacks on 100 rows": (
        "UPDATE message SET status = 'delivered', sent_at = now(), delivered_at = now() "
        "WHERE id IN (SELECT id FROM message WHERE run = $1 AND status = 'pending' LIMIT 100)"
    ),
}


async def trigger_share(database_url: str, repeats: int) -> dict[str, tuple[float, float]]:
    """PostgreSQL's own account (EXPLAIN ANALYZE, rolled back) of each statement's time and its triggers' time, ms:
    independent of the client and of what else the machine runs between statements."""
    conn = await asyncpg.connect(database_url)
    out: dict[str, tuple[float, float]] = {}
    try:
        run_id = await conn.fetchval(
            "INSERT INTO run (kind, trigger, state, created_at, checkpoint, meta) "
            "VALUES ('bulk', 'api', 'running', now(), 0, '{}') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO message (run, step, recipient, body, media_url, status, attempts, created_at, updated_at, "
            "meta) SELECT $1, 0, '+4915' || lpad(i::text, 9, '0'), 'hi', '[]', 'pending', 0, now(), now(), '{}' "
            "FROM generate_series(1, 20000) AS i",
            run_id,
        )
        for name, sql in _EXPLAINED.items():
            best: tuple[float, float] | None = None
            for _ in range(repeats):
                tx = conn.transaction()
                await tx.start()
                plan = json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", run_id))[0]
                await tx.rollback()
                total = float(plan["Execution Time"])
                triggers = sum(float(t["Time"]) for t in plan.get("Triggers", []) if "tally" in t["Trigger Name"])
                if best is None or total < best[0]:
                    best = (total, triggers)
            assert best is not None
            out[name] = best
    finally:
        await conn.close()
    return out


def run(args: argparse.Namespace) -> list[str]:
    with bc.workdir("hub-tally-bench-") as folder, bc.fresh_database() as db_url:
        bc.migrate(bc.write_config(folder, database={"url": db_url}))
        best: dict[bool, dict[str, float]] = {True: {}, False: {}}
        for round_no in range(args.rounds):
            for triggers in (True, False) if round_no % 2 == 0 else (False, True):
                figures = asyncio.run(one_round(db_url, args.rows, triggers))
                for key, value in figures.items():
                    best[triggers][key] = min(value, best[triggers].get(key, value))
        shares = asyncio.run(trigger_share(db_url, 5))
    lines = [
        f"- {args.rows:,} rows inserted per round (5,000 per statement), {min(args.rows, 20_000):,} claimed "
        f"(100 per statement) and updated to delivered (100 per statement); best of {args.rounds} rounds each",
        "",
        "| write | triggers on | triggers off | cost |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key in best[True]:
        on, off = best[True][key], best[False][key]
        lines.append(f"| {key} | {on:.1f} | {off:.1f} | {100 * (on - off) / off:+.0f} % |")
    lines += [
        "",
        "PostgreSQL's own account (EXPLAIN ANALYZE in a rolled-back transaction, best of 5):",
        "",
        "| statement | whole statement ms | of which the tally triggers ms | share |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, (total, triggers) in shares.items():
        lines.append(f"| {name} | {total:.2f} | {triggers:.2f} | {100 * triggers / total:.0f} % |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows inserted per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds with and without the triggers")
    parser.add_argument("--results", type=Path, default=bc.RESULTS, help="file to append the section to")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to the results file")
    args = parser.parse_args(argv)
    lines = run(args)
    if args.no_record:
        print("\n".join(lines))
    else:
        bc.record("What the run-tally triggers cost the send path's writes", lines, results=args.results)


if __name__ == "__main__":
    sys.exit(main())
