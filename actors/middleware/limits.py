"""Rate-limit state in Redis: shared send-slot buckets (GCRA) and the per-recipient window, as atomic Lua scripts.

One class per limiter, each on the worker loop's asyncio client. Each script takes n items in one call
(``gcra.lua``, ``window.lua``): the calls of one loop made close together (a batch's sends reach their window
check and their slot at the same moment) run as one script call, each caller still getting its own answer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from importlib import resources
from typing import Any

from hub.coalesce import Coalescer
from hub.pace import THROTTLE_STEP_S, Slot, Throttle, after_rate_limit, fair_share, throttled_pace

#: How long the first call waits for company before its script runs, seconds. The calls worth gathering come
#: from the same loop iteration (a batch's sends resuming together), so a short wait suffices; it only delays a
#: send by that much, and a slot's wait is counted from the script's run, not from the call.
COALESCE_DELAY_S = 0.0005
#: Items per script call at most (a bound on how long one script holds Redis).
COALESCE_MAX_ITEMS = 500
#: Seconds a process trusts the sender's throttle as last read (every worker sees a 429 within this).
THROTTLE_TTL_S = 0.25
#: A run counts as sending while one of its waves was seen within this many seconds (its share then goes back
#: to the others this long after its last).
ACTIVE_S = 2.0
#: Seconds a process trusts the runs sending as last read, and between two records of one run's activity.
SHARES_TTL_S = 0.5


def _script(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


GCRA_LUA = _script("gcra.lua")
WINDOW_LUA = _script("window.lua")

# One reservation or window check: (key, script args).
_Item = tuple[str, list[str]]


def bucket_key(namespace: str, name: str) -> str:
    """The Redis key of send-slot bucket ``name`` (``sender`` or ``run:42``)."""
    return f"{namespace}:throttle:{name}"


def throttle_key(namespace: str) -> str:
    """The Redis key of the sender's throttle (the pace a rate limit left, and when)."""
    return f"{namespace}:throttle:sender:pace"


def recipient_key(namespace: str, phone: str) -> str:
    """The Redis key of ``phone``'s per-recipient window."""
    return f"{namespace}:recipient:{phone}"


def _gcra_item(key: str, per_second: float, horizon_ms: float, now_us: int | None, lead_ms: float, count: int) -> _Item:
    interval_us = 1_000_000.0 / per_second
    now = "" if now_us is None else str(now_us)
    return key, [f"{interval_us:.0f}", f"{horizon_ms * 1000:.0f}", now, f"{lead_ms * 1000:.0f}", str(count)]


def _window_item(key: str, message_id: int, max_sends: int, window_s: float, now_ms: int | None) -> _Item:
    return key, [str(int(window_s * 1000)), str(max_sends), str(message_id), "" if now_ms is None else str(now_ms)]


#: Seconds of recent calls the clock offset is narrowed with (short, so the two clocks' drift stays far below a
#: millisecond within it), and how many of them at most.
OFFSET_WINDOW_S = 5.0
OFFSET_WINDOW_CALLS = 64


class ClockOffset:
    """Where the bucket's clock (Redis ``TIME``) stands against the caller's monotonic clock, from recent calls.

    Each answer carries the "now" the script used, read somewhere between the call's send and its answer on the
    caller's clock: the offset (bucket minus caller) lies in ``[now - answered, now - sent]``. The intersection of
    the recent such intervals (:data:`OFFSET_WINDOW_S`, :data:`OFFSET_WINDOW_CALLS`) is as narrow as the quickest
    call among them, so a slot is placed on the caller's clock to within about a Redis round trip even when this
    answer was read late on a busy event loop. The intersection always includes the current call's own interval
    (which surely holds the offset); an empty one (the bucket's clock stepped) starts over from that call alone.
    """

    def __init__(self, *, window_s: float = OFFSET_WINDOW_S, calls: int = OFFSET_WINDOW_CALLS) -> None:
        self.window_s = window_s
        self._seen: deque[tuple[float, float, float]] = deque(maxlen=calls)  # (answered, low, high)

    def place(self, bucket_now_s: float, sent: float, answered: float) -> tuple[float, float]:
        """The interval of the caller's clock in which the bucket read ``bucket_now_s`` for a call sent at ``sent``
        and answered at ``answered`` (caller's clock, seconds)."""
        low, high = bucket_now_s - answered, bucket_now_s - sent
        seen = self._seen
        while seen and seen[0][0] < answered - self.window_s:
            seen.popleft()
        seen.append((answered, low, high))
        best_low = max(entry[1] for entry in seen)
        best_high = min(entry[2] for entry in seen)
        if best_low > best_high:  # inconsistent with the recent calls: trust only this one from now on
            seen.clear()
            seen.append((answered, low, high))
            best_low, best_high = low, high
        return bucket_now_s - best_high, bucket_now_s - best_low


