"""Coalescing: calls made close together on one event loop run as one batch, each caller awaiting its own answer.

The hot paths write one row per call (a send's submission, a status callback), and a database round trip costs
more than the row: gathering the calls of the same few milliseconds into one multi-row statement divides that
cost by the batch size while every caller still returns only once its own row is written ("durably applied" and
"record the sid before acknowledging" keep holding). The per-row code stays as it is; only the store function it
calls is coalesced.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Items per batch at most; a batch this full is flushed at once.
MAX_ITEMS = 500
#: How long the first item of a batch waits for company, seconds (0: only calls of the same loop iteration).
MAX_DELAY_S = 0.002


@dataclass
class _Pending(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    futures: list[asyncio.Future[R]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class Coalescer(Generic[T, R]):
    """Runs ``flush(items)`` for the items submitted within ``max_delay_s`` of each other on one event loop.

    Args:
        flush: writes a batch; returns one result per item, in order. A result that is an exception is raised to
            that item's caller alone; an exception raised by ``flush`` reaches every caller of the batch.
        max_items: see :data:`MAX_ITEMS`.
        max_delay_s: see :data:`MAX_DELAY_S`.

    A coalescer may be shared by several event loops (a worker's threads each run one): each loop batches its
    own calls. A caller that is cancelled while waiting does not take its item out of the batch: the write may
    still happen, as it could have with an uncoalesced call cancelled mid-statement.
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]],
        *,
        max_items: int = MAX_ITEMS,
        max_delay_s: float = MAX_DELAY_S,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._flush = flush
        self.max_items = max_items
        self.max_delay_s = max_delay_s
        self._pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pending[T, R]] = (
            weakref.WeakKeyDictionary()
        )
        self._tasks: set[asyncio.Task[None]] = set()
        #: Batches flushed and items written, for tests and metrics.
        self.batches = 0
        self.items = 0

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = _Pending()
        future: asyncio.Future[R] = loop.create_future()
        pending.items.append(item)
        pending.futures.append(future)
        if len(pending.items) >= self.max_items:
            self._start_flush(loop)
        elif pending.timer is None:
            pending.timer = loop.call_later(self.max_delay_s, self._start_flush, loop)
        return await future

    async def drain(self) -> None:
        """Flush what this loop has gathered and wait for every flush in flight (for a clean stop)."""
        loop = asyncio.get_running_loop()
        if loop in self._pending:
            self._start_flush(loop)
        while running := [task for task in self._tasks if task.get_loop() is loop]:
            await asyncio.gather(*running, return_exceptions=True)

    def _start_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._pending.pop(loop, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        task = loop.create_task(self._run(pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, pending: _Pending[T, R]) -> None:
        try:
            results = await self._flush(pending.items)
            if len(results) != len(pending.items):
                raise RuntimeError(f"coalesced flush returned {len(results)} results for {len(pending.items)} items")
        except BaseException as exc:
            for future in pending.futures:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        self.items += len(pending.items)
        for future, result in zip(pending.futures, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


__all__ = ["MAX_DELAY_S", "MAX_ITEMS", "Coalescer"]
