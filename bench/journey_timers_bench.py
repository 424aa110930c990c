"""Journey timers and replies: timers fired/s, due-to-claimed lag, worker and scheduler RSS, replies resolved/s.

    .venv/bin/python bench/journey_timers_bench.py --entries 1000000

A fresh PostgreSQL database holds a running journey run (remind after a `wait`, then wait for a reply with a 24 h
timeout, thank on a reply) and ``--entries`` entries written straight into ``journey_entry``, waiting on the first
step. ``hub scheduler`` (its journeys sweep sends ``advance_journeys`` every second) and ``hub worker -Q default``
(the advancers; nothing consumes the send queue, so the send path is not measured here: bench/e2e_send.py is) run
as they do in production. Three phases:

1. **burst**: every timer falls due at one instant (the run is resumed: a paused journey's timers wait); timers
   fired/s (entries past the send), and each entry's lag from that instant to its claim (the ``waited`` path
   line's time). In a burst the last entry necessarily waits entries / rate.
2. **steady** (``--steady-per-s``): as many entries due one after another at that rate, the lag from each one's
   own due time to its claim: whether the advancers keep up with that load.
3. **replies**: ``--replies`` inbound messages from waiting recipients written in one statement (the rows the
   inbound webhook writes; the trigger queues each entry's event), replies resolved/s (entries past the thank-you
   send, ended).

Peak RSS (VmHWM) of every worker and scheduler process. The no-op actor (2 x 8) is measured in the same run.
Goals (issue 17): >= 20,000 timers/s, lag p99 < 2 s under that load, RSS < 300 MB, 5,000 replies/s.
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
from noop import measure_noop

GOAL_PER_S = 20_000.0
GOAL_LAG_P99_S = 2.0
GOAL_RSS_MB = 300.0
GOAL_REPLIES_PER_S = 5_000.0
NAME = "timers"
JOURNEY = """\
name: timers
entry: {event: appointment.booked}
exit_when: [opted_out]
steps:
  - id: remind
    wait: 1h
    send: {body: "Hi {{ first_name }}, your appointment at {{ clinic }} is tomorrow. Reply YES to confirm."}
  - id: wait-reply
    wait_for: [replied]
    timeout: 24h
    on: {replied: thanks, timeout: end}
  - id: thanks
    send: {body: "Thanks, {{ first_name }}!"}
