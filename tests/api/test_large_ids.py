"""Ids are bigint end to end: ids past 2^31 work, and ids no row can have are 404 or empty, never 500."""

from __future__ import annotations

import asyncpg
import pytest
from api_support import run
from litestar import Litestar
from litestar.testing import TestClient

from hub.config import Settings

BEYOND_INT4 = 2**31
BEYOND_INT8 = 2**63


async def _restart_ids_at(url: str, first: int) -> None:
    connection = await asyncpg.connect(dsn=url)
    try:
        for sequence in ("run_id_seq", "message_id_seq", "status_event_id_seq"):
            await connection.execute(f"ALTER SEQUENCE {sequence} RESTART WITH {first}")
    finally:
        await connection.close()


def test_canceling_a_run_past_int4_that_does_not_exist_is_404(client: TestClient[Litestar]) -> None:
    assert client.post(f"/v1/runs/{BEYOND_INT4}/cancel").status_code == 404


def test_listing_the_messages_of_a_run_past_int4_that_does_not_exist_is_empty(client: TestClient[Litestar]) -> None:
    response = client.get("/v1/messages", params={"run_id": 4504483802})

    assert response.status_code == 200 and response.json()["items"] == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/v1/runs/{BEYOND_INT8}", "run_id"),
        (f"/v1/messages/{BEYOND_INT8}", "message_id"),
        (f"/v1/messages?run_id={BEYOND_INT8}", "run_id"),
    ],
)
def test_an_id_past_int8_is_a_422_naming_the_field(client: TestClient[Litestar], path: str, field: str) -> None:
    response = client.get(path)

    assert (response.status_code, response.json()["field"]) == (422, field)


def test_runs_and_messages_with_ids_past_int4_are_read_and_canceled(
    client: TestClient[Litestar], settings: Settings
) -> None:
    # Given the ledger's ids already past 2^31
    run(_restart_ids_at(settings.database.url, 4504483802))
    created = client.post("/v1/bulk-send", json={"phone_numbers": ["+14155550100"], "body": "hi"}).json()
    run_id = created["run_id"]
    # Then the run, its messages and one message read back, and the run cancels
    assert run_id >= 4504483802
    items = client.get("/v1/messages", params={"run_id": run_id}).json()["items"]
    assert [item["id"] >= 4504483802 for item in items] == [True]
    assert client.get(f"/v1/messages/{items[0]['id']}").status_code == 200
    assert client.get(f"/v1/runs/{run_id}").status_code == 200
    assert client.post(f"/v1/runs/{run_id}/cancel").status_code == 200
