"""The chaos scenarios at sizes too large for CI, by hand against this machine's PostgreSQL (and a private
``redis-server`` per scenario):

    .venv/bin/python -m tests.chaos            # 5,000 recipients
    .venv/bin/python -m tests.chaos --large    # 20,000 recipients
    .venv/bin/python -m tests.chaos --large --only kills

Prints one line per scenario; exits 1 when a guarantee broke (each problem is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.chaos import scenarios
from tests.chaos.journey_chaos import journey_chaos


def _profiles(recipients: int) -> dict[str, Callable[[str, Callable[[str], None]], Any]]:
    return {
        "kills": lambda url, rep: scenarios.worker_kills(url, rep, recipients=recipients, duration_s=20, workers=3),
        "redis": lambda url, rep: scenarios.redis_loss(url, rep, recipients=recipients, duration_s=15),
        "database": lambda url, rep: scenarios.database_outage(
            url, rep, recipients=recipients, duration_s=15, outage_s=5
        )[0],
        "twilio": lambda url, rep: scenarios.twilio_faults(url, rep, recipients=recipients // 5)[0],
        "schedulers": lambda url, rep: scenarios.scheduler_race(url, rep, campaigns=50, per_campaign=20)[0],
        "journeys": lambda url, rep: journey_chaos(url, rep, entries=recipients, timeout_s=600),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="20,000 recipients instead of 5,000")
    parser.add_argument("--only", action="append", help="run only these scenarios (kills, redis, database, ...)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL to create the scenario databases on",
    )
    args = parser.parse_args(argv)
    recipients = 20_000 if args.large else 5_000
    failed = False
    for name, scenario in _profiles(recipients).items():
        if args.only and name not in args.only:
            continue
        started = time.monotonic()
        verdict = scenario(args.database_url, lambda line, name=name: print(f"{name}: {line}", flush=True))
        print(f"{name}: {time.monotonic() - started:.0f} s, problems: {len(verdict.problems)}", flush=True)
        for problem in verdict.problems[:50]:
            print(f"  {problem}")
        failed = failed or bool(verdict.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
