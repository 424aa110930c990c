"""The send actor with a batch of one: claim once, settle every classified failure in the ledger, never send twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from actor_harness import Harness

import actors
from hub.errors import AmbiguousSendError, PermanentSendError, TransientSendError
from hub.status import MessageStatus, RunState
from hub.store import queries as q

PHONE = "+14155550100"


def test_same_message_delivered_twice_sends_once(harness: Harness) -> None:
    # Given one owed row
    _, (message_id,) = harness.new_run([PHONE])
    # When its Dramatiq message is delivered twice
    actors.send_batch.send([message_id])
    actors.send_batch.send([message_id])
    harness.drain()
    # Then the transport was called once and the row holds the sid
    assert harness.transport.sends_to(PHONE) == 1
    assert harness.message(message_id).status == MessageStatus.QUEUED
    assert harness.message(message_id).sid is not None


def test_transient_failure_is_retried_then_sent_once(harness: Harness) -> None:
    # Given a transport that answers 503 once
    harness.transport.fail_next(TransientSendError("unavailable", code=20503, http_status=503))
    _, (message_id,) = harness.new_run([PHONE])
    # When the message is processed
    actors.send_batch.send([message_id])
    harness.drain()
    # Then it was tried twice, sent once, with two claims in the ledger and no Dramatiq retry
    assert len(harness.transport.calls) == 2
    assert len(harness.transport.sent) == 1
    record = harness.message(message_id)
    assert record.status == MessageStatus.QUEUED
    assert record.attempts == 2
    assert harness.broker.dead_letters == []


def test_transient_failures_past_the_budget_end_failed(harness: Harness) -> None:
    # Given a transport that always answers 503
    harness.transport.fail_for(PHONE, TransientSendError("unavailable", code=20503, http_status=503))
    _, (message_id,) = harness.new_run([PHONE])
    # When the message is processed until nothing is left
    actors.send_batch.send([message_id])
    harness.drain()
    # Then it was tried 1 + max_retries times and ended failed with Twilio's code
    assert len(harness.transport.calls) == harness.settings.retries.max_retries + 1
    record = harness.message(message_id)
    assert (record.status, record.error_code) == (MessageStatus.FAILED, 20503)


def test_permanent_failure_ends_failed_with_code_without_retry(harness: Harness) -> None:
    harness.transport.fail_next(PermanentSendError("Invalid 'To' Phone Number", code=21211, http_status=400))
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    harness.drain()
    assert len(harness.transport.calls) == 1
    record = harness.message(message_id)
    assert (record.status, record.error_code) == (MessageStatus.FAILED, 21211)
    assert "Invalid 'To'" in (record.error_message or "")


def test_unsubscribed_failure_opts_the_contact_out(harness: Harness) -> None:
    harness.transport.fail_next(PermanentSendError("unsubscribed", code=21610, http_status=400))
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    harness.drain()
    contact = harness.run(q.get_contact(PHONE))
    assert contact is not None and contact.opted_out


def test_ambiguous_failure_ends_unknown_and_is_not_resent(harness: Harness) -> None:
    harness.transport.fail_next(AmbiguousSendError("read timeout after the request was sent"))
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    actors.send_batch.send([message_id])
    harness.drain()
    assert len(harness.transport.calls) == 1
    assert harness.message(message_id).status == MessageStatus.UNKNOWN


def test_opted_out_contact_is_skipped_without_a_send(harness: Harness) -> None:
    harness.run(q.set_opt_out(PHONE, source="test"))
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    harness.drain()
    assert harness.transport.calls == []
    assert harness.message(message_id).status == MessageStatus.SKIPPED


def test_free_form_body_outside_the_session_window_fails_without_a_send(harness: Harness) -> None:
    # Given a contact whose last inbound message is two days old
    harness.run(_inbound(PHONE, datetime.now(UTC) - timedelta(days=2)))
    _, (message_id,) = harness.new_run([PHONE])
    # When a free-form body is sent to it
    actors.send_batch.send([message_id])
    harness.drain()
    # Then Twilio is not called and the row fails with 63016
    assert harness.transport.calls == []
    record = harness.message(message_id)
    assert (record.status, record.error_code) == (MessageStatus.FAILED, 63016)


def test_free_form_body_inside_the_session_window_is_sent(harness: Harness) -> None:
    harness.run(_inbound(PHONE, datetime.now(UTC) - timedelta(hours=2)))
    _, (message_id,) = harness.new_run([PHONE])
    actors.send_batch.send([message_id])
    harness.drain()
    assert harness.transport.sends_to(PHONE) == 1


def test_paused_run_sends_nothing(harness: Harness) -> None:
    run, (message_id,) = harness.new_run([PHONE])
    harness.run(q.set_run_state(run.id, RunState.PAUSED))
    actors.send_batch.send([message_id])
    harness.drain()
    assert harness.transport.calls == []
    assert harness.message(message_id).status == MessageStatus.PENDING


async def _inbound(phone: str, at: datetime) -> None:
    await q.record_inbound(
        q.InboundRecord(
            sid=f"SM{at.timestamp():.0f}", from_phone=phone, to="+14155238886", body="hello", received_at=at
        )
    )
