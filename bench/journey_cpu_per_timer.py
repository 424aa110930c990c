"""CPU per timer fired and per reply resolved by the journey advancer: a measure a shared machine does not blur
as much as throughput does.

    .venv/bin/python bench/journey_cpu_per_timer.py --entries 100000 --replies 20000

``advance_batch`` (the advancer's body, without Dramatiq) in one thread of this process, against real PostgreSQL (a
fresh database) holding bench/journey_timers_bench.py's journey and ``--entries`` entries due at once, then
``--replies`` inbound rows from waiting recipients. Per phase: this process's CPU per timer (or reply) and that of
its PostgreSQL backends, and the wall time. Compare a change with its parent by running both; nothing is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime

import asyncpg
import bench_common as bc
import journey_timers_bench as jb


async def _backends_cpu_s(database_url: str) -> float:
    return sum(bc.process_cpu_s(await bc.database_backends(database_url)).values())


async def _setup(database_url: str, entries: int) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        run_id = await jb.make_run(conn, 1)
        await jb.add_entries(conn, run_id, 0, entries, 0)
        await conn.execute("VACUUM ANALYZE journey_entry")
        await conn.execute("UPDATE run SET state = 'running' WHERE id = $1", run_id)
    finally:
        await conn.close()
    return run_id


async def _reply(database_url: str, replies: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            'INSERT INTO inbound_message (sid, from_phone, "to", body, payload, received_at)'
            f" SELECT 'SMbench' || i, {jb.PHONE_SQL}, $1, 'YES', '{{}}', now()"
            " FROM generate_series(0, $2::int - 1) AS i",
            bc.FROM,
            replies,
        )
    finally:
        await conn.close()


def _phase(name: str, unit: str, settings: object, cache: object, database_url: str) -> None:
    from actors.journeys import advance_batch

    pg_before, cpu_before, wall_before = asyncio.run(_backends_cpu_s(database_url)), time.process_time(), time.time()
    done = 0
    while moved := advance_batch(settings, cache, datetime.now(UTC), lambda run, ids: None):  # type: ignore[arg-type]
        done += moved
    cpu, wall = time.process_time() - cpu_before, time.time() - wall_before
    pg = asyncio.run(_backends_cpu_s(database_url)) - pg_before
    print(
        f"{name}: {done:,} in {wall:.1f} s; CPU per {unit}: worker {1e6 * cpu / done:.0f} us, PostgreSQL "
        f"{1e6 * pg / done:.0f} us (load {bc.load_average()})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--replies", type=int, default=20_000)
    args = parser.parse_args()
    with bc.workdir("hub-journey-cpu-") as folder, bc.fresh_database() as db_url, bc.redis_database() as redis_url:
        (folder / "campaigns").mkdir()
        (folder / "templates").mkdir()
        config = bc.write_config(
            folder,
            **bc.hub_settings(db_url, redis_url, fake_url="http://127.0.0.1:9", api_url="http://x", per_second=80),
            paths={"campaigns": str(folder / "campaigns"), "templates": str(folder / "templates")},
        )
        bc.migrate(config)
        from hub.config import load_settings
        from hub.journeys.spec_cache import SpecCache
        from hub.store import db

        settings = load_settings(config)
        asyncio.run(_setup(db_url, args.entries))
        db.run_sync(db.connect(settings))
        cache = SpecCache(settings)
        _phase("timers", "timer", settings, cache, db_url)
        asyncio.run(_reply(db_url, min(args.replies, args.entries)))
        _phase("replies", "reply", settings, cache, db_url)
        db.run_sync(db.disconnect())
        db.reset()


if __name__ == "__main__":
    sys.exit(main())
