"""Runs share the workers: a run's batches are queued at its pace, so another run's are not queued behind them."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import dramatiq
from actor_harness import Harness

import actors
from actors.send import SEND_QUEUE


def phones(n: int, start: int = 0) -> list[str]:
    return [f"+4915100{i:05d}" for i in range(start, start + n)]


def decoded(harness: Harness, queue: str) -> list[dramatiq.Message[Any]]:
    return [dramatiq.Message.decode(data) for data in harness.broker.queues[queue].queue]


def test_a_capped_run_queues_its_batches_at_its_cap_and_another_run_is_not_behind_them(
    make_harness: Callable[..., Harness],
) -> None:
    # Given a run capped at 20/s with 1,000 owed rows (ten batches) and an uncapped run with 300
    harness = make_harness()
    meta = {"rate_limit": {"per_second": 20.0}}
    capped, capped_ids = harness.new_run(phones(1000), meta=meta)
    other, other_ids = harness.new_run(phones(300, start=5000))
    # When both are queued, the capped one first (a fan-out, then a resume)
    actors.enqueue_sends(capped_ids, run_id=capped.id, meta=meta)
    actors.enqueue_sends(other_ids, run_id=other.id, meta={})
    # Then the capped run has one batch ready and the other nine wait in the delay queue, one per 5 s of its cap;
    # every batch of the other run is ready, right behind the capped run's first
    ready = decoded(harness, SEND_QUEUE)
    assert [message.kwargs.get("run_id") for message in ready] == [capped.id, other.id, other.id, other.id]
    delayed = decoded(harness, f"{SEND_QUEUE}.DQ")
    assert [message.kwargs["run_id"] for message in delayed] == [capped.id] * 9
    etas = [message.options["eta"] for message in delayed]
    # (rounded: each message's eta is stamped with the clock as it is queued)
    assert [round((later - earlier) / 100) * 100 for earlier, later in pairwise(etas)] == [5000] * 8
    assert sorted(i for message in [*ready, *delayed] for i in message.args[0]) == sorted(capped_ids + other_ids)
