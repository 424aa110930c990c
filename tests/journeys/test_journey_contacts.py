"""A contact's attributes in journeys (PostgreSQL): `contact.*` in conditions and messages, its `timezone` attribute
for recipient-local waits, read once per batch and only by journeys that use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from actors.journeys import advance_batch, enter_audience
from hub import contacts
from hub.campaigns.fields import FieldReader
from hub.campaigns.loader import load_campaign
from hub.campaigns.parse import parse_campaign
from hub.config import Settings
from hub.journeys.events import keys_read_contact, plan_event
from hub.journeys.spec_cache import SpecCache
from hub.journeys.variables import JourneyRenderer
from hub.status import RunState
from hub.store import queries
from hub.store.db import current_engine, run_sync
from hub.store.records import InboundRecord, RunRecord

ADA, BO = "+4915112345678", "+4915112345679"
AUDIENCE = f"""\
audience:
  recipients:
    - {{phone: "{ADA}", first_name: Ada}}
    - {{phone: "{BO}", first_name: Bo}}
"""
VIP = (
    "name: offer\n"
    + AUDIENCE
    + """\
steps:
  - id: offer
    send: {body: "Hi {{ first_name }}, our offer"}
  - id: vip
    if: "contact.tier == 'vip'"
    send: {body: "And your {{ contact.tier }} gift"}
"""
)
MORNING = (
    "name: offer\n"
    + AUDIENCE
    + """\
steps:
  - id: morning
    wait: {until: "10:00"}
    send: {body: "Good morning, {{ first_name }}"}
"""
)


REPLY = (
    "name: offer\n"
    + AUDIENCE
    + """\
steps:
  - id: ask
    send: {body: "Coming, {{ first_name }}?"}
  - id: wait
    wait_for: [replied]
    timeout: 24h
    on: {replied: vip, timeout: end}
  - id: vip
    if: "contact.tier == 'vip'"
    send: {body: "See you, {{ contact.tier }} guest"}
