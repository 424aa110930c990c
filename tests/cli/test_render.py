"""``hub render`` through the real entry point: exact output per recipient, filters, JSON shape, exit codes."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import Any

import pytest
from cli_project import ROOT, Project
from click.testing import Result

REMINDER = (
    "Hi {first_name}, this is a reminder of your appointment at {clinic} on {appointment_time}.\n"
    "Reply YES to confirm or call us on +44 20 7946 0000 to reschedule. Reply STOP to stop reminders."
)
KEYS = {"to", "status", "body", "content_sid", "content_variables", "media_url", "error"}
#: The example audiences span the world: some message is always outside its send window. These tests are about
#: what is rendered; when a message would go is tested in test_render_checks.py.
HELD = "  waits for the send window until "


def json_lines(result: Result) -> list[dict[str, Any]]:
    """The JSON lines, without the ``send_at`` of messages the send window holds (it depends on the clock)."""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    for line in lines:
        line.pop("send_at", None)
    return lines


def human_lines(result: Result) -> str:
    """The human output, without the send window's holds (they depend on the clock)."""
    return "".join(line for line in result.stdout.splitlines(keepends=True) if not line.startswith(HELD))


def test_render_json_matches_the_template_for_every_csv_row(hub_in_repo: Callable[..., Result]) -> None:
    with (ROOT / "audiences" / "appointments.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = [
        {
            "to": row["phone"],
            "status": "ok",
            "body": REMINDER.format(**row),
            "content_sid": None,
            "content_variables": None,
            "media_url": [],
            "error": None,
        }
        for row in rows
    ]
    result = hub_in_repo("render", "appointment-reminder", "--json")
    assert (result.exit_code, json_lines(result)) == (0, expected)
    assert (
        result.stderr
        == f"rendered {len(rows)}, rejected 0 (invalid numbers), skipped 0 (duplicates, opted out), render errors 0\n"
    )


def test_render_json_of_a_content_template_campaign_has_sid_and_variables(hub_in_repo: Callable[..., Result]) -> None:
    lines = json_lines(hub_in_repo("render", "campaigns/spring-sale.yaml", "--json"))
    juergen = next(line for line in lines if line["to"] == "+4915123456789")
    assert juergen == {
        "to": "+4915123456789",
        "status": "ok",
        "body": None,
        "content_sid": "HX3f1c2a9b8e7d6c5b4a39281706f5e4d3",
        "content_variables": {"1": "Jürgen", "2": "25%", "3": "SPRING27", "4": "31 March"},
        "media_url": [],
        "error": None,
    }


@pytest.mark.parametrize("written", ["+49 176 12345678", "+49 (176) 1234-5678", "whatsapp:+4917612345678"])
def test_render_to_renders_only_that_recipient_whatever_the_format(
    hub_in_repo: Callable[..., Result], written: str
) -> None:
    result = hub_in_repo("render", "appointment-reminder", "--json", "--to", written)
    assert [(line["to"], line["body"][:8]) for line in json_lines(result)] == [("+4917612345678", "Hi Lena,")]


def test_render_to_a_number_not_in_the_audience_fails(hub_in_repo: Callable[..., Result]) -> None:
    result = hub_in_repo("render", "appointment-reminder", "--to", "+4915199999999")
    assert (result.exit_code, result.stderr) == (1, "error: appointment-reminder has no recipient +4915199999999\n")


def test_render_to_an_invalid_number_is_a_usage_error(hub_in_repo: Callable[..., Result]) -> None:
    result = hub_in_repo("render", "appointment-reminder", "--to", "12")
    assert result.exit_code == 2
    assert "--to" in result.stderr


def test_render_limit_stops_after_n_recipients(hub_in_repo: Callable[..., Result]) -> None:
    result = hub_in_repo("render", "appointment-reminder", "--json", "--limit", "3")
    assert [line["to"] for line in json_lines(result)] == ["+14155550100", "+14155550123", "+12125550187"]


def test_render_human_output_shows_each_message_and_a_summary(hub_in_repo: Callable[..., Result]) -> None:
    result = hub_in_repo("render", "spring-sale", "--limit", "1")
    assert result.exit_code == 0
    assert human_lines(result) == (
        "to +14155550100\n"
        "  content_sid: HX3f1c2a9b8e7d6c5b4a39281706f5e4d3\n"
        "  {{1}}: Ada\n  {{2}}: 20%\n  {{3}}: SPRING27\n  {{4}}: 31 March\n\n"
        "rendered 1, rejected 0 (invalid numbers), skipped 0 (duplicates, opted out), render errors 0\n"
    )


def csv_campaign(project: Project, rows: str, body: str = "Hi {{ first_name }}") -> None:
    project.write("audiences/people.csv", "phone,first_name\n" + rows)
    project.write("campaigns/people.yaml", f'body: "{body}"\naudience: {{csv: audiences/people.csv}}\n')


def test_render_rejects_invalid_numbers_with_the_raw_value_and_exits_1(project: Project) -> None:
    csv_campaign(project, "+4915123456789,Ada\nnot-a-number,Bo\n")
    result = project.hub("render", "people", "--json")
    lines = json_lines(result)
    assert result.exit_code == 1
    assert [(line["to"], line["status"], line["body"]) for line in lines] == [
        ("+4915123456789", "ok", "Hi Ada"),
        ("not-a-number", "rejected", None),
    ]
    assert lines[1]["error"].startswith("audiences/people.csv")
    assert "rejected 1 (invalid numbers)" in result.stderr


def test_render_skips_duplicates_without_failing(project: Project) -> None:
    csv_campaign(project, "+4915123456789,Ada\n015123456789,Ada again\n")
    result = project.hub("render", "people", "--json")
    assert result.exit_code == 0
    assert [(line["to"], line["status"]) for line in json_lines(result)] == [
        ("+4915123456789", "ok"),
        ("015123456789", "skipped"),
    ]
    assert "skipped 1 (duplicates, opted out)" in result.stderr


def test_render_error_names_recipient_and_variable_and_exits_1(project: Project) -> None:
    csv_campaign(project, "+4915123456789,Ada\n", body="Hi {{ first_name }}, your code is {{ code }}")
    result = project.hub("render", "people", "--json")
    [line] = json_lines(result)
    assert result.exit_code == 1
    assert (line["status"], line["error"]) == (
        "rejected",
        "recipient +4915123456789 (audiences/people.csv:row 2): body: missing variable 'code'",
    )
    assert result.stderr.endswith("render errors 1\n")


def test_render_hostile_csv_values_stay_literal(project: Project) -> None:
    csv_campaign(project, "+4915123456789,{{ 7*7 }}\n")
    [line] = json_lines(project.hub("render", "people", "--json"))
    assert line["body"] == "Hi {{ 7*7 }}"


def test_render_unknown_campaign_fails_listing_the_known_ones(hub_in_repo: Callable[..., Result]) -> None:
    result = hub_in_repo("render", "autumn-sale")
    assert result.exit_code == 1
    assert "no campaign named 'autumn-sale'" in result.stderr and "spring-sale" in result.stderr


def test_render_json_objects_have_exactly_the_spec_keys(hub_in_repo: Callable[..., Result]) -> None:
    lines = json_lines(hub_in_repo("render", "weekly-digest", "--json"))
    assert [set(line) for line in lines] == [KEYS] * 3


def test_render_writes_no_file(project: Project) -> None:
    csv_campaign(project, "+4915123456789,Ada\n")
    before = sorted(project.root.rglob("*"))
    result = project.hub("render", "people", "--json")
    assert (result.exit_code, sorted(project.root.rglob("*"))) == (0, before)
