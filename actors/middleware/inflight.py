"""Inflight: count the live Dramatiq messages of each ledger row (and run fan-out) in Redis, so the sweeper can
tell a lost one.

A ``pending`` row with no live message (Redis flushed or restarted, a message dead-lettered after an outage, a
crash between the ledger insert and the enqueue) is owed but nobody will send it: the sweeper re-enqueues exactly
those. The same holds for a ``running`` campaign run whose fan-out is unfinished and has no live
``fan_out_run`` message (counted under the field ``run:ID``). Counting, rather than remembering "enqueued at",
keeps a large throttled backlog from being enqueued twice: its rows have live messages however long they wait.
The rows of each run in live send messages are counted too (field ``rows:ID``): a run keeps only a window of its
rows queued (:mod:`hub.run_share`).
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

#: The field prefix of a run's count of rows in live send messages (the kwarg ``run_id`` of a tracked send actor).
RUN_ROWS = "rows:"


#: Seconds a run's queue cursor is kept after it last moved (a run idle this long is queued by the sweeper).
CURSOR_TTL_S = 7 * 24 * 3600

# Move a run's queue cursor from ARGV[1] (what the caller read) to ARGV[2]; 0 when another caller moved it first.
_ADVANCE_LUA = """
if (redis.call("GET", KEYS[1]) or "0") ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2], "EX", ARGV[3])
return 1
"""


def inflight_key(namespace: str) -> str:
    """The Redis hash of the live-message counters."""
    return f"{namespace}:inflight"


def cursor_key(namespace: str, run_id: int) -> str:
    """The Redis key of a run's queue cursor: the highest row id its window has queued (the run's batches queue the
    rows above it as they end)."""
    return f"{namespace}:queued-to:{run_id}"


async def advance_cursor(client: Any, namespace: str, run_id: int, read: int, to: int) -> bool:
    """Move run ``run_id``'s cursor from ``read`` to ``to`` (asyncio client); False when another batch moved it
    first (it queues those rows, not this one)."""
    moved = await client.eval(_ADVANCE_LUA, 1, cursor_key(namespace, run_id), str(read), str(to), str(CURSOR_TTL_S))
    return bool(moved)


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
        self.namespace = namespace
        self.key = inflight_key(namespace)
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

    def note_queued(self, run_id: int, ids: list[int]) -> None:
        """Move run ``run_id``'s cursor up to the highest of ``ids`` just queued (never down)."""
        if self.client is None or not ids:
            return
        key = cursor_key(self.namespace, run_id)
        if max(ids) > int(self.client.get(key) or 0):
            self.client.set(key, str(max(ids)), ex=CURSOR_TTL_S)

    def run_rows(self, run_id: int) -> int:
        """How many rows of run ``run_id`` live send messages hold."""
        if self.client is None:
            return 0
        return int(self.client.hget(self.key, f"{RUN_ROWS}{run_id}") or 0)

    def deltas_of(self, message: Any, sign: int = 1) -> list[tuple[str, int]]:
        """The counter changes of ``message`` (``sign`` 1 when it is enqueued, -1 when it is done): one per id of
        its first argument (an id, or a list of ids for the send actor, so a queued batch keeps every one of its
        rows live), and for a list with a ``run_id`` that run's rows; none when its actor is not tracked."""
        prefix = self.actors.get(message.actor_name)
        if prefix is None or not message.args:
            return []
        first = message.args[0]
        ids = first if isinstance(first, list | tuple) else [first]
        deltas = [(f"{prefix}{int(i)}", sign) for i in ids]
        run_id = (message.kwargs or {}).get("run_id")
        if isinstance(first, list | tuple) and run_id is not None:
            deltas.append((f"{RUN_ROWS}{int(run_id)}", sign * len(ids)))
        return deltas

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        deltas = self.deltas_of(message)
        if not deltas:
            return
        counted = getattr(_batch, "ids", None)
        if counted is not None:
            counted.extend(field for field, _ in deltas)
        else:
            self.adjust(deltas)

    def after_ack(self, broker: Any, message: Any) -> None:
        deltas = self.deltas_of(message, -1)
        if deltas:
            self.adjust(deltas)

    def after_nack(self, broker: Any, message: Any) -> None:
        self.after_ack(broker, message)


def inflight_of(broker: dramatiq.Broker) -> Inflight | None:
    """The broker's :class:`Inflight` middleware, if it has one."""
    for middleware in broker.middleware:
        if isinstance(middleware, Inflight):
            return middleware
    return None


__all__ = [
    "CURSOR_TTL_S",
    "RUN_ROWS",
    "Inflight",
    "advance_cursor",
    "batched",
    "cursor_key",
    "inflight_key",
    "inflight_of",
]