"""
)


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)


def _sql(text: str, *args: object) -> list[dict]:
    return run_sync(current_engine().fetch(text, list(args)))


def _start(settings: Settings, root: Path, text: str) -> tuple[Settings, RunRecord]:
    for folder in ("campaigns", "templates"):
        (root / folder).mkdir(exist_ok=True)
    path = root / "campaigns" / "offer.yaml"
    path.write_text(text, encoding="utf-8")
    settings = Settings(
        database=settings.database,
        root=root,
        paths=type(settings.paths)(campaigns=root / "campaigns", templates=root / "templates"),
    )
    run, _ = run_sync(queries.create_run(campaign="offer", state=RunState.RUNNING))
    enter_audience(run, load_campaign(path, settings), settings)
    return settings, run


def _advance(settings: Settings, at: datetime) -> None:
    cache = SpecCache(settings)
    while advance_batch(settings, cache, at, lambda run, ids: None):
        pass


def _bodies(run: RunRecord, phone: str) -> list[str]:
    rows = _sql("SELECT body FROM message WHERE run = $1 AND recipient = $2 ORDER BY id", run.id, phone)
    return [row["body"] for row in rows]


def _set(phone: str, **attributes: object) -> None:
    run_sync(queries.change_contact(phone, contacts.replace(attributes, [])))


def test_a_vip_contact_takes_the_guarded_step_and_the_others_skip_it(pg_settings: Settings, tmp_path: Path) -> None:
    _set(ADA, tier="vip")
    _set(BO, tier="regular")
    settings, run = _start(pg_settings, tmp_path, VIP)

    _advance(settings, _now())

    assert _bodies(run, ADA) == ["Hi Ada, our offer", "And your vip gift"]
    assert _bodies(run, BO) == ["Hi Bo, our offer"]


def test_a_recipient_without_a_contact_skips_a_guard_on_its_attributes(pg_settings: Settings, tmp_path: Path) -> None:
    settings, run = _start(pg_settings, tmp_path, VIP)

    _advance(settings, _now())

    assert _bodies(run, ADA) == ["Hi Ada, our offer"]
    assert _sql("SELECT status FROM message WHERE status <> 'pending'") == []


def test_attributes_are_read_when_the_step_is_decided_not_when_the_entry_began(
    pg_settings: Settings, tmp_path: Path
) -> None:
    settings, run = _start(pg_settings, tmp_path, VIP)
    _set(ADA, tier="vip")

    _advance(settings, _now())

    assert _bodies(run, ADA) == ["Hi Ada, our offer", "And your vip gift"]


def test_a_contacts_timezone_places_a_recipient_local_wait(pg_settings: Settings, tmp_path: Path) -> None:
    _set(ADA, timezone="America/New_York")
    settings, _ = _start(pg_settings, tmp_path, MORNING)

    _advance(settings, _now())

    due = {row["recipient"]: row["due_at"] for row in _sql("SELECT recipient, due_at FROM journey_entry")}
    assert (due[ADA].astimezone(ZoneInfo("America/New_York")).hour, due[ADA].minute) == (10, 0)
    assert (due[BO].astimezone(ZoneInfo("Europe/Berlin")).hour, due[BO].minute) == (10, 0)  # from the number


def test_a_step_reached_by_a_reply_reads_the_contact_too(pg_settings: Settings, tmp_path: Path) -> None:
    _set(ADA, tier="vip")
    settings, run = _start(pg_settings, tmp_path, REPLY)
    now = _now()
    _advance(settings, now)

    for phone in (ADA, BO):
        inbound = InboundRecord(sid=f"SM{phone}", from_phone=phone, to="+1", body="yes", received_at=now)
        run_sync(queries.record_inbound(inbound))
    _advance(settings, now + timedelta(minutes=1))

    assert _bodies(run, ADA) == ["Coming, Ada?", "See you, vip guest"]
    assert _bodies(run, BO) == ["Coming, Bo?"]


@pytest.mark.parametrize(
    ("steps", "reads"),
    [
        ('  - id: a\n    send: {body: "Hi {{ first_name }}"}\n', False),
        ("  - id: a\n    send: {body: \"Hi {{ contact.name | default('you') }}\"}\n", True),
        ('  - id: a\n    if: "contact.tier == \'vip\'"\n    send: {body: "Hi"}\n', True),
        ('  - id: a\n    branch: [{if: "contact.vip", goto: b}, {else: b}]\n  - id: b\n    send: {body: Hi}\n', True),
        ('  - id: a\n    wait: {until: "10:00"}\n    send: {body: "Hi"}\n', True),
    ],
    ids=["no-contact", "message", "guard", "branch", "local-wait"],
)
def test_only_journeys_that_use_a_contact_read_its_attributes(steps: str, reads: bool, tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    text = "name: t\n" + AUDIENCE + "steps:\n" + steps
    spec = parse_campaign(yaml.safe_load(text), FieldReader("t.yaml", None), Path("t.yaml"), settings)

    assert JourneyRenderer(spec, settings).reads_contact is reads


def test_an_event_enters_with_a_key_read_from_the_contact(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    text = (
        'name: t\nentry: {event: order.paid, key: "{{ contact.account }}"}\nsteps:\n  - id: a\n    send: {body: "Hi"}\n'
    )
    source = tmp_path / "t.yaml"
    source.write_text(text, encoding="utf-8")  # the entering run pins the file's text
    spec = parse_campaign(yaml.safe_load(text), FieldReader("t.yaml", None), source, settings)

    plan = plan_event(
        [spec], settings, type_="order.paid", to=ADA, data={}, key=None, now=_now(), contact={"account": "A-7"}
    )

    assert keys_read_contact([spec], "order.paid") and not keys_read_contact([spec], "other")
    assert [item.key for item in plan.entering] == ["A-7"]
