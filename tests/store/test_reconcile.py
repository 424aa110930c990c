"""Reconciliation: a callback for an unknown sid attaches to the one ``unknown`` row of its recipient."""

from __future__ import annotations

import pytest
from helpers_store import T0, at, phones

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import queries as q
from hub.store.reconcile import recipient_of

pytestmark = pytest.mark.anyio

PHONE = phones(1)[0]


async def unknown_rows(*recipients: str) -> list[int]:
    """Rows claimed and then marked ``unknown`` (the worker timed out after the request left)."""
    run, _ = await q.create_run()
    ids = await q.insert_messages(run.id, [q.NewMessage(recipient=p, body="hi") for p in recipients], now=T0)
    for message_id in ids:
        assert await q.claim_for_send(message_id, at(1))
        assert await q.mark_final(message_id, S.UNKNOWN, error_message="timed out", now=at(2))
    return ids


def callback(status: str, sid: str = "SMlost", to: str = f"whatsapp:{PHONE}", seconds: float = 10) -> q.StatusUpdate:
    return q.StatusUpdate(sid=sid, status=status, at=at(seconds), payload={"To": to, "MessageSid": sid})


async def test_single_unknown_row_takes_the_sid_and_the_status(db_settings: Settings) -> None:
    (message_id,) = await unknown_rows(PHONE)

    outcome = await q.apply_status(callback("delivered"))

    message = await q.get_message(message_id, with_history=True)
    assert outcome == "reconciled"
    assert message is not None and (message.sid, message.status) == ("SMlost", S.DELIVERED)
    assert [(e.status, e.source) for e in message.history][-2:] == [
        ("delivered", "callback"),
        ("accepted", "reconcile"),
    ]


async def test_later_callbacks_of_a_reconciled_sid_apply_directly(db_settings: Settings) -> None:
    (message_id,) = await unknown_rows(PHONE)
    await q.apply_status(callback("sent", seconds=10))

    assert await q.apply_status(callback("read", seconds=11)) == "applied"
    message = await q.get_message(message_id)
    assert message is not None and message.status == S.READ


async def test_two_unknown_rows_of_the_recipient_leave_it_parked(db_settings: Settings) -> None:
    (first,) = await unknown_rows(PHONE)
    (second,) = await unknown_rows(PHONE)  # another run to the same recipient

    outcome = await q.apply_status(callback("delivered"))

    assert outcome == "parked"
    for message_id in (first, second):
        message = await q.get_message(message_id)
        assert message is not None and (message.sid, message.status) == (None, S.UNKNOWN)


async def test_a_row_still_sending_makes_it_ambiguous(db_settings: Settings) -> None:
    await unknown_rows(PHONE)
    run, _ = await q.create_run()
    (sending,) = await q.insert_messages(run.id, [q.NewMessage(recipient=PHONE, body="again")], now=T0)
    await q.claim_for_send(sending, at(3))

    assert await q.apply_status(callback("delivered")) == "parked"


async def test_row_created_after_the_callback_is_not_a_candidate(db_settings: Settings) -> None:
    await unknown_rows(PHONE)

    assert await q.apply_status(callback("delivered", seconds=-60)) == "parked"


async def test_other_recipient_is_not_a_candidate(db_settings: Settings) -> None:
    await unknown_rows(phones(1, start=7)[0])

    assert await q.apply_status(callback("delivered")) == "parked"


@pytest.mark.parametrize(
    ("to", "phone"),
    [
        ("whatsapp:+14155550100", "+14155550100"),
        ("WhatsApp:+14155550100", "+14155550100"),
        ("+14155550100", "+14155550100"),
        (" whatsapp:+14155550100 ", "+14155550100"),
        ("whatsapp:14155550100", None),
        ("", None),
        (None, None),
    ],
)
def test_recipient_of(to: str | None, phone: str | None) -> None:
    assert recipient_of(to) == phone
