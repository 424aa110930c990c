"""Profile the send path without Dramatiq: the send actor's coroutine on one event loop, N rows, C in flight.

    .venv/bin/python bench/profile_send.py --messages 3000 --concurrency 16 [--profile] [--uvloop]
    .venv/bin/python bench/profile_send.py --messages 3000 --batch 100 --concurrency 2 [--profile] [--uvloop]

Real PostgreSQL (fresh database) and Redis (empty index), the fake Twilio in this process (answering at once), the
real twilio client. It prints sends/s of the actor body alone (the worker's event loop at 100 %), and with
``--profile`` the top of a pyinstrument profile: what a send costs on the loop, the ceiling of one worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import bench_common as bc


async def main_async(args: argparse.Namespace, config: Path) -> None:
    import actors
    from actors.send import send_batch
    from hub.config import load_settings
    from hub.faketwilio import FakeConfig, FakeTwilio, serve
    from hub.store import db, queries
    from hub.store.records import NewMessage

    fake_port = bc.free_port()
    runner = await serve(FakeTwilio(FakeConfig(callbacks=False)), "127.0.0.1", fake_port)
    settings = load_settings(config, env={"TWILIO_API_BASE_URL": f"http://127.0.0.1:{fake_port}"})
    await db.migrate(settings)
    actors.setup(settings)
    rt = actors.runtime.current()
    await rt.start()
    run, _ = await queries.create_run(campaign=None, kind="bulk", trigger="api")
    rows = [NewMessage(recipient=bc.phone(i), body=f"Hi #{i}") for i in range(args.messages)]
    ids = await queries.insert_messages(run.id, rows)
    batch_body = send_batch.fn.__wrapped__  # the coroutine function under async_to_sync
    gate = asyncio.Semaphore(args.concurrency)

    async def one_batch(batch: list[int]) -> None:
        async with gate:
            await batch_body(batch)

    size = args.batch or 1
    work = [one_batch(ids[i : i + size]) for i in range(0, len(ids), size)]

    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    started = time.perf_counter()
    await asyncio.gather(*work)
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:12000])
    mode = f"send_batch of {size}"
    rate = len(ids) / elapsed
    print(f"{len(ids)} sends in {elapsed:.2f} s = {rate:,.0f}/s ({mode}, {args.concurrency} in flight)")
    print(coalesced(rt))
    await rt.stop()
    await runner.cleanup()


def coalesced(rt: object) -> str:
    """Calls per coalesced round trip (window checks, slot reservations, submits): how well the loop batches them."""
    parts = []
    for name, coalescer in (
        ("window", getattr(getattr(rt, "recipients", None), "calls", None)),
        ("slots", getattr(getattr(rt, "slots", None), "calls", None)),
        ("submits", getattr(rt, "submits", None)),
    ):
        if coalescer is not None and coalescer.batches:
            parts.append(f"{name} {coalescer.items:,} in {coalescer.batches:,} calls")
    return "coalesced: " + ("; ".join(parts) or "nothing")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="ids per send_batch (0: a batch of one per id); --concurrency counts batches",
    )
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    with bc.workdir("hub-profile-send-") as folder, bc.fresh_database() as db_url, bc.redis_database() as redis_url:
        config = bc.write_config(
            folder, **bc.hub_settings(db_url, redis_url, fake_url="http://x", api_url="http://x", per_second=1e6)
        )
        if args.uvloop:
            import uvloop

            uvloop.run(main_async(args, config))
        else:
            asyncio.run(main_async(args, config))


if __name__ == "__main__":
    main()
