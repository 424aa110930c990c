"""A campaign file reports every problem it has, each located; a bad file never hides the other campaigns."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.campaigns import load_campaign, load_campaigns
from hub.config import Settings
from hub.errors import CampaignErrors

GOOD = """\
body: "Hi {{ first_name }}"
audience:
  recipients:
    - {phone: "+14155550100", first_name: Ada}
schedule: {cron: "0 9 * * *"}
"""

MANY_PROBLEMS = """\
body: "Hi {{ first_name }}"
colour: blue
audience:
  recipients:
    - {phone: 4915123456789}
    - {first_name: Bob}
schedule:
  at: 2027-02-30T09:00:00
  timezone: Mars/Olympus
  send_window: {start: "25:00", end: "20:00"}
rate_limit: {per_second: 0}
expires_after: tomorrow
enabled: maybe
"""


def write(project: Settings, name: str, text: str) -> Path:
    path = project.paths.campaigns / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_of_a_file_is_reported_with_its_field_and_line(project: Settings) -> None:
    path = write(project, "many", MANY_PROBLEMS)
    with pytest.raises(CampaignErrors) as caught:
        load_campaign(path, project)
    located = [(problem.line, problem.field) for problem in caught.value.problems]
    assert located == [
        (2, "colour"),
        (5, "audience.recipients[0].phone"),
        (6, "audience.recipients[1]"),
        (8, "schedule.at"),
        (9, "schedule.timezone"),
        (10, "schedule.send_window.start"),
        (11, "rate_limit.per_second"),
        (12, "expires_after"),
        (13, "enabled"),
    ]
    assert str(caught.value).splitlines()[3] == (
        "campaigns/many.yaml:8: schedule.at: expected a real date and time such as 2026-12-01T09:00:00, "
        "found 2027-02-30T09:00:00 (day is out of range for month)"
    )


def test_a_repeated_key_is_reported_at_the_repeat_even_when_the_rest_is_valid(project: Settings) -> None:
    path = write(project, "twice", GOOD + 'schedule: {cron: "0 10 * * *"}\n')
    with pytest.raises(CampaignErrors) as caught:
        load_campaign(path, project)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (6, "schedule")
    assert "first on line 5" in problem.message


def test_a_file_with_an_impossible_date_does_not_stop_the_other_files_loading(project: Settings) -> None:
    write(project, "a-broken", GOOD.replace('{cron: "0 9 * * *"}', "{at: 2027-02-30T09:00:00}"))
    write(project, "b-fine", GOOD)
    specs, errors = load_campaigns(project)
    assert [spec.name for spec in specs] == ["b-fine"]
    assert [(error.file, error.field) for error in errors] == [("campaigns/a-broken.yaml", "schedule.at")]


def test_load_campaigns_lists_each_problem_of_a_file(project: Settings) -> None:
    write(project, "many", MANY_PROBLEMS)
    _, errors = load_campaigns(project)
    assert len(errors) == 9
    assert {error.file for error in errors} == {"campaigns/many.yaml"}


def test_an_unexpected_failure_checking_one_file_is_a_problem_of_that_file(
    project: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.campaigns import loader

    real = loader.parse_campaign

    def explode(data: object, reader: object, source: Path, settings: Settings) -> object:
        if source.stem == "a-broken":
            raise RuntimeError("a bug in a check")
        return real(data, reader, source, settings)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "parse_campaign", explode)
    write(project, "a-broken", GOOD)
    write(project, "b-fine", GOOD)
    specs, errors = load_campaigns(project)
    assert [spec.name for spec in specs] == ["b-fine"]
    assert [str(error) for error in errors] == ["campaigns/a-broken.yaml: could not be checked (RuntimeError)"]


def test_a_contacts_audience_loads_its_tags_and_attributes(project: Settings) -> None:
    path = write(project, "segment", 'body: "Hi"\naudience: {contacts: {tags: [vip], attributes: {city: Berlin}}}\n')

    spec = load_campaign(path, project)

    assert spec.audience.contacts is not None
    assert (spec.audience.contacts.tags, spec.audience.contacts.attributes) == (["vip"], {"city": "Berlin"})


def test_a_contacts_audience_of_the_wrong_shape_is_located(project: Settings) -> None:
    path = write(project, "segment", 'body: "Hi"\naudience: {contacts: {tags: vip, city: Berlin}}\n')
    with pytest.raises(CampaignErrors) as caught:
        load_campaign(path, project)
    assert {problem.field for problem in caught.value.problems} == {"audience.contacts.city", "audience.contacts.tags"}
