"""Fenced claims: a worker that lost its claim while it was stalled sends nothing and writes nothing."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import fakeredis
import msgspec
import pytest
from actor_harness import Harness

import actors
from actors import row
from hub.claims import claim_lease
from hub.config import Settings
from hub.status import MessageStatus
from hub.store import queries as q
from hub.store.unsettled import release_unknown
from hub.transport.fake import FakeTransport

PHONE = "+14155550100"


class FrozenWorker:
    """Stops the worker right after its claim (in the first check of the send path) until :meth:`thaw`, while
    its monotonic clock is moved on by the test."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.claimed = threading.Event()
        self.thawed = threading.Event()

    def clock(self) -> float:
        return self.now

    async def hold(self, *args: object, **kwargs: object) -> bool:
        self.claimed.set()
        while not self.thawed.is_set():
            await asyncio.sleep(0.01)
        return False

    def thaw(self) -> None:
        self.thawed.set()


@pytest.fixture
def stalled(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Harness, FrozenWorker]]:
    rate = msgspec.structs.replace(pg_settings.rate_limits, per_second=10_000.0)
    settings = msgspec.structs.replace(pg_settings, rate_limits=rate)
    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    transport = FakeTransport()
    namespace = f"t{secrets.token_hex(4)}"
    broker = actors.setup(
        settings, client=redis, stub=True, namespace=namespace, transport_factory=lambda _s: transport
    )
    frozen = FrozenWorker()
    actors.runtime.current().clock = frozen.clock
    monkeypatch.setattr(row.template_guard, "hold_if_blocked", frozen.hold)
    harness = Harness(settings, broker, redis, transport, namespace)
    yield harness, frozen
    frozen.thaw()
    if harness.worker is not None:
        harness.worker.stop()
    broker.close()


def _take_over(harness: Harness, message_id: int, frozen: FrozenWorker) -> datetime:
    """What the rest of the system does while the worker is stopped past its lease: the sweeper marks the claim
    ``unknown``, reconciliation releases it, another worker claims it and Twilio takes its create."""
    claimed_at = harness.message(message_id).claimed_at
    assert claimed_at is not None
    lease = claim_lease(harness.settings.twilio.timeout_seconds)
    frozen.now += (lease + timedelta(seconds=1)).total_seconds()
    later = claimed_at + lease + timedelta(seconds=1)
    assert harness.run(q.stale_sending(later - lease, now=later)) == [message_id]
    assert harness.run(release_unknown(message_id, claimed_at=claimed_at, reason="not at Twilio", now=later))
    again = later + timedelta(seconds=1)
    assert harness.run(q.claim_for_send(message_id, again)) is not None
    assert harness.run(q.mark_submitted(message_id, "SMother", "queued", now=again, claimed_at=again)) is not None
    return again


def _with_history(harness: Harness, message_id: int) -> q.MessageRecord:
    record = harness.run(q.get_message(message_id, with_history=True))
    assert record is not None
    return record


def test_a_worker_stalled_past_its_lease_sends_nothing_and_writes_nothing(
    stalled: tuple[Harness, FrozenWorker],
) -> None:
    harness, frozen = stalled
    # Given a worker stopped right after claiming a row
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    harness.start()
    assert frozen.claimed.wait(10)
    # When, past its lease, the row is taken, claimed by another worker and sent by it
    _take_over(harness, message_id, frozen)
    history_before = _with_history(harness, message_id).history
    # And the stalled worker then goes on
    frozen.thaw()
    harness.drain()
    # Then it sent nothing and the row is the other worker's, untouched
    assert harness.transport.calls == []
    record = _with_history(harness, message_id)
    assert (record.status, record.sid) == (MessageStatus.QUEUED, "SMother")
    assert record.history == history_before
