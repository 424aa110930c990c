"""Pace through stalls: a run at ``per_second`` while the database (every byte held by a proxy) and then Redis (its
server SIGSTOPped) stall mid-run; every 1-s window of creates at the fake Twilio, judged against +-5 % of the cap.

    .venv/bin/python bench/pace_stall_bench.py                      # 80/s, 40 s, database 10 s and Redis 10 s
    .venv/bin/python bench/pace_stall_bench.py --stall-s 4 --seconds 20

Each stall runs the chaos scenario ``tests/chaos/scenarios.py:pace_through_a_stall`` (the suite runs it at 40/s and
judges loosely, since a loaded CI machine drops slots with or without a stall): hub workers, the fake Twilio and a
private ``redis-server`` on a fresh database. Judged here, on a quiet machine: no window above the cap + 5 %
anywhere (what the stall held back must not burst out after it), and every full window before the stall and
from the second after it ended within +-5 % of the cap. The windows during the stall, and the one it ends in, are
reported but not judged: nothing can be claimed while the database is held. The no-op actor runs in the same run.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import bench_common as bc
from noop import measure_noop

sys.path.insert(0, str(bc.ROOT))
from tests.chaos.scenarios import pace_through_a_stall  # the suite's scenario, not a copy

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def judged(windows: dict[int, int], *, stall_from_s: float, ended_s: float) -> tuple[list[int], list[int]]:
    """The full windows before the stall began and from the second after the one it ended in, up to the run's
    last (partial, draining) window; and the stalled ones between them (pure)."""
    last = max(windows)
    before = [windows.get(second, 0) for second in range(1, math.floor(stall_from_s))]
    after = [windows.get(second, 0) for second in range(math.floor(ended_s) + 1, last)]
    stalled = [windows.get(second, 0) for second in range(math.floor(stall_from_s), math.floor(ended_s) + 1)]
    return before + after, stalled


def one(what: str, args: argparse.Namespace, lines: list[str]) -> bool:
    rate = args.per_second
    said: list[str] = []
    report: Callable[[str], None] = said.append
    verdict, windows, ended_s = pace_through_a_stall(
        ADMIN_URL,
        report,
        what=what,
        per_second=rate,
        seconds=args.seconds,
        stall_s=args.stall_s,
        workers=args.processes,
        threads=args.threads,
    )
    stall_from_s = ended_s - args.stall_s
    counts, stalled = judged(windows, stall_from_s=stall_from_s, ended_s=ended_s)
    low, high = rate * 0.95, rate * 1.05
    outside = [c for c in counts if not low <= c <= high]
    above = [c for c in windows.values() if c > high]
    ok = bool(counts) and not outside and not above and (verdict.lost, verdict.duplicates) == (0, 0)
    series = " ".join(str(windows.get(second, 0)) for second in range(max(windows) + 1))
    lines += [
        f"- {what} stalled {args.stall_s:g} s from {stall_from_s:.1f} s after the first create: "
        f"{len(counts)} judged windows **min {min(counts)}, max {max(counts)}**; outside {low:g}-{high:g}: "
        f"{len(outside)}; above {high:g} anywhere (stall and recovery included): {len(above)}; "
        f"windows during the stall: {' '.join(map(str, stalled))}",
        f"  - every window: {series}",
        f"  - {verdict.line()}",
    ]
    return ok


def run(args: argparse.Namespace) -> list[str]:
    lines = [
        f"- setup: rate_limits.per_second {args.per_second:g}, {args.processes} worker processes x {args.threads} "
        f"threads, fake Twilio; {int(args.per_second * args.seconds):,} recipients per scenario; the stall begins a "
        "third of the way in"
    ]
    oks = [one(what, args, lines) for what in ("database", "redis")]
    with bc.workdir("hub-pace-stall-bench-") as folder, bc.redis_database() as redis_url:
        noop = measure_noop(redis_url, processes=args.processes, threads=args.threads, messages=20_000, logs=folder)
    lines += [
        f"- {noop.line()}",
        f"- goal every judged window within +-5 % of {args.per_second:g}, none above anywhere, 0 lost, 0 "
        f"duplicates: {bc.verdict(all(oks))}",
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--per-second", type=float, default=80.0)
    parser.add_argument("--seconds", type=float, default=40.0, help="the run's length at the cap, s")
    parser.add_argument("--stall-s", type=float, default=10.0)
    parser.add_argument("--processes", "-p", type=int, default=2)
    parser.add_argument("--threads", "-t", type=int, default=8)
    parser.add_argument("--results", type=Path, default=bc.RESULTS)
    args = parser.parse_args(argv)
    bc.record(f"Pace through stalls: per_second {args.per_second:g}", run(args), results=args.results)


if __name__ == "__main__":
    sys.exit(main())
