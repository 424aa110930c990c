"""``hub render`` makes the send path's checks: opted-out contacts, the 24 h window, template approval, and when
the send window lets each message go (ledger on PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cli_project import Project
from click.testing import Result

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import queries
from hub.store.db import run_sync
from hub.store.records import InboundRecord
from hub.store.templates import TemplateRecord

ADA, BO, CY = "+4915123456781", "+4915123456782", "+4915123456783"
SID = "HX" + "a" * 32
AUDIENCE = (
    f"audience: {{recipients: [{{phone: '{ADA}', n: Ada}}, {{phone: '{BO}', n: Bo}}, {{phone: '{CY}', n: Cy}}]}}\n"
)


def _project(project: Project, settings: Settings, message: str, schedule: str = "") -> None:
    project.write("config.yaml", f"phones: {{default_region: DE}}\ndatabase: {{url: '{settings.database.url}'}}\n")
    project.write("campaigns/hello.yaml", message + AUDIENCE + schedule)


def _lines(result: Result) -> dict[str, dict[str, Any]]:
    return {line["to"]: line for line in map(json.loads, result.stdout.splitlines())}


def _wrote_last(phone: str, hours_ago: float) -> None:
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    run_sync(
        queries.record_inbound(
            InboundRecord(sid=f"SM{phone[1:]}", from_phone=phone, to="+1", body="hi", received_at=at)
        )
    )


def test_an_opted_out_contact_is_skipped_as_the_send_would_skip_it(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, "body: 'Hi {{ n }}'\n")
    run_sync(queries.set_opt_out(BO, source="keyword"))
    result = project.hub("render", "hello", "--json")
    lines = _lines(result)
    assert result.exit_code == 0  # skips are not failures, as duplicates are not
    assert (lines[BO]["status"], lines[BO]["error"], lines[BO]["body"]) == ("skipped", "contact opted out", None)
    assert [lines[p]["status"] for p in (ADA, CY)] == ["ok", "ok"]
    assert (
        result.stderr
        == "rendered 2, rejected 0 (invalid numbers), skipped 1 (duplicates, opted out), render errors 0\n"
    )


def test_a_body_to_a_contact_outside_the_24_h_window_fails_the_dry_run(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, "body: 'Hi {{ n }}'\n")
    _wrote_last(ADA, hours_ago=30)
    _wrote_last(BO, hours_ago=2)
    result = project.hub("render", "hello", "--json")
    lines = _lines(result)
    assert result.exit_code == 1
    assert lines[ADA]["status"] == "rejected"
    assert lines[ADA]["error"].startswith("63016: outside the 24 h session window")
    assert [lines[p]["status"] for p in (BO, CY)] == ["ok", "ok"]  # inside the window; never wrote: Twilio decides
    assert result.stderr.endswith(", outside the 24 h window 1\n")


def test_a_template_message_is_not_held_by_the_24_h_window(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, f"content_sid: {SID}\ncontent_variables: {{'1': '{{{{ n }}}}'}}\n")
    _wrote_last(ADA, hours_ago=30)
    result = project.hub("render", "hello", "--json")
    assert (result.exit_code, _lines(result)[ADA]["status"]) == (0, "ok")


def test_a_rejected_template_fails_the_dry_run_with_the_reason(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, f"content_sid: {SID}\ncontent_variables: {{'1': '{{{{ n }}}}'}}\n")
    record = TemplateRecord(
        friendly_name="promo",
        language="en",
        content_sid=SID,
        body="Hi {{1}}",
        declared=["1"],
        approval_status="rejected",
        rejection_reason="INVALID_FORMAT",
    )
    run_sync(queries.upsert_template(record))
    result = project.hub("render", "hello")
    assert result.exit_code == 1
    assert "error: " in result.stderr and "rejected" in result.stderr and "INVALID_FORMAT" in result.stderr


def test_a_message_outside_the_send_window_says_when_it_would_go(project: Project, pg_settings: Settings) -> None:
    window = "schedule: {cron: '0 9 * * MON', timezone: Europe/Berlin, send_window: {start: '09:00', end: '20:00'}}\n"
    _project(project, pg_settings, "body: 'Hi {{ n }}'\n", window)
    late = project.hub("render", "hello", "--json", "--at", "2026-12-01T21:30:00+01:00")
    inside = project.hub("render", "hello", "--json", "--at", "2026-12-01T12:00:00+01:00")
    human = project.hub("render", "hello", "--to", ADA, "--at", "2026-12-01T21:30:00+01:00")
    assert {line["send_at"] for line in _lines(late).values()} == {"2026-12-02T08:00:00Z"}
    assert all("send_at" not in line for line in _lines(inside).values())
    assert "  waits for the send window until 2026-12-02 08:00 UTC\n" in human.stdout
    assert late.exit_code == 0


def test_an_unreachable_ledger_is_said_and_the_render_goes_on(project: Project) -> None:
    project.write("config.yaml", "phones: {default_region: DE}\ndatabase: {url: 'postgresql://hub@127.0.0.1:1/hub'}\n")
    project.write("campaigns/hello.yaml", "body: 'Hi {{ n }}'\n" + AUDIENCE)
    result = project.hub("render", "hello", "--json")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0].startswith(
        "note: not checked against the ledger (cannot reach the database at postgresql://hub@127.0.0.1:1/hub"
    )
    assert {line["status"] for line in _lines(result).values()} == {"ok"}


def test_no_ledger_skips_the_ledger(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, "body: 'Hi {{ n }}'\n")
    run_sync(queries.set_opt_out(BO, source="keyword"))
    result = project.hub("render", "hello", "--json", "--no-ledger")
    assert _lines(result)[BO]["status"] == "ok"


def test_the_dry_run_writes_nothing_to_the_ledger(project: Project, pg_settings: Settings) -> None:
    _project(project, pg_settings, "body: 'Hi {{ n }}'\n")
    project.hub("render", "hello")
    assert run_sync(queries.list_runs()) == []
    assert run_sync(queries.list_messages(status=S.PENDING))[0] == []
