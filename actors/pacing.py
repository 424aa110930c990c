"""Pacing inside ``send_batch``: slots reserved before a wave of rows is claimed, each row sent at its slot.

The throttle middleware paces ``send_message`` before the claim, so the claim, the contact read and the recipient
window ran between the slot and the HTTP call; on a starved worker that took hundreds of ms and sends whose slots
fell in one second reached Twilio in the next, on top of that second's own (bench/RESULTS.md, issue 8). A batch
instead reserves the slots of its next rows first (:meth:`Pacer.reserve_wave`: the same GCRA buckets, shared with
the throttle, at most :data:`HORIZON_MS` ahead), claims exactly that many rows, and sends each at one of those
slots (:class:`SlotPool`). So the rows claimed but not yet sent, across every worker, are bounded by the slots the
bucket holds within the horizon (``per_second`` x 1 s), and a killed worker strands no more than that.

A send that wakes more than :data:`MAX_LATE_MS` after its slot drops it and takes a new one instead of sending
late: lateness then only lowers a 1-s window, never raises it above the cap.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from actors.middleware.limits import AsyncSlots, Slot
from actors.middleware.throttle import decide

#: A send that wakes this long after its slot (ms) does not use it: it takes a new one. The goal is every 1-s
#: window within 5 % of the cap: sends up to 40 ms late can carry at most 4 % of a second's slots into the next
#: window, at any cap, while a stricter bound drops more slots on a busy machine, and each dropped slot is a send
#: missing from its window (20 ms gave windows of 73-75 at 80/s under load 2-7; bench/RESULTS.md).
MAX_LATE_MS = 40.0
#: How far ahead a slot may be reserved, ms (as the throttle).
HORIZON_MS = 1000.0
#: Longest one send waits for its slots, ms; past it the row is given back (a run capped at a few per minute).
#: Longer than the throttle's: a batch's sends wait on the event loop, not in a thread each.
MAX_BLOCK_MS = 30_000.0

# Longest single sleep while polling for a slot beyond the horizon, ms.
_MAX_NAP_MS = 1000.0

Reserve = Callable[[str, float], Awaitable[Slot]]


def buckets_for(run_id: int | None, run_rate: float | None, per_second: float) -> list[tuple[str, float]]:
    """The buckets one send takes, in order (pure): the run's own cap when below the sender's, then the sender's."""
    buckets: list[tuple[str, float]] = []
    if run_rate and run_rate < per_second and run_id is not None:
        buckets.append((f"run:{run_id}", float(run_rate)))
    buckets.append(("sender", per_second))
    return buckets


def is_late(woke_s: float, slot_s: float, *, max_late_ms: float = MAX_LATE_MS) -> bool:
    """Whether a send that woke at ``woke_s`` missed its slot at ``slot_s`` (both in seconds on one clock)."""
    return (woke_s - slot_s) * 1000 > max_late_ms


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

    def take(self, now_s: float) -> float | None:
        """The earliest slot still usable at ``now_s``, removed from the pool; None when none is left."""
        while self._slots:
            slot = self._slots.pop(0)
            if not is_late(now_s, slot, max_late_ms=self.max_late_ms):
                return slot
            self.dropped += 1
        return None


