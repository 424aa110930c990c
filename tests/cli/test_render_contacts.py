"""``hub render`` shows `contact.*` as the send would: the stored contact's attributes (ledger on PostgreSQL), or an
empty contact with a note when there is no ledger to read."""

from __future__ import annotations

import json

from cli_project import Project

from hub import contacts
from hub.config import Settings
from hub.store import queries
from hub.store.db import run_sync

ADA, BO = "+4915123456781", "+4915123456782"
AUDIENCE = f"audience: {{recipients: [{{phone: '{ADA}', n: Ada}}, {{phone: '{BO}', n: Bo}}]}}\n"
MESSAGE = "body: \"Hi {{ n }}{% if contact.tier | default('') == 'vip' %}, VIP{% endif %}\"\n"
JOURNEY = """\
steps:
  - id: hello
    send: {body: "Hi {{ n }}"}
  - id: vip
    if: "contact.tier == 'vip'"
    send: {body: "Your {{ contact.tier }} gift"}
"""


def _project(project: Project, settings: Settings, text: str) -> None:
    project.write("config.yaml", f"phones: {{default_region: DE}}\ndatabase: {{url: '{settings.database.url}'}}\n")
    project.write("campaigns/hello.yaml", text + AUDIENCE)
    run_sync(queries.change_contact(ADA, contacts.replace({"tier": "vip"}, [])))


def test_a_campaign_renders_each_recipients_stored_contact(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, MESSAGE)

    result = project.hub("render", "hello", "--json")

    bodies = {line["to"]: line["body"] for line in map(json.loads, result.stdout.splitlines())}
    assert (result.exit_code, bodies) == (0, {ADA: "Hi Ada, VIP", BO: "Hi Bo"})


def test_a_journey_timeline_takes_the_guarded_step_for_a_vip_contact(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, JOURNEY)

    vip = project.hub("render", "hello", "--to", ADA, "--json")
    other = project.hub("render", "hello", "--to", BO, "--json")

    def sent(output: str) -> list[str]:
        lines = map(json.loads, output.splitlines())
        return [line["message"]["body"] for line in lines if line.get("message")]

    assert (sent(vip.stdout), sent(other.stdout)) == (["Hi Ada", "Your vip gift"], ["Hi Bo"])


def test_without_a_ledger_the_contact_is_empty_and_a_note_says_so(project: Project) -> None:
    project.write("campaigns/hello.yaml", MESSAGE + AUDIENCE)

    result = project.hub("render", "hello", "--json", "--no-ledger")

    assert result.exit_code == 0
    assert "note: contact attributes not read" in result.stderr
    assert [json.loads(line)["body"] for line in result.stdout.splitlines()] == ["Hi Ada", "Hi Bo"]


def test_a_contacts_audience_renders_the_stored_contacts_it_selects(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, "")
    run_sync(queries.change_contact(BO, contacts.replace({"tier": "silver"}, ["vip"])))
    run_sync(queries.change_contact("+4915123456789", contacts.replace({"tier": "gold"}, [])))
    project.write("campaigns/hello.yaml", "body: 'Hi, {{ contact.tier }}'\naudience: {contacts: {tags: [vip]}}\n")

    result = project.hub("render", "hello", "--json")

    bodies = {line["to"]: line["body"] for line in map(json.loads, result.stdout.splitlines())}
    assert (result.exit_code, bodies) == (0, {BO: "Hi, silver"})


def test_a_contacts_timezone_places_its_send_window(project: Project, pg_settings: Settings) -> None:
    window = "schedule: {cron: '0 9 * * *', timezone: Europe/Berlin, send_window: {start: '09:00', end: '10:00'}}\n"
    _project(project, pg_settings, "body: 'Hi {{ n }}'\n" + window)
    run_sync(queries.change_contact(ADA, contacts.replace({"timezone": "America/New_York"}, [])))

    result = project.hub("render", "hello", "--json", "--at", "2026-12-08T12:00:00Z")

    held = {line["to"]: line["send_at"] for line in map(json.loads, result.stdout.splitlines())}
    assert held[ADA].startswith("2026-12-08T14:00:00")  # 09:00 in New York
    assert held[BO].startswith("2026-12-09T08:00:00")  # 09:00 in Berlin, from the number
