"""Status callbacks on PostgreSQL through the app: batched writes, answered only once committed (integration)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from api_support import AUTH_TOKEN, PUBLIC_URL, STATUS_URL, run, sign
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Secret, Settings
from hub.store import db, queries
from hub.store.records import NewMessage

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_app(pg_settings: Settings) -> Litestar:
    settings = msgspec.structs.replace(
        pg_settings,
        public_url=PUBLIC_URL,
        twilio=msgspec.structs.replace(pg_settings.twilio, auth_token=Secret(AUTH_TOKEN)),
    )
    return create_app(settings, enqueuer=RecordingEnqueuer())


@pytest.fixture
def pg_client(pg_app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=pg_app, base_url=PUBLIC_URL) as client:
        yield client


def submitted(sids: list[str]) -> list[int]:
    ran, _ = run(queries.create_run(kind="bulk"))
    rows = [NewMessage(recipient=f"+1415555{i:04d}", body="hi") for i in range(len(sids))]
    ids = run(queries.insert_messages(ran.id, rows))
    for message_id, sid in zip(ids, sids, strict=True):
        run(queries.claim_for_send(message_id))
        run(queries.mark_submitted(message_id, sid, "queued"))
    return ids


def form(sid: str, status: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"}


def test_concurrent_callbacks_are_each_applied_once_committed(pg_app: Litestar) -> None:
    sids = [f"SMcc{i}" for i in range(20)]
    ids = submitted(sids)

    async def post_all() -> list[int]:
        transport = httpx.ASGITransport(app=pg_app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:

            async def post(sid: str, status: str) -> int:
                params = form(sid, status)
                response = await client.post(
                    "/webhooks/twilio/status", data=params, headers={"X-Twilio-Signature": sign(STATUS_URL, params)}
                )
                return response.status_code

            # on the store's own loop (run), connected by pg_settings: the transport does not run the lifespan
            codes = await asyncio.gather(*(post(sid, s) for sid in sids for s in ("delivered", "read")))
            return list(codes)

    assert run(post_all()) == [204] * 40
    assert {str(run(queries.get_message(i)).status) for i in ids} == {"read"}  # type: ignore[union-attr]


def test_database_failure_answers_5xx_so_twilio_retries(
    pg_client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    (message_id,) = submitted(["SMdown"])
    engine = db.current_engine()

    async def down(sql: str, args: Any) -> Any:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(engine, "fetch", down)
    params = form("SMdown", "delivered")
    response = pg_client.post(
        "/webhooks/twilio/status", data=params, headers={"X-Twilio-Signature": sign(STATUS_URL, params)}
    )
    monkeypatch.undo()

    assert response.status_code in {500, 503}  # 503 when the database is unreachable
    assert str(run(queries.get_message(message_id)).status) == "queued"  # type: ignore[union-attr]
