"""``hub check`` through the real entry point: passes on the examples, names file and field on problems."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from cli_project import ROOT, Project
from click.testing import Result

GOOD = """\
body: "Hi {{ first_name }}, use {{ code }}"
vars: {code: SPRING}
audience:
  recipients:
    - {phone: "+4915123456789", first_name: Ada}
"""

AUDIENCE = 'audience: {recipients: [{phone: "+4915123456789"}]}\n'


def test_check_passes_on_the_example_campaigns(hub_in_repo: Callable[..., Result]) -> None:
    result = hub_in_repo("check")
    assert (result.exit_code, result.stdout) == (0, "4 campaigns OK\n")


def test_installed_hub_check_passes_in_the_repository_root() -> None:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "hub"), "check"], cwd=ROOT, capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "4 campaigns OK\n", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('body: "Hi {{ first_name "\n' + AUDIENCE, "campaigns/bad.yaml: body: Jinja syntax error (template line 1)"),
        (
            'content_sid: HX0123456789abcdef0123456789abcdef\ncontent_variables: {"1": "{% if %}"}\n' + AUDIENCE,
            "campaigns/bad.yaml: content_variables.1: Jinja syntax error",
        ),
        ("template: broken.j2\n" + AUDIENCE, "campaigns/bad.yaml: template: Jinja syntax error (broken.j2, line 2)"),
        (
            GOOD + '    - {phone: "12", first_name: Bo}\n',
            "campaigns/bad.yaml: audience.recipients[1].phone: invalid phone number '12'",
        ),
        (
            GOOD + '    - {phone: "+4917612345678"}\n',
            "campaigns/bad.yaml: audience.recipients[1]: recipient +4917612345678 "
            "(campaigns/bad.yaml:audience.recipients[1]): body: missing variable 'first_name'",
        ),
        (GOOD + "colour: blue\n", "campaigns/bad.yaml:6: colour:"),
        ('body: "Hi"\nschedule: {cron: "every monday"}\n' + AUDIENCE, "campaigns/bad.yaml:2: schedule.cron:"),
        (
            "content_sid: HX0123456789abcdef0123456789abcdef\nmedia_url: [https://x.example/a.jpg]\n" + AUDIENCE,
            "campaigns/bad.yaml: media_url: not allowed with content_sid",
        ),
    ],
    ids=[
        "body-syntax",
        "content-variable-syntax",
        "template-file-syntax",
        "phone",
        "missing-var",
        "unknown",
        "cron",
        "content-sid-with-media",
    ],
)
def test_check_fails_naming_file_and_field(project: Project, text: str, expected: str) -> None:
    project.write("templates/messages/broken.j2", "Hi\n{{ name }\n")
    project.write("campaigns/good.yaml", GOOD)
    project.write("campaigns/bad.yaml", text)
    result = project.hub("check")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.startswith(expected)
    assert result.stderr == "1 problem found\n"


def test_check_prints_one_line_per_problem_across_files(project: Project) -> None:
    project.write("campaigns/a.yaml", 'body: "{{ x "\n' + AUDIENCE)
    project.write("campaigns/b.yaml", "body: 3\nenabled: maybe\n")
    project.write("campaigns/c.yaml", GOOD)
    result = project.hub("check")
    lines = result.stdout.splitlines()
    assert (result.exit_code, [line.split(":")[0] for line in lines]) == (
        1,
        ["campaigns/a.yaml", "campaigns/b.yaml", "campaigns/b.yaml", "campaigns/b.yaml"],  # body, enabled, audience
    )


def test_check_only_reads_the_paths_given(project: Project) -> None:
    project.write("campaigns/bad.yaml", 'body: "{{ x "\n' + AUDIENCE)
    good = project.write("campaigns/good.yaml", GOOD)
    result = project.hub("check", str(good))
    assert (result.exit_code, result.stdout) == (0, "1 campaign OK\n")


def test_check_reads_only_the_header_of_a_csv_audience(project: Project) -> None:
    project.write("audiences/people.csv", "phone,first_name\nnot-a-number,Ada\n")
    project.write("campaigns/csv.yaml", 'body: "Hi {{ first_name }}"\naudience: {csv: audiences/people.csv}\n')
    result = project.hub("check")
    assert (result.exit_code, result.stdout) == (0, "1 campaign OK\n")


def test_check_refuses_a_csv_audience_without_a_phone_column(project: Project) -> None:
    project.write("audiences/people.csv", "mobile,first_name\n+4915123456789,Ada\n")
    project.write("campaigns/csv.yaml", 'body: "Hi {{ first_name }}"\naudience: {csv: audiences/people.csv}\n')
    result = project.hub("check")
    assert result.exit_code == 1
    assert result.stdout.startswith("campaigns/csv.yaml:2: audience.csv:")


def test_check_refuses_a_csv_audience_missing_a_column_the_template_needs(project: Project) -> None:
    project.write("audiences/people.csv", "phone,first_name\n+4915123456789,Ada\n")
    project.write(
        "campaigns/csv.yaml", 'body: "Hi {{ first_name }}, {{ clinic }}"\naudience: {csv: audiences/people.csv}\n'
    )
    result = project.hub("check")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "campaigns/csv.yaml: audience.csv: expected a column for each variable the message uses; "
        "audiences/people.csv has none for 'clinic'"
    )


def test_check_reports_an_impossible_date_located_and_still_checks_the_other_files(project: Project) -> None:
    project.write("campaigns/a.yaml", GOOD + "schedule: {at: 2027-02-30T09:00:00}\n")
    project.write("campaigns/b.yaml", 'body: "{{ x "\n' + AUDIENCE)
    project.write("campaigns/c.yaml", GOOD)
    result = project.hub("check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "campaigns/a.yaml:6: schedule.at: expected a real date and time such as 2026-12-01T09:00:00, "
        "found 2027-02-30T09:00:00 (day is out of range for month)"
    )
    assert lines[1].startswith("campaigns/b.yaml: body: Jinja syntax error")
    assert result.stderr == "2 problems found\n"


def test_check_prints_every_problem_of_one_file(project: Project) -> None:
    project.write("campaigns/bad.yaml", GOOD + "enabled: maybe\nexpires_after: soon\nvars: {code: B}\n")
    result = project.hub("check")
    assert result.exit_code == 1
    assert [line.split(": ")[0:2] for line in result.stdout.splitlines()] == [
        ["campaigns/bad.yaml:6", "enabled"],
        ["campaigns/bad.yaml:7", "expires_after"],
        ["campaigns/bad.yaml:8", "vars"],  # written twice
    ]


def test_check_warns_about_an_at_in_the_past_but_passes(project: Project) -> None:
    project.write("campaigns/late.yaml", GOOD + "schedule: {at: 2026-01-05T09:00:00, timezone: Europe/Berlin}\n")
    result = project.hub("check")
    assert (result.exit_code, result.stdout) == (0, "1 campaign OK\n")
    assert result.stderr.startswith(
        "campaigns/late.yaml:6: schedule.at: warning: 2026-01-05T08:00:00+00:00 is in the past; "
        "the scheduler never fires"
    )


def test_check_says_nothing_about_an_at_in_the_future(project: Project) -> None:
    project.write("campaigns/soon.yaml", GOOD + "schedule: {at: 2099-01-05T09:00:00}\n")
    result = project.hub("check")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "1 campaign OK\n", "")
