"""Loading valid campaign files: the three kinds of message, schedules, defaults, folders and names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from hub.campaigns import CampaignSpec, find_campaign, load_campaign, load_campaigns
from hub.campaigns.spec import MessageSpec, Schedule, SendWindow
from hub.config import Settings
from hub.errors import CampaignError

AUDIENCE = 'audience:\n  recipients:\n    - {phone: "+14155550100"}\n'


def write(settings: Settings, name: str, text: str) -> Path:
    path = settings.root / "campaigns" / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(settings: Settings, text: str, name: str = "sample.yaml") -> CampaignSpec:
    return load_campaign(write(settings, name, text), settings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('body: "Hi {{ name }}"\n', MessageSpec(body="Hi {{ name }}")),
        ("template: reminder.j2\n", MessageSpec(template="reminder.j2")),
        (
            "content_sid: HX0123456789abcdef0123456789ABCDEF\n",
            MessageSpec(content_sid="HX0123456789abcdef0123456789ABCDEF"),
        ),
        (
            'content_sid: HX0123456789abcdef0123456789abcdef\ncontent_variables: {1: "{{ a }}", "2": "b"}\n',
            MessageSpec(content_sid="HX0123456789abcdef0123456789abcdef", content_variables={"1": "{{ a }}", "2": "b"}),
        ),
        (
            'body: hi\nmedia_url: ["https://x.test/{{ code }}.png"]\nvars: {code: A1, n: 3}\n',
            MessageSpec(body="hi", media_url=["https://x.test/{{ code }}.png"], vars={"code": "A1", "n": 3}),
        ),
    ],
)
def test_message_fields_map_into_message_spec(project: Settings, text: str, expected: MessageSpec) -> None:
    assert load_text(project, text + AUDIENCE).message == expected


def test_template_in_a_subfolder_of_templates_is_found(project: Settings) -> None:
    (project.root / "templates" / "sub").mkdir()
    (project.root / "templates" / "sub" / "x.j2").write_text("hi", encoding="utf-8")
    assert load_text(project, "template: sub/x.j2\n" + AUDIENCE).message.template == "sub/x.j2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schedule: {at: 2026-12-01T09:00:00}", Schedule(at=datetime(2026, 12, 1, 9), timezone="Asia/Kolkata")),
        (
            'schedule: {at: "2026-12-01T09:00+01:00"}',
            Schedule(at=datetime(2026, 12, 1, 9, tzinfo=timezone(timedelta(hours=1))), timezone="Asia/Kolkata"),
        ),
        (
            'schedule: {cron: "0 9 * * MON", timezone: Europe/Berlin}',
            Schedule(cron="0 9 * * MON", timezone="Europe/Berlin"),
        ),
        ('schedule: {cron: "*/15 8-18 * * mon-fri"}', Schedule(cron="*/15 8-18 * * mon-fri", timezone="Asia/Kolkata")),
        (
            'schedule: {cron: "30 9 1 * *", send_window: {start: "22:00", end: "06:30"}}',
            Schedule(cron="30 9 1 * *", timezone="Asia/Kolkata", send_window=SendWindow(start="22:00", end="06:30")),
        ),
    ],
)
def test_schedule_variants(project: Settings, text: str, expected: Schedule) -> None:
    settings = msgspec.structs.replace(project, timezone="Asia/Kolkata")
    assert load_text(settings, "body: hi\n" + AUDIENCE + text + "\n").schedule == expected


def test_optional_fields_have_defaults(project: Settings) -> None:
    spec = load_text(project, "body: hi\n" + AUDIENCE, name="plain-one.yaml")
    assert (spec.name, spec.enabled, spec.description, spec.schedule, spec.rate_limit) == (
        "plain-one",
        True,
        "",
        None,
        None,
    )
    assert (spec.expires_after, spec.valid_until) == (None, None)


def test_limits_and_expiry_are_parsed(project: Settings) -> None:
    text = (
        "body: hi\n"
        + AUDIENCE
        + "rate_limit: {per_second: 2.5}\nexpires_after: 90m\nvalid_until: 2026-12-02T00:00:00Z\n"
    )
    spec = load_text(project, text)
    assert spec.rate_limit is not None and spec.rate_limit.per_second == 2.5
    assert spec.expires_after == timedelta(minutes=90)
    assert spec.valid_until == datetime(2026, 12, 2, tzinfo=UTC)


def test_csv_header_only_is_read(project: Settings) -> None:
    # Rows after the header are not the loader's business: bad bytes there must not fail loading.
    rows = b"+14155550100,Ada\n" * 20_000
    (project.root / "audiences" / "big.csv").write_bytes(b"phone,name\n" + rows + b"\xff\xfe broken\n")
    spec = load_text(project, "body: hi\naudience: {csv: audiences/big.csv}\n")
    assert spec.audience.csv == "audiences/big.csv"


def test_fixture_campaigns_all_load(settings: Settings) -> None:
    specs, errors = load_campaigns(settings)
    assert errors == []
    assert [spec.name for spec in specs] == ["body-campaign", "spring-sale", "weekly-reminder"]


def test_load_campaigns_accepts_files_and_folders_once_each(project: Settings) -> None:
    first = write(project, "a.yaml", "body: hi\n" + AUDIENCE)
    write(project, "b.yml", "body: hi\n" + AUDIENCE)
    write(project, "notes.txt", "not a campaign")
    specs, errors = load_campaigns(project, [first, project.root / "campaigns"])
    assert errors == []
    assert [spec.name for spec in specs] == ["a", "b"]


def test_load_campaigns_reports_a_missing_path(project: Settings) -> None:
    specs, errors = load_campaigns(project, [project.root / "nowhere.yaml"])
    assert specs == []
    assert [str(error) for error in errors] == ["nowhere.yaml: no such file or folder"]


def test_load_campaigns_keeps_good_files_when_one_is_bad(project: Settings) -> None:
    write(project, "good.yaml", "body: hi\n" + AUDIENCE)
    write(project, "bad.yaml", "body: hi\n")
    specs, errors = load_campaigns(project)
    assert [spec.name for spec in specs] == ["good"]
    assert [(error.file, error.field) for error in errors] == [("campaigns/bad.yaml", "audience")]


def test_duplicate_names_name_both_files(project: Settings) -> None:
    write(project, "a.yaml", "name: same\nbody: hi\n" + AUDIENCE)
    write(project, "b.yaml", "body: hi\n" + AUDIENCE + "name: same\n")
    specs, errors = load_campaigns(project)
    assert [spec.source.name for spec in specs] == ["a.yaml"]
    assert [str(error) for error in errors] == [
        "campaigns/b.yaml:5: name: expected a unique campaign name, found 'same', already used by campaigns/a.yaml"
    ]


def test_find_campaign_by_name(settings: Settings) -> None:
    assert find_campaign(settings, "spring-sale").source.name == "content-campaign.yaml"


def test_find_campaign_by_path(settings: Settings) -> None:
    path = settings.root / "campaigns" / "template-campaign.yaml"
    assert find_campaign(settings, str(path)).name == "weekly-reminder"


def test_find_campaign_unknown_name_names_it(settings: Settings) -> None:
    with pytest.raises(CampaignError, match="no campaign named 'nope'; the valid campaigns are: body-campaign, "):
        find_campaign(settings, "nope")


def test_find_campaign_explains_a_broken_file_of_that_name(project: Settings) -> None:
    write(project, "broken.yaml", "body: hi\n")
    with pytest.raises(CampaignError) as caught:
        find_campaign(project, "broken")
    assert (caught.value.file, caught.value.field) == ("campaigns/broken.yaml", "audience")


def test_find_campaign_refuses_a_name_used_twice(project: Settings) -> None:
    write(project, "a.yaml", "name: same\nbody: hi\n" + AUDIENCE)
    write(project, "b.yaml", "name: same\nbody: hi\n" + AUDIENCE)
    with pytest.raises(CampaignError, match=r"already used by campaigns/a\.yaml"):
        find_campaign(project, "same")
