"""A no-op Dramatiq actor on the hub's broker settings: the ceiling every benchmark states its figures against.

``python -m dramatiq noop_worker -p P -t T`` (with ``bench/`` on ``PYTHONPATH`` and ``BENCH_NOOP_REDIS`` /
``BENCH_NOOP_NAMESPACE`` set) runs it; the measuring process calls :func:`setup` itself to enqueue.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.middleware import AsyncIO

from actors.broker import HubRedisBroker

QUEUE = "send"


def setup(redis_url: str, namespace: str) -> dramatiq.Actor[Any, Any]:
    """The broker (HubRedisBroker + AsyncIO, like the hub's send actor) and the async no-op actor on it."""
    broker = HubRedisBroker(url=redis_url, namespace=namespace)
    broker.add_middleware(AsyncIO())
    dramatiq.set_broker(broker)

    @dramatiq.actor(actor_name="noop", queue_name=QUEUE, broker=broker)
    async def noop(message_id: int) -> None:
        return None

    return noop


if os.environ.get("BENCH_NOOP_REDIS"):
    noop = setup(os.environ["BENCH_NOOP_REDIS"], os.environ.get("BENCH_NOOP_NAMESPACE", "noop"))
    broker = noop.broker
