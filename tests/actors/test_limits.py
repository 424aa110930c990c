"""Limits: GCRA slots and the per-recipient window in Redis (Lua on fakeredis), the wait decisions, and a batch
with no slot in sight going back to the queue with the delay, without using a retry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest
from actor_harness import Harness, wait_until
from dramatiq.middleware import Middleware

import actors
from actors import pacing
from actors.middleware.limits import AsyncRecipientWindow, AsyncSlots
from hub.pace import Decision, Slot, decide
from hub.status import MessageStatus


class EnqueueRecorder(Middleware):
    """Remembers the options and delay of every enqueue."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], list[int], int | None]] = []

    def after_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        self.calls.append((dict(message.options), list(message.args[0]), delay))


S = 1_000_000  # microseconds per second


class Limits:
    """The async limiters on one fakeredis, called from sync test code."""

    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()

    def _run(self, call: Callable[[Any], Any]) -> Any:
        async def go() -> Any:
            return await call(fakeredis.FakeAsyncRedis(server=self.server))

        return asyncio.run(go())

    def reserve(self, bucket: str, per_second: float, **kwargs: Any) -> Slot:
        return self._run(lambda client: AsyncSlots(client, namespace="t").reserve(bucket, per_second, **kwargs))

    def recipient_wait_ms(self, phone: str, message_id: int, **kwargs: Any) -> int:
        return self._run(
            lambda client: AsyncRecipientWindow(client, namespace="t").wait_ms(phone, message_id, **kwargs)
        )


@pytest.fixture
def limits() -> Limits:
    return Limits()


def test_first_slot_of_an_idle_bucket_is_now(limits: Limits) -> None:
    assert limits.reserve("sender", 10, horizon_ms=1000, now_us=100 * S) == Slot(True, 0.0)


def test_consecutive_reservations_are_one_interval_apart(limits: Limits) -> None:
    # Given a 10/s bucket, when three callers ask at the same instant
    waits = [limits.reserve("sender", 10, horizon_ms=1000, now_us=100 * S).wait_ms for _ in range(3)]
    # Then they get slots 0, 100 and 200 ms ahead
    assert waits == [0.0, 100.0, 200.0]


def test_slot_beyond_the_horizon_is_not_reserved(limits: Limits) -> None:
    # Given a 10/s bucket reserved 1 s ahead (slots 0..900 ms taken)
    for _ in range(10):
        assert limits.reserve("sender", 10, horizon_ms=950, now_us=100 * S).granted
    # When one more caller asks with a 950 ms horizon
    refused = limits.reserve("sender", 10, horizon_ms=950, now_us=100 * S)
    # Then nothing is reserved and the next free slot is 1 s away, still free for the next caller
    assert refused == Slot(False, 1000.0)
    assert limits.reserve("sender", 10, horizon_ms=2000, now_us=100 * S) == Slot(True, 1000.0)


def test_an_idle_bucket_does_not_bank_a_burst(limits: Limits) -> None:
    limits.reserve("sender", 10, horizon_ms=1000, now_us=100 * S)
    # Ten seconds later two callers arrive at once: the second still waits one interval
    later = 110 * S
    waits = [limits.reserve("sender", 10, horizon_ms=1000, now_us=later).wait_ms for _ in range(2)]
    assert waits == [0.0, 100.0]


def test_a_lead_starts_the_slot_that_far_ahead_without_losing_the_idle_buckets_capacity(limits: Limits) -> None:
    waits = [limits.reserve("sender", 10, horizon_ms=1000, now_us=100 * S, lead_ms=50).wait_ms for _ in range(2)]
    assert waits == [50.0, 150.0]


def test_buckets_are_independent(limits: Limits) -> None:
    limits.reserve("run:1", 1, horizon_ms=5000, now_us=100 * S)
    assert limits.reserve("run:2", 1, horizon_ms=5000, now_us=100 * S).wait_ms == 0.0


def test_server_clock_is_used_without_now(limits: Limits) -> None:
    first = limits.reserve("sender", 2, horizon_ms=1000)
    second = limits.reserve("sender", 2, horizon_ms=1000)
    assert first.wait_ms == 0.0
    assert 400.0 < second.wait_ms <= 500.0


@pytest.mark.parametrize(
    ("slot", "blocked_ms", "expected"),
    [
        (Slot(True, 0.0), 0.0, Decision("go", 0.0)),
        (Slot(True, 350.0), 0.0, Decision("go", 350.0)),
        # Just beyond the horizon: poll again once the slot is inside it.
        (Slot(False, 1200.0), 0.0, Decision("poll", 200.0)),
        # Barely beyond: never poll faster than the floor.
        (Slot(False, 1000.5), 0.0, Decision("poll", 2.0)),
        # Far away: give the row back and let Redis hold the message.
        (Slot(False, 60_000.0), 0.0, Decision("requeue", 59_000.0)),
        # Waited long enough already.
        (Slot(False, 1200.0), 4900.0, Decision("requeue", 200.0)),
    ],
)
def test_decide(slot: Slot, blocked_ms: float, expected: Decision) -> None:
    assert decide(slot, blocked_ms=blocked_ms, horizon_ms=1000, max_block_ms=5000, jitter_ms=0.0) == expected


def test_per_recipient_window_admits_max_then_waits_for_the_oldest(limits: Limits) -> None:
    # Given a window of 2 sends per 60 s
    kwargs = {"max_sends": 2, "window_s": 60}
    assert limits.recipient_wait_ms("+1415", 1, now_ms=1_000, **kwargs) == 0
    assert limits.recipient_wait_ms("+1415", 2, now_ms=2_000, **kwargs) == 0
    # When a third message comes 8 s later, then it waits until the first leaves the window
    assert limits.recipient_wait_ms("+1415", 3, now_ms=10_000, **kwargs) == 51_000
    # And a message already counted is not counted twice
    assert limits.recipient_wait_ms("+1415", 2, now_ms=10_000, **kwargs) == 0
    assert limits.recipient_wait_ms("+1415", 3, now_ms=61_001, **kwargs) == 0


def test_a_batch_with_no_slot_in_sight_goes_back_to_the_queue_without_a_retry(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run capped so low that its second row's slot is beyond what a batch may wait for
    monkeypatch.setattr(pacing, "WAVE_MAX_BLOCK_MS", 50.0)
    enqueued = EnqueueRecorder()
    harness.broker.add_middleware(enqueued)
    run, ids = harness.new_run(["+14155550100", "+14155550101"])
    # When both are sent in one batch
    actors.send_batch.send(ids, run_rate=0.001, run_id=run.id)
    harness.start()
    # The sent row is recorded as submitted only after the transport returns (the fake counts the call first):
    # wait for the ledger, not the transport
    wait_until(lambda: _statuses(harness, ids).count(MessageStatus.QUEUED) == 1 and len(enqueued.calls) >= 2)
    # Then one went out, the other was put back with a delay: no retry spent, no dead letter
    assert len(harness.transport.sent) == 1
    delayed = [(options, args, delay) for options, args, delay in enqueued.calls if delay]
    assert [args for _, args, _ in delayed] == [[ids[1]]]
    assert all(options.get("retries", 0) == 0 for options, _, _ in delayed)
    assert harness.broker.dead_letters == []
    assert _statuses(harness, ids) == sorted([MessageStatus.QUEUED, MessageStatus.PENDING])


def _statuses(harness: Harness, ids: list[int]) -> list[MessageStatus]:
    return sorted(harness.message(i).status for i in ids)
