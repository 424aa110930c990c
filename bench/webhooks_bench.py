"""Signed Twilio status callbacks into ``hub api``: callbacks/s durably applied and latency percentiles.

    .venv/bin/python bench/webhooks_bench.py --messages 10000 --concurrency 64

A fresh PostgreSQL database holds ``--messages`` sent messages (sids set); each gets ``sent``, ``delivered`` and
``read`` callbacks, signed like Twilio's and pre-computed, replayed by an aiohttp client at fixed concurrency
(the ``wrk -c64`` of LIBRARIES.md §3.4). Applied means stored: StatusEvent rows and message statuses are counted
afterwards. The same-run no-op actor (2 x 8) is the queue's ceiling, for comparison with the other benchmarks.
Goal (issue 8): >= 3,000 callbacks/s with p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
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


def signed_bodies(database_url: str, url: str) -> list[tuple[bytes, str]]:
    """Every callback body (form-encoded) with its X-Twilio-Signature, step by step (all ``sent``, then ...)."""
    from twilio.request_validator import RequestValidator

    async def sids() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            return [(r["sid"], r["recipient"]) for r in await conn.fetch("SELECT sid, recipient FROM message")]
        finally:
            await conn.close()

    validator = RequestValidator(bc.AUTH_TOKEN)
    bodies = []
    for status in STEPS:
        for sid, to in asyncio.run(sids()):
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
    return bodies


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
        bodies = signed_bodies(db_url, target)
        with bc.Children(folder) as children:
            command = [str(bc.HUB), "--config", str(config), "api", "--port", str(api_port)]
            children.start("api", [*command, "--workers", str(args.api_workers), "--log-level", "warning"])
            bc.wait_port(api_port)
            time.sleep(1.0)  # every uvicorn worker is up
            asyncio.run(replay(target, bodies[: args.concurrency], args.concurrency))  # warm pools
            elapsed, latencies, failures = asyncio.run(replay(target, bodies, args.concurrency))
            children.check()
        events, statuses = counts(db_url)
        noop = measure_noop(redis_url, processes=2, threads=8, messages=args.noop_messages, logs=folder)
    per_s = len(bodies) / elapsed
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    ok = per_s >= GOAL_PER_S and p99 < GOAL_P99_MS and failures == 0
    return [
        f"- setup: `hub api --workers {args.api_workers}`; {len(bodies):,} signed callbacks ({len(STEPS)} per message "
        f"x {args.messages:,} messages: {', '.join(STEPS)}), {args.concurrency} in flight (aiohttp)",
        f"- **{per_s:,.0f} callbacks/s** ({elapsed:.2f} s); latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(latencies):.1f} ms; non-2xx {failures}",
        f"- stored: {events:,} callback events (the warm-up's {args.concurrency} re-sent ones are duplicates); "
        f"messages by status {dict(sorted(statuses.items()))}",
        f"- {noop.line()}",
        f"- ratio to the no-op actor (messages/s): {per_s / noop.steady_per_s:.2f}",
        f"- goal >= {GOAL_PER_S:,.0f}/s with p99 < {GOAL_P99_MS:.0f} ms: {bc.verdict(ok)}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages; each gets one callback per step")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--noop-messages", type=int, default=20_000, help="messages for the no-op actor ceiling")
    parser.add_argument("--results", type=Path, default=bc.RESULTS)
    args = parser.parse_args(argv)
    bc.record("Signed status callbacks into hub api", run(args), results=args.results)


if __name__ == "__main__":
    sys.exit(main())
