"""Export encoding (pure): CSV cells a spreadsheet cannot run, JSON Lines as the ledger holds them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from hub.export import COLUMNS, csv_header, encode_page
from hub.status import MessageStatus
from hub.store.records import MessageRecord

T = datetime(2026, 12, 1, 9, tzinfo=UTC)


def record(to: str = "+14155550100", body: str | None = "hi", error: str | None = None) -> MessageRecord:
    return MessageRecord(
        id=1, run_id=1, step=0, recipient=to, body=body, content_sid=None, content_variables=None, media_url=[],
        status=MessageStatus.FAILED, sid=None, error_code=None, error_message=error, attempts=0, send_at=None,
        next_attempt_at=None, created_at=T, updated_at=T, claimed_at=None, sent_at=None, delivered_at=None,
        read_at=None, finished_at=None, meta={},
    )  # fmt: skip


def csv_row(rec: MessageRecord) -> dict[str, str]:
    return next(csv.DictReader(io.StringIO((csv_header() + encode_page([rec], "csv")).decode())))


@pytest.mark.parametrize(
    ("body", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(1)", "'@SUM(1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("Hi = there", "Hi = there"),
        ("-5", "-5"),
    ],
)
def test_csv_cells_that_would_run_as_formulas_are_made_inert(body: str, cell: str) -> None:
    assert csv_row(record(body=body))["body"] == cell


def test_e164_numbers_stay_as_they_are_in_csv() -> None:
    row = csv_row(record(to="+14155550100"))
    assert (tuple(row), row["to"], row["created_at"]) == (COLUMNS, "+14155550100", "2026-12-01T09:00:00+00:00")


def test_jsonl_keeps_the_text_as_the_ledger_holds_it() -> None:
    line = json.loads(encode_page([record(body="=1+1")], "jsonl"))
    assert (line["body"], line["to"], line["created_at"]) == ("=1+1", "+14155550100", "2026-12-01T09:00:00Z")
