"""A campaign's audience: inline recipients, CSV rows, then stored contacts; streamed, normalised, de-duplicated."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any, Literal

import msgspec

from hub.campaigns.files import csv_lines, display_path, project_path
from hub.campaigns.spec import CampaignSpec, ContactsSource
from hub.config import Settings
from hub.errors import CampaignError, InvalidPhoneError
from hub.phones import e164_to_int, normalize_phone

__all__ = ["CONTACTS_PAGE", "AudienceProblem", "ContactPages", "Recipient", "iter_audience"]

PHONE_COLUMN = "phone"


class Recipient(msgspec.Struct, frozen=True):
    """One person to message.

    Attributes:
        phone: the number in E.164 (``+14155550100``).
        vars: the recipient's own variables (CSV cells are strings; an empty cell is ``""``).
        source: where it came from: ``campaigns/x.yaml:audience.recipients[2]`` or ``audiences/a.csv:row 17``.
    """

    phone: str
    vars: dict[str, Any]
    source: str


class AudienceProblem(msgspec.Struct, frozen=True):
    """An audience entry that will not be messaged.

    Attributes:
        raw: the phone number as written.
        reason: why (``not a valid number (too short for +1)``, ``duplicate of ...``).
        source: where it came from, as in :class:`Recipient`.
        status: ``rejected`` (the entry is wrong) or ``skipped`` (a duplicate of an earlier entry).
    """

    raw: str
    reason: str
    source: str
    status: Literal["rejected", "skipped"]


class _Seen:
    """The numbers met so far. Memory stays bounded for millions of rows: one int per number in a set."""

    def __init__(self) -> None:
        self._numbers: set[int] = set()
        self._inline: dict[int, str] = {}  # only inline entries (a handful) remember their source

    def duplicate_reason(self, e164: str, source: str, *, inline: bool) -> str | None:
        key = e164_to_int(e164)
        if key in self._numbers:
            first = self._inline.get(key)
            return f"duplicate of {first}" if first else "duplicate of an earlier CSV row"
        self._numbers.add(key)
        if inline:
            self._inline[key] = source
        return None


#: A page of stored contacts for an audience's ``contacts`` source: ``(source, after_id, limit)`` -> ``(id, phone)``
#: in id order (the store's ``audience_contacts``, run by the caller's connection).
ContactPages = Callable[[ContactsSource, int, int], list[tuple[int, str]]]
#: Contacts per page of a ``contacts`` source.
CONTACTS_PAGE = 5000


def iter_audience(
    spec: CampaignSpec, settings: Settings, contacts: ContactPages | None = None
) -> Iterator[Recipient | AudienceProblem]:
    """Every entry of a campaign's audience, in order: inline recipients first, then CSV rows, then stored contacts.

    The CSV file is streamed row by row, never loaded whole. Each phone is normalised to E.164 (with
    ``settings.phones.default_region`` for national numbers); the first entry for a number wins.

    Args:
        spec: a loaded campaign.
        settings: the project root (CSV paths are relative to it) and the default phone region.

    Yields:
        A :class:`Recipient` per entry to message, an :class:`AudienceProblem` per rejected or skipped entry.

        contacts: reads the stored contacts of a ``contacts`` source a page at a time (the ledger).

    Raises:
        CampaignError: the CSV file cannot be opened or has no ``phone`` column (checked before any row); a
            ``contacts`` source without ``contacts`` to read them.
    """
    seen = _Seen()
    region = settings.phones.default_region
    file = display_path(spec.source, settings)
    for index, entry in enumerate(spec.audience.recipients):
        raw = entry.get(PHONE_COLUMN)
        variables = {key: value for key, value in entry.items() if key != PHONE_COLUMN}
        source = f"{file}:audience.recipients[{index}]"
        yield _admit("" if raw is None else str(raw), variables, source, seen, region, inline=True)
    if spec.audience.csv is not None:
        yield from _csv_entries(spec, settings, file, seen)
    if spec.audience.contacts is not None:
        if contacts is None:
            raise CampaignError(file, "audience.contacts", "stored contacts are read from the database: none here")
        yield from _contact_entries(spec.audience.contacts, contacts, file, seen)


def _contact_entries(
    source: ContactsSource, pages: ContactPages, file: str, seen: _Seen
) -> Iterator[Recipient | AudienceProblem]:
    after = 0
    while page := pages(source, after, CONTACTS_PAGE):
        for _, phone in page:
            yield _admit(phone, {}, f"{file}:audience.contacts", seen, None, inline=False)
        after = page[-1][0]


def _admit(
    raw: str, variables: dict[str, Any], source: str, seen: _Seen, region: str | None, *, inline: bool
) -> Recipient | AudienceProblem:
    try:
        phone = normalize_phone(raw, region)
    except InvalidPhoneError as exc:
        return AudienceProblem(raw=raw, reason=str(exc), source=source, status="rejected")
    duplicate = seen.duplicate_reason(phone, source, inline=inline)
    if duplicate is not None:
        return AudienceProblem(raw=raw, reason=duplicate, source=source, status="skipped")
    return Recipient(phone=phone, vars=variables, source=source)


def _csv_entries(
    spec: CampaignSpec, settings: Settings, file: str, seen: _Seen
) -> Iterator[Recipient | AudienceProblem]:
    written = spec.audience.csv
    assert written is not None
    try:
        handle = project_path(settings, written).open("rb")
    except OSError as exc:
        raise CampaignError(file, "audience.csv", f"cannot open {written}: {exc.strerror or exc}") from None
    with handle:
        try:
            rows = csv.reader(csv_lines(handle))
            header = [name.strip() for name in next(rows, [])]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CampaignError(
                file, "audience.csv", f"{written}: cannot read the header: {_unreadable(exc)}"
            ) from None
        if PHONE_COLUMN not in header:
            found = ", ".join(header) or "no columns"
            raise CampaignError(file, "audience.csv", f"{written}: expected a `phone` column, found {found}")
        yield from _rows(rows, header, written, seen, settings.phones.default_region)


def _rows(
    rows: Iterator[list[str]], header: list[str], written: str, seen: _Seen, region: str | None
) -> Iterator[Recipient | AudienceProblem]:
    phone_at = header.index(PHONE_COLUMN)
    columns = [(at, name) for at, name in enumerate(header) if name and at != phone_at]
    width = len(header)
    row_number = 1  # as a spreadsheet shows it: the header is row 1
    try:
        for row in rows:
            row_number += 1
            if not row:
                continue  # a blank line: nothing to send, nothing to report
            source = f"{written}:row {row_number}"
            if len(row) > width:
                reason = f"has {len(row)} cells but the header has {width} columns (an unquoted comma?)"
                yield AudienceProblem(raw=row[phone_at], reason=reason, source=source, status="rejected")
                continue
            if len(row) < width:
                row += [""] * (width - len(row))  # spreadsheets drop trailing empty cells
            variables = {name: row[at] for at, name in columns}
            yield _admit(row[phone_at], variables, source, seen, region, inline=False)
    except (UnicodeDecodeError, csv.Error) as exc:
        reason = f"cannot read the rest of the file ({_unreadable(exc)}); rows from here on were not read"
        yield AudienceProblem(raw="", reason=reason, source=f"{written}:row {row_number + 1}", status="rejected")


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return f"malformed CSV: {exc}"
