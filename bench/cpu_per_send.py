"""CPU per send of the send actor's body, and what its pacing asked of Redis: a measure a shared machine does not
blur as much as throughput does.

    .venv/bin/python bench/cpu_per_send.py --rows 4000 --in-flight 8 --rounds 3

The send actor's coroutine (``send_batch`` without Dramatiq) on one event loop, ``--in-flight`` batches of 100 at
once (``hub worker -t 8`` puts 8 on a process's loop), the real twilio client, ``hub fake-twilio`` answering at
once in its own process, real PostgreSQL (a fresh database) and Redis (an empty index). Per round: this process's
CPU per send (the worker's share), the CPU of its PostgreSQL backends per send, and per send the slots reserved
and the slots missed (reserved, then dropped as too late or uncertain: each one a Redis call and a slot of the
shared bucket that no send used). Compare a change with its parent by running both; nothing is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bench_common as bc


async def measure(args: argparse.Namespace, config: Path, database_url: str) -> list[tuple[float, float, float, float]]:
    import actors
    from actors.send import send_batch
    from hub.config import load_settings
    from hub.store import db, queries
    from hub.store.records import NewMessage

    settings = load_settings(config)
    await db.migrate(settings)
    actors.setup(settings)
    rt = actors.runtime.current()
    await rt.start()
    assert rt.slots is not None
    body = send_batch.fn.__wrapped__  # the coroutine function under async_to_sync
    rounds = []
    for number in range(args.rounds):
        run, _ = await queries.create_run(campaign=None, kind="bulk", trigger="api")
        rows = [NewMessage(recipient=bc.phone(number * args.rows + i), body=f"Hi #{i}") for i in range(args.rows)]
        ids = await queries.insert_messages(run.id, rows)
        gate = asyncio.Semaphore(args.in_flight)

        async def one(batch: list[int], gate: asyncio.Semaphore = gate) -> None:
            async with gate:
                await body(batch)

        backends = await bc.database_backends(database_url)
        pg_before = bc.process_cpu_s(backends)
        slots_before, missed_before = rt.slots.asked, rt.metrics.missed_slots._value.get()
        cpu_before = time.process_time()
        await asyncio.gather(*(one(ids[i : i + 100]) for i in range(0, len(ids), 100)))
        cpu = time.process_time() - cpu_before
        pg_after = bc.process_cpu_s(backends + await bc.database_backends(database_url))
        pg = sum(seconds - pg_before.get(pid, 0.0) for pid, seconds in pg_after.items())
        slots = rt.slots.asked - slots_before
        missed = rt.metrics.missed_slots._value.get() - missed_before
        n = len(ids)
        rounds.append((cpu * 1000 / n, pg * 1000 / n, slots / n, missed / n))
        print(
            f"round {number}: worker CPU {cpu * 1000 / n:.3f} ms/send, PostgreSQL {pg * 1000 / n:.3f} ms/send, "
            f"slots reserved {slots / n:.2f}/send, missed {missed / n:.2f}/send",
            flush=True,
        )
    await rt.stop()
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000, help="rows per round")
    parser.add_argument("--in-flight", type=int, default=8, help="batches of 100 on the loop at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-second", type=float, default=5000.0, help="rate_limits.per_second (sender cap)")
    args = parser.parse_args()
    with bc.workdir("hub-cpu-send-") as folder, bc.fresh_database() as db_url, bc.redis_database() as redis_url:
        port = bc.free_port()
        fake_url = f"http://127.0.0.1:{port}"
        settings = bc.hub_settings(db_url, redis_url, fake_url=fake_url, api_url=fake_url, per_second=args.per_second)
        config = bc.write_config(folder, **settings)
        command = [str(bc.HUB), "--config", str(config), "fake-twilio", "--port", str(port), "--no-callbacks"]
        env = dict(os.environ, TWILIO_AUTH_TOKEN=bc.AUTH_TOKEN)
        with (folder / "fake.log").open("wb") as log:
            fake = subprocess.Popen([*command, "--latency-ms", "0"], env=env, stdout=log, stderr=log)
            try:
                bc.wait_port(port)
                rounds = asyncio.run(measure(args, config, db_url))
            finally:
                fake.terminate()
                fake.wait(10)
    medians = [statistics.median(column) for column in zip(*rounds, strict=True)]
    print(
        f"median of {len(rounds)} rounds ({args.in_flight} batches in flight, load {bc.load_average()}): worker CPU "
        f"{medians[0]:.3f} ms/send, PostgreSQL {medians[1]:.3f} ms/send, slots reserved {medians[2]:.2f}/send, "
        f"missed {medians[3]:.2f}/send",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
