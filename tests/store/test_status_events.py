"""apply_status on both engines: monotonic, deduplicated, recorded, parked until the sid is known."""

from __future__ import annotations

import asyncio

import pytest
from helpers_store import at, run_with, submitted

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import queries as q
from hub.store.tables import Message

pytestmark = pytest.mark.anyio


def report(status: str, sid: str = "SM1", seconds: float = 10, **kwargs: object) -> q.StatusUpdate:
    return q.StatusUpdate(sid=sid, status=status, at=at(seconds), **kwargs)  # type: ignore[arg-type]


async def statuses(message_id: int) -> tuple[S, list[str]]:
    message = await q.get_message(message_id, with_history=True)
    assert message is not None
    return message.status, [event.status for event in message.history if event.source == "callback"]


async def test_forward_report_is_applied(db_settings: Settings) -> None:
    message_id = await submitted()

    assert await q.apply_status(report("sent")) == "applied"
    assert (await statuses(message_id))[0] == S.SENT


async def test_late_sent_after_delivered_is_recorded_not_applied(db_settings: Settings) -> None:
    message_id = await submitted()

    first = await q.apply_status(report("delivered", seconds=10))
    late = await q.apply_status(report("sent", seconds=11))

    assert (first, late) == ("applied", "recorded")
    assert await statuses(message_id) == (S.DELIVERED, ["delivered", "sent"])


async def test_delivered_stamps_delivered_at_and_finished_at(db_settings: Settings) -> None:
    message_id = await submitted()

    await q.apply_status(report("delivered", seconds=10))

    message = await q.get_message(message_id)
    assert message is not None and (message.delivered_at, message.finished_at) == (at(10), at(10))


@pytest.mark.parametrize("status", ["sent", "delivered", "read"])
async def test_a_message_that_got_through_on_a_later_attempt_keeps_no_earlier_error(
    db_settings: Settings, status: str
) -> None:
    message_id = await submitted()
    # The first attempt's error on the row, as a failed create or callback leaves it.
    await Message.update({Message.error_code: 30001, Message.error_message: "queue overflow"}).where(
        Message.id == message_id
    )

    assert await q.apply_status(report(status)) == "applied"

    message = await q.get_message(message_id)
    assert message is not None and (message.error_code, message.error_message) == (None, None)


async def test_read_without_delivered_is_applied(db_settings: Settings) -> None:
    message_id = await submitted()

    assert await q.apply_status(report("read", seconds=12)) == "applied"

    message = await q.get_message(message_id)
    assert message is not None and (message.status, message.read_at) == (S.READ, at(12))


async def test_read_after_delivered_is_applied(db_settings: Settings) -> None:
    message_id = await submitted()
    await q.apply_status(report("delivered"))

    assert await q.apply_status(report("read")) == "applied"
    assert (await statuses(message_id))[0] == S.READ


async def test_same_report_twice_is_a_duplicate(db_settings: Settings) -> None:
    message_id = await submitted()

    outcomes = [await q.apply_status(report("delivered")) for _ in range(2)]

    assert outcomes == ["applied", "duplicate"]
    assert await statuses(message_id) == (S.DELIVERED, ["delivered"])


async def test_same_idempotency_token_is_a_duplicate(db_settings: Settings) -> None:
    await submitted()

    first = await q.apply_status(report("sent", dedupe_key="token-1"))
    second = await q.apply_status(report("delivered", dedupe_key="token-1"))

    assert (first, second) == ("applied", "duplicate")


async def test_concurrent_duplicate_callbacks_apply_once(db_settings: Settings) -> None:
    message_id = await submitted()

    outcomes = await asyncio.gather(*(q.apply_status(report("delivered")) for _ in range(10)))

    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 9
    assert await statuses(message_id) == (S.DELIVERED, ["delivered"])


async def test_failure_stores_twilio_code_and_message(db_settings: Settings) -> None:
    message_id = await submitted()

    await q.apply_status(report("undelivered", error_code=63024, error_message="invalid recipient"))

    message = await q.get_message(message_id)
    assert message is not None
    assert (message.status, message.error_code, message.error_message) == (S.UNDELIVERED, 63024, "invalid recipient")


async def test_failure_after_delivered_is_recorded(db_settings: Settings) -> None:
    message_id = await submitted()
    await q.apply_status(report("delivered"))

    assert await q.apply_status(report("failed", error_code=30008)) == "recorded"
    assert (await statuses(message_id))[0] == S.DELIVERED


async def test_untracked_status_word_is_recorded(db_settings: Settings) -> None:
    message_id = await submitted()

    assert await q.apply_status(report("partially_delivered")) == "recorded"
    assert (await statuses(message_id))[0] == S.QUEUED


async def test_callback_before_sid_is_parked_then_applied_at_submit(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))

    parked = await q.apply_status(report("delivered", sid="SMearly", seconds=3))
    message = await q.mark_submitted(message_id, "SMearly", "queued", now=at(4))

    assert parked == "parked"
    assert message is not None and (message.status, message.delivered_at) == (S.DELIVERED, at(3))
    assert (await statuses(message_id))[1] == ["delivered"]


async def test_parked_reports_apply_in_arrival_order(db_settings: Settings) -> None:
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))
    await q.apply_status(report("read", sid="SMx", seconds=3))
    await q.apply_status(report("sent", sid="SMx", seconds=4))

    message = await q.mark_submitted(message_id, "SMx", "queued", now=at(5))

    assert message is not None and message.status == S.READ


async def test_parked_reports_are_linked_and_marked_applied_only_when_they_moved_the_row(db_settings: Settings) -> None:
    # Given a read and then a late sent for a sid no row holds yet (both parked)
    _, (message_id,) = await run_with(1)
    await q.claim_for_send(message_id, at(1))
    await q.apply_status(report("read", sid="SMy", seconds=3))
    await q.apply_status(report("sent", sid="SMy", seconds=4))
    # When the worker stores the sid
    await q.mark_submitted(message_id, "SMy", "queued", now=at(5))
    # Then both are in the row's history, and only the read (which moved it) is applied
    message = await q.get_message(message_id, with_history=True)
    assert message is not None
    assert [(e.status, e.applied) for e in message.history if e.source == "callback"] == [
        ("read", True),
        ("sent", False),
    ]


async def test_payload_is_kept_in_history(db_settings: Settings) -> None:
    message_id = await submitted()

    await q.apply_status(report("sent", payload={"MessageSid": "SM1", "MessageStatus": "sent"}))

    message = await q.get_message(message_id, with_history=True)
    assert message is not None
    assert [e.payload for e in message.history if e.source == "callback"] == [
        {"MessageSid": "SM1", "MessageStatus": "sent"}
    ]


async def test_worker_steps_appear_in_history(db_settings: Settings) -> None:
    message_id = await submitted()

    message = await q.get_message(message_id, with_history=True)

    assert message is not None and [(e.status, e.source) for e in message.history] == [("queued", "worker")]
