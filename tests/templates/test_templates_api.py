"""/v1/templates through the real twilio client against the fake Content API."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from template_support import fail_next, set_approval

from hub.faketwilio import FakeTwilioHandle

Client = TestClient[Litestar]
BODY = "Hi {{1}}, your order {{2}} is ready"


def _create(client: Client, name: str = "order_ready", **overrides: Any) -> dict[str, Any]:
    payload = {"friendly_name": name, "language": "en", "body": BODY, "variables": {"1": "Ada", "2": "42"}}
    answer = client.post("/v1/templates", json={**payload, **overrides})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_create_posts_to_twilio_and_registers_the_sid(client: Client, fake: FakeTwilioHandle) -> None:
    created = _create(client)
    assert created["content_sid"].startswith("HX")
    assert created["variables"] == ["1", "2"]
    assert created["approval_status"] == "unsubmitted"
    assert created["content_sid"] in fake.fake.content.store.contents
    listed = client.get("/v1/templates").json()["items"]
    assert [item["content_sid"] for item in listed] == [created["content_sid"]]


def test_submit_then_fetch_follows_the_approval_to_approved(client: Client) -> None:
    sid = _create(client)["content_sid"]
    submitted = client.post(f"/v1/templates/{sid}/approval", json={"name": "order_ready", "category": "UTILITY"})
    assert submitted.status_code == 202, submitted.text
    assert (submitted.json()["approval_status"], submitted.json()["category"]) == ("received", "UTILITY")
    statuses = [client.get(f"/v1/templates/{sid}").json()["approval_status"] for _ in range(2)]
    assert statuses == ["pending", "approved"]


def test_a_friendly_name_taken_is_409_and_nothing_is_created_at_twilio(client: Client, fake: FakeTwilioHandle) -> None:
    first = _create(client, name="welcome_msg")
    payload = {"friendly_name": "welcome_msg", "body": "Hello {{1}}", "variables": {"1": "Bo"}}
    answer = client.post("/v1/templates", json=payload)
    assert (answer.status_code, answer.json()["field"]) == (409, "friendly_name")
    assert first["content_sid"] in answer.json()["detail"]
    assert list(fake.fake.content.store.contents) == [first["content_sid"]]


def test_a_name_shared_by_templates_made_elsewhere_reads_the_approved_one_else_409(
    client: Client, fake: FakeTwilioHandle
) -> None:
    from template_support import run

    from hub.store import queries

    sid = _create(client, name="promo")["content_sid"]
    # A second content resource with the same name, registered by `hub templates sync` from another account user.
    other = msgspec.structs.replace(run(queries.get_template(sid)), content_sid="HX" + "c" * 32)
    run(queries.upsert_template(other))
    answer = client.get("/v1/templates/promo")
    assert (answer.status_code, answer.json()["field"]) == (409, "sid_or_name")
    set_approval(fake, sid, "approved")
    run(queries.set_template_status(sid, "approved"))
    assert client.get("/v1/templates/promo").json()["content_sid"] == sid


def test_template_is_found_by_friendly_name(client: Client) -> None:
    sid = _create(client, name="welcome_msg")["content_sid"]
    answer = client.get("/v1/templates/welcome_msg")
    assert answer.status_code == 200
    assert answer.json()["content_sid"] == sid


def test_rejection_reason_is_synced(client: Client, fake: FakeTwilioHandle) -> None:
    sid = _create(client)["content_sid"]
    client.post(f"/v1/templates/{sid}/approval", json={"name": "order_ready", "category": "MARKETING"})
    set_approval(fake, sid, "rejected", "promotional content in a utility template")
    body = client.get(f"/v1/templates/{sid}").json()
    assert (body["approval_status"], body["rejection_reason"]) == (
        "rejected",
        "promotional content in a utility template",
    )


@pytest.mark.parametrize("category", ["PROMOTION", "utility", "", "TRANSACTIONAL"])
def test_category_outside_the_three_is_a_422(client: Client, fake: FakeTwilioHandle, category: str) -> None:
    sid = _create(client)["content_sid"]
    answer = client.post(f"/v1/templates/{sid}/approval", json={"name": "order_ready", "category": category})
    assert answer.status_code == 422
    assert answer.json()["field"] == "category"
    assert sid not in fake.fake.content.store.approvals


def test_body_with_a_gap_in_placeholders_is_a_422_and_not_sent(client: Client, fake: FakeTwilioHandle) -> None:
    answer = client.post(
        "/v1/templates",
        json={"friendly_name": "gap", "body": "Hi {{1}} and {{3}}", "variables": {"1": "a", "3": "c"}},
    )
    assert answer.status_code == 422
    assert "without gaps" in answer.json()["detail"]
    assert fake.fake.content.store.contents == {}


def test_twilio_5xx_is_a_502_with_twilios_code(client: Client, fake: FakeTwilioHandle) -> None:
    fail_next(fake, 503, 20503, "Service Unavailable")
    answer = client.post("/v1/templates", json={"friendly_name": "x", "body": "Hello {{1}}!", "variables": {"1": "a"}})
    assert answer.status_code == 502
    assert answer.json()["error"] == "twilio_unavailable"
    assert answer.json()["twilio_code"] == 20503


def test_twilio_4xx_keeps_its_status_and_code(client: Client, fake: FakeTwilioHandle) -> None:
    sid = _create(client)["content_sid"]
    fail_next(fake, 400, 21656, "Invalid variables")
    answer = client.get(f"/v1/templates/{sid}")
    assert answer.status_code == 400
    assert (answer.json()["twilio_code"], answer.json()["detail"]) == (21656, "fetch approval: Invalid variables")


def test_unreachable_twilio_is_a_502(client: Client, fake: FakeTwilioHandle) -> None:
    sid = _create(client)["content_sid"]
    fake.stop()
    answer = client.get(f"/v1/templates/{sid}")
    assert answer.status_code == 502
    assert "could not be reached" in answer.json()["detail"]


def test_unknown_template_is_a_404(client: Client) -> None:
    assert client.get("/v1/templates/no_such_template").status_code == 404
    assert client.get("/v1/templates/HX" + "0" * 32).status_code == 404


def test_templates_need_the_api_key(client: Client) -> None:
    answer = client.get("/v1/templates", headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401
