"""End to end through the real actors (StubBroker): an inbound STOP, then an API send to that number is skipped."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import dramatiq
import fakeredis
import pytest
from api_support import INBOUND_URL, PUBLIC_URL, run, sign
from dramatiq import Worker
from litestar.testing import TestClient

import actors
from hub.api.app import create_app
from hub.api.enqueue import ActorEnqueuer
from hub.config import Settings
from hub.store import queries
from hub.transport.fake import FakeTransport


@pytest.fixture
def stub_broker(settings: Settings) -> Iterator[tuple[dramatiq.Broker, FakeTransport]]:
    transport = FakeTransport()
    broker = actors.setup(
        settings,
        client=fakeredis.FakeRedis(server=fakeredis.FakeServer()),
        stub=True,
        namespace=f"api{secrets.token_hex(4)}",
        transport_factory=lambda _settings: transport,
    )
    try:
        yield broker, transport
    finally:
        broker.close()


def drain(broker: dramatiq.Broker) -> None:
    worker = Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        for queue in ("default", actors.send.SEND_QUEUE):
            broker.join(queue, fail_fast=True)
        worker.join()
    finally:
        worker.stop()


def test_send_after_inbound_stop_ends_skipped(
    settings: Settings, stub_broker: tuple[dramatiq.Broker, FakeTransport]
) -> None:
    broker, transport = stub_broker
    app = create_app(settings, enqueuer=ActorEnqueuer(settings))
    stop = {"MessageSid": "SMstop1", "From": "whatsapp:+14155550100", "To": "whatsapp:+14155238886", "Body": "STOP"}
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        client.headers["Authorization"] = "Bearer test-api-key"
        assert (
            client.post(
                "/webhooks/twilio/inbound", data=stop, headers={"X-Twilio-Signature": sign(INBOUND_URL, stop)}
            ).status_code
            == 200
        )
        opted_out = client.post("/v1/messages", json={"to": "+14155550100", "body": "Sale!"}).json()["id"]
        other = client.post("/v1/messages", json={"to": "+14155550101", "body": "Sale!"}).json()["id"]
        drain(broker)
    skipped = run(queries.get_message(opted_out))
    sent = run(queries.get_message(other))
    assert skipped is not None and sent is not None
    assert (skipped.status, sent.status) == ("skipped", "queued")
    assert (transport.sends_to("+14155550100"), transport.sends_to("+14155550101")) == (0, 1)
