"""Inflight: count the live Dramatiq messages of each ledger row in Redis, so the sweeper can tell a lost one.

A ``pending`` row with no live message (Redis flushed or restarted, a message dead-lettered after an outage, a
crash between the ledger insert and the enqueue) is owed but nobody will send it: the sweeper re-enqueues exactly
those. Counting, rather than remembering "enqueued at", keeps a large throttled backlog from being enqueued twice:
its rows have live messages however long they wait. The counter lives next to the queues, so losing Redis loses
both together, which is the case it exists for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

INFLIGHT_LUA = resources.files(__package__).joinpath("inflight.lua").read_text(encoding="utf-8")

_batch = threading.local()


@contextmanager
def batched() -> Iterator[list[int]]:
    """Collect the ids enqueued in this thread instead of counting each one; the caller counts them at once."""
    ids: list[int] = []
    _batch.ids = ids
    try:
        yield ids
    finally:
        _batch.ids = None


class Inflight(Middleware):
    """Keep ``{namespace}:inflight`` (hash: message id -> live messages) up to date for the tracked actors.

    Args:
        client: sync Redis client; None leaves the middleware inert (the placeholder broker).
        namespace: key prefix.
        actors: names of the actors whose first argument is a ledger row id.
    """

    def __init__(self, *, client: Any = None, namespace: str = "hub", actors: frozenset[str] = frozenset()) -> None:
        self.logger = dramatiq.get_logger(__name__, type(self))
        self.client = client
        self.key = f"{namespace}:inflight"
        self.actors = actors
        self._script = client.register_script(INFLIGHT_LUA) if client is not None else None

    def adjust(self, deltas: list[tuple[int, int]], *, client: Any = None) -> None:
        """Apply ``(message_id, delta)`` pairs atomically (on ``client``, e.g. a pipeline, when given)."""
        if self._script is None or not deltas:
            return
        args = [str(x) for pair in deltas for x in pair]
        self._script(keys=[self.key], args=args, client=client or self.client)

    def live(self, message_ids: list[int]) -> set[int]:
        """The ids among ``message_ids`` that have at least one live Dramatiq message."""
        if self.client is None or not message_ids:
            return set()
        counts = self.client.hmget(self.key, [str(i) for i in message_ids])
        return {i for i, n in zip(message_ids, counts, strict=True) if n is not None and int(n) > 0}

    def _row_id(self, message: Any) -> int | None:
        if message.actor_name not in self.actors or not message.args:
            return None
        return int(message.args[0])

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        row = self._row_id(message)
        if row is None:
            return
        ids = getattr(_batch, "ids", None)
        if ids is not None:
            ids.append(row)
        else:
            self.adjust([(row, 1)])

    def after_ack(self, broker: Any, message: Any) -> None:
        row = self._row_id(message)
        if row is not None:
            self.adjust([(row, -1)])

    def after_nack(self, broker: Any, message: Any) -> None:
        self.after_ack(broker, message)


def inflight_of(broker: dramatiq.Broker) -> Inflight | None:
    """The broker's :class:`Inflight` middleware, if it has one."""
    for middleware in broker.middleware:
        if isinstance(middleware, Inflight):
            return middleware
    return None


__all__ = ["Inflight", "batched", "inflight_of"]
