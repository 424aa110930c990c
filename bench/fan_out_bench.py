"""Fan-out of a CSV campaign: render + ledger rows + pipelined enqueue, recipients/s and peak RSS.

    .venv/bin/python bench/fan_out_bench.py --recipients 1000000
    .venv/bin/python bench/fan_out_bench.py --recipients 1000000 --contacts   # the template reads contact.tier

With ``--contacts`` every recipient has a stored contact and the template reads ``contact.tier``: the fan-out reads
the attributes of each chunk's recipients (SPEC §13). Without it no attributes are read.

``fan_out_run`` runs in a child process of its own (so its peak RSS is its own, from ``os.wait4``) against a fresh
PostgreSQL database and an empty Redis database index; no worker consumes the send queue. In the same run, the
no-op actor (2 x 8) on the same Redis gives the queue's ceiling. Goal (issue 8): >= 20,000 recipients/s, peak
RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import bench_common as bc
from noop import measure_noop

GOAL_PER_S = 20_000.0
GOAL_PEAK_MB = 300.0
TEMPLATE = (
    "Hi {{ first_name }}, this is a reminder of your appointment at {{ clinic }} on {{ appointment_time }}.\n"
    "Reply YES to confirm or call us on {{ clinic_phone }} to reschedule. Reply STOP to stop reminders.\n"
)


CONTACT_LINE = "Your tier: {{ contact.tier | default('none') }}.\n"


def make_project(folder: Path, rows: int, *, contacts: bool = False) -> None:
    """A campaign ``bench`` with a 2-line template (a third reading ``contact.tier`` with ``contacts``) and a CSV of
    ``rows`` unique valid numbers."""
    (folder / "campaigns").mkdir()
    (folder / "templates" / "messages").mkdir(parents=True)
    (folder / "audiences").mkdir()
    template = TEMPLATE + (CONTACT_LINE if contacts else "")
    (folder / "templates" / "messages" / "reminder.j2").write_text(template, encoding="utf-8")
    (folder / "campaigns" / "bench.yaml").write_text(
        'template: reminder.j2\nvars: {clinic_phone: "+44 20 7946 0000"}\naudience: {csv: audiences/people.csv}\n',
        encoding="utf-8",
    )
    with (folder / "audiences" / "people.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("phone,first_name,appointment_time,clinic\n")
        for i in range(rows):
            out.write(f'{bc.phone(i)},Person{i},"Tue 1 Dec, {9 + i % 9}:{i % 60:02d}",Clinic {i % 37}\n')


def child(config: Path) -> None:
    """In the child: create a run of ``bench`` and fan it out; print the run id and seconds as JSON."""
    import actors
    from actors.fan_out import fan_out_run
    from hub.config import load_settings
    from hub.store import db, queries

    settings = load_settings(config)
    actors.setup(settings)
    db.run_sync(db.connect(settings))
    run, _ = db.run_sync(queries.create_run(campaign="bench", kind="campaign", trigger="api"))
    started, cpu = time.perf_counter(), time.process_time()
    fan_out_run.fn(run.id)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"run_id": run.id, "seconds": seconds, "cpu_seconds": cpu}))


def _postgres_cpu_s() -> float:
    """CPU seconds used so far by the local PostgreSQL server: its live processes, plus the backends that ended
    (counted in the postmaster's children time). Other clients' load is included: a figure for a quiet machine."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:  # backends rename themselves ("postgres: 15/main: ..."), their comm stays "postgres"
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick


def store_contacts(database_url: str, rows: int) -> None:
    """A stored contact with a ``tier`` attribute for each of the ``rows`` numbers."""
    import asyncpg

    async def insert() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO contact (phone, attributes, tags, updated_at)"
                " SELECT p, jsonb_build_object('tier', 'gold'), '{}', now() FROM unnest($1::text[]) AS p",
                [bc.phone(i) for i in range(rows)],
            )
            await conn.execute("ANALYZE contact")
        finally:
            await conn.close()

    asyncio.run(insert())


