"""Which transports can answer reconciliation: the fake transport knows its calls, the simulator cannot say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actors.reconcile import reconcile_unknown
from hub.config import Settings
from hub.rendering import OutboundMessage
from hub.status import MessageStatus as S
from hub.store import queries as q
from hub.transport.fake import FakeTransport
from hub.transport.lookup import RemoteMessage
from hub.transport.simulator import SimulatorTransport

pytestmark = pytest.mark.anyio

PHONE = "+14155550123"
QUARANTINE = timedelta(seconds=20)


async def unknown_row(body: str = "hi") -> int:
    run, _ = await q.create_run()
    (message_id,) = await q.insert_messages(run.id, [q.NewMessage(recipient=PHONE, body=body)])
    assert await q.claim_for_send(message_id)
    assert await q.mark_final(message_id, S.UNKNOWN, error_message="timed out")
    return message_id


async def test_fake_transport_lists_its_sends_to_a_number_since_an_instant() -> None:
    transport = FakeTransport()
    before = datetime.now(UTC)
    first = await transport.send(OutboundMessage(to=PHONE, body="a"))
    await transport.send(OutboundMessage(to="+14155550999", body="b"))

    found = await transport.find_sent(PHONE, before)

    assert [m.sid for m in found] == [first.sid]
    assert await transport.find_sent(PHONE, datetime.now(UTC) + timedelta(seconds=1)) == []


async def test_simulator_rows_stay_unknown(db_settings: Settings) -> None:
    message_id = await unknown_row()
    later = datetime.now(UTC) + timedelta(hours=1)

    report = await reconcile_unknown(SimulatorTransport(db_settings, None), quarantine=QUARANTINE, now=later)

    assert report.unanswerable == 1
    assert (await q.get_message(message_id)).status == S.UNKNOWN  # type: ignore[union-attr]


async def test_two_unknown_rows_of_one_recipient_and_one_message_at_twilio_stay_unknown(
    db_settings: Settings,
) -> None:
    transport = FakeTransport()
    ids = [await unknown_row(), await unknown_row()]
    await transport.send(OutboundMessage(to=PHONE, body="hi"))  # one of the two creates landed: which one?

    report = await reconcile_unknown(transport, quarantine=QUARANTINE, now=datetime.now(UTC) + timedelta(hours=1))

    assert report.ambiguous == 2
    assert {(await q.get_message(i)).status for i in ids} == {S.UNKNOWN}  # type: ignore[union-attr]


async def test_rows_with_different_bodies_are_told_apart(db_settings: Settings) -> None:
    transport = FakeTransport()
    first, second = await unknown_row("one"), await unknown_row("two")
    sent_two = await transport.send(OutboundMessage(to=PHONE, body="two"))

    report = await reconcile_unknown(transport, quarantine=QUARANTINE, now=datetime.now(UTC) + timedelta(hours=1))

    one, two = await q.get_message(first), await q.get_message(second)
    assert (report.attached, report.released) == (1, 1)
    assert one is not None and (one.status, one.sid) == (S.PENDING, None)
    assert two is not None and (two.status, two.sid) == (S.QUEUED, sent_two.sid)


class Listing:
    """A provider that lists one message for every number: what Twilio says of a create it took and settled."""

    def __init__(self, message: RemoteMessage) -> None:
        self.message = message

    async def find_sent(self, to: str, since: datetime) -> list[RemoteMessage]:
        return [self.message]


@pytest.mark.parametrize("status", ["failed", "undelivered"])
async def test_a_message_that_failed_at_twilio_takes_its_error_code_and_message(
    db_settings: Settings, status: str
) -> None:
    message_id = await unknown_row()
    failed = RemoteMessage(
        sid="SM" + "f" * 32,
        to=PHONE,
        body="hi",
        status=status,
        created_at=datetime.now(UTC),
        error_code=63016,
        error_message="Outside the allowed window",
    )

    report = await reconcile_unknown(Listing(failed), quarantine=QUARANTINE, now=datetime.now(UTC) + timedelta(hours=1))

    message = await q.get_message(message_id, with_history=True)
    assert report.attached == 1
    assert message is not None
    assert (message.sid, message.status, message.error_code, message.error_message) == (
        failed.sid,
        S(status),
        63016,
        "Outside the allowed window",
    )
    assert [(e.status, e.source) for e in message.history][-2:] == [("accepted", "reconcile"), (status, "reconcile")]


async def test_a_message_delivered_at_twilio_is_stamped_delivered(db_settings: Settings) -> None:
    message_id = await unknown_row()
    delivered = RemoteMessage(
        sid="SM" + "d" * 32, to=PHONE, body="hi", status="delivered", created_at=datetime.now(UTC)
    )

    await reconcile_unknown(Listing(delivered), quarantine=QUARANTINE, now=datetime.now(UTC) + timedelta(hours=1))

    message = await q.get_message(message_id)
    assert message is not None and (message.status, message.error_code) == (S.DELIVERED, None)
    assert message.delivered_at is not None
