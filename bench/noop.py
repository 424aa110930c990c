"""Measure the no-op actor (:mod:`noop_worker`) with given processes x threads: messages/s through Dramatiq alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from bench_common import BENCH, PYTHON, Children, steady_rate


@dataclass(frozen=True)
class NoopResult:
    processes: int
    threads: int
    messages: int
    seconds: float  # from the first enqueue to the last ack
    steady_per_s: float  # between 10 % and 90 % acked

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"no-op actor, {self.processes} x {self.threads}: {self.messages:,} messages in {self.seconds:.2f} s = "
            f"{self.per_s:,.0f}/s overall, {self.steady_per_s:,.0f}/s steady"
        )


def measure_noop(redis_url: str, *, processes: int, threads: int, messages: int, logs: Path) -> NoopResult:
    """Start ``dramatiq noop_worker``, enqueue ``messages`` pipelined, time until every one is acked."""
    import noop_worker

    from actors.enqueue import enqueue_many

    namespace = f"noop{int(time.time())}"
    actor = noop_worker.setup(redis_url, namespace)
    client = redis.Redis.from_url(redis_url)
    unacked = f"{namespace}:{noop_worker.QUEUE}.msgs"
    env = {
        "PYTHONPATH": str(BENCH),
        "BENCH_NOOP_REDIS": redis_url,
        "BENCH_NOOP_NAMESPACE": namespace,
        "dramatiq_worker_timeout": "100",  # as hub worker sets it
    }
    command = [str(PYTHON), "-m", "dramatiq", "noop_worker", "-p", str(processes), "-t", str(threads)]
    with Children(logs) as children:
        children.start("noop-worker", command, env=env)
        _wait_drained(client, unacked, children, warm=lambda: actor.send(-1))
        started = time.perf_counter()
        series: list[tuple[float, int]] = []
        enqueue_many(actor, range(messages), options={})
        while True:
            left = int(client.hlen(unacked))
            now = time.perf_counter() - started
            series.append((now, messages - left))
            if left == 0:
                break
            children.check()
            time.sleep(0.02)
    for key in client.scan_iter(match=f"{namespace}:*"):
        client.delete(key)
    client.close()
    return NoopResult(processes, threads, messages, series[-1][0], steady_rate(series, messages))


def _wait_drained(
    client: redis.Redis, key: str, children: Children, warm: Callable[[], object], timeout_s: float = 60
) -> None:
    """Send one message and wait until it is acked: the workers are up and consuming."""
    warm()
    deadline = time.monotonic() + timeout_s
    while client.hlen(key):
        if time.monotonic() > deadline:
            raise RuntimeError("no-op workers did not start")
        children.check()
        time.sleep(0.05)
