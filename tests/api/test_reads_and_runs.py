"""Reads (messages, runs) and run control over HTTP."""

from __future__ import annotations

from api_support import INBOUND_URL, PUBLIC_URL, run, sign
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.enqueue import RecordingEnqueuer
from hub.status import RunState
from hub.store import queries


def bulk(client: TestClient[Litestar], *numbers: str) -> dict:
    response = client.post("/v1/bulk-send", json={"phone_numbers": list(numbers), "body": "hi"})
    assert response.status_code == 202
    return response.json()


def test_get_message_has_spec_fields_and_history(client: TestClient[Litestar]) -> None:
    message_id = client.post("/v1/messages", json={"to": "+14155550100", "body": "hi"}).json()["id"]
    run(queries.claim_for_send(message_id))
    run(queries.mark_submitted(message_id, "SMr1", "queued"))
    params = {"MessageSid": "SMr1", "MessageStatus": "delivered"}
    url = f"{PUBLIC_URL}/webhooks/twilio/status"
    client.post("/webhooks/twilio/status", data=params, headers={"X-Twilio-Signature": sign(url, params)})
    body = client.get(f"/v1/messages/{message_id}").json()
    assert set(body) >= {
        "id",
        "to",
        "status",
        "sid",
        "error_code",
        "error_message",
        "run_id",
        "campaign",
        "body",
        "content_sid",
        "content_variables",
        "created_at",
        "sent_at",
        "updated_at",
        "history",
    }
    assert (body["status"], body["sid"], body["to"]) == ("delivered", "SMr1", "+14155550100")
    assert [h["status"] for h in body["history"]][-1] == "delivered"
    assert {"status", "at", "source"} <= set(body["history"][0])


