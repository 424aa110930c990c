"""Signed Twilio status callbacks into ``hub api``: callbacks/s durably applied and latency percentiles.

    .venv/bin/python bench/webhooks_bench.py --messages 10000 --concurrency 64

A fresh PostgreSQL database holds ``--messages`` sent messages (sids set); each gets ``sent``, ``delivered`` and
``read`` callbacks, signed like Twilio's and pre-computed, replayed by an aiohttp client. Two measurements on
separate halves of the messages (a repeated callback would only hit the cheaper duplicate path):

- capacity: a closed loop at fixed concurrency (the ``wrk -c64`` of LIBRARIES.md §3.4), callbacks/s;
- latency at the goal's rate: an open loop sending at ``--rate`` per second whatever the answers, each latency
  counted from the callback's scheduled time (so a stalled client or server is not hidden by coordinated omission).
  Twilio sends callbacks as messages progress; it does not wait for earlier answers, so this is the p99 it sees.
  A closed loop's latency is in-flight / throughput (Little's law): a measure of the chosen concurrency.

Applied means stored: StatusEvent rows and message statuses are counted afterwards. The same-run no-op actor
(2 x 8) is the queue's ceiling, for comparison with the other benchmarks.
Goal (issue 8): >= 3,000 callbacks/s with p99 < 50 ms (capacity >= 3,000/s, and p99 < 50 ms at 3,000/s).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import asyncpg
import bench_common as bc
from noop import measure_noop

GOAL_PER_S = 3000.0
GOAL_P99_MS = 50.0
STEPS = ("sent", "delivered", "read")
#: Keep-alive connections of the open-loop client (a callback waits client-side for one, and that wait counts).
POOL = 64


async def seed(database_url: str, messages: int) -> None:
    """A run with ``messages`` rows already handed to Twilio (status ``queued``, sid ``SM<id>``)."""
    from hub.config import Settings
    from hub.store import db, queries
    from hub.store.records import NewMessage

    settings = Settings(database=Settings().database.__class__(url=database_url))
    await db.connect(settings)
    run, _ = await queries.create_run(campaign=None, kind="bulk", trigger="api")
    rows = [NewMessage(recipient=bc.phone(i), body="hi") for i in range(messages)]
    await queries.insert_messages(run.id, rows)
    await db.disconnect()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE message SET sid = 'SM' || lpad(id::text, 32, '0'), status = 'queued', sent_at = now()"
        )
    finally:
        await conn.close()


def signed_bodies(database_url: str, url: str) -> list[list[tuple[bytes, str]]]:
    """Every callback body (form-encoded) with its X-Twilio-Signature, step by step (all ``sent``, then ...), for
    each half of the messages."""
    from twilio.request_validator import RequestValidator

    async def sids() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            return [(r["sid"], r["recipient"]) for r in await conn.fetch("SELECT sid, recipient FROM message")]
        finally:
            await conn.close()

    validator = RequestValidator(bc.AUTH_TOKEN)
    every = sorted(asyncio.run(sids()))
    halves: list[list[tuple[bytes, str]]] = []
    for part in (every[::2], every[1::2]):
        bodies = []
        for status in STEPS:
            for sid, to in part:
                params = {
                    "AccountSid": bc.ACCOUNT_SID,
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "To": f"whatsapp:{to}",
                    "From": bc.FROM,
                    "ApiVersion": "2010-04-01",
                    "ChannelPrefix": "whatsapp",
                }
                bodies.append((urlencode(params).encode(), validator.compute_signature(url, params)))
        halves.append(bodies)
    return halves


async def replay(url: str, bodies: list[tuple[bytes, str]], concurrency: int) -> tuple[float, list[float], int]:
    """POST every body with ``concurrency`` in flight; (seconds, latencies in ms, non-2xx count)."""
    latencies: list[float] = []
    failures = 0
    items = iter(bodies)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            for body, signature in items:
                started = time.perf_counter()
                async with session.post(url, data=body, headers={**headers, "X-Twilio-Signature": signature}) as r:
                    await r.read()
                    if r.status >= 300:
                        failures += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, failures


async def replay_at_rate(url: str, bodies: list[tuple[bytes, str]], rate: float) -> tuple[float, list[float], int]:
    """POST body i at ``i / rate`` s after the start, not waiting for answers (an open loop); (seconds, latencies
    in ms from each callback's scheduled time, non-2xx count)."""
    latencies: list[float] = []
    failures = 0
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    connector = aiohttp.TCPConnector(limit=POOL)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes, signature: str, due: float) -> None:
            nonlocal failures
            async with session.post(url, data=body, headers={**headers, "X-Twilio-Signature": signature}) as r:
                await r.read()
                if r.status >= 300:
                    failures += 1
            latencies.append((time.perf_counter() - due) * 1000)

        started = time.perf_counter()
        tasks = []
        for index, (body, signature) in enumerate(bodies):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body, signature, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return elapsed, latencies, failures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def counts(database_url: str) -> tuple[int, dict[str, int]]:
    async def query() -> tuple[int, dict[str, int]]:
        conn = await asyncpg.connect(database_url)
        try:
            events = await conn.fetchval("SELECT count(*) FROM status_event WHERE source = 'callback'")
            rows = await conn.fetch("SELECT status, count(*) AS n FROM message GROUP BY status")
        finally:
            await conn.close()
        return int(events), {r["status"]: r["n"] for r in rows}

    return asyncio.run(query())


