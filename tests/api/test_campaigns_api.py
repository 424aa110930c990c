"""Campaigns from the repository over HTTP: list, read, start a run; and the HTTP dry run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_support import run
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings
from hub.store import queries


def test_list_campaigns_reads_the_repository(client: TestClient[Litestar]) -> None:
    body = client.get("/v1/campaigns").json()
    assert [c["name"] for c in body["items"]] == ["hello"]
    assert body["items"][0]["kind"] == "body"


def test_campaign_has_next_fire_time_in_the_future(client: TestClient[Litestar]) -> None:
    body = client.get("/v1/campaigns/hello").json()
    fire = datetime.fromisoformat(body["next_fire_time"])
    assert datetime.now(UTC) < fire <= datetime.now(UTC) + timedelta(days=7)
    assert fire.astimezone(UTC).minute == 0


def test_unknown_campaign_is_404(client: TestClient[Litestar]) -> None:
    assert client.get("/v1/campaigns/nope").status_code == 404


def test_campaign_name_cannot_be_a_path(client: TestClient[Litestar]) -> None:
    assert client.get("/v1/campaigns/..%2Fconfig.yaml").status_code == 404


def test_start_run_enqueues_fan_out_and_lists_in_last_runs(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    response = client.post("/v1/campaigns/hello/runs", json={})
    assert response.status_code == 202
    run_id = response.json()["id"]
    assert (response.json()["campaign"], enqueuer.fan_outs) == ("hello", [run_id])
    assert (response.json()["state"], response.json()["started_at"]) == ("running", None)  # until a row is claimed
    assert [r["id"] for r in client.get("/v1/campaigns/hello").json()["last_runs"]] == [run_id]


def test_start_run_without_body(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    assert client.post("/v1/campaigns/hello/runs").status_code == 202
    assert len(enqueuer.fan_outs) == 1


def test_start_run_later_is_scheduled_and_not_enqueued(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = client.post("/v1/campaigns/hello/runs", json={"send_at": later}).json()
    assert (body["state"], enqueuer.fan_outs) == ("scheduled", [])
    stored = run(queries.get_run(body["id"]))
    assert stored is not None and stored.scheduled_at is not None


def test_start_run_idempotent(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    first = client.post("/v1/campaigns/hello/runs", json={}, headers={"Idempotency-Key": "fire-1"})
    again = client.post("/v1/campaigns/hello/runs", json={}, headers={"Idempotency-Key": "fire-1"})
    assert first.json()["id"] == again.json()["id"]
    assert len(enqueuer.fan_outs) == 1


def test_start_run_of_unknown_campaign_is_404(client: TestClient[Litestar]) -> None:
    assert client.post("/v1/campaigns/nope/runs", json={}).status_code == 404


def test_render_campaign_reports_each_recipient(client: TestClient[Litestar]) -> None:
    body = client.post("/v1/render", json={"campaign": "hello"}).json()
    assert [(i["to"], i["status"]) for i in body["items"]] == [
        ("+14155550100", "ok"),
        ("+14155550101", "ok"),
        ("12", "rejected"),
    ]
    assert body["items"][0]["body"] == "Hi Ada, use HELLO24"
    assert (body["rendered"], body["rejected"]) == (2, 1)


def test_render_one_recipient_of_a_campaign(client: TestClient[Litestar]) -> None:
    body = client.post("/v1/render", json={"campaign": "hello", "to": "+14155550101"}).json()
    assert [(i["to"], i["body"]) for i in body["items"]] == [("+14155550101", "Hi Bo, use HELLO24")]


def test_render_ad_hoc_flags_render_errors_per_recipient(client: TestClient[Litestar]) -> None:
    payload = {"recipients": [{"to": "+14155550100", "name": "Ada"}, {"to": "+14155550101"}], "body": "Hi {{ name }}"}
    items = client.post("/v1/render", json=payload).json()["items"]
    assert [(i["status"], i["body"]) for i in items] == [("ok", "Hi Ada"), ("rejected", None)]
    assert "name" in items[1]["error"]


def test_render_marks_opted_out_as_skipped(client: TestClient[Litestar]) -> None:
    run(queries.set_opt_out("+14155550100", source="api"))
    items = client.post("/v1/render", json={"to": "+14155550100", "body": "hi"}).json()["items"]
    assert [(i["status"], i["error"]) for i in items] == [("skipped", "contact opted out")]


def test_render_writes_and_sends_nothing(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    client.post("/v1/render", json={"campaign": "hello"})
    items, _ = run(queries.list_messages(limit=10))
    assert (items, enqueuer.sends, enqueuer.fan_outs) == ([], [], [])


def test_render_limit_out_of_range_is_422(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/render", json={"campaign": "hello", "limit": 0})
    assert (response.status_code, response.json()["field"]) == (422, "limit")


def test_start_run_of_a_campaign_whose_template_does_not_compile_is_422(
    client: TestClient[Litestar], settings: Settings, enqueuer: RecordingEnqueuer
) -> None:
    broken = 'body: "Hi {{ first_name "\naudience:\n  recipients:\n    - {phone: "+14155550100", first_name: Ada}\n'
    (settings.paths.campaigns / "broken.yaml").write_text(broken, encoding="utf-8")
    response = client.post("/v1/campaigns/broken/runs", json={})
    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert response.json()["detail"].startswith("campaigns/broken.yaml: body: Jinja syntax error (template line 1)")
    assert enqueuer.fan_outs == []


def test_a_campaign_file_with_an_impossible_date_is_listed_under_problems_and_spares_the_others(
    client: TestClient[Litestar], settings: Settings, enqueuer: RecordingEnqueuer
) -> None:
    broken = 'body: "Hi"\naudience: {recipients: [{phone: "+14155550100"}]}\nschedule:\n  at: 2027-02-30T09:00:00\n'
    (settings.paths.campaigns / "broken.yaml").write_text(broken, encoding="utf-8")
    listed = client.get("/v1/campaigns")
    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()["items"]] == ["hello"]
    assert listed.json()["problems"] == [
        "campaigns/broken.yaml:4: schedule.at: expected a real date and time such as 2026-12-01T09:00:00, "
        "found 2027-02-30T09:00:00 (day is out of range for month)"
    ]
    started = client.post("/v1/campaigns/hello/runs", json={})
    assert started.status_code == 202
    refused = client.post("/v1/campaigns/broken/runs", json={})
    assert (refused.status_code, refused.json()["field"]) == (422, "schedule.at")