def test_get_unknown_message_is_404(client: TestClient[Litestar]) -> None:
    response = client.get("/v1/messages/424242")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_list_messages_filters_and_paginates(client: TestClient[Litestar]) -> None:
    first = bulk(client, "+14155550100", "+14155550101", "+14155550102", "bad")
    bulk(client, "+14155550100")
    page = client.get("/v1/messages", params={"run_id": first["run_id"], "status": "pending", "limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        "/v1/messages",
        params={"run_id": first["run_id"], "status": "pending", "limit": 2, "cursor": page["next_cursor"]},
    ).json()
    assert (len(rest["items"]), rest["next_cursor"]) == (1, None)
    seen = {m["to"] for m in page["items"] + rest["items"]}
    assert seen == {"+14155550100", "+14155550101", "+14155550102"}
    by_phone = client.get("/v1/messages", params={"to": "whatsapp:+1 415 555 0100"}).json()
    assert len(by_phone["items"]) == 2


def test_list_messages_replied_lists_the_rows_whose_recipient_wrote_after_the_send(
    client: TestClient[Litestar],
) -> None:
    sent = bulk(client, "+14155550100", "+14155550101")
    items = client.get("/v1/messages", params={"run_id": sent["run_id"]}).json()["items"]
    ids = {m["to"]: m["id"] for m in items}
    run(queries.claim_for_send(ids["+14155550100"]))
    run(queries.mark_submitted(ids["+14155550100"], "SMrep1", "queued"))
    for sender in ("+14155550100", "+14155550101"):  # the second was never sent: not a reply
        form = {"MessageSid": f"SMin{sender[-4:]}", "From": f"whatsapp:{sender}", "To": "whatsapp:+1", "Body": "ok"}
        answer = client.post(
            "/webhooks/twilio/inbound", data=form, headers={"X-Twilio-Signature": sign(INBOUND_URL, form)}
        )
        assert answer.status_code < 300

    replied = client.get("/v1/messages", params={"run_id": sent["run_id"], "replied": "true"}).json()["items"]
    others = client.get("/v1/messages", params={"run_id": sent["run_id"], "replied": "false"}).json()["items"]

    assert [m["to"] for m in replied] == ["+14155550100"]
    assert [m["to"] for m in others] == ["+14155550101"]


def test_list_messages_replied_without_a_run_is_422(client: TestClient[Litestar]) -> None:
    response = client.get("/v1/messages", params={"replied": "true"})
    assert (response.status_code, response.json()["field"]) == (422, "replied")


def test_list_messages_items_have_no_history(client: TestClient[Litestar]) -> None:
    bulk(client, "+14155550100")
    assert client.get("/v1/messages").json()["items"][0]["history"] is None


def test_list_messages_bad_status_is_422(client: TestClient[Litestar]) -> None:
    response = client.get("/v1/messages", params={"status": "lost"})
    assert (response.status_code, response.json()["field"]) == (422, "status")


def test_list_messages_bad_cursor_is_422(client: TestClient[Litestar]) -> None:
    assert client.get("/v1/messages", params={"cursor": "zzz"}).status_code == 422


def test_list_messages_limit_out_of_range_is_422(client: TestClient[Litestar]) -> None:
    assert client.get("/v1/messages", params={"limit": 0}).status_code == 422


def test_get_run_has_counts_total_rate_eta(client: TestClient[Litestar]) -> None:
    sent = bulk(client, "+14155550100", "+14155550101", "nope")
    body = client.get(f"/v1/runs/{sent['run_id']}").json()
    assert set(body) >= {
        "id",
        "campaign",
        "state",
        "counts",
        "total",
        "rate_per_second",
        "eta_seconds",
        "created_at",
        "started_at",
        "finished_at",
    }
    assert (body["counts"], body["total"], body["state"]) == ({"pending": 2, "rejected": 1}, 3, "running")


def test_get_unknown_run_is_404(client: TestClient[Litestar]) -> None:
    assert client.get("/v1/runs/31337").status_code == 404


def test_pause_then_resume(client: TestClient[Litestar]) -> None:
    run_id = bulk(client, "+14155550100")["run_id"]
    paused = client.post(f"/v1/runs/{run_id}/pause")
    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    assert run(queries.claim_for_send(client.get(f"/v1/messages?run_id={run_id}").json()["items"][0]["id"])) is None
    resumed = client.post(f"/v1/runs/{run_id}/resume")
    assert (resumed.status_code, resumed.json()["state"]) == (200, "running")


def test_resume_a_running_run_is_409(client: TestClient[Litestar]) -> None:
    run_id = bulk(client, "+14155550100")["run_id"]
    response = client.post(f"/v1/runs/{run_id}/resume")
    assert (response.status_code, response.json()["error"]) == (409, "conflict")


def test_cancel_cancels_owed_messages(client: TestClient[Litestar]) -> None:
    run_id = bulk(client, "+14155550100", "+14155550101")["run_id"]
    body = client.post(f"/v1/runs/{run_id}/cancel").json()
    assert (body["state"], body["counts"]) == ("canceled", {"canceled": 2})


def test_cancel_twice_is_409(client: TestClient[Litestar]) -> None:
    run_id = bulk(client, "+14155550100")["run_id"]
    client.post(f"/v1/runs/{run_id}/cancel")
    assert client.post(f"/v1/runs/{run_id}/cancel").status_code == 409


def test_pause_a_finished_run_is_409(client: TestClient[Litestar]) -> None:
    run_id = bulk(client, "+14155550100")["run_id"]
    run(queries.set_run_state(run_id, RunState.FINISHED))
    assert client.post(f"/v1/runs/{run_id}/pause").status_code == 409


def test_control_of_unknown_run_is_404(client: TestClient[Litestar]) -> None:
    for verb in ("pause", "resume", "cancel"):
        assert client.post(f"/v1/runs/777/{verb}").status_code == 404


def test_resume_of_campaign_run_not_fanned_out_enqueues_fan_out(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    ran, _ = run(queries.create_run(kind="campaign", campaign="hello", state=RunState.PAUSED))
    client.post(f"/v1/runs/{ran.id}/resume")
    assert enqueuer.fan_outs == [ran.id]


def test_list_messages_replied_null_is_refused_not_ignored(client: TestClient[Litestar]) -> None:
    response = client.get("/v1/messages?run_id=1&replied=null")
    assert (response.status_code, response.json()["field"]) == (422, "replied")
