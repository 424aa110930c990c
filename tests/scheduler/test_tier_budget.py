"""The shared tier budget on Redis (fakeredis; the real server when HUB_TEST_REDIS_URL is set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
import redis

from scheduler.tier_budget import TierBudget

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def client() -> redis.Redis:
    return fakeredis.FakeRedis()


@pytest.fixture
def budget(client: redis.Redis) -> TierBudget:
    return TierBudget(client, cap=2, key=f"test:tier:{uuid.uuid4().hex}")


def test_new_recipients_within_the_cap_are_allowed(budget: TierBudget) -> None:
    assert budget.acquire("+4915100000001", T0) == (True, None)
    assert budget.acquire("+4915100000002", T0 + HOUR) == (True, None)


def test_a_new_recipient_over_the_cap_waits_for_the_oldest_to_leave_the_window(budget: TierBudget) -> None:
    budget.acquire("+4915100000001", T0)
    budget.acquire("+4915100000002", T0 + HOUR)
    assert budget.acquire("+4915100000003", T0 + 2 * HOUR) == (False, T0 + 24 * HOUR)


def test_a_counted_recipient_is_allowed_when_full(budget: TierBudget) -> None:
    budget.acquire("+4915100000001", T0)
    budget.acquire("+4915100000002", T0)
    assert budget.acquire("+4915100000001", T0 + HOUR) == (True, None)


def test_a_slot_frees_after_24_hours(budget: TierBudget) -> None:
    budget.acquire("+4915100000001", T0)
    budget.acquire("+4915100000002", T0 + HOUR)
    assert budget.acquire("+4915100000003", T0 + 24 * HOUR + timedelta(seconds=1)) == (True, None)


def test_a_later_send_keeps_the_recipient_counted_longer(budget: TierBudget) -> None:
    budget.acquire("+4915100000001", T0)
    budget.acquire("+4915100000002", T0 + HOUR)
    budget.acquire("+4915100000001", T0 + 2 * HOUR)
    # 24 h after the first send, 001 is still counted (sent again at +2 h): 002 leaves first.
    assert budget.acquire("+4915100000003", T0 + 24 * HOUR + timedelta(minutes=1)) == (False, T0 + 25 * HOUR)


def test_usage_reports_count_and_next_slot(budget: TierBudget) -> None:
    budget.acquire("+4915100000001", T0)
    assert budget.usage(T0 + HOUR) == (1, None)
    budget.acquire("+4915100000002", T0 + HOUR)
    assert budget.usage(T0 + 2 * HOUR) == (2, T0 + 24 * HOUR)


def test_no_cap_allows_everyone(client: redis.Redis) -> None:
    budget = TierBudget(client, cap=None, key=f"test:tier:{uuid.uuid4().hex}")
    assert all(budget.acquire(f"+49151000000{i:02d}", T0) == (True, None) for i in range(50))


def _admitted_concurrently(budget: TierBudget, recipients: int) -> int:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: budget.acquire(f"+49151000{i:05d}", T0)[0], range(recipients)))
    return sum(results)


def test_concurrent_acquires_never_exceed_the_cap(client: redis.Redis) -> None:
    budget = TierBudget(client, cap=10, key=f"test:tier:{uuid.uuid4().hex}")
    assert _admitted_concurrently(budget, 40) == 10


@pytest.fixture
def real_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_concurrent_acquires_never_exceed_the_cap_on_real_redis(real_client: redis.Redis) -> None:
    key = f"test:tier:{uuid.uuid4().hex}"
    budget = TierBudget(real_client, cap=10, key=key)
    try:
        assert _admitted_concurrently(budget, 40) == 10
    finally:
        real_client.delete(key)
