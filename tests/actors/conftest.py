"""Actor harness: StubBroker queues, fakeredis limits, a SQLite ledger and a FakeTransport, on a real Worker."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import fakeredis
import msgspec
import pytest
from actor_harness import Harness

import actors
from hub.config import Settings
from hub.transport.fake import FakeTransport


def _fast(settings: Settings, **overrides: Any) -> Settings:
    retries = msgspec.structs.replace(settings.retries, min_backoff_ms=1, max_backoff_ms=5)
    rate = msgspec.structs.replace(settings.rate_limits, per_second=10_000.0)
    return msgspec.structs.replace(settings, retries=retries, rate_limits=rate, **overrides)


@pytest.fixture
def harness(sqlite_settings: Settings) -> Iterator[Harness]:
    """StubBroker + worker (started by ``drain``), SQLite ledger, fakeredis limits, FakeTransport, no throttling."""
    settings = _fast(sqlite_settings)
    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    transport = FakeTransport()
    namespace = f"t{secrets.token_hex(4)}"
    broker = actors.setup(
        settings, client=redis, stub=True, namespace=namespace, transport_factory=lambda _s: transport
    )
    h = Harness(settings, broker, redis, transport, namespace)
    try:
        yield h
    finally:
        if h.worker is not None:
            h.worker.stop()
        broker.close()
