"""The shared tier budget on Redis (fakeredis; the real server when HUB_TEST_REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import pytest
import redis
import redis.asyncio

from hub.tier_budget import SEEDING_WAIT, TierBudget, budget_usage

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer) -> Any:
    return fakeredis.FakeAsyncRedis(server=server)


async def empty_ledger(since: datetime) -> list[tuple[str, datetime]]:
    return []


def make_budget(client: Any, cap: int | None, ledger: object = empty_ledger) -> TierBudget:
    return TierBudget(client, cap=cap, key=f"test:tier:{uuid.uuid4().hex}", recent=ledger)  # type: ignore[arg-type]


@pytest.fixture
def budget(client: Any) -> TierBudget:
    return make_budget(client, 2)


@pytest.fixture
def usage(server: fakeredis.FakeServer) -> Any:
    """``hub status``'s sync read of a budget, on the same (fake) server the budget writes to."""
    reader = fakeredis.FakeRedis(server=server)
    return lambda budget, now: budget_usage(reader, cap=budget.cap, key=budget.key, now=now)


async def test_new_recipients_within_the_cap_are_allowed(budget: TierBudget) -> None:
    assert await budget.acquire("+4915100000001", T0) == (True, None)
    assert await budget.acquire("+4915100000002", T0 + HOUR) == (True, None)


async def test_a_new_recipient_over_the_cap_waits_for_the_oldest_to_leave_the_window(budget: TierBudget) -> None:
    await budget.acquire("+4915100000001", T0)
    await budget.acquire("+4915100000002", T0 + HOUR)
    assert await budget.acquire("+4915100000003", T0 + 2 * HOUR) == (False, T0 + 24 * HOUR)


async def test_a_counted_recipient_is_allowed_when_full(budget: TierBudget) -> None:
    await budget.acquire("+4915100000001", T0)
    await budget.acquire("+4915100000002", T0)
    assert await budget.acquire("+4915100000001", T0 + HOUR) == (True, None)


async def test_a_slot_frees_after_24_hours(budget: TierBudget) -> None:
    await budget.acquire("+4915100000001", T0)
    await budget.acquire("+4915100000002", T0 + HOUR)
    assert await budget.acquire("+4915100000003", T0 + 24 * HOUR + timedelta(seconds=1)) == (True, None)


async def test_a_later_send_keeps_the_recipient_counted_longer(budget: TierBudget) -> None:
    await budget.acquire("+4915100000001", T0)
    await budget.acquire("+4915100000002", T0 + HOUR)
    await budget.acquire("+4915100000001", T0 + 2 * HOUR)
    # 24 h after the first send, 001 is still counted (sent again at +2 h): 002 leaves first.
    assert await budget.acquire("+4915100000003", T0 + 24 * HOUR + timedelta(minutes=1)) == (False, T0 + 25 * HOUR)


async def test_usage_reports_count_and_next_slot(budget: TierBudget, usage: Any) -> None:
    await budget.acquire("+4915100000001", T0)
    assert usage(budget, T0 + HOUR) == (1, None)
    await budget.acquire("+4915100000002", T0 + HOUR)
    assert usage(budget, T0 + 2 * HOUR) == (2, T0 + 24 * HOUR)


async def test_no_cap_allows_everyone(client: Any) -> None:
    budget = make_budget(client, None)
    assert [await budget.acquire(f"+49151000000{i:02d}", T0) for i in range(50)] == [(True, None)] * 50


async def _admitted_concurrently(budgets: list[TierBudget], recipients: int) -> int:
    """Acquires from several workers' clients at once, interleaved on the loop, after a first one that rebuilt
    the (empty) set and took one slot: how many of the cap's other slots they got."""
    assert await budgets[0].acquire("+4915100099999", T0) == (True, None)
    results = await asyncio.gather(
        *(budgets[i % len(budgets)].acquire(f"+49151000{i:05d}", T0) for i in range(recipients))
    )
    return sum(admitted for admitted, _ in results)


