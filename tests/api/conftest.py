"""API fixtures: the test ledger, the app with a recording enqueuer, a keyed client, Twilio signing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_support import API_KEY, AUTH_TOKEN, CAMPAIGN, PUBLIC_URL
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings
from hub.store import db


async def _ok() -> None:
    return None


@pytest.fixture
def settings(make_settings: Callable[..., Settings], tmp_path: Path, pg_url: str) -> Iterator[Settings]:
    """Settings on the test's (emptied) ledger with one campaign in the repository."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates" / "messages").mkdir(parents=True)
    (tmp_path / "campaigns" / "hello.yaml").write_text(CAMPAIGN, encoding="utf-8")
    (tmp_path / "templates" / "messages" / "greet.j2").write_text("Hello {{ first_name }}", encoding="utf-8")
    config = {
        "database": {"url": pg_url},
        "public_url": PUBLIC_URL,
        "api": {"keys": [API_KEY]},
        "twilio": {"auth_token": AUTH_TOKEN},
    }
    made = make_settings(config)
    asyncio.run(db.migrate(made))
    yield made
    db.reset()


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def app(settings: Settings, enqueuer: RecordingEnqueuer) -> Litestar:
    return create_app(settings, enqueuer=enqueuer, probes={"database": _ok, "redis": _ok})


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    """A client that sends the API key (webhook tests sign instead)."""
    with TestClient(app=app, base_url=PUBLIC_URL) as test_client:
        test_client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield test_client
