"""The example journey through the API and the Twilio webhooks on PostgreSQL: entered by event and by schedule;
a reply, a read and a timeout each take their branch."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from twilio.request_validator import RequestValidator

from actors.journeys import advance_batch, enter_audience
from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.campaigns.loader import find_campaign
from hub.config import ApiSettings, PathSettings, Secret, Settings
from hub.journeys.spec_cache import SpecCache
from hub.status import RunState
from hub.store import queries
from hub.store.db import current_engine, run_sync
from hub.store.records import RunRecord

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
API_KEY, AUTH_TOKEN, PUBLIC = "journey-key", "journey-token", "https://hooks.example.com"
ADA = "+14155550100"  # in audiences/appointments.csv
BOOKED = {
    "type": "appointment.booked",
    "to": "+14155550199",
    "data": {
        "appointment_id": "A-77",
        "first_name": "Lin",
        "clinic": "Mission Dental",
        "appointment_time": "Wed 10:00",
    },
}


class World:
    """The repository's campaigns on a test database, the app, and the journey sweep run by hand."""

    def __init__(self, settings: Settings, client: TestClient[Litestar]) -> None:
        self.settings = settings
        self.client = client
        self.cache = SpecCache(settings)
        self.sends: list[int] = []
        self.sids = 0
        self.enqueuer = RecordingEnqueuer()

    def sweep(self, at: datetime | None = None) -> None:
        def enqueue(run: RunRecord, ids: list[int]) -> None:
            self.sends.extend(ids)

        while advance_batch(self.settings, self.cache, at or datetime.now(UTC), enqueue):
            pass

    def schedule_run(self) -> int:
        run, _ = run_sync(queries.create_run(campaign="appointment-journey", state=RunState.RUNNING))
        enter_audience(run, find_campaign(self.settings, "appointment-journey"), self.settings)
        return run.id

    def bodies(self, phone: str) -> list[str]:
        rows = run_sync(current_engine().fetch("SELECT body FROM message WHERE recipient = $1 ORDER BY id", [phone]))
        return [row["body"] for row in rows]

    def hand_to_twilio(self, phone: str) -> str:
        """The send path's part for the recipient's latest owed message, once due: claimed, accepted with a sid."""
        rows = run_sync(
            current_engine().fetch(
                "SELECT id FROM message WHERE recipient = $1 AND status = 'pending' ORDER BY id DESC LIMIT 1", [phone]
            )
        )
        self.sids += 1
        sid = f"SMjourney{self.sids:04d}"
        run_sync(current_engine().fetch("UPDATE message SET send_at = NULL WHERE id = $1", [rows[0]["id"]]))
        run_sync(queries.claim_for_send(rows[0]["id"]))
        run_sync(queries.mark_submitted(rows[0]["id"], sid, "queued"))
        return sid

    def webhook(self, kind: str, params: dict[str, str]) -> None:
        url = f"{PUBLIC}/webhooks/twilio/{kind}"
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        response = self.client.post(f"/webhooks/twilio/{kind}", data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code in (200, 204), response.text

    def status(self, sid: str, status: str) -> None:
        self.webhook("status", {"MessageSid": sid, "MessageStatus": status})

    def reply(self, phone: str, body: str = "YES") -> None:
        self.webhook(
            "inbound",
            {"MessageSid": f"SMin{phone}{body}", "From": f"whatsapp:{phone}", "To": "whatsapp:+1", "Body": body},
        )

    def entry(self, phone: str) -> dict[str, Any]:
        items = self.client.get("/v1/entries", params={"to": phone}).json()["items"]
        assert len(items) == 1
        return items[0]


@pytest.fixture
def world(pg_settings: Settings, tmp_path: Path) -> Iterator[World]:
    for folder in ("campaigns", "templates", "audiences"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    settings = msgspec.structs.replace(
        pg_settings,
        root=tmp_path,
        paths=PathSettings(campaigns=tmp_path / "campaigns", templates=tmp_path / "templates" / "messages"),
        public_url=PUBLIC,
        api=ApiSettings(keys=(Secret(API_KEY),)),
        twilio=msgspec.structs.replace(pg_settings.twilio, auth_token=Secret(AUTH_TOKEN)),
    )
    enqueuer = RecordingEnqueuer()
    with TestClient(app=create_app(settings, enqueuer=enqueuer), base_url=PUBLIC) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        world = World(settings, client)
        world.enqueuer = enqueuer
        yield world


def test_an_event_enters_the_journey_once_per_key(world: World) -> None:
    first = world.client.post("/v1/events", json=BOOKED, headers={"Idempotency-Key": "booking-77"})
    assert first.status_code == 202
    body = first.json()
    assert [item["campaign"] for item in body["entered"]] == ["appointment-journey"] and body["delivered"] == 0
    replay = world.client.post("/v1/events", json=BOOKED, headers={"Idempotency-Key": "booking-77"})
    assert replay.json() == body
    again = world.client.post("/v1/events", json=BOOKED).json()
    assert again["entered"] == []  # the same appointment's entry is active: no second one
    world.sweep()
    assert world.bodies("+14155550199")[0].startswith("Hi Lin, a reminder of your appointment at Mission Dental")


def test_a_reply_through_the_inbound_webhook_confirms(world: World) -> None:
    world.client.post("/v1/events", json=BOOKED)
    world.sweep()
    world.reply("+14155550199")
    world.sweep()
    assert world.bodies("+14155550199")[-1] == "Thank you, Lin: see you then."
    entry = world.entry("+14155550199")
    assert [(p["step"], p["outcome"]) for p in entry["path"]][:3] == [
        ("remind", "sent"),
        ("wait-reply", "awaiting"),
        ("wait-reply", "replied"),
    ]
    assert (entry["active"], entry["outcome"]) == (False, "completed")
    assert world.client.get(f"/v1/entries/{entry['id']}").json() == entry


def test_a_read_callback_takes_the_read_branch(world: World) -> None:
    run_id = world.schedule_run()
    world.sweep()
    sid = world.hand_to_twilio(ADA)
    world.status(sid, "delivered")
    world.status(sid, "read")
    world.sweep()
    entry = world.entry(ADA)
    assert (entry["step"], entry["phase"]) == ("wait-after-read", "awaiting")
    steps = {step["id"]: step for step in world.client.get(f"/v1/runs/{run_id}").json()["steps"]}
    assert steps["wait-reply"]["kind"] == "wait_for"
    assert steps["wait-reply"]["counts"]["read"] == 1
    assert steps["wait-after-read"]["counts"]["at_step"] == 1


def test_the_dashboard_run_page_shows_each_step_with_its_counts(world: World) -> None:
    run_id = world.schedule_run()
    world.sweep()
    world.status(world.hand_to_twilio(ADA), "read")
    world.sweep()
    login = world.client.get("/ui/login").text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', login)
    assert token, "the login page has no CSRF field"
    world.client.post("/ui/login", data={"key": API_KEY, "next": "/ui/", "_csrf_token": token.group(1)})
    page = world.client.get(f"/ui/runs/{run_id}").text
    steps = page[page.index("Journey steps") :]
    assert "wait-reply" in steps and "wait_for" in steps and "read 1" in steps


def test_a_timeout_nudges_in_the_recipients_morning(world: World) -> None:
    world.schedule_run()
    world.sweep()
    entry = world.entry(ADA)
    due = datetime.fromisoformat(entry["due_at"])
    world.sweep(due)
    entry = world.entry(ADA)
    assert (entry["step"], entry["phase"]) == ("nudge", "waiting")  # until 09:00 in Los Angeles
    world.sweep(datetime.fromisoformat(entry["due_at"]) + timedelta(seconds=1))
    assert world.bodies(ADA)[-1].startswith("Hi Ada, please reply YES to confirm")


def test_a_custom_event_reaches_the_waiting_entry_and_ends_it(world: World) -> None:
    world.client.post("/v1/events", json=BOOKED)
    world.sweep()
    canceled = world.client.post("/v1/events", json={"type": "appointment.canceled", "to": BOOKED["to"]}).json()
    assert canceled == {"entered": [], "delivered": 1}
    world.sweep()
    entry = world.entry("+14155550199")
    assert (entry["active"], entry["outcome"]) == (False, "exit:appointment.canceled")


def test_an_event_is_refused_with_an_invalid_type_or_number(world: World) -> None:
    bad_type = world.client.post("/v1/events", json={"type": "booked", "to": ADA})
    assert bad_type.status_code == 422 and bad_type.json()["field"] == "type"
    bad_phone = world.client.post("/v1/events", json={"type": "appointment.booked", "to": "12"})
    assert bad_phone.status_code == 422 and bad_phone.json()["field"] == "to"


def test_an_event_that_enters_or_reaches_an_entry_wakes_the_advancer_at_once(world: World) -> None:
    world.client.post("/v1/events", json=BOOKED)
    assert world.enqueuer.advances == 1  # the new entry's first steps are not left for the sweep's next tick
    world.sweep()
    world.client.post("/v1/events", json={"type": "appointment.canceled", "to": BOOKED["to"]})
    assert world.enqueuer.advances == 2
    world.client.post("/v1/events", json={"type": "appointment.canceled", "to": "+14155550123"})
    assert world.enqueuer.advances == 2  # nobody entered or waiting: nothing to wake


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """The webhooks wake the advancer in the background: wait for it (a failure is a wake that never came)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the advancer was not woken"
        time.sleep(0.01)


def test_a_reply_through_the_inbound_webhook_wakes_the_advancer_at_once(world: World) -> None:
    world.client.post("/v1/events", json=BOOKED)
    world.sweep()
    before = world.enqueuer.advances
    world.reply("+14155550199")
    wait_until(lambda: world.enqueuer.advances == before + 1)  # the reply's branch is not left for the next tick


def test_a_delivered_callback_wakes_the_advancer_at_once(world: World) -> None:
    world.schedule_run()
    world.sweep()
    sid = world.hand_to_twilio(ADA)
    world.status(sid, "sent")
    world.status(sid, "delivered")
    wait_until(lambda: world.enqueuer.advances >= 1)
    time.sleep(0.2)  # past the wake's spacing: had the sent status woken it too, the delivered one would follow
    assert world.enqueuer.advances == 1  # no entry waits for a sent status
