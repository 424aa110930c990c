"""The shared tier budget on Redis (fakeredis; the real server when HUB_TEST_REDIS_URL is set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
import redis

from hub.tier_budget import SEEDING_WAIT, TierBudget

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def client() -> redis.Redis:
    return fakeredis.FakeRedis()


def empty_ledger(since: datetime) -> list[tuple[str, datetime]]:
    return []


def make_budget(client: redis.Redis, cap: int | None, ledger: object = empty_ledger) -> TierBudget:
    return TierBudget(client, cap=cap, key=f"test:tier:{uuid.uuid4().hex}", recent=ledger)  # type: ignore[arg-type]


@pytest.fixture
def budget(client: redis.Redis) -> TierBudget:
    return make_budget(client, 2)


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
    budget = make_budget(client, None)
    assert all(budget.acquire(f"+49151000000{i:02d}", T0) == (True, None) for i in range(50))


def _admitted_concurrently(budget: TierBudget, recipients: int) -> int:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: budget.acquire(f"+49151000{i:05d}", T0)[0], range(recipients)))
    return sum(results)


def test_concurrent_acquires_never_exceed_the_cap(client: redis.Redis) -> None:
    budget = make_budget(client, 10)
    assert _admitted_concurrently(budget, 40) == 10


@pytest.fixture
def real_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_concurrent_acquires_never_exceed_the_cap_on_real_redis(real_client: redis.Redis) -> None:
    budget = make_budget(real_client, 10)
    try:
        assert _admitted_concurrently(budget, 40) == 10
    finally:
        real_client.delete(budget.key, f"{budget.key}:from-ledger")


class Ledger:
    """Stands in for the ledger query: who was sent to, and when; records each call's window start."""

    def __init__(self, sent: list[tuple[str, datetime]]) -> None:
        self.sent = sent
        self.calls: list[datetime] = []

    def __call__(self, since: datetime) -> list[tuple[str, datetime]]:
        self.calls.append(since)
        return [(phone, at) for phone, at in self.sent if at >= since]


def test_a_budget_redis_forgot_is_rebuilt_from_the_ledger(client: redis.Redis) -> None:
    # Given a cap of 2, both used an hour ago according to the ledger, and a Redis that remembers nothing
    ledger = Ledger([("+4915100000001", T0 - HOUR), ("+4915100000002", T0 - HOUR)])
    budget = make_budget(client, 2, ledger)
    # Then a new recipient waits until the first of them leaves the window, and a counted one costs nothing
    assert budget.acquire("+4915100000003", T0) == (False, T0 + 23 * HOUR)
    assert budget.acquire("+4915100000001", T0) == (True, None)
    assert ledger.calls == [T0 - 24 * HOUR]


def test_the_rebuild_happens_once_then_redis_is_the_record(client: redis.Redis) -> None:
    ledger = Ledger([("+4915100000001", T0 - HOUR)])
    budget = make_budget(client, 5, ledger)
    for i in range(4):
        budget.acquire(f"+491510000010{i}", T0 + i * HOUR)
    assert len(ledger.calls) == 1
    assert budget.usage(T0 + 4 * HOUR) == (5, T0 + 23 * HOUR)


def test_a_budget_lost_again_is_rebuilt_again(client: redis.Redis) -> None:
    ledger = Ledger([("+4915100000001", T0 - HOUR)])
    budget = make_budget(client, 1, ledger)
    assert budget.acquire("+4915100000002", T0)[0] is False
    client.flushdb()  # a Redis restart
    assert budget.acquire("+4915100000002", T0)[0] is False
    assert len(ledger.calls) == 2


def test_a_large_ledger_is_rebuilt_in_chunks(client: redis.Redis) -> None:
    sent = [(f"+49151{i:07d}", T0 - HOUR) for i in range(2500)]
    budget = make_budget(client, 2500, Ledger(sent))
    assert budget.acquire("+4915199999999", T0) == (False, T0 + 23 * HOUR)
    assert budget.usage(T0)[0] == 2500


def test_while_another_worker_rebuilds_a_new_recipient_waits_briefly(client: redis.Redis) -> None:
    ledger = Ledger([])
    budget = make_budget(client, 5, ledger)
    client.set(f"{budget.key}:rebuilding", "1")
    assert budget.acquire("+4915100000001", T0) == (False, T0 + SEEDING_WAIT)
    assert ledger.calls == []


def test_a_failed_rebuild_is_tried_again_by_the_next_send(client: redis.Redis) -> None:
    def broken(since: datetime) -> list[tuple[str, datetime]]:
        raise ConnectionError("database down")

    budget = make_budget(client, 5, broken)
    with pytest.raises(ConnectionError):
        budget.acquire("+4915100000001", T0)
    budget._recent = Ledger([])
    assert budget.acquire("+4915100000001", T0) == (True, None)
