"""``hub render`` is strict as the send is: empty CSV cells and runaway templates fail, naming the recipient."""

from __future__ import annotations

import json

import pytest
from cli_project import Project


def test_an_empty_csv_cell_fails_the_dry_run_naming_the_row_and_the_variable(project: Project) -> None:
    project.write("audiences/a.csv", "phone,first_name\n+4915123456789,Ada\n+4915123456788,\n")
    project.write("campaigns/hello.yaml", "body: 'Hi {{ first_name }}!'\naudience: {csv: audiences/a.csv}\n")
    result = project.hub("render", "hello", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 1
    assert [(line["to"], line["status"]) for line in lines] == [
        ("+4915123456789", "ok"),
        ("+4915123456788", "rejected"),
    ]
    assert lines[1]["error"].startswith(
        "recipient +4915123456788 (audiences/a.csv:row 3): body: variable 'first_name' is empty for this recipient"
    )


def test_an_empty_csv_cell_takes_the_template_default(project: Project) -> None:
    project.write("audiences/a.csv", "phone,first_name\n+4915123456788,\n")
    project.write(
        "campaigns/hello.yaml", "body: \"Hi {{ first_name | default('there') }}!\"\naudience: {csv: audiences/a.csv}\n"
    )
    result = project.hub("render", "hello", "--json")
    assert (result.exit_code, json.loads(result.stdout)["body"]) == (0, "Hi there!")


def test_a_nested_range_loop_stops_at_the_time_limit_naming_the_recipient(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.sandbox.RENDER_TIME_LIMIT_S", 0.05)
    project.write(
        "templates/messages/slow.j2",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}Hi\n",
    )
    project.write("campaigns/slow.yaml", "template: slow.j2\naudience: {recipients: [{phone: '+4915123456789'}]}\n")
    rendered = project.hub("render", "slow")
    checked = project.hub("check")
    assert rendered.exit_code == 1
    assert "✗ render error +4915123456789: recipient +4915123456789" in rendered.stdout
    assert "rendering used more than 0.05 s of CPU" in rendered.stdout
    assert checked.exit_code == 1
    assert "audience.recipients[0]: recipient +4915123456789" in checked.stdout
