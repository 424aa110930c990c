"""``hub check`` and ``hub render`` of a journey through the real entry point."""

from __future__ import annotations

import json

import pytest
from cli_project import Project

JOURNEY = """\
name: cart-recovery
entry: {event: cart.abandoned, key: "{{ event.cart_id }}", reentry: never}
audience:
  recipients:
    - {phone: "+4915112345678", first_name: Ada}
exit_when: [replied, opted_out]
steps:
  - id: remind
    send: {body: "Hi {{ first_name }}, your cart: {{ event.items }}"}
  - id: wait-reply
    wait_for: [replied, read]
    timeout: 24h
    on: {replied: end, read: thanks, timeout: nudge}
  - id: nudge
    wait: {until: "10:00"}
    send: {content_sid: HX0123456789abcdef0123456789abcdef, content_variables: {"1": "{{ first_name }}"}}
    next: end
  - id: thanks
    if: "contact.tier == 'vip'"
    send: {body: "Thanks, {{ first_name }}!"}
"""
EVENT = '{"cart_id": 7, "items": "2 socks"}'


def test_check_accepts_the_spec_example_journey(project: Project) -> None:
    project.write("campaigns/cart-recovery.yaml", JOURNEY)
    result = project.hub("check")
    assert (result.exit_code, result.stdout) == (0, "1 campaign OK\n")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "if: \"contact.tier == 'vip'\"",
            'if: "contact.tier =="',
            "campaigns/cart-recovery.yaml:19: steps[3].if: expected a Jinja expression",
        ),
        (
            'send: {body: "Thanks, {{ first_name }}!"}',
            'send: {body: "Thanks, {{ first_name }!"}',
            "campaigns/cart-recovery.yaml:20: steps[3].send.body: Jinja syntax error",
        ),
        (
            'key: "{{ event.cart_id }}"',
            'key: "{{ event.cart_id "',
            "campaigns/cart-recovery.yaml:2: entry.key: expected a Jinja template",
        ),
        ("timeout: nudge", "timeout: nudj", "campaigns/cart-recovery.yaml:13: steps[1].on.timeout: expected a step id"),
    ],
    ids=["bad-if", "bad-body", "bad-key", "unknown-step"],
)
def test_check_names_file_line_and_field_of_a_journey_problem(
    project: Project, old: str, new: str, expected: str
) -> None:
    assert old in JOURNEY
    project.write("campaigns/cart-recovery.yaml", JOURNEY.replace(old, new))
    result = project.hub("check")
    assert result.exit_code == 1
    assert result.stdout.startswith(expected), result.stdout


@pytest.mark.parametrize(
    ("assume", "taken"),
    [
        ([], ["wait-reply  timeout -> nudge", "nudge       sent -> end", "{{1}}: Ada"]),
        (["--assume", "replied"], ["wait-reply  exit:replied", "end         exit:replied"]),
        (["--assume", "read"], ["wait-reply  read -> thanks", "thanks      skipped -> end"]),
    ],
    ids=["timeout", "replied", "read"],
)
def test_render_prints_the_timeline_of_each_assumption(project: Project, assume: list[str], taken: list[str]) -> None:
    project.write("campaigns/cart-recovery.yaml", JOURNEY)
    result = project.hub("render", "cart-recovery", "--to", "015112345678", "--event", EVENT, *assume)
    assert result.exit_code == 0, result.output
    assert "remind      sent -> wait-reply" in result.stdout
    assert "| Hi Ada, your cart: 2 socks" in result.stdout
    for line in taken:
        assert line in result.stdout


def test_render_json_writes_one_object_per_timeline_line(project: Project) -> None:
    project.write("campaigns/cart-recovery.yaml", JOURNEY)
    result = project.hub("render", "cart-recovery", "--event", EVENT, "--assume", "read", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["step"], line["outcome"]) for line in lines] == [
        ("remind", "sent"),
        ("wait-reply", "awaiting"),
        ("wait-reply", "read"),
        ("thanks", "skipped"),
        ("end", "completed"),
    ]
    assert {line["to"] for line in lines} == {"+4915112345678"}
    assert lines[0]["message"]["body"] == "Hi Ada, your cart: 2 socks"


def test_render_fails_when_a_step_would_not_render(project: Project) -> None:
    project.write("campaigns/cart-recovery.yaml", JOURNEY)
    result = project.hub("render", "cart-recovery")  # no --event: the first message needs event.items
    assert result.exit_code == 1
    assert "✗ recipient +4915112345678" in result.stdout and "items" in result.stdout


def test_render_of_an_event_journey_accepts_a_number_outside_its_audience(project: Project) -> None:
    project.write(
        "campaigns/cart-recovery.yaml", JOURNEY.replace("Ada}", "Ada}\n").replace("first_name }}!", "phone }}!")
    )
    result = project.hub("render", "cart-recovery", "--to", "+4917612345678", "--event", EVENT)
    assert result.exit_code == 1  # the first message needs first_name, which a stranger does not have
    assert "cart-recovery for +4917612345678" in result.stdout


@pytest.mark.parametrize("option", [["--assume", "replied"], ["--event", "{}"]])
def test_journey_options_are_refused_for_a_one_message_campaign(project: Project, option: list[str]) -> None:
    project.write("campaigns/plain.yaml", 'body: "Hi"\naudience: {recipients: [{phone: "+4915112345678"}]}\n')
    result = project.hub("render", "plain", *option)
    assert result.exit_code == 2
    assert "apply to journeys" in result.output


def test_render_refuses_an_unknown_assumption(project: Project) -> None:
    project.write("campaigns/cart-recovery.yaml", JOURNEY)
    result = project.hub("render", "cart-recovery", "--assume", "replyed")
    assert result.exit_code == 2
    assert "did you mean replied?" in result.output


def test_check_reports_a_problem_in_each_step_at_once(project: Project) -> None:
    broken = JOURNEY.replace("timeout: 24h", "timeout: a day").replace('until: "10:00"', 'until: "25:00"')
    project.write("campaigns/cart-recovery.yaml", broken)
    result = project.hub("check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("campaigns/cart-recovery.yaml:12: steps[1].timeout: expected a duration")
    assert lines[1].startswith("campaigns/cart-recovery.yaml:15: steps[2].wait.until: expected a time of day")
