"""fan_out_run: one ledger row per audience entry, one send per new row, harmless to re-run."""

from __future__ import annotations

from pathlib import Path

import pytest
from actor_harness import Harness

import actors
from hub import contacts
from hub.status import MessageStatus, RunState
from hub.store import queries as q

CAMPAIGN = """\
name: promo
body: "Hi {{ first_name }}, use {{ code }}"
vars: {code: SPRING}
audience:
  recipients:
    - {phone: "+14155550100", first_name: Ada}
    - {phone: "+14155550101", first_name: Bob}
    - {phone: "+14155550100", first_name: Ada again}
    - {phone: "12", first_name: Nobody}
rate_limit: {per_second: 5}
"""


@pytest.fixture
def run_id(harness: Harness) -> int:
    folder = Path(harness.settings.paths.campaigns)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "promo.yaml").write_text(CAMPAIGN, encoding="utf-8")
    run, _ = harness.run(q.create_run(campaign="promo", state=RunState.RUNNING))
    return run.id


def _rows(harness: Harness, run_id: int) -> dict[str, MessageStatus]:
    items, _ = harness.run(q.list_messages(run_id=run_id, limit=100))
    return {m.recipient: m.status for m in items}


def test_fan_out_writes_one_row_per_entry_and_sends_each_owed_row_once(harness: Harness, run_id: int) -> None:
    # When the run fans out and every send is processed
    actors.fan_out_run.send(run_id)
    harness.drain()
    # Then valid recipients got one send each, the invalid number a rejected row, the duplicate nothing more
    assert harness.transport.sends_to("+14155550100") == 1
    assert harness.transport.sends_to("+14155550101") == 1
    rows = _rows(harness, run_id)
    assert rows["12"] == MessageStatus.REJECTED
    assert rows["+14155550100"] == MessageStatus.QUEUED
    assert harness.transport.sent[0].msg.body in {"Hi Ada, use SPRING", "Hi Bob, use SPRING"}


def test_fan_out_run_twice_creates_no_second_row_and_no_second_send(harness: Harness, run_id: int) -> None:
    # Given a fan-out that ran, then a rewound checkpoint (a crash before the checkpoint was saved)
    actors.fan_out_run.fn(run_id)
    harness.run(q.update_checkpoint(run_id, 0))
    # When it runs again, and every queued send is processed
    actors.fan_out_run.fn(run_id)
    harness.drain()
    # Then each recipient has one row and one send
    assert len(_rows(harness, run_id)) == 3
    assert len(harness.transport.calls) == 2


def test_fan_out_passes_the_campaign_rate_to_the_send_actor(harness: Harness, run_id: int) -> None:
    actors.fan_out_run.fn(run_id)
    queued = harness.queued_sends()
    assert len(queued) == 2
    assert all(m.kwargs == {"run_rate": 5, "run_id": run_id} for _, m in queued)


VIP = """\
name: vip
body: "Hi {{ first_name }}{% if contact.tier | default('') == 'vip' %}, your {{ contact.tier }} gift awaits{% endif %}"
audience:
  recipients:
    - {phone: "+14155550100", first_name: Ada}
    - {phone: "+14155550101", first_name: Bob}
"""


def test_fan_out_renders_each_recipients_contact_attributes(harness: Harness) -> None:
    # Given a campaign whose body reads contact.tier, and one recipient with a vip contact
    folder = Path(harness.settings.paths.campaigns)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vip.yaml").write_text(VIP, encoding="utf-8")
    harness.run(q.change_contact("+14155550100", contacts.replace({"tier": "vip"}, [])))
    run, _ = harness.run(q.create_run(campaign="vip", state=RunState.RUNNING))
    # When it fans out
    actors.fan_out_run.fn(run.id)
    # Then each row's body has what its contact holds
    items, _ = harness.run(q.list_messages(run_id=run.id, limit=10))
    assert {m.recipient: m.body for m in items} == {
        "+14155550100": "Hi Ada, your vip gift awaits",
        "+14155550101": "Hi Bob",
    }


SEGMENT = """\
name: segment
body: "Hi {{ contact.name }}"
audience:
  recipients:
    - {phone: "+14155550100"}
  contacts: {tags: [vip], attributes: {city: Berlin}}
"""


def test_fan_out_sends_to_the_stored_contacts_of_a_tags_and_attributes_audience(harness: Harness) -> None:
    # Given contacts in and out of the segment (a tag missing, another city), one of them also listed inline
    folder = Path(harness.settings.paths.campaigns)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "segment.yaml").write_text(SEGMENT, encoding="utf-8")
    for phone, name, tags, city in [
        ("+14155550100", "Ada", ["vip"], "Berlin"),
        ("+14155550101", "Bo", ["vip", "news"], "Berlin"),
        ("+14155550102", "Cy", ["news"], "Berlin"),
        ("+14155550103", "Di", ["vip"], "Paris"),
    ]:
        harness.run(q.change_contact(phone, contacts.replace({"name": name, "city": city}, tags)))
    run, _ = harness.run(q.create_run(campaign="segment", state=RunState.RUNNING))
    # When it fans out
    actors.fan_out_run.fn(run.id)
    # Then the segment's contacts each have one row (Ada once: inline and stored), rendered with their attributes
    items, _ = harness.run(q.list_messages(run_id=run.id, limit=10))
    assert {m.recipient: m.body for m in items} == {"+14155550100": "Hi Ada", "+14155550101": "Hi Bo"}
