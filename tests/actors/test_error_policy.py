"""Error codes on the create, through the real send actors: rate limits pace, sender-level codes pause the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from actor_harness import Harness

import actors
from hub.errors import PermanentSendError, SendError, TransientSendError
from hub.status import MessageStatus, RunState
from hub.store import queries as q
from hub.store.records import StatusUpdate

PHONES = ["+14155550170", "+14155550171", "+14155550172"]


def test_a_persistent_429_never_fails_the_message(harness: Harness) -> None:
    # Given Twilio answers 429 to far more creates than the retry budget allows
    budget = harness.settings.retries.max_retries
    harness.transport.fail_for(
        PHONES[0], TransientSendError("Too Many Requests", code=20429, http_status=429), times=budget + 4
    )
    _, (message_id,) = harness.new_run(PHONES[:1])
    # When the message is processed until nothing is left
    actors.send_batch.send([message_id])
    harness.drain()
    # Then it was sent once the limit lifted, and no 429 used up an attempt
    record = harness.message(message_id)
    assert len(harness.transport.calls) == budget + 5
    assert (record.status, record.attempts) == (MessageStatus.QUEUED, 1)


@pytest.mark.parametrize(
    "error",
    [
        PermanentSendError("Authenticate", code=20003, http_status=401),
        PermanentSendError("Twilio answered HTTP 401", code=None, http_status=401),
        PermanentSendError("Account suspended", code=20008, http_status=403),
        PermanentSendError("Template paused", code=63047, http_status=400),
    ],
    ids=["20003", "401", "20008", "63047"],
)
def test_a_sender_level_error_mid_run_pauses_the_run_with_nothing_failed(harness: Harness, error: SendError) -> None:
    # Given a run whose first create goes through, then Twilio refuses the sender
    harness.transport.fail_next(None, error, error, error)
    run, ids = harness.new_run(PHONES)
    # When the run is sent
    actors.send_batch.send(ids)
    harness.drain()
    # Then the run is paused with the reason, the first row is sent, and every other row is still owed
    paused = harness.run(q.get_run(run.id))
    statuses = sorted(harness.message(i).status for i in ids)
    assert paused is not None and paused.state == RunState.PAUSED
    assert paused.meta["paused_reason"]
    assert statuses == [MessageStatus.PENDING, MessageStatus.PENDING, MessageStatus.QUEUED]
    assert MessageStatus.FAILED not in statuses


def test_after_a_callback_opts_the_contact_out_the_next_send_is_skipped(harness: Harness) -> None:
    # Given a message Twilio took, then reported undelivered because the user blocked the business (63014)
    _, (first,) = harness.new_run(PHONES[:1])
    actors.send_batch.send([first])
    harness.drain()
    sid = harness.message(first).sid
    assert sid is not None
    blocked = StatusUpdate(sid=sid, status="undelivered", at=datetime.now(UTC), error_code=63014)
    harness.run(q.apply_status(blocked, retries=harness.settings.retries))
    # When the next message to that contact is processed
    _, (second,) = harness.new_run(PHONES[:1])
    actors.send_batch.send([second])
    harness.drain()
    # Then it is skipped: one create only
    assert harness.message(second).status == MessageStatus.SKIPPED
    assert harness.transport.sends_to(PHONES[0]) == 1


@pytest.mark.parametrize(
    ("expires_in", "expected"), [(timedelta(hours=2), (7190, 7200)), (timedelta(days=2), (36000, 36000)), (None, None)]
)
def test_a_message_goes_with_validity_period_from_its_runs_expiry(
    harness: Harness, expires_in: timedelta | None, expected: tuple[int, int] | None
) -> None:
    expires_at = datetime.now(UTC) + expires_in if expires_in is not None else None
    _, (message_id,) = harness.new_run(PHONES[:1], expires_at=expires_at)
    actors.send_batch.send([message_id])
    harness.drain()
    (call,) = harness.transport.calls
    validity = call.msg.validity_period_s
    if expected is None:
        assert validity is None
    else:
        assert validity is not None and expected[0] <= validity <= expected[1]
