"""Templates end to end: approved ones send through the real twilio client; blocked ones never reach Twilio."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import msgspec
import pytest
from dramatiq import Worker
from litestar import Litestar
from litestar.testing import TestClient
from template_support import campaign_yaml, hub, run, set_approval

import actors
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings
from hub.faketwilio import FakeTwilioHandle
from hub.status import MessageStatus, RunState
from hub.store import queries
from hub.transport.twilio import TwilioTransport

Client = TestClient[Litestar]
PHONES = ["+14155550100", "+14155550101"]


def _approved_template(client: Client, fake: FakeTwilioHandle, name: str = "order_ready") -> str:
    created = client.post(
        "/v1/templates",
        json={"friendly_name": name, "body": "Hi {{1}}, order {{2}} is ready", "variables": {"1": "Ada", "2": "7"}},
    ).json()
    sid = str(created["content_sid"])
    client.post(f"/v1/templates/{sid}/approval", json={"name": name, "category": "UTILITY"})
    while client.get(f"/v1/templates/{sid}").json()["approval_status"] in {"received", "pending"}:
        pass  # each read moves the fake's approval one step: received -> pending -> approved
    return sid


def _campaign(settings: Settings, name: str, sid: str) -> None:
    text = campaign_yaml(name, sid, {"1": "{{ first_name }}", "2": "42"}, phone=PHONES[0])
    text += f'    - {{phone: "{PHONES[1]}", first_name: Bo}}\n'
    (Path(settings.paths.campaigns) / f"{name}.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def worker(settings: Settings) -> Iterator[Worker]:
    """StubBroker actors sending through TwilioTransport to the fake (no throttling, fast retries)."""
    fast = msgspec.structs.replace(
        settings,
        retries=msgspec.structs.replace(settings.retries, min_backoff_ms=1, max_backoff_ms=5),
        rate_limits=msgspec.structs.replace(settings.rate_limits, per_second=10_000.0),
    )
    broker = actors.setup(
        fast,
        client=fakeredis.FakeRedis(server=fakeredis.FakeServer()),
        stub=True,
        namespace=f"tpl{secrets.token_hex(4)}",
        transport_factory=TwilioTransport,
    )
    running = Worker(broker, worker_threads=2, worker_timeout=20)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        broker.close()


def _drain(worker: Worker) -> None:
    for queue in ("default", actors.send.SEND_QUEUE):
        worker.broker.join(queue, fail_fast=False)  # type: ignore[call-arg]  # StubBroker.join takes it
    worker.join()


def _start_run(client: Client, enqueuer: RecordingEnqueuer, name: str) -> int:
    answer = client.post(f"/v1/campaigns/{name}/runs", json={})
    assert answer.status_code == 202, answer.text
    run_id = int(answer.json()["id"])
    assert enqueuer.fan_outs == [run_id]
    return run_id


def _statuses(run_id: int) -> list[MessageStatus]:
    items, _ = run(queries.list_messages(run_id=run_id, limit=10))
    return sorted(item.status for item in items)


def test_approved_template_campaign_sends_with_content_sid(
    client: Client, fake: FakeTwilioHandle, settings: Settings, enqueuer: RecordingEnqueuer, worker: Worker
) -> None:
    # Given a template created, submitted and approved through /v1/templates, and a campaign using it
    sid = _approved_template(client, fake)
    _campaign(settings, "orders", sid)
    # When a run of the campaign is started through the API and the actors process it
    run_id = _start_run(client, enqueuer, "orders")
    actors.fan_out_run.send(run_id)
    _drain(worker)
    # Then Twilio received one create per recipient with the template and its rendered variables
    creates = fake.messages()
    assert sorted(m["to"] for m in creates) == [f"whatsapp:{p}" for p in PHONES]
    assert {m["params"]["ContentSid"][-1] for m in creates} == {sid}
    variables = [json.loads(m["params"]["ContentVariables"][-1]) for m in creates]
    assert sorted(v["1"] for v in variables) == ["Ada", "Bo"]
    assert _statuses(run_id) == [MessageStatus.QUEUED, MessageStatus.QUEUED]


def test_rejected_template_run_is_refused_by_the_api(
    client: Client, fake: FakeTwilioHandle, settings: Settings, enqueuer: RecordingEnqueuer
) -> None:
    sid = _approved_template(client, fake, name="reject_me")
    assert client.get(f"/v1/templates/{sid}").json()["approval_status"] == "rejected"
    _campaign(settings, "promo", sid)
    answer = client.post("/v1/campaigns/promo/runs", json={})
    assert answer.status_code == 409
    assert "is rejected" in answer.json()["detail"]
    assert run(queries.list_runs(campaign="promo", limit=5)) == []
    assert enqueuer.fan_outs == []


@pytest.mark.parametrize("route", ["/v1/messages", "/v1/bulk-send"])
def test_paused_template_api_send_is_refused(client: Client, fake: FakeTwilioHandle, route: str) -> None:
    sid = _approved_template(client, fake)
    set_approval(fake, sid, "paused", "low quality")
    client.get(f"/v1/templates/{sid}")  # sync the new status into the registry
    payload: dict[str, object] = {"content_sid": sid, "content_variables": {"1": "Ada", "2": "7"}}
    payload |= {"to": PHONES[0]} if route == "/v1/messages" else {"phone_numbers": PHONES}
    answer = client.post(route, json=payload)
    assert answer.status_code == 409
    assert "paused: low quality" in answer.json()["detail"]


def test_rejected_template_run_is_refused_by_hub_send(
    client: Client, fake: FakeTwilioHandle, settings: Settings, config_path: Path
) -> None:
    sid = _approved_template(client, fake, name="reject_this")
    client.get(f"/v1/templates/{sid}")
    _campaign(settings, "promo", sid)
    result = hub(config_path, "send", "promo")
    assert result.exit_code == 1
    assert "is rejected" in result.output
    assert run(queries.list_runs(campaign="promo", limit=5)) == []


def test_template_paused_at_twilio_mid_run_pauses_the_run(
    client: Client, fake: FakeTwilioHandle, settings: Settings, enqueuer: RecordingEnqueuer, worker: Worker
) -> None:
    # Given an approved template and a started run
    sid = _approved_template(client, fake)
    _campaign(settings, "orders", sid)
    run_id = _start_run(client, enqueuer, "orders")
    # When WhatsApp pauses the template before the sends (the registry still says approved)
    set_approval(fake, sid, "paused", "low quality")
    actors.fan_out_run.send(run_id)
    _drain(worker)
    # Then Twilio's refusal pauses the run, marks the template paused, and leaves every message owed
    assert run(queries.get_run(run_id)).state == RunState.PAUSED  # type: ignore[union-attr]
    assert run(queries.get_template(sid)).approval_status == "paused"  # type: ignore[union-attr]
    assert _statuses(run_id) == [MessageStatus.PENDING, MessageStatus.PENDING]
    assert fake.stats()["accepted"] == 0


def test_template_paused_in_registry_never_reaches_twilio(
    client: Client, fake: FakeTwilioHandle, settings: Settings, enqueuer: RecordingEnqueuer, worker: Worker
) -> None:
    sid = _approved_template(client, fake)
    _campaign(settings, "orders", sid)
    run_id = _start_run(client, enqueuer, "orders")
    run(queries.set_template_status(sid, "disabled", rejection_reason="policy"))
    actors.fan_out_run.send(run_id)
    _drain(worker)
    assert run(queries.get_run(run_id)).state == RunState.PAUSED  # type: ignore[union-attr]
    assert _statuses(run_id) == [MessageStatus.PENDING, MessageStatus.PENDING]
    assert fake.stats()["requests"] == 0


def _created_template(client: Client, name: str = "not_submitted") -> str:
    created = client.post(
        "/v1/templates",
        json={"friendly_name": name, "body": "Hi {{1}}, order {{2}} is ready", "variables": {"1": "Ada", "2": "7"}},
    ).json()
    return str(created["content_sid"])


def test_a_template_never_submitted_is_refused_by_the_api(
    client: Client, settings: Settings, enqueuer: RecordingEnqueuer
) -> None:
    sid = _created_template(client)
    _campaign(settings, "draft", sid)
    answer = client.post("/v1/campaigns/draft/runs", json={})
    assert answer.status_code == 409
    assert "is unsubmitted" in answer.json()["detail"]
    assert enqueuer.fan_outs == []


def test_a_template_approved_at_twilio_since_the_registry_read_is_looked_up_and_sent(
    client: Client, fake: FakeTwilioHandle, settings: Settings, enqueuer: RecordingEnqueuer
) -> None:
    sid = _created_template(client)  # the registry says unsubmitted
    set_approval(fake, sid, "approved")  # approved elsewhere (the Twilio console)
    _campaign(settings, "fresh", sid)
    assert client.post("/v1/campaigns/fresh/runs", json={}).status_code == 202
    assert run(queries.get_template(sid)).approval_status == "approved"  # type: ignore[union-attr]


def test_a_content_sid_twilio_does_not_know_is_refused(client: Client, enqueuer: RecordingEnqueuer) -> None:
    sid = "HX" + "0" * 32
    answer = client.post("/v1/messages", json={"to": PHONES[0], "content_sid": sid, "content_variables": {"1": "A"}})
    assert answer.status_code == 409
    assert "does not exist at Twilio" in answer.json()["detail"]
    assert enqueuer.sends == []


def test_a_template_no_longer_approved_pauses_the_run_before_any_create(
    client: Client, fake: FakeTwilioHandle, settings: Settings, enqueuer: RecordingEnqueuer, worker: Worker
) -> None:
    sid = _approved_template(client, fake)
    _campaign(settings, "orders", sid)
    run_id = _start_run(client, enqueuer, "orders")
    # The template goes back to not approved (unsubmitted) at Twilio and in the registry before the sends
    set_approval(fake, sid, "unsubmitted")
    run(queries.set_template_status(sid, "unsubmitted"))
    actors.fan_out_run.send(run_id)
    _drain(worker)
    assert run(queries.get_run(run_id)).state == RunState.PAUSED  # type: ignore[union-attr]
    assert _statuses(run_id) == [MessageStatus.PENDING, MessageStatus.PENDING]
    assert fake.stats()["requests"] == 0


LONG_BODY = "Hello {{1}}! " + "x" * 990  # 1,003 characters with the placeholder: room for a short name only


def _long_approved_template(client: Client, fake: FakeTwilioHandle) -> str:
    created = client.post(
        "/v1/templates", json={"friendly_name": "long_one", "body": LONG_BODY, "variables": {"1": "Ada"}}
    ).json()
    sid = str(created["content_sid"])
    set_approval(fake, sid, "approved")
    assert client.get(f"/v1/templates/{sid}").json()["approval_status"] == "approved"
    return sid


def test_a_template_over_1024_characters_with_its_variables_is_422_before_any_send(
    client: Client, fake: FakeTwilioHandle, enqueuer: RecordingEnqueuer
) -> None:
    sid = _long_approved_template(client, fake)
    payload = {"to": PHONES[0], "content_sid": sid, "content_variables": {"1": "y" * 40}}
    answer = client.post("/v1/messages", json=payload)
    assert (answer.status_code, answer.json()["field"]) == (422, "content_variables")
    assert "63021" in answer.json()["detail"]
    assert enqueuer.sends == []


def test_a_bulk_send_rejects_only_the_recipients_whose_template_text_is_too_long(
    client: Client, fake: FakeTwilioHandle
) -> None:
    sid = _long_approved_template(client, fake)
    recipients = [{"to": PHONES[0], "name": "Ada"}, {"to": PHONES[1], "name": "B" * 40}]
    payload = {"recipients": recipients, "content_sid": sid, "content_variables": {"1": "{{ name }}"}}
    answer = client.post("/v1/bulk-send", json=payload).json()
    assert answer["accepted"] == 1
    assert [(r["to"], "63021" in r["reason"]) for r in answer["rejected"]] == [(PHONES[1], True)]


def test_the_dry_run_rejects_the_recipients_whose_template_text_is_too_long(
    client: Client, fake: FakeTwilioHandle, enqueuer: RecordingEnqueuer
) -> None:
    sid = _long_approved_template(client, fake)
    recipients = [{"to": PHONES[0], "name": "Ada"}, {"to": PHONES[1], "name": "B" * 40}]
    payload = {"recipients": recipients, "content_sid": sid, "content_variables": {"1": "{{ name }}"}}
    answer = client.post("/v1/render", json=payload).json()
    assert (answer["rendered"], answer["rejected"]) == (1, 1)
    assert [(item["to"], item["status"], "63021" in (item["error"] or "")) for item in answer["items"]] == [
        (PHONES[0], "ok", False),
        (PHONES[1], "rejected", True),
    ]
    assert enqueuer.sends == []


def test_the_send_path_fails_a_template_too_long_for_its_recipient_without_calling_twilio(
    client: Client, fake: FakeTwilioHandle, settings: Settings, enqueuer: RecordingEnqueuer, worker: Worker
) -> None:
    sid = _long_approved_template(client, fake)
    text = campaign_yaml("long", sid, {"1": "{{ first_name }}"}, phone=PHONES[0])
    text += f'    - {{phone: "{PHONES[1]}", first_name: {"B" * 40}}}\n'
    (Path(settings.paths.campaigns) / "long.yaml").write_text(text, encoding="utf-8")
    run_id = _start_run(client, enqueuer, "long")
    actors.fan_out_run.send(run_id)
    _drain(worker)
    items, _ = run(queries.list_messages(run_id=run_id, limit=10))
    by_phone = {item.recipient: item for item in items}
    assert (by_phone[PHONES[1]].status, by_phone[PHONES[1]].error_code) == (MessageStatus.FAILED, 63021)
    assert by_phone[PHONES[0]].status == MessageStatus.QUEUED
    assert fake.stats()["accepted"] == 1
