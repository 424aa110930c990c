"""Reconciliation against the fake Twilio through the real twilio client: lost answers and stranded rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import fakeredis
import msgspec
import pytest

import actors
from actors.reconcile import quarantine, reconcile_after_sweep, reconcile_unknown
from actors.runtime import ReconcileState
from hub.config import Secret, Settings, TwilioSettings
from hub.errors import AmbiguousSendError
from hub.faketwilio import FakeTwilioHandle, start_fake_twilio
from hub.rendering import OutboundMessage
from hub.status import MessageStatus as S
from hub.store import queries as q
from hub.transport.twilio import TwilioTransport

pytestmark = pytest.mark.anyio

HANG = "+15005550005"  # the fake records the create, then answers past the client's timeout
PHONE = "+14155550123"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTwilioHandle]:
    with start_fake_twilio(callbacks=False, hang_s=3.0) as fake:
        yield fake


@pytest.fixture
def settings(fake_server: FakeTwilioHandle, db_settings: Settings) -> Settings:
    fake_server.reset()
    twilio = TwilioSettings(
        account_sid=fake_server.account_sid,
        auth_token=Secret(fake_server.auth_token),
        from_="whatsapp:+14155238886",
        api_base_url=fake_server.base_url,
        timeout_seconds=0.5,
    )
    configured = msgspec.structs.replace(db_settings, twilio=twilio)
    # A fresh process runtime: the sweep hook's reconcile cursor and Twilio client live on it.
    actors.setup(configured, stub=True, client=fakeredis.FakeRedis(), namespace="reconcile-test")
    return configured


@pytest.fixture
async def transport(settings: Settings) -> AsyncIterator[TwilioTransport]:
    client = TwilioTransport(settings)
    yield client
    await client.close()


async def send(transport: TwilioTransport, message_id: int, phone: str) -> None:
    """What a worker does with one row: claim, create at Twilio, store the outcome (unknown when ambiguous)."""
    assert await q.claim_for_send(message_id)
    try:
        receipt = await transport.send(OutboundMessage(to=phone, body="hi"))
    except AmbiguousSendError as exc:
        assert await q.mark_final(message_id, S.UNKNOWN, error_message=str(exc))
        return
    assert await q.mark_submitted(message_id, receipt.sid, receipt.status)


async def new_row(phone: str) -> int:
    run, _ = await q.create_run()
    (message_id,) = await q.insert_messages(run.id, [q.NewMessage(recipient=phone, body="hi")])
    return message_id


async def test_find_sent_lists_the_creates_of_a_number_through_the_twilio_client(
    fake_server: FakeTwilioHandle, transport: TwilioTransport
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(3):
        await transport.send(OutboundMessage(to=PHONE, body="hi"))
    await transport.send(OutboundMessage(to="+14155550999", body="hi"))

    found = await transport.find_sent(PHONE, before, limit=10)

    assert found is not None
    assert sorted(m.sid for m in found) == sorted(m["sid"] for m in fake_server.messages() if m["to"].endswith(PHONE))


async def test_find_sent_gives_no_answer_when_the_list_is_longer_than_its_limit(transport: TwilioTransport) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(3):
        await transport.send(OutboundMessage(to=PHONE, body="hi"))

    assert await transport.find_sent(PHONE, before, limit=2) is None


async def test_lost_answer_ends_unknown_then_takes_the_sid_twilio_holds(
    fake_server: FakeTwilioHandle, settings: Settings, transport: TwilioTransport
) -> None:
    message_id = await new_row(HANG)
    await send(transport, message_id, HANG)
    assert (await q.get_message(message_id)).status == S.UNKNOWN  # type: ignore[union-attr]

    report = await reconcile_unknown(transport, quarantine=quarantine(settings))

    message = await q.get_message(message_id, with_history=True)
    (created,) = fake_server.messages()
    assert report.attached == 1
    assert message is not None and (message.sid, message.status) == (created["sid"], S.QUEUED)
    assert message.history[-1].source == "reconcile"


async def test_stranded_row_not_at_twilio_is_released_and_sent_once(
    fake_server: FakeTwilioHandle, settings: Settings, transport: TwilioTransport
) -> None:
    message_id = await new_row(PHONE)
    assert await q.claim_for_send(message_id)  # the worker died before its create
    assert await q.mark_final(message_id, S.UNKNOWN, error_message="stale")
    later = datetime.now(UTC) + quarantine(settings) + timedelta(seconds=1)

    report = await reconcile_unknown(transport, quarantine=quarantine(settings), now=later)
    await send(transport, message_id, PHONE)

    message = await q.get_message(message_id)
    assert report.released == 1
    assert message is not None and message.status == S.QUEUED
    assert [m["sid"] for m in fake_server.messages()] == [message.sid]


async def test_young_unknown_row_with_nothing_at_twilio_waits(settings: Settings, transport: TwilioTransport) -> None:
    message_id = await new_row(PHONE)
    assert await q.claim_for_send(message_id)
    assert await q.mark_final(message_id, S.UNKNOWN, error_message="timed out")

    report = await reconcile_unknown(transport, quarantine=quarantine(settings))

    assert report.waiting == 1
    assert (await q.get_message(message_id)).status == S.UNKNOWN  # type: ignore[union-attr]


def test_sweep_hook_reconciles_with_the_configured_twilio(fake_server: FakeTwilioHandle, settings: Settings) -> None:
    from hub.store.db import run_sync

    async def lost() -> int:
        client = TwilioTransport(settings)
        try:
            message_id = await new_row(HANG)
            await send(client, message_id, HANG)
            return message_id
        finally:
            await client.close()

    message_id = run_sync(lost())

    report = reconcile_after_sweep(settings)

    message = run_sync(q.get_message(message_id))
    assert report is not None and report.attached == 1
    assert message is not None and message.sid == fake_server.messages()[0]["sid"]


def test_sweep_hook_leaves_no_http_session_of_its_own_open(
    fake_server: FakeTwilioHandle, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An idle session kept between sweeps is reported as an "Unclosed client session" when the process exits.
    import gc

    import aiohttp

    import actors.reconcile
    from hub.store.db import run_sync

    monkeypatch.setattr(actors.reconcile, "_state", ReconcileState)  # a client of its own

    def open_sessions() -> list[aiohttp.ClientSession]:
        return [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed]

    async def lost() -> None:
        client = TwilioTransport(settings)
        try:
            await send(client, await new_row(HANG), HANG)
        finally:
            await client.close()

    run_sync(lost())
    before = open_sessions()

    report = reconcile_after_sweep(settings)

    assert report is not None and report.attached == 1  # it did list at Twilio
    assert [s for s in open_sessions() if all(s is not b for b in before)] == []


def test_sweep_releases_a_stale_claim_twilio_never_received(fake_server: FakeTwilioHandle, settings: Settings) -> None:
    from dramatiq.brokers.stub import StubBroker

    from actors.sweep import stale_after, sweep
    from hub.store.db import run_sync

    async def stranded() -> int:
        message_id = await new_row(PHONE)
        assert await q.claim_for_send(message_id)  # its worker died before the create
        return message_id

    message_id = run_sync(stranded())
    later = datetime.now(UTC) + max(stale_after(settings), quarantine(settings)) + timedelta(seconds=1)

    report = sweep(settings, later, broker=StubBroker())

    message = run_sync(q.get_message(message_id, with_history=True))
    assert report.stale == 1
    assert message is not None and message.status == S.PENDING
    assert {("unknown", "sweeper"), ("pending", "reconcile")} <= {(e.status, e.source) for e in message.history}
    assert fake_server.messages() == []


async def test_a_released_row_is_queued_at_once(settings: Settings, transport: TwilioTransport) -> None:
    # Its run may have finished meanwhile (the sweeper's lost-row pass would then pass it over): queue it now.
    import fakeredis
    from dramatiq import Message

    import actors

    broker = actors.setup(settings, stub=True, client=fakeredis.FakeRedis(), namespace="reconcile-test")
    message_id = await new_row(PHONE)
    assert await q.claim_for_send(message_id)  # the worker died before its create
    assert await q.mark_final(message_id, S.UNKNOWN, error_message="stale")
    later = datetime.now(UTC) + quarantine(settings) + timedelta(seconds=1)

    report = await reconcile_unknown(transport, quarantine=quarantine(settings), now=later)

    queued = [Message.decode(data) for name in broker.queues for data in list(broker.queues[name].queue)]
    assert report.released == 1
    # One message naming the row (a batch of one).
    assert [(m.actor_name, m.args) for m in queued] == [("send_batch", ([message_id],))]
