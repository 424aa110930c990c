"""Inflight: count the live Dramatiq messages of each ledger row (and run fan-out) in Redis, so the sweeper can
tell a lost one.

A ``pending`` row with no live message (Redis flushed or restarted, a message dead-lettered after an outage, a
crash between the ledger insert and the enqueue) is owed but nobody will send it: the sweeper re-enqueues exactly
those. The same holds for a ``running`` campaign run whose fan-out is unfinished and has no live
``fan_out_run`` message (counted under the field ``run:ID``). Counting, rather than remembering "enqueued at",
keeps a large throttled backlog from being enqueued twice: its rows have live messages however long they wait.
The counter lives next to the queues, so losing Redis loses both together, which is the case it exists for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

INFLIGHT_LUA = resources.files(__package__).joinpath("inflight.lua").read_text(encoding="utf-8")

_batch = threading.local()


@contextmanager
def batched() -> Iterator[list[str]]:
    """Collect the fields enqueued in this thread instead of counting each one; the caller counts them at once."""
    ids: list[str] = []
    _batch.ids = ids
    try:
        yield ids
    finally:
        _batch.ids = None


class Inflight(Middleware):
    """Keep ``{namespace}:inflight`` (hash: field -> live messages) up to date for the tracked actors.

    Args:
        client: sync Redis client; None leaves the middleware inert (the placeholder broker).
        namespace: key prefix.
        actors: tracked actor name -> field prefix; the field is the prefix plus the actor's first argument
            (``""`` for the send actor, whose argument is a list of ledger row ids; ``"run:"`` for
            ``fan_out_run``, whose argument is a run id).
    """

    def __init__(self, *, client: Any = None, namespace: str = "hub", actors: Mapping[str, str] | None = None) -> None:
        self.logger = dramatiq.get_logger(__name__, type(self))
        self.client = client
        self.key = f"{namespace}:inflight"
        self.actors: dict[str, str] = dict(actors or {})
        self._script = client.register_script(INFLIGHT_LUA) if client is not None else None

    def adjust(self, deltas: list[tuple[str, int]], *, client: Any = None) -> None:
        """Apply ``(field, delta)`` pairs atomically (on ``client``, e.g. a pipeline, when given)."""
        if self._script is None or not deltas:
            return
        args = [str(x) for pair in deltas for x in pair]
        self._script(keys=[self.key], args=args, client=client or self.client)

    def live(self, ids: list[int], *, actor: str = "send_batch") -> set[int]:
        """The ids among ``ids`` (first arguments of ``actor``) that have at least one live Dramatiq message."""
        prefix = self.actors.get(actor)
        if self.client is None or not ids or prefix is None:
            return set()
        counts = self.client.hmget(self.key, [f"{prefix}{i}" for i in ids])
        return {i for i, n in zip(ids, counts, strict=True) if n is not None and int(n) > 0}

    def fields_of(self, message: Any) -> list[str]:
        """The counter fields of ``message``: one per id of its first argument (an id, or a list of ids for
        the send actor, so a queued batch keeps every one of its rows live); none when its actor is not tracked."""
        prefix = self.actors.get(message.actor_name)
        if prefix is None or not message.args:
            return []
        first = message.args[0]
        ids = first if isinstance(first, list | tuple) else [first]
        return [f"{prefix}{int(i)}" for i in ids]

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        fields = self.fields_of(message)
        if not fields:
            return
        ids = getattr(_batch, "ids", None)
        if ids is not None:
            ids.extend(fields)
        else:
            self.adjust([(field, 1) for field in fields])

    def after_ack(self, broker: Any, message: Any) -> None:
        fields = self.fields_of(message)
        if fields:
            self.adjust([(field, -1) for field in fields])

    def after_nack(self, broker: Any, message: Any) -> None:
        self.after_ack(broker, message)


def inflight_of(broker: dramatiq.Broker) -> Inflight | None:
    """The broker's :class:`Inflight` middleware, if it has one."""
    for middleware in broker.middleware:
        if isinstance(middleware, Inflight):
            return middleware
    return None


__all__ = ["Inflight", "batched", "inflight_of"]
