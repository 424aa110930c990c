"""Actor harness: StubBroker queues, fakeredis limits, a PostgreSQL ledger and a FakeTransport, on a real Worker."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import msgspec
import pytest
from actor_harness import Harness

import actors
from hub.config import Settings
from hub.transport.fake import FakeTransport


def _fast(settings: Settings, **rate_limits: Any) -> Settings:
    retries = msgspec.structs.replace(settings.retries, min_backoff_ms=1, max_backoff_ms=5)
    rate = msgspec.structs.replace(settings.rate_limits, **{"per_second": 10_000.0, **rate_limits})
    return msgspec.structs.replace(settings, retries=retries, rate_limits=rate)


@pytest.fixture
def make_harness(pg_settings: Settings) -> Iterator[Callable[..., Harness]]:
    """Build the harness with ``rate_limits`` overrides (``daily_unique_recipients=1``...); one per test."""
    built: list[Harness] = []

    def make(**rate_limits: Any) -> Harness:
        settings = _fast(pg_settings, **rate_limits)
        redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        transport = FakeTransport()
        namespace = f"t{secrets.token_hex(4)}"
        broker = actors.setup(
            settings, client=redis, stub=True, namespace=namespace, transport_factory=lambda _s: transport
        )
        built.append(Harness(settings, broker, redis, transport, namespace))
        return built[-1]

    yield make
    for h in built:
        if h.worker is not None:
            h.worker.stop()
        h.broker.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    """StubBroker + worker (started by ``drain``), the test ledger, fakeredis limits, FakeTransport, no throttling."""
    return make_harness()
