"""The process-level chaos scenarios, sized by their arguments (CI sizes in the tests, large ones in
``python -m tests.chaos --large``). Each returns its :class:`Verdict` and reports one line of what it did."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tests.chaos import harness as h
from tests.chaos.ledger_check import Verdict
from tests.chaos.stack import Stack, stack

Report = Callable[[str], None]


def _pace(recipients: int, duration_s: float) -> float:
    """A send cap that spreads ``recipients`` over about ``duration_s`` (so the faults land mid-run)."""
    return max(20.0, recipients / max(duration_s, 1.0))


def _start_workers(s: Stack, workers: int, threads: int) -> None:
    for index in range(workers):
        s.start_worker(f"worker-{index}", threads=threads)
    s.wait_consumers(workers)


def worker_kills(
    admin_url: str,
    report: Report,
    *,
    recipients: int,
    duration_s: float,
    kill_every_s: float = 2.0,
    workers: int = 3,
    threads: int = 8,
    seed: int = 9,
) -> Verdict:
    """kill -9 a random `hub worker` (with its Dramatiq processes) every ``kill_every_s`` for ``duration_s``,
    restarting it each time, while a run of ``recipients`` is sent; then sweep until settled."""
    rng = random.Random(seed)
    phones = [h.phone(i) for i in range(recipients)]
    with stack(admin_url, rate_limits={"per_second": _pace(recipients, duration_s)}) as s:
        _start_workers(s, workers, threads)
        started = time.monotonic()
        s.create_run(phones)
        kills = 0
        while time.monotonic() - started < duration_s:
            time.sleep(kill_every_s)
            s.kill_random_worker(rng)
            kills += 1
        s.wait_consumers(workers)
        s.settle()
        verdict = s.verdict(phones)
        report(f"kills: {kills} (every {kill_every_s} s for {duration_s} s, {workers} workers), {verdict.line()}")
        return verdict


def redis_loss(
    admin_url: str,
    report: Report,
    *,
    recipients: int,
    duration_s: float,
    workers: int = 2,
    threads: int = 8,
) -> Verdict:
    """Mid-run, FLUSHALL the scenario's own Redis, then later kill -9 and restart it (data gone both times);
    workers reconnect, the sweeper re-enqueues what the ledger still owes."""
    phones = [h.phone(i) for i in range(recipients)]
    with stack(admin_url, rate_limits={"per_second": _pace(recipients, duration_s)}) as s:
        _start_workers(s, workers, threads)
        s.create_run(phones)
        time.sleep(duration_s / 3)
        client = s.redis.client()
        client.flushall()  # this scenario's private redis-server: no one else's keys live there
        client.close()
        flushed_at = h.status_counts(s.database_url)
        time.sleep(duration_s / 3)
        s.redis.restart(down_s=2.0)
        restarted_at = h.status_counts(s.database_url)
        s.settle()
        verdict = s.verdict(phones)
        report(
            f"flushall at {flushed_at.get('pending', 0)} pending, restart (2 s down) at "
            f"{restarted_at.get('pending', 0)} pending; {verdict.line()}"
        )
        return verdict


__all__ = ["redis_loss", "worker_kills"]
