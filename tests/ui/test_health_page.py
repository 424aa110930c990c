"""The health page and /metrics under ``hub run``: the API reads the queue depth and the tier budget from the
embedded Redis its in-process workers use, as it does from a real Redis."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import dramatiq
import httpx
import pytest
import yaml

from actors.broker import build_broker
from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings, load_settings
from hub.embedded_redis import sync_client
from hub.tier_budget import budget_key


async def _ok() -> None:
    return None


@pytest.fixture
def embedded(pg_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """``hub run``'s settings: embedded Redis (a key prefix of this test's own), the test ledger, a tier cap."""
    config = {
        "database": {"url": pg_settings.database.url},
        "redis": {"url": "embedded", "namespace": f"uitest{uuid.uuid4().hex[:8]}"},
        "rate_limits": {"daily_unique_recipients": 1000},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load_settings(tmp_path / "config.yaml", env={})
    yield settings
    client = sync_client(settings)
    for key in client.scan_iter(f"{settings.redis.namespace}:*"):
        client.delete(key)


def queue_on_the_workers_broker(settings: Settings, *, now: int, later: int) -> None:
    """Messages the in-process broker holds: ``now`` ready to consume, ``later`` delayed by an hour."""
    broker, _, _ = build_broker(settings, namespace=settings.redis.namespace)
    broker.declare_queue("send")
    for n in range(now + later):
        message = dramatiq.Message(queue_name="send", actor_name="send_batch", args=([n],), kwargs={}, options={})
        broker.enqueue(message, delay=3_600_000 if n >= now else None)


def get(settings: Settings, path: str) -> httpx.Response:
    app = create_app(
        settings, enqueuer=RecordingEnqueuer(), probes={"database": _ok, "redis": _ok}, connect_store=False
    )

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # loopback: no key needed
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            return await client.get(path)

    return anyio.run(fetch)


def fact(page: str, name: str) -> str:
    match = re.search(rf"<dt>{re.escape(name)}</dt><dd>([^<]*)</dd>", page)
    assert match, f"no {name!r} on the page"
    return match.group(1)


def test_the_health_page_shows_the_embedded_queue_depth(embedded: Settings) -> None:
    queue_on_the_workers_broker(embedded, now=3, later=2)

    page = get(embedded, "/ui/health")

    assert page.status_code == 200
    assert (fact(page.text, "send"), fact(page.text, "send.DQ"), fact(page.text, "default")) == ("3", "2", "0")


def test_metrics_report_the_embedded_queue_depth(embedded: Settings) -> None:
    queue_on_the_workers_broker(embedded, now=1, later=4)

    metrics = get(embedded, "/metrics").text

    assert 'hub_queue_depth{queue="send"} 1' in metrics
    assert 'hub_queue_depth{queue="send.DQ"} 4' in metrics


def test_the_health_page_shows_the_tier_budget_the_embedded_redis_holds(embedded: Settings) -> None:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    sync_client(embedded).zadd(budget_key(embedded.redis.namespace), {"+14155550100": now_ms, "+14155550101": now_ms})

    page = get(embedded, "/ui/health").text

    assert '<p class="big">2 <span class="sub">of 1,000 new recipients in the last 24 h' in page
