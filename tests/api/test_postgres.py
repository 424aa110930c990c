"""The main API flows on PostgreSQL (integration: needs HUB_TEST_DATABASE_URL; skips locally, fails in CI)."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from api_support import API_KEY, AUTH_TOKEN, PUBLIC_URL, STATUS_URL, run, sign
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import ApiSettings, Secret, Settings
from hub.store import queries

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_client(pg_settings: Settings) -> Iterator[tuple[TestClient[Litestar], RecordingEnqueuer]]:
    settings = msgspec.structs.replace(
        pg_settings,
        public_url=PUBLIC_URL,
        api=ApiSettings(keys=(Secret(API_KEY),)),
        twilio=msgspec.structs.replace(pg_settings.twilio, auth_token=Secret(AUTH_TOKEN)),
    )
    enqueuer = RecordingEnqueuer()
    app = create_app(settings, enqueuer=enqueuer)
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield client, enqueuer


def test_bulk_send_then_signed_callbacks_on_postgres(pg_client: tuple[TestClient[Litestar], RecordingEnqueuer]) -> None:
    client, enqueuer = pg_client
    body = client.post("/v1/bulk-send", json={"phone_numbers": ["+14155550100", "x"], "body": "hi"}).json()
    assert (body["accepted"], len(body["rejected"]), len(enqueuer.sends)) == (1, 1, 1)
    message_id = enqueuer.sends[0]
    run(queries.claim_for_send(message_id))
    run(queries.mark_submitted(message_id, "SMpg1", "queued"))
    for status in ("delivered", "delivered", "sent"):
        params = {"MessageSid": "SMpg1", "MessageStatus": status}
        response = client.post(
            "/webhooks/twilio/status", data=params, headers={"X-Twilio-Signature": sign(STATUS_URL, params)}
        )
        assert response.status_code == 204
    read = client.get(f"/v1/messages/{message_id}").json()
    callbacks = [h["status"] for h in read["history"] if h["source"] == "callback"]
    assert (read["status"], callbacks) == ("delivered", ["delivered", "sent"])
    assert client.get(f"/v1/runs/{body['run_id']}").json()["counts"] == {"delivered": 1, "rejected": 1}


def test_idempotent_replay_on_postgres(pg_client: tuple[TestClient[Litestar], RecordingEnqueuer]) -> None:
    client, enqueuer = pg_client
    payload = {"to": "+14155550100", "body": "hi"}
    first = client.post("/v1/messages", json=payload, headers={"Idempotency-Key": "pg-1"}).json()
    again = client.post("/v1/messages", json=payload, headers={"Idempotency-Key": "pg-1"}).json()
    assert (first, len(enqueuer.sends)) == (again, 1)
