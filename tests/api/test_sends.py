"""Sends over HTTP: one message, bulk, the original /bulk-send payload, scheduled sends, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import run
from litestar import Litestar
from litestar.testing import TestClient

from hub.api import plan
from hub.api.enqueue import RecordingEnqueuer
from hub.status import MessageStatus
from hub.store import queries


def messages_of(run_id: int) -> list[tuple[str, str, str | None]]:
    items, _ = run(queries.list_messages(run_id=run_id, limit=1000))
    return sorted((m.recipient, str(m.status), m.body) for m in items)


def all_messages() -> list[str]:
    items, _ = run(queries.list_messages(limit=1000))
    return [m.recipient for m in items]


def test_send_one_message_stores_and_enqueues(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    response = client.post(
        "/v1/messages", json={"to": "+1 (415) 555-0100", "body": "Hi {{ name }}", "vars": {"name": "Ada"}}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    record = run(queries.get_message(body["id"]))
    assert record is not None
    assert (record.recipient, record.body) == ("+14155550100", "Hi Ada")
    assert enqueuer.sends == [body["id"]]


def test_send_with_repository_template(client: TestClient[Litestar]) -> None:
    response = client.post(
        "/v1/messages", json={"to": "+14155550100", "template": "greet.j2", "vars": {"first_name": "Bo"}}
    )
    record = run(queries.get_message(response.json()["id"]))
    assert record is not None and record.body == "Hello Bo"


def test_send_content_template_keeps_variables(client: TestClient[Litestar]) -> None:
    payload = {
        "to": "+14155550100",
        "content_sid": "HX0123456789abcdef0123456789abcdef",
        "content_variables": {"1": "{{ code }}"},
        "vars": {"code": "X1"},
    }
    record = run(queries.get_message(client.post("/v1/messages", json=payload).json()["id"]))
    assert record is not None
    assert (record.content_sid, record.content_variables, record.body) == (
        "HX0123456789abcdef0123456789abcdef",
        {"1": "X1"},
        None,
    )


def test_invalid_number_is_422_naming_to_and_stores_nothing(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    response = client.post("/v1/messages", json={"to": "12345", "body": "hi"})
    assert (response.status_code, response.json()["field"]) == (422, "to")
    assert (all_messages(), enqueuer.sends) == ([], [])


def test_missing_variable_is_422_and_stores_nothing(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "Hi {{ name }}"})
    assert response.status_code == 422
    assert "name" in response.json()["detail"]
    assert all_messages() == []


def test_two_message_kinds_is_422(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi", "content_sid": "HX1"})
    assert (response.status_code, response.json()["field"]) == (422, "body")


def test_oversize_rendered_body_is_422(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "x" * 1601})
    assert response.status_code == 422
    assert all_messages() == []


def test_unknown_template_file_is_422_naming_template(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", "template": "nope.j2"})
    assert (response.status_code, response.json()["field"]) == (422, "template")


def test_send_at_in_the_future_stores_a_due_row_and_enqueues_nothing(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi", "send_at": later.isoformat()})
    assert response.status_code == 202
    record = run(queries.get_message(response.json()["id"]))
    assert record is not None and record.send_at is not None
    assert abs((record.send_at - later).total_seconds()) < 1
    assert enqueuer.sends == []


def test_send_at_in_the_past_sends_now(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi", "send_at": earlier})
    assert enqueuer.sends == [response.json()["id"]]


def test_send_at_without_offset_is_422(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi", "send_at": "2030-01-01T09:00:00"})
    assert (response.status_code, response.json()["field"]) == (422, "send_at")


def test_bulk_send_accepts_valid_and_lists_every_rejected(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    payload = {
        "recipients": [{"to": "+14155550100", "name": "Ada"}, {"phone": "+14155550101", "vars": {"name": "Bo"}}],
        "phone_numbers": ["bogus", "+14155550100"],
        "body": "Hi {{ name | default('there') }}",
    }
    response = client.post("/v1/bulk-send", json=payload)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert [r["to"] for r in body["rejected"]] == ["bogus"]
    assert [s["to"] for s in body["skipped"]] == ["+14155550100"]
    assert all(r["reason"] for r in body["rejected"] + body["skipped"])
    assert messages_of(body["run_id"]) == [
        ("+14155550100", "pending", "Hi Ada"),
        ("+14155550101", "pending", "Hi Bo"),
        ("bogus", "rejected", None),
    ]
    assert len(enqueuer.sends) == 2


def test_bulk_send_render_error_is_422_and_stores_nothing(client: TestClient[Litestar]) -> None:
    payload = {"recipients": [{"to": "+14155550100", "name": "Ada"}, {"to": "+14155550101"}], "body": "Hi {{ name }}"}
    response = client.post("/v1/bulk-send", json=payload)
    assert (response.status_code, response.json()["field"]) == (422, "recipients[1]")
    assert all_messages() == []


def test_bulk_send_over_the_recipient_cap_is_422_and_stores_nothing(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan, "MAX_RECIPIENTS", 3)
    numbers = [f"+1415555010{i}" for i in range(4)]
    response = client.post("/bulk-send", json={"phone_numbers": numbers, "message": "hi"})
    assert (response.status_code, response.json()["field"]) == (422, "recipients")
    assert "at most 3" in response.json()["detail"]
    assert all_messages() == []


def test_bulk_send_without_recipients_is_422(client: TestClient[Litestar]) -> None:
    response = client.post("/v1/bulk-send", json={"body": "hi"})
    assert response.status_code == 422


def test_legacy_bulk_send_payload_works_unchanged(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    response = client.post(
        "/bulk-send", json={"phone_numbers": ["+14155550100", "+14155550101", "nope"], "message": "Sale!"}
    )
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"run_id", "accepted", "rejected"}
    assert (body["accepted"], [r["to"] for r in body["rejected"]]) == (2, ["nope"])
    assert [m[2] for m in messages_of(body["run_id"]) if m[1] == "pending"] == ["Sale!", "Sale!"]
    assert len(enqueuer.sends) == 2


def test_legacy_bulk_send_ignores_extra_fields(client: TestClient[Litestar]) -> None:
    response = client.post("/bulk-send", json={"phone_numbers": ["+14155550100"], "message": "hi", "sender": "x"})
    assert response.status_code == 202


def test_idempotency_key_replays_first_response_and_sends_nothing_again(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    payload = {"phone_numbers": ["+14155550100", "+14155550101"], "body": "hi"}
    first = client.post("/v1/bulk-send", json=payload, headers={"Idempotency-Key": "order-42"})
    again = client.post("/v1/bulk-send", json=dict(reversed(payload.items())), headers={"Idempotency-Key": "order-42"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(enqueuer.sends) == 2
    assert len(all_messages()) == 2


def test_idempotency_key_with_another_body_is_422(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    client.post("/v1/messages", json={"to": "+14155550100", "body": "hi"}, headers={"Idempotency-Key": "k"})
    response = client.post("/v1/messages", json={"to": "+14155550100", "body": "bye"}, headers={"Idempotency-Key": "k"})
    assert (response.status_code, response.json()["field"]) == (422, "Idempotency-Key")
    assert len(enqueuer.sends) == 1


def test_idempotency_key_on_another_route_is_422(client: TestClient[Litestar]) -> None:
    client.post("/v1/messages", json={"to": "+14155550100", "body": "hi"}, headers={"Idempotency-Key": "k2"})
    response = client.post(
        "/bulk-send", json={"phone_numbers": ["+14155550100"], "message": "hi"}, headers={"Idempotency-Key": "k2"}
    )
    assert response.status_code == 422


def test_failed_request_does_not_consume_its_idempotency_key(client: TestClient[Litestar]) -> None:
    bad = client.post("/v1/messages", json={"to": "123", "body": "hi"}, headers={"Idempotency-Key": "k3"})
    good = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi"}, headers={"Idempotency-Key": "k3"})
    assert (bad.status_code, good.status_code) == (422, 202)


def test_bulk_run_finishes_once_nothing_is_owed(client: TestClient[Litestar]) -> None:
    response = client.post("/bulk-send", json={"phone_numbers": ["+14155550100", "nope"], "message": "Sale!"})
    run_id = response.json()["run_id"]
    assert run(queries.finish_if_done(run_id)) is False  # one row is still owed
    owed = [m for m in run(queries.list_messages(run_id=run_id))[0] if m.status == "pending"]
    for message in owed:
        run(queries.mark_final(message.id, MessageStatus.FAILED, from_states=[MessageStatus.PENDING]))
    assert run(queries.finish_if_done(run_id)) is True
    assert client.get(f"/v1/runs/{run_id}").json()["state"] == "finished"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"content_sid": "HX0123456789abcdef0123456789abcdef", "media_url": ["https://x.example/a.jpg"]}, "media_url"),
        ({"content_sid": "HX0123"}, "content_sid"),
    ],
    ids=["content-sid-with-media", "malformed-content-sid"],
)
def test_a_request_twilio_would_refuse_is_422_and_stores_nothing(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer, extra: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/messages", json={"to": "+14155550100", **extra})
    assert (response.status_code, response.json()["field"]) == (422, field)
    assert (all_messages(), enqueuer.sends) == ([], [])