def ledger(database_url: str) -> tuple[int, dict[str, int]]:
    import asyncpg

    async def query() -> tuple[int, dict[str, int]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT status, count(*) AS n FROM message GROUP BY status")
        finally:
            await conn.close()
        return sum(r["n"] for r in rows), {r["status"]: r["n"] for r in rows}

    return asyncio.run(query())


def run(args: argparse.Namespace) -> list[str]:
    import redis

    with bc.workdir("hub-fanout-bench-") as folder, bc.fresh_database() as db_url, bc.redis_database() as redis_url:
        make_project(folder, args.recipients, contacts=args.contacts)
        config = bc.write_config(
            folder,
            **bc.hub_settings(db_url, redis_url, fake_url="http://127.0.0.1:9", api_url="http://x", per_second=80),
        )
        bc.migrate(config)
        if args.contacts:
            store_contacts(db_url, args.recipients)
        command = [str(bc.PYTHON), str(Path(__file__).resolve()), "--child", str(config)]
        if os.environ.get("BENCH_PYSPY"):  # profile the fan-out: py-spy's raw (collapsed) stacks to that file
            command = [
                str(bc.PYTHON.parent / "py-spy"),
                "record",
                "-f",
                "raw",
                "-o",
                os.environ["BENCH_PYSPY"],
                *(["--gil"] if os.environ.get("BENCH_PYSPY_GIL") else []),  # only samples holding the GIL: CPU
                "--",
                *command,
            ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(bc.BENCH), str(bc.ROOT)])}
        pg_cpu = _postgres_cpu_s()
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=bc.ROOT)
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        pg_cpu = _postgres_cpu_s() - pg_cpu
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"fan-out child failed: {output.decode(errors='replace')[-2000:]}")
        result = json.loads(output.decode().strip().splitlines()[-1])
        peak_mb = usage.ru_maxrss / 1024
        rows, statuses = ledger(db_url)
        queued = redis.Redis.from_url(redis_url).llen("hub:send")
        noop = measure_noop(redis_url, processes=2, threads=8, messages=args.noop_messages, logs=folder)
    per_s = args.recipients / result["seconds"]
    ok = per_s >= GOAL_PER_S and peak_mb < GOAL_PEAK_MB
    template = (
        "3-line template, 4 variables and `contact.tier` of a stored contact each"
        if args.contacts
        else ("2-line template, 4 variables")
    )
    return [
        f"- {args.recipients:,}-row CSV campaign ({template}), `fan_out_run` in its own process "
        f"(PostgreSQL ledger, Redis queue, no consumer)",
        f"- **{per_s:,.0f} recipients/s** ({result['seconds']:.1f} s in fan_out_run, {wall:.1f} s with start-up); "
        f"**peak RSS {peak_mb:.0f} MB**",
        f"- CPU per recipient: fan-out process {1e6 * result['cpu_seconds'] / args.recipients:.1f} us "
        f"({result['cpu_seconds'] / result['seconds']:.2f} cores), PostgreSQL (every backend, start-up included) "
        f"{1e6 * pg_cpu / args.recipients:.1f} us",
        f"- ledger rows {rows:,} {dict(sorted(statuses.items()))}; send messages queued {queued:,}",
        f"- {noop.line()}",
        f"- ratio to the no-op actor (recipients/s to messages/s): {per_s / noop.steady_per_s:.2f}",
        f"- goal >= {GOAL_PER_S:,.0f}/s and < {GOAL_PEAK_MB:.0f} MB: {bc.verdict(ok)}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--noop-messages", type=int, default=20_000, help="messages for the no-op actor ceiling")
    parser.add_argument("--contacts", action="store_true", help="every recipient a stored contact read by the template")
    parser.add_argument("--results", type=Path, default=bc.RESULTS)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return
    bc.record("Fan-out of a CSV campaign", run(args), results=args.results)


if __name__ == "__main__":
    sys.exit(main())
