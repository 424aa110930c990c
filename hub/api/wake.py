"""Wake the journey advancer from the webhooks: a reply or a status that queued an entry's event goes on now, not at
the sweep's next tick. At most one wake per spacing; one asked for meanwhile goes at its end."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

__all__ = ["JourneyWake"]

log = logging.getLogger(__name__)

#: Seconds between two wakes from one process (a burst of status callbacks is one wake per spacing, not one each).
SPACING_S = 0.05


class JourneyWake:
    """Call on the app's loop once the change that queued an event committed; the wake goes in the background, so a
    webhook's answer never waits on Redis.

    Args:
        enqueue_advance: queues one advance of journey entries (synchronous: the broker client is).
        spacing_s: the least time between two wakes.
    """

    def __init__(
        self,
        enqueue_advance: Callable[[], object],
        spacing_s: float = SPACING_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._enqueue = enqueue_advance
        self._spacing_s = spacing_s
        self._clock = clock
        self._last = -math.inf
        self._trailing = False
        self._tasks: set[asyncio.Task[None]] = set()  # referenced until done (the loop keeps only weak ones)

    def __call__(self) -> None:
        now = self._clock()
        if now - self._last >= self._spacing_s:
            self._last = now
            self._spawn(self._send())
        elif not self._trailing:
            self._trailing = True
            self._spawn(self._trail(self._last + self._spacing_s - now))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _trail(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._trailing = False
        self._last = self._clock()
        await self._send()

    async def _send(self) -> None:
        try:
            await anyio.to_thread.run_sync(self._enqueue)
        except Exception as exc:  # the sweep's next tick advances the entry: the event is in the ledger
            log.warning("could not wake the journey advancer: %s", exc)
