"""Twilio slower than the client's timeout: creates that land late are attached, never sent a second time.

A worker's create times out (its row ends ``unknown``) while Twilio is still processing it and creates the message
later. The sweeper reconciles every 50 ms here (the worst case): a row is released only after the quarantine, so a
late create is found and attached instead of sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import msgspec
import pytest

from actors.reconcile import quarantine, reconcile_unknown
from hub.config import Secret, Settings, TwilioSettings
from hub.errors import AmbiguousSendError
from hub.faketwilio import FakeTwilioHandle, start_fake_twilio
from hub.rendering import OutboundMessage
from hub.status import MessageStatus as S
from hub.store import queries as q
from hub.transport.twilio import TwilioTransport

pytestmark = pytest.mark.anyio

TIMEOUT_S = 0.2
PHONES = [f"+1415555{i:04d}" for i in range(300, 312)]


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTwilioHandle]:
    with start_fake_twilio(callbacks=False) as fake:
        yield fake


@pytest.fixture
def settings(fake_server: FakeTwilioHandle, pg_settings: Settings) -> Settings:
    fake_server.reset()
    twilio = TwilioSettings(
        account_sid=fake_server.account_sid,
        auth_token=Secret(fake_server.auth_token),
        from_="whatsapp:+14155238886",
        api_base_url=fake_server.base_url,
        timeout_seconds=TIMEOUT_S,
    )
    return msgspec.structs.replace(pg_settings, twilio=twilio)


@pytest.fixture
async def transport(settings: Settings) -> AsyncIterator[TwilioTransport]:
    client = TwilioTransport(settings)
    yield client
    await client.close()


async def send(transport: TwilioTransport, message_id: int, phone: str) -> None:
    """A worker's send of one row: claim, create, store the sid (or ``unknown`` when the outcome is unknown)."""
    if await q.claim_for_send(message_id) is None:
        return
    try:
        receipt = await transport.send(OutboundMessage(to=phone, body="hi"))
    except AmbiguousSendError as exc:
        await q.mark_final(message_id, S.UNKNOWN, error_message=str(exc))
        return
    await q.mark_submitted(message_id, receipt.sid, receipt.status)


async def sweep_while_creates_land(
    settings: Settings, transport: TwilioTransport, rows: dict[int, str], seconds: float
) -> None:
    """Reconcile every 50 ms for ``seconds``; a released row is sent again at once, as a worker would."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await reconcile_unknown(transport, quarantine=quarantine(settings))
        for message_id, phone in rows.items():
            record = await q.get_message(message_id)
            if record is not None and record.status == S.PENDING:
                await send(transport, message_id, phone)
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("slowdown", [3, 10])
async def test_creates_slower_than_the_timeout_are_attached_never_sent_twice(
    slowdown: int, fake_server: FakeTwilioHandle, settings: Settings, transport: TwilioTransport
) -> None:
    run, _ = await q.create_run()
    ids = await q.insert_messages(run.id, [q.NewMessage(recipient=p, body="hi") for p in PHONES])
    rows = dict(zip(ids, PHONES, strict=True))
    fake_server.configure(latency_ms=slowdown * TIMEOUT_S * 1000)

    await asyncio.gather(*(send(transport, message_id, phone) for message_id, phone in rows.items()))
    fake_server.configure(latency_ms=0)
    await sweep_while_creates_land(settings, transport, rows, seconds=slowdown * TIMEOUT_S + 1.0)

    stats = fake_server.stats()
    records = [await q.get_message(message_id) for message_id in ids]
    assert stats["duplicates"] == []
    assert stats["accepted"] == len(PHONES)
    assert {(r.status, r.sid is not None) for r in records if r is not None} == {(S.QUEUED, True)}
