"""HubRedisBroker against a real Redis: the two operations built on Dramatiq's internals (its dispatch script and
arguments) behave as Dramatiq's own consumers expect. Run on every upgrade of the pinned dramatiq minor version."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from dramatiq.common import current_millis, dq_name

from actors.broker import HubRedisBroker

QUEUE = "contract"


@pytest.fixture
def broker(redis_url: str) -> Iterator[HubRedisBroker]:
    namespace = f"contract{secrets.token_hex(4)}"
    built = HubRedisBroker(url=redis_url, namespace=namespace, middleware=[])
    built.declare_queue(QUEUE)
    yield built
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{namespace}*"))
    if keys:
        client.delete(*keys)
    client.close()
    built.close()


def _message(n: int) -> dramatiq.Message[None]:
    return dramatiq.Message(queue_name=QUEUE, actor_name="noop", args=(n,), kwargs={}, options={})


def _take(broker: HubRedisBroker, count: int) -> list[dramatiq.MessageProxy]:
    consumer = broker.consume(QUEUE, prefetch=count, timeout=200)
    taken = []
    for _ in range(15):
        message = next(consumer)
        if message is not None:
            taken.append(message)
        if len(taken) == count:
            break
    return taken


def test_messages_enqueued_in_one_round_trip_are_consumed_as_enqueued(broker: HubRedisBroker) -> None:
    seen: list[object] = []
    broker.enqueue_many([_message(n) for n in range(3)], also=lambda pipe, ready: seen.extend(ready))
    taken = _take(broker, 3)
    assert sorted(m.args[0] for m in taken) == [0, 1, 2]
    assert len({m.options["redis_message_id"] for m in taken}) == 3
    assert len(seen) == 3


def test_a_delayed_message_enqueued_in_a_batch_waits_on_the_delay_queue_with_its_eta(broker: HubRedisBroker) -> None:
    before = current_millis()
    broker.enqueue_many([_message(1), _message(2)], delays=[None, 60_000])
    assert [m.args[0] for m in _take(broker, 2)] == [1]
    consumer = broker.consume(dq_name(QUEUE), prefetch=1, timeout=200)
    delayed = next(m for m in (next(consumer) for _ in range(15)) if m is not None)
    assert delayed.args[0] == 2
    assert before + 60_000 <= delayed.options["eta"] <= current_millis() + 60_000


def test_a_dead_workers_unacked_message_goes_back_to_its_queue(broker: HubRedisBroker, redis_url: str) -> None:
    # Given a message taken by a worker that then died (never acked)
    broker.enqueue_many([_message(7)])
    assert [m.args[0] for m in _take(broker, 1)] == [7]
    survivor = HubRedisBroker(url=redis_url, namespace=broker.namespace, middleware=[])
    survivor.declare_queue(QUEUE)
    try:
        assert _take(survivor, 1) == []
        # When a live worker requeues what silent workers hold, then it gets the message again
        survivor.requeue_dead_workers(heartbeat_timeout_ms=1)
        assert [m.args[0] for m in _take(survivor, 1)] == [7]
    finally:
        survivor.close()