"""
#: bench_common.phone(i) in SQL.
PHONE_SQL = "(ARRAY['+49151','+49176','+4478','+336'])[i % 4 + 1] || lpad((i / 4)::text, 8, '0')"


async def make_run(conn: asyncpg.Connection, number: int) -> int:
    meta = json.dumps({"journey": {"source": f"campaigns/{NAME}.yaml", "text": JOURNEY}})
    return int(
        await conn.fetchval(
            "INSERT INTO run (campaign, kind, trigger, fire_key, state, started_at, fanned_out_at, created_at,"
            " checkpoint, meta) VALUES ($1, 'campaign', 'api', $3, 'paused', now(), now(), now(), 0, $2::json)"
            " RETURNING id",
            NAME,
            meta,
            f"bench-{number}",
        )
    )


async def add_entries(
    conn: asyncpg.Connection, run_id: int, first: int, count: int, spread_per_s: float, lead_s: float = 0.0
) -> float:
    """Entries ``first .. first+count`` waiting on ``remind``, due ``lead_s`` after the database's now() (+ i /
    spread_per_s); each one's due epoch second is in its vars (``due``), for the lag.

    Returns:
        The seconds the inserts took.
    """
    due = f"$3::float8 + (i - {first}) / {spread_per_s}::float8" if spread_per_s else "$3::float8"
    started = time.perf_counter()
    start = float(await conn.fetchval("SELECT extract(epoch FROM now())")) + lead_s
    for low in range(first, first + count, 100_000):
        high = min(low + 100_000, first + count)
        await conn.execute(
            "INSERT INTO journey_entry (run, campaign, recipient, key, step, phase, reached_at, due_at, vars,"
            " started_at)"
            f" SELECT $1, $2, {PHONE_SQL}, '', 'remind', 'waiting', to_timestamp($3), to_timestamp({due}),"
            f" jsonb_build_object('first_name', 'Person' || i, 'clinic', 'Clinic ' || (i % 37), 'due', {due}),"
            " to_timestamp($3)"
            " FROM generate_series($4::int, $5::int - 1) AS i",
            run_id,
            NAME,
            start,
            low,
            high,
        )
    return time.perf_counter() - started


async def workers_ready(children: bc.Children, processes: int, timeout_s: float = 120) -> None:
    """Wait until every worker process said it is ready, and the scheduler it is running."""
    deadline = time.monotonic() + timeout_s
    while True:
        worker = (children.logs / "worker.log").read_text(errors="replace")
        scheduler = (children.logs / "scheduler.log").read_text(errors="replace")
        if worker.count("is ready for action") >= processes and "scheduler running" in scheduler:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker or scheduler did not start in {timeout_s:.0f} s")
        children.check()
        await asyncio.sleep(0.2)


async def count(conn: asyncpg.Connection, run_id: int, step: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM journey_entry WHERE run = $1 AND step = $2", run_id, step))


async def wait_for_count(
    conn: asyncpg.Connection, run_id: int, step: str, total: int, children: bc.Children, timeout_s: float
) -> list[tuple[float, int]]:
    """Poll until ``total`` entries stand at ``step``: (seconds, count) samples from the call."""
    started = time.perf_counter()
    series: list[tuple[float, int]] = []
    while True:
        done = await count(conn, run_id, step)
        series.append((time.perf_counter() - started, done))
        if done >= total:
            return series
        if series[-1][0] > timeout_s:
            raise RuntimeError(f"only {done:,} of {total:,} entries reached {step!r} in {timeout_s:.0f} s")
        children.check()
        await asyncio.sleep(0.25)


async def lags(conn: asyncpg.Connection, run_id: int, since: float | None) -> tuple[float, float, float]:
    """p50, p99 and max seconds from each entry's due time (or ``since``, when later) to its claim (its ``waited``
    path line)."""
    row = await conn.fetchrow(
        "WITH l AS (SELECT extract(epoch FROM p.at) - greatest((e.vars ->> 'due')::float8, $2::float8) AS lag"
        " FROM journey_path p JOIN journey_entry e ON e.id = p.entry WHERE p.run = $1 AND p.outcome = 'waited')"
        " SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99, max(lag) AS mx FROM l",
        run_id,
        since or 0.0,
    )
    return float(row["p50"]), float(row["p99"]), float(row["mx"])


def peak_rss_mb(pid: int) -> dict[int, float]:
    """VmHWM (peak RSS) of ``pid`` and each of its live descendants, MB."""
    found: dict[int, float] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    found[current] = int(line.split()[1]) / 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return found


def run(args: argparse.Namespace) -> list[str]:
    with bc.workdir("hub-journey-bench-") as folder, bc.fresh_database() as db_url, bc.redis_database() as redis_url:
        (folder / "campaigns").mkdir()
        (folder / "templates").mkdir()
        (folder / "campaigns" / f"{NAME}.yaml").write_text(JOURNEY, encoding="utf-8")
        config = bc.write_config(
            folder,
            **bc.hub_settings(db_url, redis_url, fake_url="http://127.0.0.1:9", api_url="http://x", per_second=80),
            paths={"campaigns": str(folder / "campaigns"), "templates": str(folder / "templates")},
        )
        bc.migrate(config)
        hub = [str(bc.HUB), "--config", str(config)]
        with bc.Children(folder) as children:
            scheduler = children.start("scheduler", [*hub, "scheduler"])
            worker = children.start(
                "worker",
                [*hub, "worker", "-Q", "default", "-p", str(args.processes), "-t", str(args.threads), "--no-sweep"],
                env={"dramatiq_prom_port": str(bc.free_port())},  # another hub worker may hold the default port
            )
            pids = {"worker": worker.pid, "scheduler": scheduler.pid}
            pids["postgres*"] = bc.postmaster_pid(db_url)
            figures = asyncio.run(_phases(args, db_url, children, pids))
            rss = {"worker": peak_rss_mb(worker.pid), "scheduler": peak_rss_mb(scheduler.pid)}
        noop = measure_noop(redis_url, processes=2, threads=8, messages=args.noop_messages, logs=folder)
    burst, steady, replies = figures["burst"], figures.get("steady"), figures["replies"]
    worst_rss = max(max(v.values()) for v in rss.values())
    lag_p99 = steady["lag"][1] if steady else burst["lag"][1]
    ok = (
        burst["rate"] >= GOAL_PER_S
        and lag_p99 < GOAL_LAG_P99_S
        and worst_rss < GOAL_RSS_MB
        and replies["rate"] >= GOAL_REPLIES_PER_S
    )
    lines = [
        f"- setup: `hub worker -Q default -p {args.processes} -t {args.threads} --no-sweep` (the advancers; the send "
        "queue is not consumed), `hub scheduler` (journeys sweep every 1 s); the journey: `wait` 1 h + send, "
        "`wait_for: [replied]` 24 h, send on a reply",
        f"- burst: {args.entries:,} entries due at one instant: **{burst['rate']:,.0f} timers fired/s** "
        f"({args.entries:,} in {burst['seconds']:.1f} s; {burst['steady']:,.0f}/s steady 10-90 %); lag from the "
        f"instant to the claim p50 {burst['lag'][0]:.1f} s, p99 {burst['lag'][1]:.1f} s, max {burst['lag'][2]:.1f} s",
    ]
    if steady:
        lines.append(
            f"- steady: {args.steady_entries or args.entries:,} entries due one after another at "
            f"{args.steady_per_s:,.0f}/s: "
            f"{steady['rate']:,.0f}/s fired; **lag from each due time to its claim p50 {steady['lag'][0]:.2f} s, "
            f"p99 {steady['lag'][1]:.2f} s**, max {steady['lag'][2]:.2f} s"
        )
    lines += [
        f"- replies: {args.replies:,} inbound rows written in one statement in {replies['insert_s']:.1f} s (the "
        f"trigger queues each entry's event); **{replies['rate']:,.0f} replies resolved/s** (the last entry past "
        f"its thank-you {replies['seconds']:.1f} s after the insert committed)",
        "- CPU per timer fired in the burst (* = the whole server, other clients included): "
        + ", ".join(f"{name} {us:.0f} us" for name, us in figures["cpu_us"].items()),
        f"- messages written: {figures['messages']:,}; peak RSS (VmHWM) worker processes "
        + ", ".join(f"{mb:.0f}" for mb in rss["worker"].values())
        + " MB; scheduler "
        + ", ".join(f"{mb:.0f}" for mb in rss["scheduler"].values())
        + " MB",
        f"- {noop.line()}",
        f"- ratio to the no-op actor (timers/s to messages/s): {burst['rate'] / noop.steady_per_s:.2f}",
        f"- goals >= {GOAL_PER_S:,.0f} timers/s, lag p99 < {GOAL_LAG_P99_S:.0f} s, RSS < {GOAL_RSS_MB:.0f} MB, "
        f">= {GOAL_REPLIES_PER_S:,.0f} replies/s: {bc.verdict(ok)}",
    ]
    return lines


async def _phases(args: argparse.Namespace, db_url: str, children: bc.Children, pids: dict[str, int]) -> dict:
    conn = await asyncpg.connect(db_url)
    timeout = 120 + args.entries / 1000
    try:
        figures: dict = {}
        run_id = await make_run(conn, 1)
        insert_s = await add_entries(conn, run_id, 0, args.entries, 0)
        await conn.execute("ANALYZE journey_entry")
        await workers_ready(children, args.processes)
        cpu_before = bc.cpu_seconds(pids)
        resumed = float(
            await conn.fetchval(
                "UPDATE run SET state = 'running' WHERE id = $1 RETURNING extract(epoch FROM now())", run_id
            )
        )
        series = await wait_for_count(conn, run_id, "wait-reply", args.entries, children, timeout)
        cpu_after = bc.cpu_seconds(pids)
        figures["cpu_us"] = {name: 1e6 * (cpu_after[name] - cpu_before[name]) / args.entries for name in pids}
        figures["burst"] = {
            "seconds": series[-1][0],
            "rate": args.entries / series[-1][0],
            "steady": bc.steady_rate(series, args.entries),
            "lag": await lags(conn, run_id, resumed),
        }
        if args.steady_per_s:
            second = await make_run(conn, 2)
            # The first ones fall due once every entry is written (as fast as the first phase's). The run is resumed
            # after: a running run with no active entry is finished by the recovery sweep.
            steady = args.steady_entries or args.entries
            lead = 2 * insert_s * steady / args.entries + 3
            await add_entries(conn, second, args.entries, steady, args.steady_per_s, lead)
            await conn.execute("UPDATE run SET state = 'running' WHERE id = $1", second)
            series = await wait_for_count(conn, second, "wait-reply", steady, children, timeout)
            figures["steady"] = {"rate": steady / series[-1][0], "lag": await lags(conn, second, None)}
            await conn.execute("UPDATE run SET state = 'canceled' WHERE id = $1", second)
        replies = min(args.replies, args.entries)
        started = time.perf_counter()
        await conn.execute(
            'INSERT INTO inbound_message (sid, from_phone, "to", body, payload, received_at)'
            f" SELECT 'SMbench' || i, {PHONE_SQL}, $1, 'YES', '{{}}', now() FROM generate_series(0, $2::int - 1) AS i",
            bc.FROM,
            replies,
        )
        insert_s = time.perf_counter() - started
        series = await wait_for_count(conn, run_id, "end", replies, children, timeout)
        figures["replies"] = {"insert_s": insert_s, "seconds": series[-1][0], "rate": replies / series[-1][0]}
        figures["messages"] = int(await conn.fetchval("SELECT count(*) FROM message"))
        return figures
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--steady-per-s", type=float, default=20_000.0, help="phase 2's due rate (0: skip it)")
    parser.add_argument("--steady-entries", type=int, default=0, help="phase 2's entries (0: as many as --entries)")
    parser.add_argument("--replies", type=int, default=100_000)
    parser.add_argument("-p", "--processes", type=int, default=2, help="hub worker processes")
    parser.add_argument("-t", "--threads", type=int, default=4, help="hub worker threads per process")
    parser.add_argument("--noop-messages", type=int, default=20_000, help="messages for the no-op actor ceiling")
    parser.add_argument("--results", type=Path, default=bc.RESULTS)
    args = parser.parse_args(argv)
    bc.record("Journey timers and replies", run(args), results=args.results)


if __name__ == "__main__":
    sys.exit(main())