def _slots(
    items: list[_Item], answers: list[Any], offset: ClockOffset, sent: float, answered: float
) -> list[list[Slot]]:
    """Each item's slots: the granted ones in order, then one refused answer when fewer than it asked for fit."""
    placed: dict[int, tuple[float, float]] = {}  # one "now" per script run (unless the caller gave its own)
    out = []
    for (_, args), (granted, wait_us, now_us) in zip(items, answers, strict=True):
        when = placed.get(now_us)
        if when is None:
            when = placed[now_us] = offset.place(int(now_us) / 1_000_000, sent, answered)
        interval_ms, count, wait_ms = int(args[0]) / 1000, int(args[4]), int(wait_us) / 1000
        slots = [Slot(True, wait_ms + k * interval_ms, when[0], when[1]) for k in range(int(granted))]
        if len(slots) < count:
            slots.append(Slot(False, wait_ms + len(slots) * interval_ms, when[0], when[1]))
        out.append(slots)
    return out


def _split(items: list[_Item]) -> tuple[list[str], list[str]]:
    keys = [key for key, _ in items]
    args = [arg for _, item_args in items for arg in item_args]
    return keys, args


class Limits:
    """The Redis the limiters share, as the broker's process sees it: its sync client (queues, the sweeper's
    counters) and the key prefix. The limiters themselves run on the worker loop's asyncio client.

    Args:
        client: a ``redis.Redis`` (or ``fakeredis.FakeRedis``) client.
        namespace: key prefix, so tests and deployments sharing one Redis do not share buckets.
    """

    def __init__(self, client: Any, *, namespace: str = "hub") -> None:
        self.client = client
        self.namespace = namespace


