"""Worker metrics: a send is counted by outcome and code, with its create latency; retries and claims given back
are counted where they happen."""

from __future__ import annotations

from collections.abc import Callable

from actor_harness import Harness
from prometheus_client import generate_latest

import actors
from hub.config import PerRecipientLimit
from hub.errors import TransientSendError

PHONE = "+14155550100"


def _sample(name: str, **labels: str) -> float:
    value = actors.runtime.current().metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_an_accepted_create_is_counted_with_its_latency(harness: Harness) -> None:
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    harness.drain()
    assert _sample("hub_worker_creates_total", outcome="accepted", code="") == 1
    assert _sample("hub_worker_create_seconds_count") == 1


def test_a_transient_failure_is_counted_by_code_and_as_a_retry(harness: Harness) -> None:
    harness.transport.fail_next(TransientSendError("unavailable", code=20503, http_status=503))
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    harness.drain()
    assert _sample("hub_worker_creates_total", outcome="retry", code="20503") == 1
    assert _sample("hub_worker_retries_total") == 1
    assert _sample("hub_worker_creates_total", outcome="accepted", code="") == 1


def test_a_row_over_its_recipient_window_is_counted_as_given_back(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(per_recipient=PerRecipientLimit(max=1, window_seconds=3600))
    _, ids = harness.new_run([PHONE])
    _, more = harness.new_run([PHONE])
    actors.send_batch.send(ids)
    harness.drain()
    actors.send_batch.send(more)
    harness.drain()
    assert _sample("hub_worker_claims_given_back_total", reason="recipient_window") == 1
    assert b"hub_worker_pacing_wait_seconds" in generate_latest(actors.runtime.current().metrics.registry)
