"""Template fixtures: a fake Twilio (Messages + Content API), a project on the test ledger pointed at it, the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from template_support import API_KEY, settings_for, write_config

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings
from hub.faketwilio import FakeTwilioHandle, start_fake_twilio
from hub.store import db


async def _ok() -> None:
    return None


@pytest.fixture
def fake() -> Iterator[FakeTwilioHandle]:
    with start_fake_twilio(callbacks=False) as handle:
        yield handle


@pytest.fixture
def config_path(tmp_path: Path, fake: FakeTwilioHandle, pg_url: str) -> Path:
    return write_config(tmp_path, fake, database=pg_url)


@pytest.fixture
def settings(config_path: Path) -> Iterator[Settings]:
    """The test's ledger (migrated, emptied, connected); Twilio (Messages and Content) is the fake."""
    made = settings_for(config_path)
    db.run_sync(db.migrate(made))
    yield made
    db.reset()


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def client(settings: Settings, enqueuer: RecordingEnqueuer) -> Iterator[TestClient[Litestar]]:
    app = create_app(settings, enqueuer=enqueuer, probes={"database": _ok, "redis": _ok})
    with TestClient(app=app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield test_client
