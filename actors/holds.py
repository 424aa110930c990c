"""Whether a run holds its sends (paused, canceled, expired), from answers at most 250 ms old, per process.

``send_batch`` claims a wave of rows up to a second before their slots; a pause or cancel arriving in between
must still stop them. Checking the run before each HTTP call costs about one read per run per half
:data:`TTL_S` in each worker process (concurrent askers share the one read; it is renewed before it expires),
not one per row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from hub.status import RunState
from hub.store.records import RunRecord

if TYPE_CHECKING:
    from actors.runtime import Runtime

#: Seconds a run's state is trusted before it is read again: a pause or cancel stops sends within this.
TTL_S = 0.25
#: Cached runs kept before old entries are dropped (a worker sees few runs at once).
_MAX_KNOWN = 1024

Hold = Literal["paused", "canceled", "expired"]


def hold_of(run: RunRecord | None, now: datetime) -> Hold | None:
    """Why ``run`` holds its owed rows at ``now`` (pure), or None when they may be sent (an unknown run holds
    nothing: the claim already checked it)."""
    if run is None:
        return None
    if run.state is RunState.CANCELED:
        return "canceled"
    if run.state is RunState.PAUSED:
        return "paused"
    if run.expires_at is not None and run.expires_at <= now:
        return "expired"
    return None


class RunStates:
    """A per-process cache of runs, read through ``read`` at most once per run every ``ttl_s``.

    Args:
        read: ``run_id -> RunRecord | None`` (:func:`hub.store.queries.get_run`).
        ttl_s: how long an answer is trusted, from the moment its read began.
        clock: monotonic seconds, injected for tests.
    """

    def __init__(
        self,
        read: Callable[[int], Awaitable[RunRecord | None]],
        *,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: dict[int, tuple[float, RunRecord | None]] = {}
        self._reading: dict[int, asyncio.Future[RunRecord | None]] = {}
        self.reads = 0  # for tests and metrics

    async def hold(self, run_id: int, now: datetime) -> Hold | None:
        """Why run ``run_id`` holds its rows at ``now``; None when it does not.

        A cached "running" is trusted for ``ttl_s``; a cached hold is read again before it is believed, because a
        caller leaves its rows to whoever resumes the run, and a run resumed a moment ago has already queued them.
        """
        asked = self._clock()
        hold = hold_of(await self.get(run_id), now)
        if hold is None or self._known.get(run_id, (float("-inf"), None))[0] >= asked:
            return hold  # running, or read by this call
        return hold_of(await self.get(run_id, max_age_s=0.0), now)

    def known(self, run_id: int) -> RunRecord | None:
        """Run ``run_id`` as last read, whatever its age, without reading (None when never read or unknown): for
        the moment between a send's slot and its HTTP call, where nothing may wait."""
        known = self._known.get(run_id)
        return known[1] if known is not None else None

    async def get(self, run_id: int, *, max_age_s: float | None = None) -> RunRecord | None:
        """The run as read at most ``max_age_s`` (default ``ttl_s``) ago; concurrent callers on one loop share a
        read in progress.

        An answer past half its age limit is still returned, and a new read starts beside it: while sends keep
        asking, the cache is renewed before it expires, so a send whose slot is due does not wait for that read
        (a wait that made every send at its slot late for it at once).
        """
        max_age = self.ttl_s if max_age_s is None else max_age_s
        known = self._known.get(run_id)
        if known is not None:
            age = self._clock() - known[0]
            if age < max_age:
                if age >= max_age / 2:
                    self._reading_on_loop(run_id)
                return known[1]
        return await asyncio.shield(self._reading_on_loop(run_id))

    def _reading_on_loop(self, run_id: int) -> asyncio.Future[RunRecord | None]:
        """The read of ``run_id`` in progress on this loop, started when there is none."""
        loop = asyncio.get_running_loop()
        reading = self._reading.get(run_id)
        if reading is None or reading.get_loop() is not loop:
            reading = loop.create_task(self._fetch(run_id))
            reading.add_done_callback(_retrieve)  # a renewal nobody awaits may fail: the next asker reads again
            self._reading[run_id] = reading
        return reading

    async def _fetch(self, run_id: int) -> RunRecord | None:
        began = self._clock()
        self.reads += 1
        try:
            run = await self._read(run_id)
        finally:
            self._reading.pop(run_id, None)
        if len(self._known) >= _MAX_KNOWN:
            self._known.clear()
        self._known[run_id] = (began, run)
        return run


def _retrieve(read: asyncio.Future[RunRecord | None]) -> None:
    if not read.cancelled():
        read.exception()


def run_states(rt: Runtime) -> RunStates:
    """The process's cache of run states (on its runtime; tests build a fresh one)."""
    return rt.runs


__all__ = ["TTL_S", "Hold", "RunStates", "hold_of", "run_states"]
