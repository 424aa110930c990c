"""The send actor with many rows per Dramatiq message, each settled as it would be alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from actor_harness import Harness

import actors
from actors.batch import raise_first
from actors.middleware.inflight import inflight_of
from actors.middleware.retries import ClaimAbandoned
from hub.config import SendingSettings
from hub.errors import PermanentSendError, TransientSendError
from hub.status import MessageStatus, RunState
from hub.store import queries as q

PHONES = [f"+1415555010{i}" for i in range(6)]


def test_batch_delivered_twice_sends_each_row_once(harness: Harness) -> None:
    # Given three owed rows
    _, ids = harness.new_run(PHONES[:3])
    # When their batch message is delivered twice
    actors.send_batch.send(ids)
    actors.send_batch.send(ids)
    harness.drain()
    # Then each recipient got one send and each row holds its sid
    assert [harness.transport.sends_to(p) for p in PHONES[:3]] == [1, 1, 1]
    assert {harness.message(i).status for i in ids} == {MessageStatus.QUEUED}


def test_mixed_batch_settles_each_row_as_it_would_be_alone(harness: Harness) -> None:
    # Given six rows: one claimed by another worker, one opted out, one due in 200 ms, one meeting a transient
    # failure, one a permanent failure, and a plain one
    elsewhere, opted, later, transient, permanent, plain = PHONES
    _, ids = harness.new_run(PHONES)
    by_phone = dict(zip(PHONES, ids, strict=True))
    harness.run(q.set_opt_out(opted, source="test"))
    assert harness.run(q.claim_for_send(by_phone[elsewhere])) is not None
    harness.run(q.claim_for_send(by_phone[later]))
    harness.run(
        q.release_for_retry(
            by_phone[later],
            next_attempt_at=datetime.now(UTC) + timedelta(milliseconds=200),
            error_code=None,
            error_message=None,
            count_attempt=False,
        )
    )
    harness.transport.fail_for(transient, TransientSendError("unavailable", code=20503, http_status=503), times=1)
    harness.transport.fail_for(permanent, PermanentSendError("bad number", code=21211, http_status=400))
    # When they travel in one batch and every follow-up message is processed
    actors.send_batch.send(ids)
    harness.drain()
    # Then each row ends where a batch of one leaves it
    status = {phone: harness.message(by_phone[phone]) for phone in PHONES}
    assert status[elsewhere].status == MessageStatus.SENDING  # never sent by the batch
    assert harness.transport.sends_to(elsewhere) == 0
    assert status[opted].status == MessageStatus.SKIPPED
    assert (status[later].status, harness.transport.sends_to(later)) == (MessageStatus.QUEUED, 1)
    assert (status[transient].status, status[transient].attempts) == (MessageStatus.QUEUED, 2)
    assert (status[permanent].status, status[permanent].error_code) == (MessageStatus.FAILED, 21211)
    assert status[plain].status == MessageStatus.QUEUED
    assert harness.broker.dead_letters == []


def test_the_batch_that_settles_a_runs_last_rows_finishes_it(harness: Harness) -> None:
    # Given a fanned-out run of three rows, and no sweeper running
    run, ids = harness.new_run(PHONES[:3])
    harness.run(q.update_checkpoint(run.id, len(ids), total=len(ids), fanned_out=True))
    # When one batch sends two of them, the run still owes the third and is running
    actors.send_batch.send(ids[:2])
    harness.drain()
    assert harness.run(q.get_run(run.id)).state == RunState.RUNNING
    # Then the batch that settles the last row finishes it, started at its first claim
    actors.send_batch.send(ids[2:])
    harness.drain()
    finished = harness.run(q.get_run(run.id))
    assert finished.state == RunState.FINISHED
    assert finished.started_at is not None and finished.started_at <= finished.finished_at


def test_a_batch_whose_rows_fail_for_good_finishes_the_run(harness: Harness) -> None:
    # Given a fanned-out run of one row that Twilio refuses for good
    run, ids = harness.new_run(PHONES[:1])
    harness.run(q.update_checkpoint(run.id, len(ids), total=len(ids), fanned_out=True))
    harness.transport.fail_for(PHONES[0], PermanentSendError("bad number", code=21211, http_status=400))
    # When its batch is processed
    actors.send_batch.send(ids)
    harness.drain()
    # Then the row is failed and the run finished
    assert harness.message(ids[0]).status == MessageStatus.FAILED
    assert harness.run(q.get_run(run.id)).state == RunState.FINISHED


def test_a_batch_leaves_running_a_run_whose_fan_out_is_not_complete(harness: Harness) -> None:
    # Given a run still fanning out (more rows may come)
    _, ids = harness.new_run(PHONES[:1])
    # When its only row so far is sent
    actors.send_batch.send(ids)
    harness.drain()
    # Then the run is running still
    assert harness.run(q.get_run(harness.message(ids[0]).run_id)).state == RunState.RUNNING


def test_inflight_counts_every_id_of_a_queued_batch(harness: Harness) -> None:
    # Given owed rows enqueued as batches
    _, ids = harness.new_run(PHONES)
    actors.enqueue.enqueue_batches(actors.send_batch, ids, options={}, size=4)
    inflight = inflight_of(harness.broker)
    assert inflight is not None
    # Then every id is live while the batch waits, and none once it is processed
    assert inflight.live(ids) == set(ids)
    harness.drain()
    assert inflight.live(ids) == set()


def test_enqueue_batches_packs_ids_into_messages_of_size(harness: Harness) -> None:
    _, ids = harness.new_run(PHONES)
    actors.enqueue.enqueue_batches(actors.send_batch, ids, options={}, size=4)
    messages = {m.message_id: m for _, m in harness.queued_sends()}
    assert sorted(len(m.args[0]) for m in messages.values()) == [2, 4]


@pytest.mark.parametrize(
    ("outcomes", "raised"),
    [
        ([None, None], None),
        ([ClaimAbandoned("x"), None], ClaimAbandoned),
        ([ClaimAbandoned("x"), ConnectionError("db")], ConnectionError),
        ([ConnectionError("db"), ClaimAbandoned("x")], ConnectionError),
    ],
    ids=["all-settled", "abandoned-only", "retryable-wins-after", "retryable-wins-before"],
)
def test_raise_first(outcomes: list[BaseException | None], raised: type[BaseException] | None) -> None:
    if raised is None:
        raise_first(outcomes)
        return
    with pytest.raises(raised):
        raise_first(outcomes)


@pytest.mark.parametrize(("size", "batches"), [(100, 1), (1, 3)])
def test_enqueue_sends_follows_the_configured_batch_size(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, size: int, batches: int
) -> None:
    rt = actors.runtime.current()
    monkeypatch.setattr(rt, "settings", msgspec.structs.replace(rt.settings, sending=SendingSettings(batch_size=size)))
    _, ids = harness.new_run(PHONES[:3])
    actors.enqueue_sends(ids)
    queued = harness.queued_sends()
    assert sorted(i for i, _ in queued) == sorted(ids)
    assert {m.actor_name for _, m in queued} == {"send_batch"}
    assert len({m.message_id for _, m in queued}) == batches


def test_enqueued_batches_carry_their_run_and_its_cap(harness: Harness) -> None:
    run, ids = harness.new_run(PHONES[:3])
    actors.enqueue_sends(ids, run_id=run.id, meta={"rate_limit": {"per_second": 5}})
    ((_, message), *_) = harness.queued_sends()
    assert message.kwargs == {"run_rate": 5.0, "run_id": run.id}
