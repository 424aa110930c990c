"""Sweeper: re-enqueue owed rows whose queue message is gone, settle stuck claims, finish runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from actor_harness import Harness

import actors
from actors.sweep import sweep
from hub.status import MessageStatus, RunState
from hub.store import queries as q

PHONES = ["+14155550100", "+14155550101", "+14155550102"]


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=5)


def test_lost_messages_are_requeued_and_each_sent_once(harness: Harness) -> None:
    # Given owed rows whose Dramatiq messages were lost (enqueued, then the queue was flushed)
    _, ids = harness.new_run(PHONES)
    actors.enqueue_sends(ids)
    harness.broker.flush_all()
    harness.redis.delete(f"{harness.namespace}:inflight")  # a Redis flush loses the counters with the queue
    # When the sweeper runs, and the queues are processed
    report = sweep(harness.settings, _later())
    harness.drain()
    # Then every row was re-enqueued once and sent once
    assert report.requeued == 3
    assert sorted(c.msg.to for c in harness.transport.calls) == PHONES


def test_rows_with_a_live_queue_message_are_not_enqueued_again(harness: Harness) -> None:
    # Given owed rows whose messages still wait in the queue
    _, ids = harness.new_run(PHONES)
    actors.enqueue_sends(ids)
    # When the sweeper runs
    report = sweep(harness.settings, _later())
    # Then it adds nothing to the queue
    assert report.requeued == 0
    assert harness.broker.queues[actors.send.SEND_QUEUE].qsize() == 3


def test_rows_of_a_paused_run_are_left_alone(harness: Harness) -> None:
    run, _ = harness.new_run(PHONES)
    harness.run(q.set_run_state(run.id, RunState.PAUSED))
    assert sweep(harness.settings, _later()).requeued == 0


def test_stale_sending_row_becomes_unknown_and_is_not_resent(harness: Harness) -> None:
    # Given a row claimed by a worker that died mid-call long ago
    _, (message_id,) = harness.new_run(PHONES[:1])
    claimed_at = datetime.now(UTC) - timedelta(hours=1)
    assert harness.run(q.claim_for_send(message_id, claimed_at)) is not None
    # When the sweeper runs
    report = sweep(harness.settings)
    harness.drain()
    # Then the row is unknown and nothing was sent
    assert report.stale == 1
    assert harness.message(message_id).status == MessageStatus.UNKNOWN
    assert harness.transport.calls == []


def test_recent_claim_is_not_touched(harness: Harness) -> None:
    _, (message_id,) = harness.new_run(PHONES[:1])
    assert harness.run(q.claim_for_send(message_id, datetime.now(UTC))) is not None
    assert sweep(harness.settings).stale == 0
    assert harness.message(message_id).status == MessageStatus.SENDING


def test_run_with_nothing_owed_is_finished(harness: Harness) -> None:
    # Given a fanned-out run whose sends all went out
    run, ids = harness.new_run(PHONES)
    harness.run(q.update_checkpoint(run.id, len(ids), total=len(ids), fanned_out=True))
    actors.enqueue_sends(ids)
    harness.drain()
    # When the sweeper runs, then the run is finished
    assert sweep(harness.settings).finished == 1
    finished = harness.run(q.get_run(run.id))
    assert finished is not None and finished.state == RunState.FINISHED
