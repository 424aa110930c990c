"""End-to-end send rate: one ``POST /v1/bulk-send`` of N recipients to ``hub api``, sent by ``hub worker`` processes
through the real twilio client to ``hub fake-twilio``; creates/s measured at the fake (its own counters).

    .venv/bin/python bench/e2e_send.py --recipients 20000 --latency-ms 150
    .venv/bin/python bench/e2e_send.py --recipients 20000 --latency-ms 0 --threads 8

Real PostgreSQL (a fresh database per run) and Redis (an empty database index per run) on loopback. In the same
run, a no-op Dramatiq actor with the same processes x threads gives the ceiling the result is a ratio of.
Goals (issue 8, 2 cores): >= 1,000 creates/s with the fake answering in 150 ms; >= 1,500/s answering at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import bench_common as bc
import httpx
from noop import measure_noop

GOALS = {150.0: 1000.0, 0.0: 1500.0}


def goal_for(latency_ms: float) -> float:
    """The creates/s goal for a fake latency (the issue gives 150 ms and 0 ms; others take the nearer)."""
    return GOALS[min(GOALS, key=lambda known: abs(known - latency_ms))]


def wait_workers(redis_url: str, processes: int, children: bc.Children, timeout_s: float = 60) -> None:
    """Until every worker process has a consumer heartbeat on the send queue's broker."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    while client.zcard("hub:__heartbeats__") < processes:
        if time.monotonic() > deadline:
            raise RuntimeError("hub worker did not start consuming")
        children.check()
        time.sleep(0.1)
    client.close()


def sample_fake(fake_url: str, total: int, children: bc.Children, timeout_s: float) -> list[tuple[float, int]]:
    """Poll the fake's create counter every 50 ms until ``total`` creates; (seconds since start, creates)."""
    series: list[tuple[float, int]] = []
    started = time.perf_counter()
    with httpx.Client(base_url=fake_url, timeout=10) as client:
        while True:
            creates = int(client.get("/_fake/stats", params={"detail": "0"}).json()["creates"])
            series.append((time.perf_counter() - started, creates))
            if creates >= total or series[-1][0] > timeout_s:
                return series
            children.check()
            time.sleep(0.05)


def ledger_counts(database_url: str) -> dict[str, int]:
    import asyncpg

    async def counts() -> dict[str, int]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT status, count(*) AS n FROM message GROUP BY status")
        finally:
            await conn.close()
        return {row["status"]: row["n"] for row in rows}

    return asyncio.run(counts())


def run(args: argparse.Namespace) -> list[str]:
    total = args.recipients
    with bc.workdir("hub-e2e-bench-") as folder, bc.fresh_database() as db_url, bc.redis_database() as redis_url:
        fake_port, api_port = bc.free_port(), bc.free_port()
        fake_url, api_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{api_port}"
        config = bc.write_config(
            folder,
            **bc.hub_settings(db_url, redis_url, fake_url=fake_url, api_url=api_url, per_second=args.per_second),
        )
        bc.migrate(config)
        hub = [str(bc.HUB), "--config", str(config)]
        env = {"TWILIO_AUTH_TOKEN": bc.AUTH_TOKEN}
        with bc.Children(folder) as children:
            fake_cmd = [*hub, "fake-twilio", "--port", str(fake_port), "--latency-ms", str(args.latency_ms)]
            fake = children.start("fake-twilio", [*fake_cmd, "--no-callbacks"], env=env)
            api_cmd = [*hub, "api", "--port", str(api_port), "--workers", str(args.api_workers)]
            api = children.start("api", [*api_cmd, "--log-level", "warning"])
            worker_cmd = [*hub, "worker", "-p", str(args.processes), "-t", str(args.threads)]
            worker = children.start("worker", worker_cmd)
            pids = {"worker": worker.pid, "api": api.pid, "fake": fake.pid}
            pids |= {"postgres*": bc.postmaster_pid(db_url), "redis*": bc.redis_pid(redis_url)}
            bc.wait_port(fake_port)
            bc.wait_port(api_port)
            wait_workers(redis_url, args.processes, children)
            body = {"recipients": [{"to": bc.phone(i), "n": i} for i in range(total)], "body": "Hi #{{ n }}"}
            cpu_before = bc.cpu_seconds(pids)
            started = time.perf_counter()
            response = httpx.post(f"{api_url}/v1/bulk-send", json=body, timeout=300)
            accepted_s = time.perf_counter() - started
            response.raise_for_status()
            accepted = response.json()["accepted"]
            series = sample_fake(fake_url, accepted, children, timeout_s=args.timeout)
            series = [(t + accepted_s, n) for t, n in series]
            cpu_after = bc.cpu_seconds(pids)
            stats = httpx.get(f"{fake_url}/_fake/stats", params={"detail": "0"}).json()
            time.sleep(1)  # the last marks reach the ledger
            counts = ledger_counts(db_url)
        print(f"creates: {series[-1][1]:,} by {series[-1][0]:.2f} s; measuring the no-op actor", file=sys.stderr)
        noop = measure_noop(redis_url, processes=args.processes, threads=args.threads, messages=total, logs=folder)

    creates = series[-1][1]
    first = next(t for t, n in series if n > 0)
    last = series[-1][0]
    at_fake = creates / (last - first) if last > first else 0.0
    steady = bc.steady_rate(series, creates)
    goal = goal_for(args.latency_ms)
    return [
        f"- setup: `hub api --workers {args.api_workers}`, `hub worker -p {args.processes} -t {args.threads}`, "
        f"`hub fake-twilio --latency-ms {args.latency_ms:g} --no-callbacks`, rate_limits.per_second "
        f"{args.per_second:g}; {total:,} recipients in one POST /v1/bulk-send",
        f"- API answered 202 in {accepted_s:.2f} s ({accepted:,} accepted, {total / accepted_s:,.0f} rows/s)",
        f"- creates at the fake: {creates:,} ({stats['duplicates'][:3] or 'no'} duplicates, errors {stats['errors']}); "
        f"first create {first:.2f} s after the POST, last {last:.2f} s",
        f"- **{at_fake:,.0f} creates/s** first to last create; {steady:,.0f}/s steady (10-90 %); "
        f"{creates / last:,.0f}/s from the POST",
        f"- ledger after: {dict(sorted(counts.items()))}",
        "- CPU ms per message, POST to last create (* = whole server, other clients included): "
        + ", ".join(f"{name} {(cpu_after[name] - cpu_before[name]) * 1000 / creates:.2f}" for name in cpu_before)
        + f"; wall {last * 1000 / creates:.2f} ms per message",
        f"- {noop.line()}",
        f"- ratio to the no-op actor (steady/steady): {steady / noop.steady_per_s:.2f}",
        f"- goal >= {goal:,.0f} creates/s: {bc.verdict(at_fake >= goal)}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=150.0, help="the fake Twilio's answer time")
    parser.add_argument("--processes", "-p", type=int, default=2, help="hub worker processes")
    parser.add_argument("--threads", "-t", type=int, default=8, help="hub worker threads per process")
    parser.add_argument("--api-workers", type=int, default=1)
    parser.add_argument("--per-second", type=float, default=5000.0, help="rate_limits.per_second (sender cap)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up sampling after this many s")
    parser.add_argument("--results", type=Path, default=bc.RESULTS, help="the results file to append to")
    args = parser.parse_args(argv)
    title = f"End-to-end bulk send, fake Twilio at {args.latency_ms:g} ms"
    bc.record(title, run(args), results=args.results)


if __name__ == "__main__":
    sys.exit(main())
