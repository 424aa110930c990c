"""The pacer: send slots from the shared GCRA buckets (:mod:`hub.pace` decides), taken on the worker's event loop.

A batch reserves the slots of its next wave of rows before it claims them (:meth:`Pacer.reserve_wave`, at most a
second ahead), so the rows claimed but not yet sent, across every worker, are bounded by the slots the buckets
hold within the horizon. Each row then takes its slot after the reads its send depends on (:meth:`Pacer.acquire`):
a wave slot still usable, else a new one; once it is due, the send's last read (its run's state, cached) is made,
and the last check before the HTTP call is that it did not make the send too late for the slot. A slot's time is
counted from the moment it was asked for (the earliest the bucket can have granted it), so a Redis or database
stall turns slots into missed ones, never into a burst.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from actors.middleware.limits import AsyncSlots
from hub.pace import (
    HORIZON_MS,
    MAX_BLOCK_MS,
    MAX_LATE_MS,
    WAVE_LEAD_MS,
    WAVE_MAX_BLOCK_MS,
    Slot,
    buckets_for,
    decide,
    is_late,
)

#: Rows of one event loop holding a wave slot not yet spent, at most (:class:`WaveRoom`): four waves. A loop
#: starts a few thousand sends a second at most, and each row holds its place for about a wave's lead
#: (:data:`hub.pace.WAVE_LEAD_MS`) and its reads, so this bounds a process near 4,000 sends a second; eight
#: batches' waves at once (``hub worker -t 8``) woke rows tens of ms late for their slots on a loop short of CPU.
WAVE_ROOM_ROWS = 400

# Longest single sleep while polling for a slot beyond the horizon, ms: a stopping worker is not held up.
_MAX_NAP_MS = 1000.0

#: ``(bucket, per_second, lead_ms, count) -> slots``: the granted ones in order, then one refused answer when fewer
#: than ``count`` fit (:meth:`AsyncSlots.reserve_many`).
Reserve = Callable[[str, float, float, int], Awaitable[list[Slot]]]


class Taken(NamedTuple):
    """A bucket's next slot (monotonic seconds), or None with the delay (ms) after which to try again."""

    at: float | None
    retry_ms: float


class SlotPool:
    """The slots a wave reserved (monotonic seconds), handed to its rows in the order they become ready to send.

    A row that is ready takes the earliest slot it has not already missed; slots missed by more than
    ``max_late_ms`` are dropped (they only lower their window).
    """

    def __init__(self, slots: list[float], *, max_late_ms: float = MAX_LATE_MS) -> None:
        self._slots = sorted(slots)
        self.max_late_ms = max_late_ms
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._slots)

    def take(self, now_s: float, *, late_ok: bool = False) -> float | None:
        """The earliest slot still usable at ``now_s``, removed from the pool; None when none is left.

        ``late_ok``: the slots are a run's own (not the sender's), which may be used late (see :meth:`Pacer.acquire`).
        """
        while self._slots:
            slot = self._slots.pop(0)
            if late_ok or not is_late(now_s, slot, max_late_ms=self.max_late_ms):
                return slot
            self.dropped += 1
        return None


