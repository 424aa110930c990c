"""Fair pace between runs: a run capped at 20/s must not hold back another run under the 80/s sender cap.

    .venv/bin/python bench/fair_pace_bench.py               # 30 s of the second run after it starts
    .venv/bin/python bench/fair_pace_bench.py --seconds 10  # a quick check

In one process (a real Dramatiq worker with ``--threads`` threads on the Redis broker over fakeredis, the fake
transport, a fresh PostgreSQL ledger): run A, capped at 20/s, gets a backlog of ``--capped`` rows; ``--lead`` seconds
later run B, uncapped, gets ``--other`` rows (as a resume queues a paused run's owed rows). Reported: the sends
per second of each run, per 1-s window after B was queued. Goal (issue 15): A near its cap, B near the rest of
the sender cap (60/s) from its first seconds; before the fix B sent nothing for minutes.
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
import time
from collections import Counter
from pathlib import Path

import bench_common as bc
import fakeredis
from dramatiq import Worker

import actors
from hub.config import load_settings
from hub.status import RunState
from hub.store import db
from hub.store import queries as q
from hub.transport.fake import FakeTransport


def rows(run_id: int, count: int, prefix: str) -> list[q.NewMessage]:
    return [q.NewMessage(recipient=f"{prefix}{i:07d}", body="hi") for i in range(count)]


async def new_run(count: int, prefix: str, rate: float | None) -> tuple[int, list[int], dict[str, object]]:
    meta: dict[str, object] = {"rate_limit": {"per_second": rate}} if rate else {}
    run, _ = await q.create_run(state=RunState.RUNNING, meta=meta)
    ids = await q.insert_messages(run.id, rows(run.id, count, prefix))
    return run.id, ids, meta


def run(args: argparse.Namespace) -> list[str]:
    with bc.workdir("hub-fair-pace-") as folder, bc.fresh_database() as db_url:
        config = bc.write_config(
            folder,
            database={"url": db_url},
            rate_limits={"per_second": args.per_second, "per_recipient": {"max": 1000, "window_seconds": 60}},
        )
        settings = load_settings(config, env={})
        db.run_sync(db.migrate(settings))
        transport = FakeTransport(latency_s=args.latency_ms / 1000)
        broker = actors.setup(
            settings,
            client=fakeredis.FakeRedis(server=fakeredis.FakeServer()),
            stub=False,
            namespace=f"fair{secrets.token_hex(3)}",
            transport_factory=lambda _settings: transport,
        )
        capped_id, capped_ids, capped_meta = db.run_sync(new_run(args.capped, "+49151", args.cap))
        other_id, other_ids, other_meta = db.run_sync(new_run(args.other, "+49176", None))
        worker = Worker(broker, worker_threads=args.threads, worker_timeout=100)
        worker.start()
        try:
            actors.enqueue_sends(capped_ids, run_id=capped_id, meta=capped_meta)
            time.sleep(args.lead)
            started = time.time()
            actors.enqueue_sends(other_ids, run_id=other_id, meta=other_meta)
            time.sleep(args.seconds)
        finally:
            worker.stop()
            broker.close()
        windows: dict[str, Counter[int]] = {"A (capped)": Counter(), "B (other)": Counter()}
        for call in transport.calls:
            window = math.floor(call.at.timestamp() - started)  # floor: a send just before B is not in window 0
            if 0 <= window < args.seconds:
                windows["A (capped)" if call.msg.to.startswith("+49151") else "B (other)"][window] += 1
        lines = [
            f"sender cap {args.per_second:g}/s, run A capped at {args.cap:g}/s ({args.capped} rows), run B uncapped "
            f"({args.other} rows) queued {args.lead:g} s later; {args.threads} worker threads, send latency "
            f"{args.latency_ms:g} ms",
        ]
        for name, counts in windows.items():
            series = [counts.get(second, 0) for second in range(int(args.seconds))]
            lines.append(f"{name} sends per 1-s window after B was queued: {series}")
        first_b = next((s for s in range(int(args.seconds)) if windows["B (other)"].get(s)), None)
        lines.append(f"B's first send: {'never' if first_b is None else f'in second {first_b}'}")
        db.reset()
        return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--per-second", type=float, default=80.0)
    parser.add_argument("--cap", type=float, default=20.0)
    parser.add_argument("--capped", type=int, default=4000)
    parser.add_argument("--other", type=int, default=3000)
    parser.add_argument("--lead", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    args = parser.parse_args()
    lines = run(args)
    print("\n".join(lines))
    if args.record:
        bc.record("Fair pace between runs (fair_pace_bench.py)", lines)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