class AsyncSlots:
    """The send-slot buckets (GCRA) on an asyncio Redis client: the send actor takes each send's slot on the event
    loop, right before its HTTP call; every worker shares the caps through the same keys.

    Concurrent :meth:`reserve` calls on one loop run as one script call, in the order they were made.

    Args:
        client: a ``redis.asyncio.Redis`` (or ``fakeredis.FakeAsyncRedis``) bound to the worker's event loop.
        namespace: key prefix, so tests and deployments sharing one Redis do not share limits.
        coalesce_delay_s: see :data:`COALESCE_DELAY_S`.
        clock: monotonic seconds, the pacer's clock (each answer says when, on it, the bucket granted the slot).
    """

    def __init__(
        self,
        client: Any,
        *,
        namespace: str = "hub",
        coalesce_delay_s: float = COALESCE_DELAY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.clock = clock
        self.offset = ClockOffset()
        self._gcra = client.register_script(GCRA_LUA)
        self.calls: Coalescer[_Item, list[Slot]] = Coalescer(
            self._run, max_items=COALESCE_MAX_ITEMS, max_delay_s=coalesce_delay_s
        )
        self.asked = 0  # slots asked for, for tests and benchmarks
        self._throttle: tuple[float, Throttle | None] = (float("-inf"), None)  # (read at, monotonic s; as read)
        self._sending: tuple[float, dict[int, float | None]] = (float("-inf"), {})  # (read at; run -> own cap)
        self._noted: dict[int, float] = {}  # run -> when this process last recorded it sending (monotonic s)

    async def reserve(
        self, bucket: str, per_second: float, *, horizon_ms: float, now_us: int | None = None, lead_ms: float = 0.0
    ) -> Slot:
        """Reserve the next send slot of ``bucket`` when it starts within ``horizon_ms``.

        Args:
            bucket: bucket name (``sender`` or ``run:42``).
            per_second: the bucket's rate, messages per second (> 0).
            horizon_ms: how far ahead a slot may be reserved, in milliseconds.
            now_us: current time in microseconds; None uses the Redis server clock (shared by every host).
            lead_ms: the slot starts at least this far ahead (the caller has reads to do before it can use it).
        """
        return (await self.reserve_many(bucket, per_second, 1, horizon_ms=horizon_ms, now_us=now_us, lead_ms=lead_ms))[
            0
        ]

    async def reserve_many(
        self,
        bucket: str,
        per_second: float,
        count: int,
        *,
        horizon_ms: float,
        now_us: int | None = None,
        lead_ms: float = 0.0,
    ) -> list[Slot]:
        """Reserve the next ``count`` slots of ``bucket`` that start within ``horizon_ms``, as one script item (a
        wave's slots: one item instead of ``count`` to pack, run and parse).

        Returns:
            The granted slots in order, then one refused answer (its ``wait_ms`` the first slot not reserved)
            when fewer than ``count`` fit; the same answers as ``count`` calls of :meth:`reserve`.
        """
        key = bucket_key(self.namespace, bucket)
        self.asked += count
        return await self.calls(_gcra_item(key, per_second, horizon_ms, now_us, lead_ms, count))

    async def _run(self, items: list[_Item]) -> list[list[Slot]]:
        keys, args = _split(items)
        sent = self.clock()
        answers = await self._gcra(keys=keys, args=args)
        answered = self.clock()
        return _slots(items, answers, self.offset, sent, answered)

    async def run_pace(self, run_id: int, run_rate: float | None, per_second: float) -> float:
        """The pace run ``run_id`` may take now: its own cap or its fair share of ``per_second`` beside the runs
        sending at the same time (:func:`hub.pace.fair_share`), whichever is lower.

        Records the run as sending (at most every :data:`SHARES_TTL_S` per process) and reads the others as
        recorded within :data:`ACTIVE_S` (at most every :data:`SHARES_TTL_S`), so every worker splits the sender's
        pace the same way and a run that stops sending leaves its share to the others within seconds.
        """
        now = time.monotonic()
        now_ms = int(time.time() * 1000)
        active, caps = f"{self.namespace}:sending", f"{self.namespace}:sending:caps"
        if now - self._noted.get(run_id, float("-inf")) >= SHARES_TTL_S:
            pipe = self.client.pipeline(transaction=False)
            pipe.zadd(active, {str(run_id): now_ms})
            pipe.zremrangebyscore(active, "-inf", now_ms - int(ACTIVE_S * 1000))
            pipe.hset(caps, str(run_id), f"{run_rate or 0}")
            pipe.expire(caps, 86_400)
            await pipe.execute()
            self._noted[run_id] = now
        read_at, sending = self._sending
        if now - read_at >= SHARES_TTL_S:
            runs = [int(run) for run in await self.client.zrangebyscore(active, now_ms - int(ACTIVE_S * 1000), "+inf")]
            values = await self.client.hmget(caps, [str(run) for run in runs]) if runs else []
            sending = {
                run: (float(value) or None) if value is not None else None
                for run, value in zip(runs, values, strict=True)
            }
            self._sending = (now, sending)
        return fair_share(run_id, {**sending, run_id: run_rate}, per_second)

    async def sender_pace(self, cap: float) -> float:
        """The sender's pace now, messages per second: ``cap``, or less for a while after Twilio's rate limits
        (:func:`hub.pace.throttled_pace`). Read at most every :data:`THROTTLE_TTL_S` per process."""
        return throttled_pace(await self._read_throttle(), cap, time.time())

    async def rate_limited(self, cap: float) -> None:
        """Record that Twilio refused a create for the sender's rate: the pace of every worker drops
        (:func:`hub.pace.after_rate_limit`) and comes back gradually."""
        now = time.time()
        changed = after_rate_limit(await self._read_throttle(max_age_s=0.0), cap, now)
        if changed is None:
            return
        key = throttle_key(self.namespace)
        # Kept until the pace is back at the cap (ten steps without a 429 at most), then forgotten.
        ttl_ms = int(THROTTLE_STEP_S * 11 * 1000)
        await self.client.set(key, " ".join(f"{value:.6f}" for value in changed), px=ttl_ms)
        self._throttle = (time.monotonic(), changed)

    async def _read_throttle(self, *, max_age_s: float = THROTTLE_TTL_S) -> Throttle | None:
        read_at, known = self._throttle
        if time.monotonic() - read_at < max_age_s:
            return known
        raw = await self.client.get(throttle_key(self.namespace))
        throttle = None
        if raw is not None:
            throttle = Throttle(*(float(part) for part in (raw.decode() if isinstance(raw, bytes) else raw).split()))
        self._throttle = (time.monotonic(), throttle)
        return throttle


class AsyncRecipientWindow:
    """The per-recipient window on an asyncio Redis client (used inside the send actor).

    Concurrent :meth:`wait_ms` calls on one loop run as one script call, in the order they were made.

    Args:
        client: a ``redis.asyncio.Redis`` (or ``fakeredis.FakeAsyncRedis``) bound to the worker's event loop.
        namespace: key prefix, so tests and deployments sharing one Redis do not share limits.
        coalesce_delay_s: see :data:`COALESCE_DELAY_S`.
    """

    def __init__(self, client: Any, *, namespace: str = "hub", coalesce_delay_s: float = COALESCE_DELAY_S) -> None:
        self.client = client
        self.namespace = namespace
        self._window = client.register_script(WINDOW_LUA)
        self.calls: Coalescer[_Item, int] = Coalescer(
            self._run, max_items=COALESCE_MAX_ITEMS, max_delay_s=coalesce_delay_s
        )

    async def wait_ms(
        self, phone: str, message_id: int, *, max_sends: int, window_s: float, now_ms: int | None = None
    ) -> int:
        """Record a send to ``phone`` if it has room in its window; else return how long until it has (ms).

        Checking the same ``message_id`` again is free (a retried message does not count twice).

        Returns:
            0 when the send was recorded, else the wait in milliseconds.
        """
        return await self.calls(
            _window_item(recipient_key(self.namespace, phone), message_id, max_sends, window_s, now_ms)
        )

    async def _run(self, items: list[_Item]) -> list[int]:
        keys, args = _split(items)
        return [int(answer) for answer in await self._window(keys=keys, args=args)]


__all__ = [
    "ACTIVE_S",
    "COALESCE_DELAY_S",
    "COALESCE_MAX_ITEMS",
    "GCRA_LUA",
    "SHARES_TTL_S",
    "THROTTLE_TTL_S",
    "WINDOW_LUA",
    "AsyncRecipientWindow",
    "AsyncSlots",
    "ClockOffset",
    "Limits",
    "Slot",
]
