"""A callback for a sid no row holds is settled through the row its URL names, never by the recipient's number."""

from __future__ import annotations

import pytest
from helpers_store import T0, at, phones

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import queries as q
from hub.store.unsettled import release_unknown

pytestmark = pytest.mark.anyio

PHONE = phones(1)[0]


async def row(status: S, *, recipient: str = PHONE, sid: str | None = None) -> int:
    """One row of a new run, brought to ``status``: claimed at 1 s, then settled at 2 s."""
    run, _ = await q.create_run()
    (message_id,) = await q.insert_messages(run.id, [q.NewMessage(recipient=recipient, body="hi")], now=T0)
    if status == S.PENDING:
        return message_id
    assert await q.claim_for_send(message_id, at(1))
    if sid is not None:
        assert await q.mark_submitted(message_id, sid, "queued", now=at(2))
    elif status == S.UNKNOWN:
        assert await q.mark_final(message_id, S.UNKNOWN, error_message="timed out", now=at(2))
    return message_id


def callback(status: str, sid: str = "SMlost", *, names: int | None = None, seconds: float = 10) -> q.StatusUpdate:
    return q.StatusUpdate(
        sid=sid,
        status=status,
        at=at(seconds),
        payload={"To": f"whatsapp:{PHONE}", "MessageSid": sid},
        message_id=names,
    )


async def state(message_id: int) -> tuple[str | None, S]:
    message = await q.get_message(message_id)
    assert message is not None
    return message.sid, message.status


async def test_a_callback_for_an_unknown_sid_never_settles_a_row_by_its_number(pg_settings: Settings) -> None:
    never_reached_twilio = await row(S.UNKNOWN)

    outcome = await q.apply_status(callback("delivered"))

    assert outcome == "parked"
    assert await state(never_reached_twilio) == (None, S.UNKNOWN)


async def test_a_callback_naming_another_row_leaves_this_one_alone(pg_settings: Settings) -> None:
    never_reached_twilio = await row(S.UNKNOWN)
    named = await row(S.UNKNOWN)

    await q.apply_status(callback("delivered", names=named))

    assert await state(never_reached_twilio) == (None, S.UNKNOWN)
    assert await state(named) == ("SMlost", S.DELIVERED)


async def test_a_callback_naming_an_unknown_row_gives_it_the_sid_and_the_status(pg_settings: Settings) -> None:
    message_id = await row(S.UNKNOWN)

    outcome = await q.apply_status(callback("delivered", names=message_id))

    message = await q.get_message(message_id, with_history=True)
    assert outcome == "reconciled"
    assert message is not None and (message.sid, message.status) == ("SMlost", S.DELIVERED)
    assert [(e.sid, e.status, e.source) for e in message.history][-2:] == [
        ("SMlost", "delivered", "callback"),
        ("SMlost", "accepted", "reconcile"),
    ]


async def test_a_callback_naming_a_released_row_settles_it_so_it_is_not_sent_again(pg_settings: Settings) -> None:
    message_id = await row(S.UNKNOWN)
    assert await release_unknown(message_id, claimed_at=at(1), reason="not at Twilio", now=at(600)) == S.PENDING

    assert await q.apply_status(callback("sent", names=message_id)) == "reconciled"

    assert await state(message_id) == ("SMlost", S.SENT)
    assert await q.claim_for_send(message_id, at(700)) is None


async def test_later_callbacks_of_a_named_sid_apply_directly(pg_settings: Settings) -> None:
    message_id = await row(S.UNKNOWN)
    await q.apply_status(callback("sent", names=message_id, seconds=10))

    assert await q.apply_status(callback("read", names=message_id, seconds=11)) == "applied"
    assert await state(message_id) == ("SMlost", S.READ)


async def test_a_callback_naming_a_row_still_sending_waits_for_the_workers_sid(pg_settings: Settings) -> None:
    message_id = await row(S.SENDING)

    assert await q.apply_status(callback("delivered", names=message_id)) == "parked"
    assert await state(message_id) == (None, S.SENDING)

    await q.mark_submitted(message_id, "SMlost", "queued", now=at(11))
    assert await state(message_id) == ("SMlost", S.DELIVERED)


async def test_a_second_sid_for_a_row_is_recorded_in_its_history_as_a_duplicate(pg_settings: Settings) -> None:
    message_id = await row(S.QUEUED, sid="SMfirst")

    first = await q.apply_status(callback("sent", sid="SMorphan", names=message_id, seconds=10))
    again = await q.apply_status(callback("delivered", sid="SMorphan", names=message_id, seconds=11))

    message = await q.get_message(message_id, with_history=True)
    assert message is not None
    assert (first, again) == ("second_sid", "recorded")
    assert (message.sid, message.status) == ("SMfirst", S.QUEUED)
    orphan = [(e.status, e.source, e.applied) for e in message.history if e.sid == "SMorphan"]
    assert sorted(orphan) == [
        ("delivered", "callback", False),
        ("sent", "callback", False),
        ("sent", "reconcile", False),
    ]


async def test_a_callback_naming_a_row_that_does_not_exist_stays_parked(pg_settings: Settings) -> None:
    assert await q.apply_status(callback("delivered", names=987654)) == "parked"
