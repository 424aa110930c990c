"""Audiences: inline recipients then CSV rows, streamed, normalised to E.164, de-duplicated, located."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.audience import AudienceProblem, Recipient, iter_audience
from hub.campaigns.spec import AudienceSpec, CampaignSpec, MessageSpec
from hub.config import Settings
from hub.errors import CampaignError

Entry = Recipient | AudienceProblem


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings({"phones": {"default_region": "DE"}})


def campaign(
    settings: Settings, recipients: list[dict[str, Any]] | None = None, csv: str | None = None
) -> CampaignSpec:
    return CampaignSpec(
        name="c",
        source=settings.root / "campaigns" / "c.yaml",
        message=MessageSpec(body="hi"),
        audience=AudienceSpec(recipients=recipients or [], csv=csv),
    )


def audience(settings: Settings, csv_text: str | bytes | None = None, **kwargs: Any) -> list[Entry]:
    if csv_text is not None:
        path = settings.root / "people.csv"
        if isinstance(csv_text, bytes):
            path.write_bytes(csv_text)
        else:
            path.write_text(csv_text, encoding="utf-8")
        kwargs["csv"] = "people.csv"
    return list(iter_audience(campaign(settings, **kwargs), settings))


def test_inline_recipients_become_recipients_with_their_fields_as_vars(settings: Settings) -> None:
    entries = audience(settings, recipients=[{"phone": "+14155552671", "first_name": "Ada", "n": 3}])
    assert entries == [
        Recipient(
            phone="+14155552671", vars={"first_name": "Ada", "n": 3}, source="campaigns/c.yaml:audience.recipients[0]"
        )
    ]


def test_csv_columns_become_string_vars_and_empty_cells_stay_empty(settings: Settings) -> None:
    entries = audience(settings, "name,phone,code\nAda,+14155552671,\nBo,+4915112345678,7\n")
    assert entries == [
        Recipient(phone="+14155552671", vars={"name": "Ada", "code": ""}, source="people.csv:row 2"),
        Recipient(phone="+4915112345678", vars={"name": "Bo", "code": "7"}, source="people.csv:row 3"),
    ]


def test_inline_recipients_come_before_csv_rows(settings: Settings) -> None:
    entries = audience(settings, "phone\n+4915112345678\n", recipients=[{"phone": "+14155552671"}])
    assert [entry.source for entry in entries] == ["campaigns/c.yaml:audience.recipients[0]", "people.csv:row 2"]


@pytest.mark.parametrize(
    ("csv_text", "expected_rows"),
    [
        ("phone\n+14155552671\n+4915112345678\n", ["row 2", "row 3"]),
        ("phone\n\n+14155552671\n\n+4915112345678\n", ["row 3", "row 5"]),  # blank lines are rows in a spreadsheet
        ('phone,note\n+14155552671,"two\nlines"\n+4915112345678,x\n', ["row 2", "row 3"]),  # one cell, one row
        ("\ufeffphone\r\n+14155552671\r\n", ["row 2"]),  # byte-order mark and CRLF from a spreadsheet
    ],
)
def test_csv_row_numbers_are_spreadsheet_rows(settings: Settings, csv_text: str, expected_rows: list[str]) -> None:
    assert [entry.source.split(":")[1] for entry in audience(settings, csv_text)] == expected_rows


@pytest.mark.parametrize(
    ("cell", "phone"),
    [
        ("+14155552671", "+14155552671"),
        ("whatsapp:+14155552671", "+14155552671"),
        ("0151 12345678", "+4915112345678"),  # national, read with phones.default_region = DE
        ("+1 (415) 555-2671", "+14155552671"),
    ],
)
def test_phones_are_normalised_to_e164(settings: Settings, cell: str, phone: str) -> None:
    (entry,) = audience(settings, f'phone\n"{cell}"\n')
    assert isinstance(entry, Recipient) and entry.phone == phone


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("not-a-number", "not a phone number"),
        ("+1415", "not a valid number (too short for +1)"),
        ("", "empty phone number"),
    ],
)
def test_invalid_numbers_are_rejected_with_reason_and_row(settings: Settings, cell: str, reason: str) -> None:
    entries = audience(settings, f"phone,name\n+14155552671,a\n{cell},b\n")
    assert entries[1] == AudienceProblem(raw=cell, reason=reason, source="people.csv:row 3", status="rejected")


def test_invalid_inline_number_is_rejected_at_its_field(settings: Settings) -> None:
    (entry,) = audience(settings, recipients=[{"phone": "+1415"}])
    source = "campaigns/c.yaml:audience.recipients[0]"
    assert entry == AudienceProblem(
        raw="+1415", reason="not a valid number (too short for +1)", source=source, status="rejected"
    )


def test_duplicate_of_an_inline_recipient_names_it(settings: Settings) -> None:
    entries = audience(settings, "phone\n0151 12345678\n", recipients=[{"phone": "+4915112345678"}])
    assert entries[1] == AudienceProblem(
        raw="0151 12345678",
        reason="duplicate of campaigns/c.yaml:audience.recipients[0]",
        source="people.csv:row 2",
        status="skipped",
    )


def test_duplicate_csv_rows_are_skipped_and_the_first_wins(settings: Settings) -> None:
    entries = audience(settings, "phone,name\n+14155552671,first\nwhatsapp:+14155552671,second\n")
    assert entries == [
        Recipient(phone="+14155552671", vars={"name": "first"}, source="people.csv:row 2"),
        AudienceProblem(
            raw="whatsapp:+14155552671",
            reason="duplicate of an earlier CSV row",
            source="people.csv:row 3",
            status="skipped",
        ),
    ]


def test_duplicate_inline_recipients_are_skipped(settings: Settings) -> None:
    entries = audience(settings, recipients=[{"phone": "+14155552671"}, {"phone": "+1 415 555 2671"}])
    assert [type(entry).__name__ for entry in entries] == ["Recipient", "AudienceProblem"]
    assert entries[1].status == "skipped"  # type: ignore[union-attr]


def test_short_rows_are_padded_with_empty_strings(settings: Settings) -> None:
    (entry,) = audience(settings, "phone,name,code\n+14155552671\n")
    assert isinstance(entry, Recipient) and entry.vars == {"name": "", "code": ""}


def test_rows_with_more_cells_than_the_header_are_rejected(settings: Settings) -> None:
    (entry,) = audience(settings, "phone,name\n+14155552671,Smith, John\n")
    assert isinstance(entry, AudienceProblem) and entry.status == "rejected" and entry.source == "people.csv:row 2"
    assert "3 cells but the header has 2 columns" in entry.reason


def test_header_names_are_trimmed_and_unnamed_columns_dropped(settings: Settings) -> None:
    (entry,) = audience(settings, " phone , name ,\n+14155552671,Ada,junk\n")
    assert isinstance(entry, Recipient) and entry.vars == {"name": "Ada"}


def test_undecodable_bytes_stop_reading_with_a_located_problem(settings: Settings) -> None:
    rows = b"+14155552671\n+14155552672\n+14155552673\n"
    entries = audience(settings, b"phone\n" + rows + b"\xff\xfe\n" + b"+4915112345678\n" * 3000)
    assert [entry.source for entry in entries] == [f"people.csv:row {row}" for row in (2, 3, 4, 5)]
    assert isinstance(entries[-1], AudienceProblem) and "not UTF-8" in entries[-1].reason


def test_csv_without_phone_column_raises_naming_the_field(settings: Settings) -> None:
    with pytest.raises(
        CampaignError, match=r"audience\.csv: people\.csv: expected a `phone` column, found name, email"
    ):
        audience(settings, "name,email\nAda,a@x\n")


def test_missing_csv_raises_naming_the_field(settings: Settings) -> None:
    with pytest.raises(CampaignError, match=r"audience\.csv: cannot open gone\.csv"):
        list(iter_audience(campaign(settings, csv="gone.csv"), settings))


def test_audience_is_a_lazy_stream(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("phone\n+14155552671\n", encoding="utf-8")
    stream = iter_audience(campaign(settings, csv="people.csv"), settings)
    (tmp_path / "people.csv").unlink()  # nothing is read until the first entry is asked for
    with pytest.raises(CampaignError):
        next(stream)