def run(args: argparse.Namespace) -> list[str]:
    with bc.workdir("hub-webhooks-bench-") as folder, bc.fresh_database() as db_url, bc.redis_database() as redis_url:
        api_port = bc.free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        config = bc.write_config(
            folder, **bc.hub_settings(db_url, redis_url, fake_url="http://127.0.0.1:9", api_url=api_url, per_second=80)
        )
        bc.migrate(config)
        asyncio.run(seed(db_url, args.messages))
        target = f"{api_url}/webhooks/twilio/status"
        bodies, paced = signed_bodies(db_url, target)
        with bc.Children(folder) as children:
            command = [str(bc.HUB), "--config", str(config), "api", "--port", str(api_port)]
            children.start("api", [*command, "--workers", str(args.api_workers), "--log-level", "warning"])
            bc.wait_port(api_port)
            time.sleep(1.0)  # every uvicorn worker is up
            # The client is not what is measured: its own full collections (it holds every body) stalled it for
            # ~100 ms at a time, showing up as server latency.
            gc.collect()
            gc.freeze()
            gc.disable()
            asyncio.run(replay(target, bodies[: args.concurrency], args.concurrency))  # warm pools
            elapsed, latencies, failures = asyncio.run(replay(target, bodies, args.concurrency))
            time.sleep(1.0)
            paced_s, paced_latencies, paced_failures = asyncio.run(replay_at_rate(target, paced, args.rate))
            children.check()
            gc.enable()
        events, statuses = counts(db_url)
        noop = measure_noop(redis_url, processes=2, threads=8, messages=args.noop_messages, logs=folder)
    per_s = len(bodies) / elapsed
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    paced_p50, paced_p99 = percentile(paced_latencies, 0.5), percentile(paced_latencies, 0.99)
    ok = per_s >= GOAL_PER_S and paced_p99 < GOAL_P99_MS and failures == 0 and paced_failures == 0
    ok = ok and args.rate >= GOAL_PER_S
    return [
        f"- setup: `hub api --workers {args.api_workers}`; {args.messages:,} messages, {len(STEPS)} signed callbacks "
        f"each ({', '.join(STEPS)}); half of them for each measurement, aiohttp client on the same machine",
        f"- capacity, {args.concurrency} in flight (closed loop): **{per_s:,.0f} callbacks/s** ({len(bodies):,} in "
        f"{elapsed:.2f} s); latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms; "
        f"non-2xx {failures}",
        f"- latency at {args.rate:,.0f}/s offered (open loop, from each callback's scheduled time): "
        f"{len(paced) / paced_s:,.0f}/s achieved ({len(paced):,} in {paced_s:.2f} s); **p50 {paced_p50:.1f} ms, "
        f"p99 {paced_p99:.1f} ms**, max {max(paced_latencies):.1f} ms; non-2xx {paced_failures}",
        f"- stored: {events:,} callback events (the warm-up's {args.concurrency} re-sent ones are duplicates); "
        f"messages by status {dict(sorted(statuses.items()))}",
        f"- {noop.line()}",
        f"- ratio to the no-op actor (messages/s): {per_s / noop.steady_per_s:.2f}",
        f"- goal >= {GOAL_PER_S:,.0f}/s (capacity) with p99 < {GOAL_P99_MS:.0f} ms (at {GOAL_PER_S:,.0f}/s offered): "
        f"{bc.verdict(ok)}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages; each gets one callback per step")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=GOAL_PER_S, help="callbacks/s offered in the latency run")
    parser.add_argument("--noop-messages", type=int, default=20_000, help="messages for the no-op actor ceiling")
    parser.add_argument("--results", type=Path, default=bc.RESULTS)
    args = parser.parse_args(argv)
    bc.record("Signed status callbacks into hub api", run(args), results=args.results)


if __name__ == "__main__":
    sys.exit(main())