@dataclass
class Pacer:
    """Takes the slots of one send at a time, on the worker's event loop.

    Args:
        reserve: ``(bucket, per_second) -> Slot`` (:meth:`AsyncSlots.reserve` with the horizon bound).
        per_second: the sender cap, messages per second.
        clock: monotonic seconds, injected for tests.
        sleep: ``asyncio.sleep``, injected for tests.
        max_late_ms: see :data:`MAX_LATE_MS`.
        horizon_ms: see :data:`HORIZON_MS`.
        max_block_ms: see :data:`MAX_BLOCK_MS`.
    """

    reserve: Reserve
    per_second: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_late_ms: float = MAX_LATE_MS
    horizon_ms: float = HORIZON_MS
    max_block_ms: float = MAX_BLOCK_MS
    stopping: Callable[[], bool] = lambda: False
    missed: int = field(default=0)  # slots dropped because the send woke too late, for tests and metrics
    #: When :meth:`reserve_wave` found no slot: ms until the first bucket's next slot (beyond the horizon).
    beyond_ms: float = field(default=0.0)

    @classmethod
    def on(cls, slots: AsyncSlots, per_second: float, *, stopping: Callable[[], bool]) -> Pacer:
        """A pacer on the shared buckets of ``slots`` that gives up once ``stopping()`` holds."""

        def reserve(bucket: str, rate: float) -> Awaitable[Slot]:
            return slots.reserve(bucket, rate, horizon_ms=HORIZON_MS)

        return cls(reserve=reserve, per_second=per_second, stopping=stopping)

    async def reserve_wave(self, run_id: int | None, run_rate: float | None, want: int) -> list[float]:
        """Reserve up to ``want`` slots of a send's first bucket that start within the horizon.

        One probe first; when it is granted, as many more as the bucket can still fit within the horizon at its
        rate are asked for at once (all of a batch at high caps), again until one is refused or ``want`` is met.
        A refused reservation takes nothing, so asking for more than fits wastes no slot.

        Returns:
            The reserved slots as monotonic seconds, ascending; empty when the bucket has none within the horizon
            (then :attr:`beyond_ms` says how far its next slot is).
        """
        bucket, rate = buckets_for(run_id, run_rate, self.per_second)[0]
        probe = await self.reserve(bucket, rate)
        if not probe.granted:
            self.beyond_ms = probe.wait_ms
            return []
        slots = [self.clock() + probe.wait_ms / 1000]
        latest_ms = probe.wait_ms
        while len(slots) < want:
            room = int((self.horizon_ms - latest_ms) * rate / 1000)
            asked = min(want - len(slots), max(1, room))
            answers = await asyncio.gather(*(self.reserve(bucket, rate) for _ in range(asked)))
            answered = self.clock()
            granted = [answer.wait_ms for answer in answers if answer.granted]
            slots.extend(answered + wait_ms / 1000 for wait_ms in granted)
            if len(granted) < asked:
                break
            latest_ms = max(granted)
        return sorted(slots)

    async def acquire(self, run_id: int | None, run_rate: float | None, *, first_slot_at: float | None = None) -> float:
        """Wait until this send may go now.

        Args:
            run_id: the send's run (its own bucket when ``run_rate`` is below the sender cap).
            run_rate: the run's cap, messages per second.
            first_slot_at: a slot of the first bucket already reserved for this send (monotonic seconds, from
                :meth:`reserve_wave`); used when the send wakes for it in time, else a new one is taken.

        Returns:
            0 when the send may go now; else the ms after which to try again (no slot came within
            ``max_block_ms``, or the worker is stopping; the caller gives the row back).
        """
        blocked_ms = 0.0
        for index, (bucket, rate) in enumerate(buckets_for(run_id, run_rate, self.per_second)):
            reserved = first_slot_at if index == 0 else None
            while True:
                if self.stopping():
                    return 1.0
                if reserved is not None:
                    answered, slot_at, reserved = self.clock(), reserved, None
                else:
                    slot = await self.reserve(bucket, rate)
                    answered = self.clock()
                    jitter = 0.0 if slot.granted else random.uniform(0, self.horizon_ms / 2)
                    decision = decide(
                        slot,
                        blocked_ms=blocked_ms,
                        horizon_ms=self.horizon_ms,
                        max_block_ms=self.max_block_ms,
                        jitter_ms=jitter,
                    )
                    if decision.action == "requeue":
                        return max(decision.wait_ms, 1.0)
                    if decision.action == "poll":
                        nap_ms = min(decision.wait_ms, _MAX_NAP_MS)  # short naps: a stopping worker is not held up
                        await self.sleep(nap_ms / 1000)
                        blocked_ms += nap_ms
                        continue
                    slot_at = answered + slot.wait_ms / 1000
                if slot_at > answered:
                    await self.sleep(slot_at - answered)
                if self.stopping():  # the slot goes unused: it only lowers its window
                    return 1.0
                woke = self.clock()
                if not is_late(woke, slot_at, max_late_ms=self.max_late_ms):
                    break
                self.missed += 1
                blocked_ms += max(0.0, woke - answered) * 1000
                if blocked_ms > self.max_block_ms:
                    return self.horizon_ms
        return 0.0


__all__ = ["HORIZON_MS", "MAX_BLOCK_MS", "MAX_LATE_MS", "Pacer", "SlotPool", "buckets_for", "is_late"]
