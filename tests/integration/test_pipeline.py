"""The send pipeline end to end: real Redis + PostgreSQL, a RedisBroker worker, the twilio client, the fake Twilio."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import redis
from dramatiq import Worker

import actors
from hub.config import Secret, Settings, TwilioSettings
from hub.faketwilio import FakeTwilioHandle, start_fake_twilio
from hub.status import MessageStatus, RunState
from hub.store import db
from hub.store import queries as q

pytestmark = pytest.mark.integration


class Pipeline:
    def __init__(self, settings: Settings, fake: FakeTwilioHandle, broker: Any, worker: Worker) -> None:
        self.settings, self.fake, self.broker, self.worker = settings, fake, broker, worker

    def owed(self, phones: list[str]) -> list[int]:
        async def make() -> list[int]:
            run, _ = await q.create_run(state=RunState.RUNNING)
            return await q.insert_messages(run.id, [q.NewMessage(recipient=p, body="hello") for p in phones])

        return db.run_sync(make())

    def drain(self) -> None:
        self.broker.join(actors.send.SEND_QUEUE, timeout=30_000)
        self.worker.join()

    def message(self, message_id: int) -> q.MessageRecord:
        record = db.run_sync(q.get_message(message_id))
        assert record is not None
        return record

    def creates_to(self, phone: str) -> int:
        return sum(1 for m in self.fake.messages() if m["to"] == f"whatsapp:{phone}" and m["outcome"] == "ok")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilioHandle]:
    with start_fake_twilio(callbacks=False, hang_s=3.0) as handle:
        yield handle


@pytest.fixture
def pipeline(pg_settings: Settings, redis_url: str, fake: FakeTwilioHandle) -> Iterator[Pipeline]:
    fake.reset()
    settings = msgspec.structs.replace(
        pg_settings,
        redis=msgspec.structs.replace(pg_settings.redis, url=redis_url),
        transport="twilio",
        twilio=TwilioSettings(
            account_sid=fake.account_sid,
            auth_token=Secret(fake.auth_token),
            from_="whatsapp:+14155238886",
            api_base_url=fake.base_url,
            timeout_seconds=1.0,
        ),
        retries=msgspec.structs.replace(pg_settings.retries, min_backoff_ms=10, max_backoff_ms=50),
        rate_limits=msgspec.structs.replace(pg_settings.rate_limits, per_second=1000.0),
    )
    namespace = f"hubtest-{secrets.token_hex(4)}"
    broker = actors.setup(settings, namespace=namespace)
    worker = Worker(broker, worker_threads=4, worker_timeout=50)
    worker.start()
    try:
        yield Pipeline(settings, fake, broker, worker)
    finally:
        worker.stop()
        broker.close()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)


def test_same_dramatiq_message_delivered_twice_creates_once(pipeline: Pipeline) -> None:
    # Given an owed row, when its send is enqueued twice and processed
    (message_id,) = pipeline.owed(["+14155550100"])
    actors.send_batch.send([message_id])
    actors.send_batch.send([message_id])
    pipeline.drain()
    # Then the fake Twilio saw one create and the row holds its sid
    assert pipeline.creates_to("+14155550100") == 1
    record = pipeline.message(message_id)
    assert record.status == MessageStatus.QUEUED and record.sid and record.sid.startswith("SM")


def test_429_then_success_creates_once_and_is_queued(pipeline: Pipeline) -> None:
    (message_id,) = pipeline.owed(["+15005550003"])  # magic: 429 once
    actors.send_batch.send([message_id])
    pipeline.drain()
    assert pipeline.creates_to("+15005550003") == 1
    record = pipeline.message(message_id)
    assert (record.status, record.attempts) == (MessageStatus.QUEUED, 1)  # a rate limit spends no attempt


@pytest.mark.parametrize(("phone", "code"), [("+15005550001", 21211), ("+15005550002", 21610)])
def test_permanent_code_ends_failed_with_that_code_after_one_call(pipeline: Pipeline, phone: str, code: int) -> None:
    (message_id,) = pipeline.owed([phone])
    actors.send_batch.send([message_id])
    pipeline.drain()
    record = pipeline.message(message_id)
    assert (record.status, record.error_code, record.attempts) == (MessageStatus.FAILED, code, 1)


def test_timeout_after_the_request_is_unknown_and_not_resent(pipeline: Pipeline) -> None:
    (message_id,) = pipeline.owed(["+15005550005"])  # magic: the create hangs past the client timeout
    actors.send_batch.send([message_id])
    actors.send_batch.send([message_id])
    pipeline.drain()
    record = pipeline.message(message_id)
    assert (record.status, record.attempts) == (MessageStatus.UNKNOWN, 1)
