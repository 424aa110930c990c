"""Creates are one transaction: nothing half-created, one create per Idempotency-Key across app instances."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import pytest
from api_support import API_KEY, AUTH_TOKEN, PUBLIC_URL, run
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import ApiSettings, Secret, Settings
from hub.store import queries

OTHER_KEY = "other-api-key"
PAYLOAD = {"phone_numbers": ["+14155550100", "+14155550101"], "body": "hi"}


class Injected(Exception):
    pass


def api_settings(base: Settings) -> Settings:
    return msgspec.structs.replace(
        base,
        public_url=PUBLIC_URL,
        api=ApiSettings(keys=(Secret(API_KEY), Secret(OTHER_KEY))),
        twilio=msgspec.structs.replace(base.twilio, auth_token=Secret(AUTH_TOKEN)),
    )


@pytest.fixture
def make_client(db_settings: Settings) -> Iterator[Callable[[RecordingEnqueuer], TestClient[Litestar]]]:
    """Clients on the test database; each runs its app on its own event loop."""
    opened: list[TestClient[Litestar]] = []

    def make(enqueuer: RecordingEnqueuer) -> TestClient[Litestar]:
        app = create_app(api_settings(db_settings), enqueuer=enqueuer)
        client = TestClient(app=app, base_url=PUBLIC_URL, raise_server_exceptions=False)
        client.__enter__()
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def runs_and_rows() -> tuple[int, int]:
    runs = run(queries.list_runs())
    rows, _ = run(queries.list_messages(limit=1000))
    return len(runs), len(rows)


def test_failure_between_run_and_rows_leaves_nothing(
    make_client: Callable[[RecordingEnqueuer], TestClient[Litestar]], monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueuer = RecordingEnqueuer()
    client = make_client(enqueuer)

    async def fail(*_: Any, **__: Any) -> list[int]:
        raise Injected

    with monkeypatch.context() as patch:
        patch.setattr(queries, "insert_messages", fail)
        failed = client.post("/v1/bulk-send", json=PAYLOAD, headers={"Idempotency-Key": "crash-1"})

    assert failed.status_code == 500
    assert runs_and_rows() == (0, 0)
    assert enqueuer.sends == []


def test_key_of_a_failed_create_is_free_for_the_retry(
    make_client: Callable[[RecordingEnqueuer], TestClient[Litestar]], monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueuer = RecordingEnqueuer()
    client = make_client(enqueuer)

    async def fail(*_: Any, **__: Any) -> list[int]:
        raise Injected

    with monkeypatch.context() as patch:
        patch.setattr(queries, "insert_messages", fail)
        client.post("/v1/bulk-send", json=PAYLOAD, headers={"Idempotency-Key": "crash-2"})
    retried = client.post("/v1/bulk-send", json=PAYLOAD, headers={"Idempotency-Key": "crash-2"})

    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried.headers
    assert runs_and_rows() == (1, 2)


def test_same_key_from_two_app_instances_creates_once(
    make_client: Callable[[RecordingEnqueuer], TestClient[Litestar]],
) -> None:
    enqueuers = [RecordingEnqueuer(), RecordingEnqueuer()]
    clients = [make_client(enqueuer) for enqueuer in enqueuers]
    start = threading.Barrier(8)

    def post(n: int) -> Any:
        start.wait()
        return clients[n % 2].post("/v1/bulk-send", json=PAYLOAD, headers={"Idempotency-Key": "race-1"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["run_id"] for r in responses}) == 1
    assert runs_and_rows() == (1, 2)
    assert sum(len(e.sends) for e in enqueuers) == 2


def test_enqueue_failure_after_commit_still_accepts(
    make_client: Callable[[RecordingEnqueuer], TestClient[Litestar]],
) -> None:
    class DownEnqueuer(RecordingEnqueuer):
        def enqueue_sends(self, message_ids: Any, **_: Any) -> None:
            raise ConnectionError("redis is down")

    client = make_client(DownEnqueuer())

    response = client.post("/v1/bulk-send", json=PAYLOAD)

    assert response.status_code == 202
    rows, _ = run(queries.list_messages(limit=10))
    assert {str(row.status) for row in rows} == {"pending"}  # owed: the sweeper queues them


def test_bulk_send_queues_with_its_run_id(make_client: Callable[[RecordingEnqueuer], TestClient[Litestar]]) -> None:
    enqueuer = RecordingEnqueuer()
    client = make_client(enqueuer)

    response = client.post("/v1/bulk-send", json=PAYLOAD)

    assert enqueuer.send_runs == [response.json()["run_id"]]


def test_idempotency_keys_are_scoped_per_api_key(
    make_client: Callable[[RecordingEnqueuer], TestClient[Litestar]],
) -> None:
    client = make_client(RecordingEnqueuer())
    mine = client.post("/v1/bulk-send", json=PAYLOAD, headers={"Idempotency-Key": "shared"})
    other_payload = {"phone_numbers": ["+14155550102"], "body": "other"}
    theirs = client.post(
        "/v1/bulk-send",
        json=other_payload,
        headers={"Idempotency-Key": "shared", "Authorization": f"Bearer {OTHER_KEY}"},
    )

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["run_id"] != mine.json()["run_id"]


@pytest.mark.anyio
async def test_concurrent_same_key_on_one_app_creates_once(db_settings: Settings) -> None:
    enqueuer = RecordingEnqueuer()
    app = create_app(api_settings(db_settings), enqueuer=enqueuer)
    headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "race-2"}
    async with AsyncTestClient(app=app, base_url=PUBLIC_URL) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/bulk-send", json=PAYLOAD, headers=headers) for _ in range(8))
        )
        runs = await queries.list_runs()

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["run_id"] for r in responses}) == 1
    assert len(runs) == 1
    assert len(enqueuer.sends) == 2
