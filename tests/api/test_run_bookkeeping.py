"""A run's bookkeeping as the API shows it: scheduled until due, started then, total the sum of its counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_support import API_KEY, PUBLIC_URL, run
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings
from hub.status import MessageStatus, RunState
from hub.store import queries
from hub.store.records import NewMessage
from scheduler.fire import Firer

Client = TestClient[Litestar]


async def _ok() -> None:
    return None


@pytest.fixture
def pg_api(pg_settings: Settings, make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Client]:
    (tmp_path / "campaigns").mkdir()
    settings = make_settings({"database": {"url": pg_settings.database.url}, "api": {"keys": [API_KEY]}})
    app = create_app(settings, enqueuer=RecordingEnqueuer(), probes={"database": _ok, "redis": _ok})
    with TestClient(app=app, base_url=PUBLIC_URL) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield client


def _sum_of_counts(read: dict[str, object]) -> int:
    counts = read["counts"]
    assert isinstance(counts, dict)
    return sum(counts.values())


@pytest.mark.parametrize("path", ["/v1/bulk-send", "/v1/messages"])
def test_a_send_for_later_is_scheduled_until_due_and_started_when_its_first_message_is_claimed(
    pg_api: Client, pg_settings: Settings, path: str
) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    payload = {"phone_numbers": ["+14155550100"]} if path == "/v1/bulk-send" else {"to": "+14155550100"}
    answer = pg_api.post(path, json={**payload, "body": "hi", "send_at": due.isoformat()})
    assert answer.status_code == 202
    run_id = answer.json().get("run_id") or pg_api.get(f"/v1/messages/{answer.json()['id']}").json()["run_id"]
    before = pg_api.get(f"/v1/runs/{run_id}").json()
    assert (before["state"], before["started_at"]) == ("scheduled", None)

    started: list[int] = []
    firer = Firer(pg_settings, clock=lambda: due + timedelta(seconds=1), start_run=started.append)
    assert firer.start_due_runs() == [run_id]
    due_now = pg_api.get(f"/v1/runs/{run_id}").json()
    assert (due_now["state"], due_now["started_at"]) == ("running", None)  # due, but nothing claimed yet
    assert started == []  # its rows exist already: nothing to fan out

    (message_id,) = run(queries.due_message_ids(due + timedelta(seconds=2), 10, run_id=run_id))
    assert run(queries.claim_batch_for_send([message_id], due + timedelta(seconds=2)))
    claimed = pg_api.get(f"/v1/runs/{run_id}").json()
    assert datetime.fromisoformat(claimed["started_at"]) == due + timedelta(seconds=2)


def test_a_send_for_now_is_running_and_starts_when_its_first_message_is_claimed(pg_api: Client) -> None:
    body = pg_api.post("/v1/bulk-send", json={"phone_numbers": ["+14155550100"], "body": "hi"}).json()
    read = pg_api.get(f"/v1/runs/{body['run_id']}").json()
    assert (read["state"], read["started_at"]) == ("running", None)

    (message_id,) = [m["id"] for m in pg_api.get(f"/v1/messages?run_id={body['run_id']}").json()["items"]]
    at = datetime.now(UTC)
    assert run(queries.claim_batch_for_send([message_id], at))
    claimed = pg_api.get(f"/v1/runs/{body['run_id']}").json()
    assert datetime.fromisoformat(claimed["started_at"]) == at


def test_a_send_with_nothing_to_send_is_finished_at_once(pg_api: Client) -> None:
    body = pg_api.post("/v1/bulk-send", json={"phone_numbers": ["12", "+1415"], "body": "hi"}).json()
    assert body["accepted"] == 0
    read = pg_api.get(f"/v1/runs/{body['run_id']}").json()
    assert read["state"] == "finished"
    assert read["started_at"] is not None and read["started_at"] == read["finished_at"]


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/bulk-send", {"body": "hi"}),
        ("/bulk-send", {"message": "hi"}),
    ],
)
def test_total_is_the_sum_of_counts_and_a_repeated_number_is_skipped(
    pg_api: Client, path: str, payload: dict[str, str]
) -> None:
    numbers = ["+14155550100", "+14155550100", "whatsapp:+14155550100", "12", "+14155550101"]
    body = pg_api.post(path, json={**payload, "phone_numbers": numbers}).json()
    assert body["accepted"] == 2
    assert [r["to"] for r in body["rejected"]] == ["12"]
    assert [s["to"] for s in body["skipped"]] == ["+14155550100", "whatsapp:+14155550100"]
    read = pg_api.get(f"/v1/runs/{body['run_id']}").json()
    # The repeat written exactly as the first is not stored again; the one written otherwise is a skipped row.
    assert read["counts"] == {"pending": 2, "rejected": 1, "skipped": 1}
    assert read["total"] == _sum_of_counts(read) == 4


def test_total_is_the_sum_of_counts_whatever_the_run_planned(pg_settings: Settings) -> None:
    # A campaign's audience planned 3 entries; its repeat, written exactly as the first, is not stored again.
    created, _ = run(queries.create_run(campaign="c", state=RunState.RUNNING, total=3))
    rows = [
        NewMessage(recipient="+14155550100", body="hi"),
        NewMessage(recipient="+14155550100", status=MessageStatus.SKIPPED, error_message="duplicate"),
        NewMessage(recipient="+1 415 555 0100", status=MessageStatus.SKIPPED, error_message="duplicate"),
    ]
    run(queries.insert_messages(created.id, rows))
    progress = run(queries.run_progress(created.id))
    assert progress is not None
    assert (progress.total, sum(progress.counts.values())) == (2, 2)
