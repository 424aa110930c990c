"""Dashboard fixtures: the app on this session's PostgreSQL ledger, with and without API keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from litestar import Litestar
from litestar.testing import TestClient
from ui_support import CAMPAIGN

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings, load_settings


async def _ok() -> None:
    return None


@pytest.fixture
def ui_settings(pg_settings: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Settings on the test ledger with one campaign in the repository; ``keys`` sets ``api.keys``."""
    (tmp_path / "campaigns").mkdir(exist_ok=True)
    (tmp_path / "templates" / "messages").mkdir(parents=True, exist_ok=True)
    (tmp_path / "campaigns" / "hello.yaml").write_text(CAMPAIGN, encoding="utf-8")

    def make(keys: list[str] | None = None) -> Settings:
        config = {"database": {"url": pg_settings.database.url}, "api": {"keys": keys or []}}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return load_settings(path, env={})

    return make


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def make_client(
    ui_settings: Callable[..., Settings], enqueuer: RecordingEnqueuer
) -> Iterator[Callable[..., TestClient[Litestar]]]:
    """A test client of the app; ``keys`` for ``api.keys``, ``host`` for the client address the app sees."""
    clients: list[TestClient[Litestar]] = []

    def make(keys: list[str] | None = None, base_url: str = "http://127.0.0.1:8000") -> TestClient[Litestar]:
        app = create_app(
            ui_settings(keys), enqueuer=enqueuer, probes={"database": _ok, "redis": _ok}, connect_store=False
        )
        client = TestClient(app=app, base_url=base_url)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
