"""Async limits: concurrent slot reservations and window checks on one loop run as one script call, each caller
getting the answer it would have got alone (fakeredis, and a real Redis when ``HUB_TEST_REDIS_URL`` is set)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import fakeredis
import pytest
import redis.asyncio

from actors.middleware.limits import AsyncRecipientWindow, AsyncSlots
from hub.pace import Slot

S = 1_000_000  # microseconds per second

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["fakeredis", "redis"])
async def clients(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any]]:
    """Two asyncio Redis clients on one server (two worker processes): fakeredis, or the real server (keys of
    this test's namespace removed after)."""
    if request.param == "fakeredis":
        server = fakeredis.FakeServer()
        yield fakeredis.FakeAsyncRedis(server=server), fakeredis.FakeAsyncRedis(server=server)
        return
    url = request.getfixturevalue("redis_url")
    real = redis.asyncio.Redis.from_url(url)
    other = redis.asyncio.Redis.from_url(url)
    yield real, other
    await other.aclose()
    keys = [key async for key in real.scan_iter(match=f"{NAMESPACE}:*")]
    if keys:
        await real.delete(*keys)
    await real.aclose()


NAMESPACE = f"h3coalesce{secrets.token_hex(4)}"


@pytest.fixture
def client(clients: tuple[Any, Any]) -> Any:
    return clients[0]


async def test_concurrent_reservations_run_as_one_script_call(client: Any) -> None:
    slots = AsyncSlots(client, namespace=NAMESPACE)
    answers = await asyncio.gather(*(slots.reserve("sender", 10, horizon_ms=1000, now_us=100 * S) for _ in range(5)))
    assert slots.calls.batches == 1
    assert [a.wait_ms for a in answers] == [0.0, 100.0, 200.0, 300.0, 400.0]


async def test_concurrent_reservations_past_the_horizon_are_refused_alone(client: Any) -> None:
    slots = AsyncSlots(client, namespace=NAMESPACE)
    answers = await asyncio.gather(*(slots.reserve("sender", 10, horizon_ms=150, now_us=100 * S) for _ in range(4)))
    # Two slots fit the horizon; the refused ones reserve nothing, so both are told the same next slot.
    assert answers == [Slot(True, 0.0), Slot(True, 100.0), Slot(False, 200.0), Slot(False, 200.0)]


async def test_a_reservation_of_many_slots_gets_the_answers_of_as_many_single_reservations(client: Any) -> None:
    slots = AsyncSlots(client, namespace=NAMESPACE)
    many = await slots.reserve_many("sender", 10, 4, horizon_ms=1000, now_us=100 * S, lead_ms=50)
    singles = [await slots.reserve("other", 10, horizon_ms=1000, now_us=100 * S, lead_ms=50) for _ in range(4)]
    assert many == singles == [Slot(True, 50.0), Slot(True, 150.0), Slot(True, 250.0), Slot(True, 350.0)]
    # The bucket moved on by all four: the next reservation is the fifth slot.
    assert await slots.reserve("sender", 10, horizon_ms=1000, now_us=100 * S) == Slot(True, 450.0)


async def test_a_reservation_of_many_slots_takes_those_within_the_horizon_and_says_when_the_next_starts(
    client: Any,
) -> None:
    slots = AsyncSlots(client, namespace=NAMESPACE)
    answers = await slots.reserve_many("sender", 10, 5, horizon_ms=250, now_us=100 * S)
    assert answers == [Slot(True, 0.0), Slot(True, 100.0), Slot(True, 200.0), Slot(False, 300.0)]
    assert await slots.reserve_many("sender", 10, 2, horizon_ms=250, now_us=100 * S) == [Slot(False, 300.0)]


async def test_reservations_of_different_buckets_in_one_call_do_not_share_slots(client: Any) -> None:
    slots = AsyncSlots(client, namespace=NAMESPACE)
    answers = await asyncio.gather(
        slots.reserve("run:1", 1, horizon_ms=5000, now_us=100 * S),
        slots.reserve("sender", 10, horizon_ms=5000, now_us=100 * S),
        slots.reserve("run:1", 1, horizon_ms=5000, now_us=100 * S),
    )
    assert [a.wait_ms for a in answers] == [0.0, 0.0, 1000.0]


async def test_reservations_of_two_clients_share_one_bucket(clients: tuple[Any, Any]) -> None:
    first, second = AsyncSlots(clients[0], namespace=NAMESPACE), AsyncSlots(clients[1], namespace=NAMESPACE)
    assert await first.reserve("sender", 10, horizon_ms=1000, now_us=100 * S) == Slot(True, 0.0)
    assert await second.reserve("sender", 10, horizon_ms=1000, now_us=100 * S) == Slot(True, 100.0)


async def test_server_clock_reservations_in_one_call_are_spaced_by_the_interval(client: Any) -> None:
    slots = AsyncSlots(client, namespace=NAMESPACE)
    answers = await asyncio.gather(*(slots.reserve("sender", 100, horizon_ms=1000) for _ in range(3)))
    assert [a.granted for a in answers] == [True, True, True]
    assert [round(b.wait_ms - a.wait_ms) for a, b in itertools.pairwise(answers)] == [10, 10]


def _window(client: Any) -> Callable[..., Any]:
    window = AsyncRecipientWindow(client, namespace=NAMESPACE)

    def check(phone: str, message_id: int, now_ms: int) -> Any:
        return window.wait_ms(phone, message_id, max_sends=2, window_s=60, now_ms=now_ms)

    check.window = window  # type: ignore[attr-defined]
    return check


async def test_concurrent_window_checks_run_as_one_script_call(client: Any) -> None:
    check = _window(client)
    waits = await asyncio.gather(*(check(f"+1415555010{i}", i, 1_000) for i in range(4)))
    assert waits == [0, 0, 0, 0]
    assert check.window.calls.batches == 1  # type: ignore[attr-defined]


async def test_concurrent_checks_of_one_recipient_are_answered_in_call_order(client: Any) -> None:
    check = _window(client)
    waits = await asyncio.gather(check("+1415", 1, 1_000), check("+1415", 2, 2_000), check("+1415", 3, 10_000))
    # The third finds the window full: it waits until the first send leaves it (1,000 + 60,000 - 10,000).
    assert waits == [0, 0, 51_000]


async def test_a_message_checked_twice_in_one_call_counts_once(client: Any) -> None:
    check = _window(client)
    waits = await asyncio.gather(check("+1415", 1, 1_000), check("+1415", 1, 1_000), check("+1415", 2, 1_000))
    assert waits == [0, 0, 0]
