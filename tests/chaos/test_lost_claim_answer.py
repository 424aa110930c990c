"""Found by the database-outage scenario: a claim that committed while its answer was lost (the connection died
mid-statement) left the row in ``sending`` for good, so the sweeper ended an unsent message as ``unknown``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.config import Settings
from hub.status import MessageStatus, RunState
from hub.store import queries as q


async def _owed_row() -> int:
    run, _ = await q.create_run(state=RunState.RUNNING)
    (message_id,) = await q.insert_messages(run.id, [q.NewMessage(recipient="+14155550100", body="hi")])
    return message_id


@pytest.mark.anyio
async def test_release_with_claimed_at_gives_back_only_that_claim(db_settings: Settings) -> None:
    message_id = await _owed_row()
    at = datetime.now(UTC)
    assert await q.claim_for_send(message_id, at) is not None
    # Given someone else's claim stamp, the row stays claimed
    other = at + timedelta(microseconds=1)
    assert await q.release_for_retry(message_id, next_attempt_at=at, claimed_at=other, count_attempt=False) is None
    # Given the claim's own stamp, it goes back to pending with the attempt undone
    released = await q.release_for_retry(message_id, next_attempt_at=at, claimed_at=at, count_attempt=False)
    assert released is not None and (released.status, released.attempts) == (MessageStatus.PENDING, 0)


def test_claim_whose_answer_is_lost_is_given_back(pg_settings: Settings, monkeypatch: Any) -> None:
    import fakeredis
    import msgspec
    from dramatiq import Worker

    import actors
    from hub.store import db
    from hub.transport.fake import FakeTransport
    from tests.chaos.stack import restore_actors

    transport = FakeTransport()
    retries = msgspec.structs.replace(pg_settings.retries, min_backoff_ms=1, max_backoff_ms=5)
    broker = actors.setup(
        msgspec.structs.replace(pg_settings, retries=retries),
        client=fakeredis.FakeRedis(server=fakeredis.FakeServer()),
        stub=True,
        namespace="chaos-claim",
        transport_factory=lambda _s: transport,
    )
    claim, lost = q.claim_batch_for_send, [ConnectionResetError("connection was closed in the middle of operation")]

    async def commit_then_lose_answer(ids: list[int], now: datetime | None = None) -> list[q.MessageRecord]:
        claimed = await claim(ids, now)
        if lost:
            raise lost.pop()
        return claimed

    monkeypatch.setattr(actors.send.queries, "claim_batch_for_send", commit_then_lose_answer)
    message_id = db.run_sync(_owed_row())
    worker = Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        # When the first claim commits but its answer is lost, the batch raises and Dramatiq retries it
        actors.send_batch.send([message_id])
        broker.join(actors.send.SEND_QUEUE, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
        restore_actors()
    # Then the claim was given back (no attempt used) and the retry sent the row once
    record = db.run_sync(q.get_message(message_id))
    assert record is not None and (record.status, record.attempts) == (MessageStatus.QUEUED, 1)
    assert len(transport.sent) == 1


def test_sid_is_recorded_across_a_short_database_outage(pg_settings: Settings, monkeypatch: Any) -> None:
    import fakeredis
    from dramatiq import Worker

    import actors
    from hub.store import db
    from hub.transport.fake import FakeTransport
    from tests.chaos.stack import restore_actors

    transport = FakeTransport()
    broker = actors.setup(
        pg_settings,
        client=fakeredis.FakeRedis(server=fakeredis.FakeServer()),
        stub=True,
        namespace="chaos-submit",
        transport_factory=lambda _s: transport,
    )
    submit, failures = q.mark_submitted, [ConnectionResetError("db away"), ConnectionResetError("db away")]

    async def flaky_submit(*args: Any, **kwargs: Any) -> q.MessageRecord | None:
        if failures:
            raise failures.pop()
        return await submit(*args, **kwargs)

    monkeypatch.setattr(actors.send.queries, "mark_submitted", flaky_submit)
    message_id = db.run_sync(_owed_row())
    worker = Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        # When Twilio accepts the create but the ledger is unreachable for the first two writes of its sid
        actors.send_batch.send([message_id])
        broker.join(actors.send.SEND_QUEUE)
        worker.join()
    finally:
        worker.stop()
        restore_actors()
    # Then the row holds the sid (queued), not a stuck claim the sweeper would end as unknown; one create
    record = db.run_sync(q.get_message(message_id))
    assert record is not None and record.status == MessageStatus.QUEUED and record.sid
    assert len(transport.sent) == 1
