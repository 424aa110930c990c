"""``POST /v1/render`` makes the send path's checks (PostgreSQL ledger): opted out, the 24 h window, a blocked
template (409, as the send answers), and when the send window lets each message go."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from api_support import API_KEY, PUBLIC_URL, run
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import ApiSettings, PathSettings, Secret, Settings
from hub.store import queries
from hub.store.records import InboundRecord
from hub.store.templates import TemplateRecord

pytestmark = pytest.mark.integration

ADA, BO = "+14155550100", "+14155550101"
SID = "HX" + "b" * 32


@pytest.fixture
def client(pg_settings: Settings, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    settings = msgspec.structs.replace(
        pg_settings,
        public_url=PUBLIC_URL,
        api=ApiSettings(keys=(Secret(API_KEY),)),
        root=tmp_path,
        paths=PathSettings(campaigns=tmp_path / "campaigns", templates=tmp_path / "templates"),
    )
    with TestClient(app=create_app(settings, enqueuer=RecordingEnqueuer()), base_url=PUBLIC_URL) as test_client:
        test_client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield test_client


def _render(client: TestClient[Litestar], **payload: object) -> dict[str, dict[str, object]]:
    response = client.post("/v1/render", json=payload)
    assert response.status_code == 200, response.text
    return {item["to"]: item for item in response.json()["items"]}


def test_opted_out_is_skipped_and_a_body_outside_the_24_h_window_is_rejected(client: TestClient[Litestar]) -> None:
    run(queries.set_opt_out(ADA, source="keyword"))
    late = datetime.now(UTC) - timedelta(hours=30)
    run(queries.record_inbound(InboundRecord(sid="SMin1", from_phone=BO, to="+1", body="hi", received_at=late)))
    items = _render(client, body="Hi", phone_numbers=[ADA, BO, "+14155550102"])
    assert (items[ADA]["status"], items[ADA]["error"]) == ("skipped", "contact opted out")
    assert items[BO]["status"] == "rejected"
    assert str(items[BO]["error"]).startswith("63016: outside the 24 h session window")
    assert items["+14155550102"]["status"] == "ok"


def test_a_blocked_template_is_409_as_the_send_answers(client: TestClient[Litestar]) -> None:
    record = TemplateRecord(
        friendly_name="promo", language="en", content_sid=SID, body="Hi {{1}}", declared=["1"], approval_status="paused"
    )
    run(queries.upsert_template(record))
    response = client.post(
        "/v1/render", json={"content_sid": SID, "content_variables": {"1": "Ada"}, "phone_numbers": [ADA]}
    )
    assert (response.status_code, response.json()["field"]) == (409, "content_sid")


def test_a_campaign_message_outside_its_send_window_has_send_at(
    client: TestClient[Litestar], pg_settings: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    # A one-hour window starting an hour from now on a UTC clock, read in the recipient's zone (Los Angeles,
    # UTC-8 or -7): the recipient is never inside it now.
    start = (now + timedelta(hours=1)).strftime("%H:00")
    end = (now + timedelta(hours=2)).strftime("%H:00")
    (tmp_path / "campaigns" / "hello.yaml").write_text(
        "body: 'Hi'\n"
        f"audience: {{recipients: [{{phone: '{ADA}'}}]}}\n"
        f"schedule: {{cron: '0 9 * * MON', timezone: UTC, send_window: {{start: '{start}', end: '{end}'}}}}\n",
        encoding="utf-8",
    )
    item = _render(client, campaign="hello")[ADA]
    assert item["status"] == "ok" and item["send_at"] is not None
    assert now < datetime.fromisoformat(str(item["send_at"])) <= now + timedelta(hours=25)
