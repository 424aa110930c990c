"""A rate limit that persists at Twilio slows the sender's pace down toward Twilio's own, and fails no message: the
send actor against `hub fake-twilio` holding the account to fewer creates per second than the sender cap."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import fakeredis
import msgspec
import pytest
from actor_harness import Harness
from dramatiq import Worker

import actors
from hub.config import Secret, Settings
from hub.faketwilio import FakeTwilioHandle, start_fake_twilio
from hub.status import MessageStatus
from hub.transport.fake import FakeTransport
from hub.transport.twilio import TwilioTransport

#: The sender cap, and the account's limit at Twilio (a quarter of it).
CAP, TWILIO_LIMIT = 40.0, 10.0
RECIPIENTS = 100


@pytest.fixture
def fake() -> Iterator[FakeTwilioHandle]:
    with start_fake_twilio(callbacks=False, rate_limit_per_second=TWILIO_LIMIT) as handle:
        yield handle


@pytest.fixture
def harness(pg_settings: Settings, fake: FakeTwilioHandle) -> Iterator[Harness]:
    twilio = msgspec.structs.replace(
        pg_settings.twilio,
        account_sid=fake.account_sid,
        auth_token=Secret(fake.auth_token),
        from_="whatsapp:+14155550000",
        api_base_url=fake.base_url,
    )
    rates = msgspec.structs.replace(pg_settings.rate_limits, per_second=CAP)
    # A refused create is owed again at once: only the pace decides how fast the creates come
    retries = msgspec.structs.replace(pg_settings.retries, min_backoff_ms=1, max_backoff_ms=5)
    settings = msgspec.structs.replace(pg_settings, twilio=twilio, rate_limits=rates, retries=retries)
    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    namespace = f"t{secrets.token_hex(4)}"
    broker = actors.setup(settings, client=redis, stub=True, namespace=namespace, transport_factory=TwilioTransport)
    built = Harness(settings, broker, redis, FakeTransport(), namespace)
    # Enough threads that the sends retried one by one could keep up the cap (a retry is a batch of one)
    built.worker = Worker(broker, worker_threads=16, worker_timeout=20)
    built.worker.start()
    yield built
    if built.worker is not None:
        built.worker.stop()
    broker.close()


def test_a_persistent_429_slows_the_creates_and_fails_no_message(harness: Harness, fake: FakeTwilioHandle) -> None:
    # Given a run of 100 recipients, a sender cap of 40/s and Twilio holding the account to 10/s
    run, ids = harness.new_run([f"+1415555{i:04d}" for i in range(RECIPIENTS)])
    # When it is sent until nothing is owed
    actors.enqueue_sends(ids, run_id=run.id, meta={})
    harness.drain()
    # Then every message went through once and none failed or used up an attempt for the 429s
    rows = [harness.message(i) for i in ids]
    assert {row.status for row in rows} == {MessageStatus.QUEUED}
    assert {row.attempts for row in rows} == {1}
    assert fake.stats()["accepted"] == RECIPIENTS
    # and the pace came down: fewer creates refused than accepted (63 here). At the cap three of every four would be
    # refused for as long as the run lasts (279 here without the slow-down); slowed, only while above Twilio's limit.
    refused = fake.stats()["errors"].get("20429", 0)
    assert 0 < refused < RECIPIENTS