async def test_concurrent_acquires_never_exceed_the_cap(server: fakeredis.FakeServer) -> None:
    key = f"test:tier:{uuid.uuid4().hex}"
    budgets = [
        TierBudget(fakeredis.FakeAsyncRedis(server=server), cap=10, key=key, recent=empty_ledger) for _ in range(4)
    ]
    assert await _admitted_concurrently(budgets, 40) == 9


@pytest.fixture
async def real_clients(redis_url: str) -> AsyncIterator[list[Any]]:
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(4)]
    yield clients
    for client in clients:
        await client.aclose()


async def test_concurrent_acquires_never_exceed_the_cap_on_real_redis(real_clients: list[Any]) -> None:
    key = f"test:tier:{uuid.uuid4().hex}"
    budgets = [TierBudget(client, cap=10, key=key, recent=empty_ledger) for client in real_clients]
    try:
        assert await _admitted_concurrently(budgets, 40) == 9
    finally:
        await real_clients[0].delete(key, f"{key}:from-ledger")


class Ledger:
    """Stands in for the ledger query: who was sent to, and when; records each call's window start."""

    def __init__(self, sent: list[tuple[str, datetime]]) -> None:
        self.sent = sent
        self.calls: list[datetime] = []

    async def __call__(self, since: datetime) -> list[tuple[str, datetime]]:
        self.calls.append(since)
        return [(phone, at) for phone, at in self.sent if at >= since]


async def test_a_budget_redis_forgot_is_rebuilt_from_the_ledger(client: Any) -> None:
    # Given a cap of 2, both used an hour ago according to the ledger, and a Redis that remembers nothing
    ledger = Ledger([("+4915100000001", T0 - HOUR), ("+4915100000002", T0 - HOUR)])
    budget = make_budget(client, 2, ledger)
    # Then a new recipient waits until the first of them leaves the window, and a counted one costs nothing
    assert await budget.acquire("+4915100000003", T0) == (False, T0 + 23 * HOUR)
    assert await budget.acquire("+4915100000001", T0) == (True, None)
    assert ledger.calls == [T0 - 24 * HOUR]


async def test_the_rebuild_happens_once_then_redis_is_the_record(client: Any, usage: Any) -> None:
    ledger = Ledger([("+4915100000001", T0 - HOUR)])
    budget = make_budget(client, 5, ledger)
    for i in range(4):
        await budget.acquire(f"+491510000010{i}", T0 + i * HOUR)
    assert len(ledger.calls) == 1
    assert usage(budget, T0 + 4 * HOUR) == (5, T0 + 23 * HOUR)


async def test_a_budget_lost_again_is_rebuilt_again(client: Any) -> None:
    ledger = Ledger([("+4915100000001", T0 - HOUR)])
    budget = make_budget(client, 1, ledger)
    assert (await budget.acquire("+4915100000002", T0))[0] is False
    await client.flushdb()  # a Redis restart
    assert (await budget.acquire("+4915100000002", T0))[0] is False
    assert len(ledger.calls) == 2


async def test_a_large_ledger_is_rebuilt_in_chunks(client: Any, usage: Any) -> None:
    sent = [(f"+49151{i:07d}", T0 - HOUR) for i in range(2500)]
    budget = make_budget(client, 2500, Ledger(sent))
    assert await budget.acquire("+4915199999999", T0) == (False, T0 + 23 * HOUR)
    assert usage(budget, T0)[0] == 2500


async def test_while_another_worker_rebuilds_a_new_recipient_waits_briefly(client: Any) -> None:
    ledger = Ledger([])
    budget = make_budget(client, 5, ledger)
    await client.set(f"{budget.key}:rebuilding", "1")
    assert await budget.acquire("+4915100000001", T0) == (False, T0 + SEEDING_WAIT)
    assert ledger.calls == []


async def test_a_failed_rebuild_is_tried_again_by_the_next_send(client: Any) -> None:
    async def broken(since: datetime) -> list[tuple[str, datetime]]:
        raise ConnectionError("database down")

    budget = make_budget(client, 5, broken)
    with pytest.raises(ConnectionError):
        await budget.acquire("+4915100000001", T0)
    budget._recent = Ledger([])
    assert await budget.acquire("+4915100000001", T0) == (True, None)
