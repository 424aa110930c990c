"""The pacer: slots taken right before each send, late slots dropped, stalls never turned into bursts.

Pure slot arithmetic on a virtual clock (fakeredis buckets given explicit times): no timing assertions.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from itertools import pairwise

import fakeredis
import pytest

from actors.middleware.limits import AsyncSlots, ClockOffset
from actors.pacing import Pacer, SlotPool, Taken, WaveRoom
from hub.pace import (
    WAVE_LEAD_MS,
    WAVE_MAX_BLOCK_MS,
    Slot,
    Throttle,
    after_rate_limit,
    buckets_for,
    fair_share,
    is_late,
    throttled_pace,
)


class VirtualClock:
    """A clock that only moves when someone sleeps; every ``late_every``-th sleep overshoots by ``late_s``."""

    def __init__(self, *, late_every: int = 0, late_s: float = 0.0) -> None:
        self.now = 1_000.0
        self.sleeps = 0
        self.late_every = late_every
        self.late_s = late_s

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        overshoot = self.late_s if self.late_every and self.sleeps % self.late_every == 0 else 0.0
        self.now += seconds + overshoot

    def us(self) -> int:
        return int(self.now * 1_000_000)


def _pacer(server: fakeredis.FakeServer, clock: VirtualClock, per_second: float) -> Pacer:
    slots = AsyncSlots(fakeredis.FakeAsyncRedis(server=server), namespace="p", clock=clock)

    def reserve(bucket: str, rate: float, lead_ms: float, count: int) -> Awaitable[list[Slot]]:
        return slots.reserve_many(bucket, rate, count, horizon_ms=1000, now_us=clock.us(), lead_ms=lead_ms)

    return Pacer(reserve=reserve, per_second=per_second, clock=clock, sleep=clock.sleep)


def _per_window(times: list[float]) -> Counter[int]:
    return Counter(int(t) for t in times)


@pytest.mark.parametrize(
    ("run_rate", "per_second", "expected"),
    [
        (None, 80.0, [("sender", 80.0)]),
        (5.0, 80.0, [("run:7", 5.0), ("sender", 80.0)]),
        (100.0, 80.0, [("sender", 80.0)]),
    ],
    ids=["sender-only", "run-below-sender", "run-above-sender"],
)
def test_buckets_for(run_rate: float | None, per_second: float, expected: list[tuple[str, float]]) -> None:
    assert buckets_for(7, run_rate, per_second) == expected


@pytest.mark.parametrize(
    ("woke", "slot", "late"),
    [(10.0, 10.0, False), (10.040, 10.0, False), (10.041, 10.0, True), (9.9, 10.0, False)],
    ids=["on-time", "at-tolerance", "past-tolerance", "early"],
)
def test_is_late(woke: float, slot: float, late: bool) -> None:
    assert is_late(woke, slot) is late


async def _send_all(pacer: Pacer, clock: VirtualClock, n: int, run_rate: float | None = None) -> list[float]:
    sent = []
    for _ in range(n):
        assert await pacer.acquire(1, run_rate) == 0.0
        sent.append(clock())
    return sent


def test_sends_stay_within_the_sender_cap_per_second() -> None:
    clock = VirtualClock()
    sent = asyncio.run(_send_all(_pacer(fakeredis.FakeServer(), clock, 10.0), clock, 45))
    assert max(_per_window(sent).values()) <= 10


def test_sends_stay_within_the_run_cap_per_second() -> None:
    clock = VirtualClock()
    sent = asyncio.run(_send_all(_pacer(fakeredis.FakeServer(), clock, 10.0), clock, 20, run_rate=4.0))
    assert max(_per_window(sent).values()) <= 4


def test_a_send_that_wakes_late_takes_a_new_slot_and_the_cap_holds() -> None:
    # Given a loop that wakes 60 ms late on every third sleep
    clock = VirtualClock(late_every=3, late_s=0.060)
    pacer = _pacer(fakeredis.FakeServer(), clock, 10.0)
    # When 40 sends are paced, then late slots were dropped and no 1-s window is above the cap
    sent = asyncio.run(_send_all(pacer, clock, 40))
    assert pacer.missed > 0
    assert max(_per_window(sent).values()) <= 10


def test_a_reservation_answered_after_a_stall_is_not_spent_late() -> None:
    # Given a Redis that answers every fourth reservation 2 s after it granted the slot
    server, clock = fakeredis.FakeServer(), VirtualClock()
    slots = AsyncSlots(fakeredis.FakeAsyncRedis(server=server), namespace="p", clock=clock)
    calls = 0

    async def stalling(bucket: str, rate: float, lead_ms: float, count: int) -> list[Slot]:
        nonlocal calls
        calls += 1
        answer = await slots.reserve_many(bucket, rate, count, horizon_ms=1000, now_us=clock.us(), lead_ms=lead_ms)
        if calls % 4 == 0:
            clock.now += 2.0
        return answer

    pacer = Pacer(reserve=stalling, per_second=10.0, clock=clock, sleep=clock.sleep)
    # When 60 sends are paced, then every stalled answer's slot was dropped and no window is above the cap
    sent = asyncio.run(_send_all(pacer, clock, 60))
    assert pacer.missed >= 10
    assert max(_per_window(sent).values()) <= 10


def _slow_bucket(clock: VirtualClock, *, redis_s: float, resume_s: float) -> Pacer:
    """A pacer whose bucket's script takes ``redis_s`` and whose caller resumes ``resume_s`` after the answer (a
    busy event loop)."""
    slots = AsyncSlots(fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()), namespace="p", clock=clock)
    script = slots._gcra

    async def slow_script(*, keys: list[str], args: list[str]) -> object:
        answers = await script(keys=keys, args=args)
        clock.now += redis_s
        return answers

    slots._gcra = slow_script

    async def reserve(bucket: str, rate: float, lead_ms: float, count: int) -> list[Slot]:
        now_us = clock.us()
        answer = await slots.reserve_many(bucket, rate, count, horizon_ms=1000, now_us=now_us, lead_ms=lead_ms)
        clock.now += resume_s
        return answer

    return Pacer(reserve=reserve, per_second=100.0, clock=clock, sleep=clock.sleep)


def test_a_wave_answered_in_time_keeps_its_slots_when_its_caller_resumes_late() -> None:
    # Given a bucket that answers in 1 ms, to a caller that resumes 30 ms later on a busy loop
    pacer = _slow_bucket(VirtualClock(), redis_s=0.001, resume_s=0.030)
    # When a batch asks for a wave of 20, then it keeps them all: when the bucket granted them is known to 1 ms
    slots = asyncio.run(pacer.reserve_wave(None, None, 20))
    assert isinstance(slots, list) and len(slots) == 20
    assert pacer.missed == 0


def test_a_bucket_that_always_answers_slowly_gives_no_slot_and_says_when_to_try_again() -> None:
    # Given a bucket whose script takes 30 ms to answer (each slot lies somewhere in those 30 ms)
    clock = VirtualClock()
    pacer = _slow_bucket(clock, redis_s=0.030, resume_s=0.0)
    began = clock()
    # When a batch asks for a wave, then every slot went unused, counted as missed, and the batch is told to come
    # back rather than asking again past the blocking bound
    answer = asyncio.run(pacer.reserve_wave(None, None, 20))
    assert isinstance(answer, Taken) and answer.at is None and answer.retry_ms > 0
    assert pacer.missed >= 1
    assert clock() - began < WAVE_MAX_BLOCK_MS / 1000 + 0.1


def test_a_slow_answer_is_placed_by_the_quick_answers_before_it() -> None:
    # Given a bucket whose clock runs 500 s ahead of ours, seen by a call answered within 1 ms
    offset = ClockOffset()
    assert offset.place(1500.0, 1000.0, 1000.001) == pytest.approx((1000.0, 1000.001))
    # When the next answer is read 80 ms after its call was sent (a busy loop), then the bucket's "now" is still
    # placed to within that first millisecond
    now_from, now_until = offset.place(1500.050, 1000.000, 1000.080)
    assert (now_from, now_until) == pytest.approx((1000.050, 1000.051))


def test_a_bucket_clock_that_stepped_is_placed_by_the_current_call_alone() -> None:
    offset = ClockOffset()
    offset.place(1500.0, 1000.0, 1000.001)
    # When the bucket's clock jumped 2 s since, then the current call alone says where its "now" was
    assert offset.place(1502.5, 1000.5, 1000.51) == pytest.approx((1000.5, 1000.51))


def test_a_wave_reserves_only_the_slots_within_the_horizon() -> None:
    # Given an idle sender bucket at 10/s, when a batch of 50 asks for a wave
    clock = VirtualClock()
    slots = asyncio.run(_pacer(fakeredis.FakeServer(), clock, 10.0).reserve_wave(None, None, 50))
    # Then it holds the slots of the next second from its lead on (100 ms ... 1000 ms), one interval apart
    assert isinstance(slots, list) and len(slots) == 10
    assert round(slots[0] - clock(), 3) == WAVE_LEAD_MS / 1000
    assert [round(b - a, 3) for a, b in pairwise(slots)] == [0.1] * 9


def test_at_a_high_cap_a_wave_is_the_whole_batch() -> None:
    clock = VirtualClock()
    slots = asyncio.run(_pacer(fakeredis.FakeServer(), clock, 5000.0).reserve_wave(None, None, 100))
    assert len(slots) == 100


def test_a_full_bucket_makes_the_next_wave_wait_for_its_slots_to_enter_the_horizon() -> None:
    # Given a bucket whose horizon another batch already took
    server, clock = fakeredis.FakeServer(), VirtualClock()
    taken = asyncio.run(_pacer(server, clock, 10.0).reserve_wave(None, None, 50))
    assert isinstance(taken, list)
    # When the next batch asks, then its first slot comes after the last one taken
    slots = asyncio.run(_pacer(server, clock, 10.0).reserve_wave(None, None, 50))
    assert isinstance(slots, list) and slots[0] > taken[-1]


def test_a_wave_whose_next_slot_is_past_the_blocking_bound_says_when_to_try_again() -> None:
    # Given a run capped at one send per 100 s whose one slot is taken
    server, clock = fakeredis.FakeServer(), VirtualClock()
    asyncio.run(_pacer(server, clock, 10.0).reserve_wave(7, 0.01, 5))
    # When the next batch asks, then it gets no slot and a delay of about that long
    answer = asyncio.run(_pacer(server, clock, 10.0).reserve_wave(7, 0.01, 5))
    assert isinstance(answer, Taken) and answer.at is None
    assert answer.retry_ms > 90_000


def test_a_wave_of_a_capped_run_reserves_from_the_run_bucket() -> None:
    clock = VirtualClock()
    slots = asyncio.run(_pacer(fakeredis.FakeServer(), clock, 10.0).reserve_wave(7, 2.0, 50))
    assert isinstance(slots, list) and len(slots) == 2  # 100 ms and 600 ms at 2/s


def test_wave_slots_go_to_rows_earliest_first_and_missed_ones_are_dropped() -> None:
    pool = SlotPool([1.0, 1.1, 1.2, 1.3])
    assert pool.take(0.5) == 1.0
    assert pool.take(1.15) == 1.2  # 1.1 was missed by 50 ms: dropped
    assert pool.dropped == 1
    assert pool.take(1.3) == 1.3
    assert pool.take(1.3) is None


def test_a_wave_waits_until_the_loop_has_room_for_its_rows_whole_and_in_turn() -> None:
    async def scenario() -> list[str]:
        room, order = WaveRoom(150), []
        assert await room.take(100) == 100

        async def wave(name: str, want: int) -> None:
            await room.take(want)
            order.append(name)

        # Given 100 of 150 places held, a wave of 100 and then one of 10 wait (in turn: the small one does not
        # pass the big one, nor does the big one go at 50 places)
        first, second = asyncio.create_task(wave("100", 100)), asyncio.create_task(wave("10", 10))
        await asyncio.sleep(0)
        waited = list(order)
        room.give(49)  # one place short of the first wave
        await asyncio.sleep(0)
        waited.append(",".join(order) or "-")
        room.give(1)
        await first
        waited.append(",".join(order))
        room.give(100)  # the first wave's rows sent: the next one fits
        await second
        return [*waited, ",".join(order), str(room.held)]

    assert asyncio.run(scenario()) == ["-", "100", "100,10", "60"]


def test_a_wave_canceled_while_waiting_for_room_holds_no_place() -> None:
    async def scenario() -> int:
        room = WaveRoom(100)
        await room.take(100)
        waiting = asyncio.create_task(room.take(100))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        room.give(100)
        return room.held

    assert asyncio.run(scenario()) == 0


def test_a_send_uses_its_wave_slot_when_it_wakes_in_time() -> None:
    clock = VirtualClock()
    pacer = _pacer(fakeredis.FakeServer(), clock, 10.0)
    assert asyncio.run(pacer.acquire(None, None, first_slot_at=clock() + 0.5)) == 0.0
    assert (clock(), pacer.missed) == (1_000.5, 0)


def test_a_send_that_misses_its_wave_slot_takes_a_new_one() -> None:
    # Given a loop that wakes 60 ms late on its first sleep
    clock = VirtualClock(late_every=1, late_s=0.060)
    pacer = _pacer(fakeredis.FakeServer(), clock, 10.0)
    # When a send waits for its wave slot 0.5 s ahead, then it drops it and goes at a fresh one
    assert asyncio.run(pacer.acquire(None, None, first_slot_at=clock() + 0.5)) == 0.0
    assert pacer.missed >= 1


@pytest.mark.parametrize(
    ("throttle", "now_s", "pace"),
    [
        (None, 0.0, 80.0),  # never rate limited: the cap
        (Throttle(40.0, 100.0, 101.0), 102.9, 40.0),  # within a step of the last 429: as the rate limits left it
        (Throttle(40.0, 100.0, 101.0), 103.0, 48.0),  # then a tenth of the cap back per step without one
        (Throttle(40.0, 100.0, 101.0), 107.0, 64.0),
        (Throttle(1.0, 100.0, 100.0), 200.0, 80.0),  # never above the cap
    ],
)
def test_the_sender_pace_comes_back_gradually_after_a_rate_limit(
    throttle: Throttle | None, now_s: float, pace: float
) -> None:
    assert throttled_pace(throttle, 80.0, now_s) == pytest.approx(pace)


def test_a_rate_limit_halves_the_pace_once_per_step() -> None:
    first = after_rate_limit(None, 80.0, 100.0)
    assert first == Throttle(40.0, 100.0, 100.0)
    # the other sends in flight answer 429 too: no second halving within the step, only the recovery put off
    assert after_rate_limit(first, 80.0, 100.2) is None
    assert after_rate_limit(first, 80.0, 101.0) == Throttle(40.0, 100.0, 101.0)
    # a 429 a step later halves it again
    assert after_rate_limit(Throttle(40.0, 100.0, 101.0), 80.0, 102.5) == Throttle(20.0, 102.5, 102.5)


def test_a_rate_limit_that_persists_slows_the_pace_down_to_one_per_second() -> None:
    throttle, now = None, 0.0
    for _ in range(12):  # a 429 every half second for six seconds: halved at 0, 2 and 4 s
        throttle = after_rate_limit(throttle, 80.0, now) or throttle
        now += 0.5
    assert throttle is not None and throttled_pace(throttle, 80.0, now) == 10.0
    for _ in range(40):
        throttle = after_rate_limit(throttle, 80.0, now) or throttle
        now += 0.5
    assert throttled_pace(throttle, 80.0, now) == 1.0


def test_a_rate_limit_seen_by_one_worker_slows_every_worker() -> None:
    server = fakeredis.FakeServer()
    first, second = (AsyncSlots(fakeredis.FakeAsyncRedis(server=server), namespace="p") for _ in range(2))

    async def scenario() -> tuple[float, float, float]:
        before = await second.sender_pace(80.0)
        await first.rate_limited(80.0)
        second._throttle = (float("-inf"), None)  # its cached read is past its age
        return before, await first.sender_pace(80.0), await second.sender_pace(80.0)

    assert asyncio.run(scenario()) == (80.0, 40.0, 40.0)


@pytest.mark.parametrize(
    ("run_id", "caps", "share"),
    [
        pytest.param(1, {}, 80.0, id="alone-the-sender"),
        pytest.param(1, {1: 20.0}, 20.0, id="alone-its-cap"),
        pytest.param(1, {1: 20.0, 2: None}, 20.0, id="capped-beside-uncapped-its-cap"),
        pytest.param(2, {1: 20.0, 2: None}, 60.0, id="uncapped-beside-capped-the-rest"),
        pytest.param(2, {1: None, 2: None}, 40.0, id="two-uncapped-halves"),
        pytest.param(3, {1: 20.0, 2: 50.0, 3: None}, 30.0, id="the-rest-after-two-capped"),
        pytest.param(2, {1: 70.0, 2: 70.0}, 40.0, id="caps-above-an-even-share"),
        pytest.param(1, {2: None}, 40.0, id="the-asker-counts-even-unrecorded"),
    ],
)
def test_fair_share_gives_each_run_its_cap_or_an_even_part_of_the_rest(
    run_id: int, caps: dict[int, float | None], share: float
) -> None:
    assert fair_share(run_id, caps, 80.0) == pytest.approx(share)


def test_runs_sending_at_once_split_the_sender_pace_across_workers() -> None:
    server = fakeredis.FakeServer()
    first, second = (AsyncSlots(fakeredis.FakeAsyncRedis(server=server), namespace="p") for _ in range(2))

    async def scenario() -> tuple[float, float, float]:
        alone = await first.run_pace(7, None, 80.0)  # an uncapped run alone: the whole sender
        capped = await second.run_pace(8, 20.0, 80.0)  # a run capped at 20/s starts on another worker
        first._sending = (float("-inf"), {})  # the first worker's read is past its age
        return alone, capped, await first.run_pace(7, None, 80.0)

    assert asyncio.run(scenario()) == (80.0, 20.0, 60.0)
