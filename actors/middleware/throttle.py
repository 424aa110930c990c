"""Throttle: pace throttled actors to the sender cap (and a run's own cap), shared by every worker through Redis.

Why the message waits in the worker thread instead of going back to Redis with a delay: a delayed Dramatiq
message comes back when a consumer next wakes (up to ``worker_timeout``, 1 s by default, late), so re-enqueued
messages arrive in clumps and break the 1-second pace windows. Instead each message *reserves* its slot in a
GCRA bucket (one atomic Lua script, :mod:`actors.middleware.limits`) at most ``horizon_ms`` ahead and the
thread sleeps until that exact slot. Slots further ahead are not reserved (so idle threads cannot hoard
capacity); the thread polls until its slot enters the horizon, and only when the wait is longer than
``max_block_ms`` (a run capped at a few messages per minute) the message goes back to Redis with the delay and
is skipped. Neither path raises, so pacing never uses up a retry and never drops a message.

A run's own cap is taken first and the sender slot second, each from its own bucket: a slow run therefore never
pushes the shared sender bucket into the future (which would hold back every other run). The sender cap is exact;
the run cap can be briefly exceeded when the sender bucket is congested, which errs on the safe side of the
sender's limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

from actors.middleware.limits import Limits, Slot

#: Message options the throttle reads (set by whoever enqueues ``send_message``).
RUN_ID_OPTION = "run_id"
RUN_RATE_OPTION = "run_rate"

# Sleep in short chunks so Dramatiq's shutdown interrupt (raised between bytecodes) is not held up by one long sleep.
_SLEEP_CHUNK_S = 0.1
# Never poll the bucket faster than this, whatever the arithmetic says.
_MIN_POLL_MS = 2.0


class Decision(NamedTuple):
    """What a worker thread does with one bucket answer: ``go`` after ``wait_ms``, ``poll`` again after
    ``wait_ms``, or ``requeue`` the message with a delay of ``wait_ms``."""

    action: Literal["go", "poll", "requeue"]
    wait_ms: float


def decide(slot: Slot, *, blocked_ms: float, horizon_ms: float, max_block_ms: float, jitter_ms: float) -> Decision:
    """Turn one bucket answer into an action (pure).

    Args:
        slot: the bucket's answer.
        blocked_ms: how long this message has already waited in this thread, ms.
        horizon_ms: how far ahead the bucket reserves, ms.
        max_block_ms: longest a thread may hold one message waiting, ms.
        jitter_ms: a random spread in ``[0, horizon_ms / 2)`` so waiting threads do not all poll at once.
    """
    if slot.granted:
        return Decision("go", slot.wait_ms)
    until_in_horizon = max(_MIN_POLL_MS, slot.wait_ms - horizon_ms) + jitter_ms
    if blocked_ms + until_in_horizon <= max_block_ms:
        return Decision("poll", until_in_horizon)
    return Decision("requeue", until_in_horizon)


class Throttle(Middleware):
    """Hold each message of a throttled actor until it has a send slot.

    Actor option ``throttled=True`` opts an actor in. Message options ``run_id`` and ``run_rate`` (messages per
    second) add the run's own bucket.

    Args:
        limits: the Redis scripts; None until :meth:`bind` (the placeholder broker at import has no Redis).
        per_second: the sender cap, messages per second, shared by every worker process.
        horizon_ms: how far ahead a slot may be reserved, ms.
        max_block_ms: longest a worker thread holds one message waiting, ms, before re-enqueueing it.
        sleep: ``time.sleep``, injected for tests.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        per_second: float = 80.0,
        horizon_ms: float = 1000.0,
        max_block_ms: float = 5000.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.logger = dramatiq.get_logger(__name__, type(self))
        self.limits = limits
        self.per_second = per_second
        self.horizon_ms = horizon_ms
        self.max_block_ms = max_block_ms
        self.sleep = sleep
        self.requeued = 0  # messages sent back to Redis with a delay, for tests and metrics

    @property
    def actor_options(self) -> set[str]:
        return {"throttled"}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        actor = broker.get_actor(message.actor_name)
        if not actor.options.get("throttled"):
            return
        if self.limits is None:
            raise RuntimeError("Throttle has no Redis limits: build the broker with actors.broker.build_broker")
        run_rate = message.options.get(RUN_RATE_OPTION)
        run_id = message.options.get(RUN_ID_OPTION)
        if run_rate and run_id is not None and float(run_rate) < self.per_second:
            self._take(broker, message, f"run:{run_id}", float(run_rate))
        self._take(broker, message, "sender", self.per_second)

    def _take(self, broker: dramatiq.Broker, message: Any, bucket: str, per_second: float) -> None:
        assert self.limits is not None
        blocked_ms = 0.0
        while True:
            slot = self.limits.reserve(bucket, per_second, horizon_ms=self.horizon_ms)
            jitter = 0.0 if slot.granted else random.uniform(0, self.horizon_ms / 2)
            decision = decide(
                slot,
                blocked_ms=blocked_ms,
                horizon_ms=self.horizon_ms,
                max_block_ms=self.max_block_ms,
                jitter_ms=jitter,
            )
            if decision.action == "requeue":
                delay = int(decision.wait_ms)
                self.logger.debug(
                    "Message %r waits %d ms for a %s slot: re-enqueued.", message.message_id, delay, bucket
                )
                broker.enqueue(message.copy(), delay=delay)
                self.requeued += 1
                raise SkipMessage(f"throttled: {bucket} has no slot for {delay} ms")
            self._sleep_ms(decision.wait_ms)
            if decision.action == "go":
                return
            blocked_ms += decision.wait_ms

    def _sleep_ms(self, wait_ms: float) -> None:
        remaining = wait_ms / 1000
        while remaining > 0:
            chunk = min(remaining, _SLEEP_CHUNK_S)
            self.sleep(chunk)
            remaining -= chunk


__all__ = ["RUN_ID_OPTION", "RUN_RATE_OPTION", "Decision", "Throttle", "decide"]
