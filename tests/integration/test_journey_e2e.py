"""The example journey end to end: `hub worker` and `hub scheduler` processes on real PostgreSQL and Redis, the fake
Twilio, events and webhooks through the app. Entered by schedule (`hub send`) and by event (`POST /v1/events`);
a reply, a read and a timeout each take their branch, and each step is sent once."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from hub_procs import Deployment, deployment, wait_for
from litestar.testing import TestClient
from twilio.request_validator import RequestValidator

from hub.api.app import create_app
from hub.config import ApiSettings, Secret, Settings
from hub.faketwilio import FakeTwilioHandle, start_fake_twilio
from hub.store import db

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
API_KEY = "e2e-key"
REPLIES, READS, SILENT, BOOKED = "+14155550301", "+14155550302", "+14155550303", "+14155550304"
AUDIENCE = "phone,first_name,appointment_time,clinic\n" + "".join(
    f"{phone},{name},Tue 09:30,Mission Dental\n" for phone, name in ((REPLIES, "Ada"), (READS, "Bo"), (SILENT, "Cy"))
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilioHandle]:
    with start_fake_twilio(callbacks=False) as handle:
        yield handle


@pytest.fixture
def deploy(tmp_path: Path, pg_settings: Settings, redis_url: str, fake: FakeTwilioHandle) -> Iterator[Deployment]:
    fake.reset()
    fake.configure(latency_ms=0)
    made = deployment(tmp_path, pg_settings, redis_url, fake, per_second=50)
    deploy = next(made)
    # The repository's journey, with its waits shortened to seconds and no quiet hours (the test cannot wait for
    # a morning); every step, branch and event is the shipped file's.
    text = (REPO / "campaigns" / "appointment-journey.yaml").read_text(encoding="utf-8")
    for old, new in (
        ("timeout: 4h", "timeout: 3s"),
        ("timeout: 2h", "timeout: 2s"),
        ('wait: {until: "09:00"}           # the recipient\'s morning', "wait: 1s"),
        ('  send_window: {start: "08:00", end: "21:00"}\n', ""),
    ):
        assert old in text, old
        text = text.replace(old, new)
    (deploy.root / "campaigns" / "appointment-journey.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "templates", deploy.root / "templates")
    (deploy.root / "audiences").mkdir()
    (deploy.root / "audiences" / "appointments.csv").write_text(AUDIENCE, encoding="utf-8")
    yield deploy
    next(made, None)


@pytest.fixture
def api(deploy: Deployment, fake: FakeTwilioHandle) -> Iterator[Callable[..., object]]:
    settings = msgspec.structs.replace(deploy.settings, api=ApiSettings(keys=(Secret(API_KEY),)))
    with TestClient(app=create_app(settings), base_url=settings.public_url) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"

        def call(method: str, path: str, **kwargs: object) -> object:
            if path.startswith("/webhooks/"):
                url = settings.public_url.rstrip("/") + path
                form = kwargs["data"]
                assert isinstance(form, dict)
                signature = RequestValidator(fake.auth_token).compute_signature(url, form)
                kwargs["headers"] = {"X-Twilio-Signature": signature}
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code < 300, response.text
            return response.json() if response.content and "json" in response.headers["content-type"] else None

        yield call


def sent(phone: str) -> list[tuple[str, str]]:
    """(body, sid) of every message handed to Twilio for the number, in order."""
    rows = db.run_sync(
        db.current_engine().fetch(
            "SELECT body, sid FROM message WHERE recipient = $1 AND sid IS NOT NULL ORDER BY id", [phone]
        )
    )
    return [(row["body"], row["sid"]) for row in rows]


def test_the_example_journey_end_to_end(deploy: Deployment, api: Callable[..., object], fake: FakeTwilioHandle) -> None:
    # Given a worker and a scheduler (whose journey sweep advances entries every second)
    deploy.run("db", "migrate")
    deploy.start("worker", "-p", "1", "-t", "2")
    deploy.start("scheduler")
    # When the journey is sent to its audience, and a booking enters one more patient by event
    deploy.run("send", "appointment-journey")
    entered = api(
        "POST",
        "/v1/events",
        json={
            "type": "appointment.booked",
            "to": BOOKED,
            "data": {
                "appointment_id": "A-1",
                "first_name": "Di",
                "clinic": "Mission Dental",
                "appointment_time": "Wed",
            },
        },
    )
    assert isinstance(entered, dict) and len(entered["entered"]) == 1
    everyone = (REPLIES, READS, SILENT, BOOKED)
    wait_for(lambda: all(sent(p) for p in everyone), timeout_s=30, what=lambda: f"the reminders\n{deploy.logs()}")
    # And one patient replies, one reads, the event-entered one replies; the last stays silent
    inbound = {"To": "whatsapp:+14155238886", "Body": "YES", "NumMedia": "0"}
    api("POST", "/webhooks/twilio/inbound", data={**inbound, "MessageSid": "SMin1", "From": f"whatsapp:{REPLIES}"})
    api("POST", "/webhooks/twilio/inbound", data={**inbound, "MessageSid": "SMin2", "From": f"whatsapp:{BOOKED}"})
    for status in ("delivered", "read"):
        api("POST", "/webhooks/twilio/status", data={"MessageSid": sent(READS)[0][1], "MessageStatus": status})
    # Then the replies are confirmed, the read and the silent ones are nudged after their timeouts
    confirmations = {REPLIES: "Thank you, Ada: see you then.", BOOKED: "Thank you, Di: see you then."}
    for phone, text in confirmations.items():
        wait_for(lambda p=phone: len(sent(p)) == 2, timeout_s=30, what=lambda: f"a confirmation\n{deploy.logs()}")
        assert sent(phone)[1][0] == text
    for phone in (READS, SILENT):
        wait_for(lambda p=phone: len(sent(p)) == 2, timeout_s=30, what=lambda: f"a nudge\n{deploy.logs()}")
        assert sent(phone)[1][0].startswith("Hi ")
        assert "please reply YES" in sent(phone)[1][0]
    # And each took its own branch, and every recipient had exactly one create per step it reached
    paths = {}
    for phone in everyone:
        (entry,) = api("GET", "/v1/entries", params={"to": phone})["items"]  # type: ignore[index]
        paths[phone] = [(p["step"], p["outcome"]) for p in entry["path"]]
    assert ("wait-reply", "replied") in paths[REPLIES] and ("wait-reply", "replied") in paths[BOOKED]
    assert ("wait-reply", "read") in paths[READS] and ("wait-after-read", "timeout") in paths[READS]
    assert ("wait-reply", "timeout") in paths[SILENT]
    assert deploy.creates_per_phone() == dict.fromkeys(everyone, 2)
