"""Operators over HTTP on PostgreSQL: list runs (cursor, filters), a run's failures and waits, messages.csv."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from api_support import API_KEY, PUBLIC_URL, run
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import ApiSettings, Secret, Settings
from hub.export import COLUMNS
from hub.status import MessageStatus as S
from hub.status import RunState
from hub.store import queries, reports

pytestmark = pytest.mark.integration


@pytest.fixture
def client(pg_settings: Settings) -> Iterator[TestClient[Litestar]]:
    settings = msgspec.structs.replace(pg_settings, public_url=PUBLIC_URL, api=ApiSettings(keys=(Secret(API_KEY),)))
    with TestClient(app=create_app(settings, enqueuer=RecordingEnqueuer()), base_url=PUBLIC_URL) as test_client:
        test_client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield test_client


def _run(campaign: str, state: RunState = RunState.RUNNING) -> int:
    created, _ = run(queries.create_run(campaign=campaign, state=state))
    return created.id


def test_list_runs_pages_newest_first_with_next_cursor(client: TestClient[Litestar]) -> None:
    ids = [_run("sale") for _ in range(3)]
    first = client.get("/v1/runs", params={"limit": 2}).json()
    second = client.get("/v1/runs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in first["items"]] == ids[:0:-1]
    assert ([r["id"] for r in second["items"]], second["next_cursor"]) == ([ids[0]], None)
    assert set(first["items"][0]) >= {"id", "campaign", "state", "counts", "total", "rate_per_second", "eta_seconds"}


def test_list_runs_filters_by_campaign_and_states(client: TestClient[Litestar]) -> None:
    a_running = _run("a")
    a_paused = _run("a", RunState.PAUSED)
    _run("a", RunState.FINISHED)
    _run("b")
    body = client.get("/v1/runs", params={"campaign": "a", "state": "running,paused"}).json()
    assert [r["id"] for r in body["items"]] == [a_paused, a_running]


@pytest.mark.parametrize(("params", "field"), [({"state": "sleeping"}, "state"), ({"cursor": "x"}, "cursor")])
def test_list_runs_refuses_a_bad_filter_naming_the_field(
    client: TestClient[Litestar], params: dict[str, str], field: str
) -> None:
    response = client.get("/v1/runs", params=params)
    assert (response.status_code, response.json()["field"]) == (422, field)


def test_a_run_shows_failures_by_error_code_and_why_rows_wait(client: TestClient[Litestar]) -> None:
    now = datetime.now(UTC)
    run_id = _run("sale")
    rows = [
        queries.NewMessage(recipient="+14155550100", status=S.FAILED, error_code=63016, error_message="Outside"),
        queries.NewMessage(recipient="+14155550101", status=S.FAILED, error_code=63016, error_message="Outside"),
        queries.NewMessage(recipient="+14155550102", body="hi", send_at=now + timedelta(hours=2)),
    ]
    run(queries.insert_messages(run_id, rows))
    body = client.get(f"/v1/runs/{run_id}").json()
    assert body["failures"] == [
        {"status": "failed", "error_code": 63016, "error_message": "Outside", "count": 2, "sample_to": "+14155550100"}
    ]
    assert [(w["reason"], w["count"]) for w in body["waits"]] == [("outside the send window (quiet hours)", 1)]


def test_a_paused_run_reads_without_an_eta(client: TestClient[Litestar]) -> None:
    run_id = _run("sale", RunState.PAUSED)
    assert client.get(f"/v1/runs/{run_id}").json()["eta_seconds"] is None


def test_messages_csv_streams_every_row_of_the_run_in_pages(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "EXPORT_PAGE", 300)
    pages: list[int] = []
    real = reports.export_page

    async def counting(run_id: int, after: tuple[str, int] | None, limit: int) -> list[queries.MessageRecord]:
        page = await real(run_id, after, limit)
        pages.append(len(page))
        return page

    monkeypatch.setattr(reports, "export_page", counting)
    run_id = _run("sale")
    numbers = [f"+1415555{i:04d}" for i in range(2000)]
    run(queries.insert_messages(run_id, [queries.NewMessage(recipient=p, body=f"hi, {p}") for p in numbers]))
    run(queries.insert_messages(_run("other"), [queries.NewMessage(recipient=numbers[0], body="x")]))
    response = client.get(f"/v1/runs/{run_id}/messages.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == COLUMNS
    assert [(r["to"], r["status"], r["body"]) for r in rows] == [(p, "pending", f"hi, {p}") for p in numbers]
    assert pages == [300] * 6 + [200]


def test_messages_csv_of_an_unknown_run_is_404(client: TestClient[Litestar]) -> None:
    assert client.get("/v1/runs/999999/messages.csv").status_code == 404
