"""Every /v1 route (and the legacy /bulk-send) refuses keyless and wrong-key calls; loopback is open without keys."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from api_support import PUBLIC_URL
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings


def guarded_routes(app: Litestar) -> Iterator[tuple[str, str]]:
    """(method, concrete path) for every route under /v1 and the legacy /bulk-send."""
    for route in app.routes:
        if not (route.path.startswith("/v1") or route.path == "/bulk-send"):
            continue
        path = re.sub(r"\{(\w+):int\}", "1", route.path)
        path = re.sub(r"\{(\w+):str\}", "hello", path)
        for method in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}):
            yield method, path


def test_there_are_guarded_routes_to_check(app: Litestar) -> None:
    assert len(list(guarded_routes(app))) >= 12


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic dGVzdC1hcGkta2V5", "test-api-key"])
def test_every_v1_route_refuses_without_the_right_key(app: Litestar, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        answers = {(m, p): client.request(m, p, headers=headers, json={}) for m, p in guarded_routes(app)}
    refused = {key: r.status_code for key, r in answers.items() if r.status_code != 401 or "error" not in r.json()}
    assert refused == {}


def test_refusal_carries_a_bearer_challenge(client: TestClient[Litestar]) -> None:
    response = client.get("/v1/runs/1", headers={"Authorization": "Bearer wrong"})
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_right_key_passes(client: TestClient[Litestar]) -> None:
    assert client.get("/v1/runs/999").status_code == 404


@pytest.fixture
def keyless_app(settings: Settings, make_settings: Callable[..., Settings]) -> Litestar:
    """The same migrated ledger, with no API key configured."""
    keyless = make_settings({"database": {"url": settings.database.url}})
    assert keyless.database.url == settings.database.url
    return create_app(keyless, enqueuer=RecordingEnqueuer())


def test_keyless_app_refuses_non_loopback_clients(keyless_app: Litestar) -> None:
    with TestClient(app=keyless_app, base_url=PUBLIC_URL) as client:  # peer "testclient" is not loopback
        response = client.post("/v1/render", json={"to": "+14155550100", "body": "hi"})
    assert response.status_code == 401


@pytest.mark.parametrize(("peer", "status"), [("127.0.0.1", 200), ("::1", 200), ("192.0.2.7", 401)])
def test_keyless_app_answers_loopback_only(keyless_app: Litestar, peer: str, status: int) -> None:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=keyless_app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post("/v1/render", json={"phone_numbers": ["+14155550100"], "body": "hi"})

    assert asyncio.run(call()).status_code == status


def test_keyless_app_warns_at_start(keyless_app: Litestar, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(app=keyless_app, base_url=PUBLIC_URL):
        pass
    assert any("api.keys is empty" in record.getMessage() for record in caplog.records)
