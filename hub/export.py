"""A run's ledger rows as CSV or JSON Lines (pure): one encoder for ``hub export`` and ``messages.csv``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import msgspec

from hub.store.records import MessageRecord

__all__ = ["COLUMNS", "FORMATS", "ExportRow", "Format", "csv_header", "encode_page", "export_row"]

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")


class ExportRow(msgspec.Struct, kw_only=True):
    """One message of an export: where it went, what it said, what happened (times UTC, RFC 3339)."""

    id: int
    to: str
    status: str
    error_code: int | None
    error_message: str | None
    sid: str | None
    body: str | None
    content_sid: str | None
    content_variables: dict[str, str] | None
    media_url: list[str]
    attempts: int
    send_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    updated_at: datetime


_FORMULA_START = ("=", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9][0-9 ().-]*")
#: CSV columns, in order (the fields of :class:`ExportRow`).
COLUMNS: tuple[str, ...] = ExportRow.__struct_fields__
_json = msgspec.json.Encoder()


def export_row(record: MessageRecord) -> ExportRow:
    return ExportRow(
        id=record.id,
        to=record.recipient,
        status=str(record.status),
        error_code=record.error_code,
        error_message=record.error_message,
        sid=record.sid,
        body=record.body,
        content_sid=record.content_sid,
        content_variables=record.content_variables,
        media_url=list(record.media_url),
        attempts=record.attempts,
        send_at=record.send_at,
        created_at=record.created_at,
        sent_at=record.sent_at,
        delivered_at=record.delivered_at,
        read_at=record.read_at,
        updated_at=record.updated_at,
    )


def csv_header() -> bytes:
    return _csv([list(COLUMNS)])


def encode_page(records: Sequence[MessageRecord], fmt: Format) -> bytes:
    """One page of rows: CSV lines (no header), or one JSON object per line."""
    rows = [export_row(record) for record in records]
    if fmt == "jsonl":
        return b"".join(_json.encode(row) + b"\n" for row in rows)
    return _csv([[_cell(getattr(row, name)) for name in COLUMNS] for row in rows])


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return _json.encode(value).decode()
    if isinstance(value, list):
        return " ".join(str(item) for item in value)  # URLs hold no spaces
    return _inert(str(value))


def _inert(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP's CSV injection advice): text starting with ``=``,
    ``@``, a tab or CR, or a ``+``/``-`` that does not begin a number, gets a leading ``'``. Phone numbers in
    E.164 stay as they are."""
    if text.startswith(_FORMULA_START) or (text.startswith(("+", "-")) and not _NUMBER.fullmatch(text)):
        return "'" + text
    return text


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")