class WaveRoom:
    """The rows of one event loop that hold a wave's send slot not yet spent (reserved, their HTTP call not
    started): a wave reserves only as many slots as there is room for.

    A loop with more such rows than it can start sends for as their slots come due wakes them late for their
    slots, and a late slot of the sender's bucket is dropped and taken again: a Redis call and a slot of the
    shared bucket that no send used, for a loop already short of CPU. Fewer rows waiting keeps each near its
    slot; the cap is untouched (a slot not reserved is not sent on).

    Args:
        size: rows at most (a wave that finds the room full waits until one of them sends or gives up).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def take(self, want: int) -> int:
        """Hold ``want`` places (at most the room's size) once they are free, waiting in turn; how many were taken.

        A whole wave at once: taking the places as they free one by one would split the next waves into many
        small ones, each a reservation, a claim and a contact read.
        """
        want = max(1, min(want, self.size))
        if self._waiters or self.held + want > self.size:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append((want, waiter))
            try:
                await waiter  # given its places by give()
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self.give(want)  # granted as it was canceled
                elif (want, waiter) in self._waiters:
                    self._waiters.remove((want, waiter))
                    self._wake()  # the waiters behind it may fit now
                raise
            return want
        self.held += want
        return want

    def give(self, count: int = 1) -> None:
        """Give back ``count`` places (their rows sent, gave up, or were never claimed)."""
        if count <= 0:
            return
        self.held -= count
        self._wake()

    def _wake(self) -> None:
        """Hand the free places to the waiters in turn, as far as the first one's fit."""
        while self._waiters and self.held + self._waiters[0][0] <= self.size:
            want, waiter = self._waiters.popleft()
            if not waiter.done():
                self.held += want
                waiter.set_result(None)


@dataclass
class Pacer:
    """Takes send slots on the worker's event loop.

    Args:
        reserve: ``(bucket, per_second, lead_ms, count) -> slots`` (:meth:`AsyncSlots.reserve_many` with the
            horizon bound).
        per_second: the sender cap, messages per second.
        clock: monotonic seconds, injected for tests.
        sleep: ``asyncio.sleep``, injected for tests.
        stopping: True once the worker stops (a waiting send then gives its row back).
        on_wait: called with the seconds a send waited for its slot (metrics).
        on_miss: called for each slot dropped because the send woke too late for it (metrics).
    """

    reserve: Reserve
    per_second: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_late_ms: float = MAX_LATE_MS
    horizon_ms: float = HORIZON_MS
    max_block_ms: float = MAX_BLOCK_MS
    stopping: Callable[[], bool] = lambda: False
    on_wait: Callable[[float], None] = lambda _seconds: None
    on_miss: Callable[[], None] = lambda: None
    missed: int = field(default=0)  # slots dropped because the send woke too late, for tests and metrics

    @classmethod
    def on(
        cls,
        slots: AsyncSlots,
        per_second: float,
        *,
        stopping: Callable[[], bool],
        on_wait: Callable[[float], None] = lambda _seconds: None,
        on_miss: Callable[[], None] = lambda: None,
    ) -> Pacer:
        """A pacer on the shared buckets of ``slots`` that gives up once ``stopping()`` holds."""

        def reserve(bucket: str, rate: float, lead_ms: float, count: int) -> Awaitable[list[Slot]]:
            return slots.reserve_many(bucket, rate, count, horizon_ms=HORIZON_MS, lead_ms=lead_ms)

        return cls(reserve=reserve, per_second=per_second, stopping=stopping, on_wait=on_wait, on_miss=on_miss)

    async def next_slot(
        self, bucket: str, rate: float, *, max_block_ms: float, lead_ms: float = 0.0, strict: bool = True
    ) -> Taken:
        """The next slot of ``bucket``, polling while it lies beyond the horizon for up to ``max_block_ms``.

        The one loop around :func:`hub.pace.decide`. The slot is dated from the moment it was asked for: the
        bucket granted it no earlier, so an answer delayed by a stall can only make the send late, never early.
        """
        began = self.clock()
        while True:
            if self.stopping():
                return Taken(None, 1.0)
            asked = self.clock()
            (slot,) = await self.reserve(bucket, rate, lead_ms, 1)
            jitter = 0.0 if slot.granted else random.uniform(0, self.horizon_ms / 2)
            decision = decide(
                slot,
                blocked_ms=(asked - began) * 1000,
                horizon_ms=self.horizon_ms,
                max_block_ms=max_block_ms,
                jitter_ms=jitter,
            )
            if decision.action == "go":
                if not (strict and self.uncertain(asked, slot)):
                    return Taken(_sent(asked, slot) + slot.wait_ms / 1000, 0.0)
                # The slot's time is not known closely enough to keep the cap: it goes unused. A bucket that keeps
                # answering that slowly is not asked again and again past the blocking bound.
                if (self.clock() - began) * 1000 >= max_block_ms:
                    return Taken(None, self.horizon_ms)
                continue
            if decision.action == "requeue":
                return Taken(None, max(decision.wait_ms, 1.0))
            await self.sleep(min(decision.wait_ms, _MAX_NAP_MS) / 1000)

    def uncertain(self, asked: float, slot: Slot) -> bool:
        """Whether a reservation took too long to answer for its slot's time to be trusted: the bucket granted it
        somewhere between the request and its answer, so the slot may lie up to that long after the time assumed.
        Measured by the bucket's own clock when the answer says so (:class:`actors.middleware.limits.ClockOffset`;
        ``asked`` and now otherwise): how late this caller resumed on a busy loop is the lateness check's
        business, not the slot's. Counted as a missed slot."""
        sent = _sent(asked, slot)
        answered = slot.now_until if slot.now_until is not None else self.clock()
        if (answered - sent) * 1000 <= self.max_late_ms / 2:
            return False
        self.missed += 1
        self.on_miss()
        return True

    async def reserve_wave(self, run_id: int | None, run_rate: float | None, want: int) -> Taken | list[float]:
        """Reserve up to ``want`` slots of a send's first bucket that start within the horizon.

        Each slot starts at least :data:`hub.pace.WAVE_LEAD_MS` ahead (the rows are claimed and read first). The
        first slot is waited for (:meth:`next_slot`, up to :data:`hub.pace.WAVE_MAX_BLOCK_MS`); then as many
        more as the bucket can still fit within the horizon at its rate are asked for at once (all of a batch at
        high caps), again until one is refused or ``want`` is met. A refused reservation takes nothing, so asking
        for more than fits wastes no slot.

        Returns:
            The reserved slots as monotonic seconds, ascending; or, when none came in time, the :class:`Taken`
            that says after how long to try again.
        """
        buckets = buckets_for(run_id, run_rate, self.per_second)
        bucket, rate = buckets[0]
        strict = len(buckets) == 1  # the sender's own bucket (a run's may be used late, see acquire)
        first = await self.next_slot(bucket, rate, max_block_ms=WAVE_MAX_BLOCK_MS, lead_ms=WAVE_LEAD_MS, strict=strict)
        if first.at is None:
            return first
        slots = [first.at]
        while len(slots) < want:
            room = int((self.horizon_ms - (slots[-1] - self.clock()) * 1000) * rate / 1000)
            asked_for = min(want - len(slots), max(1, room))
            asked = self.clock()
            answers = await self.reserve(bucket, rate, WAVE_LEAD_MS, asked_for)
            granted = [answer for answer in answers if answer.granted]
            if strict and granted and self.uncertain(asked, granted[0]):  # one script run: one "now" for all
                break  # slots whose time is uncertain go unused; the rows take theirs one by one
            slots.extend(_sent(asked, answer) + answer.wait_ms / 1000 for answer in granted)
            if len(granted) < asked_for:
                break
            slots.sort()
        return sorted(slots)

    async def acquire(
        self,
        run_id: int | None,
        run_rate: float | None,
        *,
        first_slot_at: float | None = None,
        check: Callable[[], Awaitable[bool]] | None = None,
    ) -> float | None:
        """Wait until this send may go now: a slot of each of its buckets, woken for in time.

        Args:
            run_id: the send's run (its own bucket when ``run_rate`` is below the sender cap).
            run_rate: the run's cap, messages per second.
            first_slot_at: a slot of the first bucket already reserved for this send (from :meth:`reserve_wave`);
                used when the send wakes for it in time, else a new one is taken.
            check: the reads the send depends on, made once the last slot is due (the run's state, cached); False
                when they hold the send. Lateness is checked after them: a slot missed while they stalled is
                dropped and a new one taken, so nothing awaited stands between the check and the HTTP call.

        Returns:
            0 when the send may go now; None when ``check`` held it; else the ms after which to try again (no
            slot came within ``max_block_ms``, or the worker is stopping; the caller gives the row back).
        """
        began = self.clock()
        buckets = buckets_for(run_id, run_rate, self.per_second)
        for index, (bucket, rate) in enumerate(buckets):
            slot_at = first_slot_at if index == 0 else None
            while True:
                last = index == len(buckets) - 1
                if slot_at is None:
                    spent_ms = (self.clock() - began) * 1000
                    budget_ms = max(0.0, self.max_block_ms - spent_ms)
                    taken = await self.next_slot(bucket, rate, max_block_ms=budget_ms, strict=last)
                    if taken.at is None:
                        return taken.retry_ms
                    slot_at = taken.at
                now = self.clock()
                if slot_at > now:
                    await self.sleep(slot_at - now)
                if self.stopping():  # the slot goes unused: it only lowers its window
                    return 1.0
                if last and check is not None and not await check():
                    return None
                # Only the sender's slot must not be spent late (its 1-s windows are the cap Twilio holds us to); a
                # run's own slot used late is still one send per slot of the run, and a new one may be far away.
                if not last or not is_late(self.clock(), slot_at, max_late_ms=self.max_late_ms):
                    break
                self.missed += 1
                self.on_miss()
                slot_at = None
                if (self.clock() - began) * 1000 > self.max_block_ms:
                    return self.horizon_ms
        self.on_wait(self.clock() - began)
        return 0.0


def _sent(asked: float, slot: Slot) -> float:
    """The earliest time the bucket can have granted ``slot`` at: the time the answer carries, else when the
    caller asked."""
    return slot.now_from if slot.now_from is not None else asked


__all__ = ["WAVE_ROOM_ROWS", "Pacer", "SlotPool", "Taken", "WaveRoom"]
