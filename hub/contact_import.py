"""A contacts CSV import: rows read one at a time (``phone``; ``tags`` split on ``;``; other columns become
attributes), written a batch at a time by the writer the caller hands in (the API and ``hub contacts import``)."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

import msgspec

from hub.contacts import ContactRefusal, replace
from hub.errors import HubError, InvalidPhoneError
from hub.phones import normalize_phone

__all__ = ["BATCH", "MAX_PROBLEMS", "ImportProblem", "ImportResult", "ImportRow", "import_csv", "merged", "read_rows"]

#: Rows per write (one statement each).
BATCH = 1000
#: Problems an import reports one by one; the rest are counted.
MAX_PROBLEMS = 100


class ImportRow(msgspec.Struct, frozen=True):
    """One contact to import: attributes merged over the stored ones, tags added."""

    phone: str
    attributes: dict[str, Any]
    tags: list[str]


class ImportProblem(msgspec.Struct, frozen=True):
    """A row not imported: its line in the file, the phone as written, and why."""

    line: int
    phone: str
    reason: str


class ImportResult(msgspec.Struct, frozen=True):
    imported: int
    rejected: int
    problems: list[ImportProblem]


#: Writes a batch of rows (one per phone); returns how many contacts it wrote.
Writer = Callable[[Sequence[ImportRow]], Awaitable[int]]


def read_rows(lines: Iterable[str], default_region: str | None) -> Iterator[ImportRow | ImportProblem]:
    """The rows of a contacts CSV, each an import row or the reason it is refused (pure over its input).

    Raises:
        HubError: the file has no header row, or no ``phone`` column (nothing can be imported).
    """
    reader = csv.DictReader(lines)
    header = [name.strip() for name in reader.fieldnames or ()]
    if "phone" not in header:
        raise HubError(f"a contacts CSV needs a header row with a phone column; found {header[:10]}")
    reader.fieldnames = header
    for row in reader:
        line = reader.line_num
        raw = (row.get("phone") or "").strip()
        try:
            phone = normalize_phone(raw, default_region)
            attributes = {
                name: value.strip()
                for name, value in row.items()
                if name not in ("phone", "tags") and name and isinstance(value, str) and value.strip()
            }
            tags = [tag for tag in (row.get("tags") or "").split(";") if tag.strip()]
            change = replace(attributes, tags)
        except (InvalidPhoneError, ContactRefusal) as exc:
            yield ImportProblem(line=line, phone=raw, reason=str(exc))
            continue
        yield ImportRow(phone=phone, attributes=change.attributes, tags=change.tags or [])


def merged(rows: Sequence[ImportRow]) -> list[ImportRow]:
    """A batch with one row per phone: a later row's attributes win, tags add up (a statement may not change a
    row twice)."""
    by_phone: dict[str, ImportRow] = {}
    for row in rows:
        before = by_phone.get(row.phone)
        if before is not None:
            row = ImportRow(row.phone, {**before.attributes, **row.attributes}, sorted({*before.tags, *row.tags}))
        by_phone[row.phone] = row
    return list(by_phone.values())


async def import_csv(lines: Iterable[str], default_region: str | None, write: Writer) -> ImportResult:
    """Import a contacts CSV a batch at a time (memory holds one batch, whatever the file's size).

    Raises:
        HubError: no header row or no ``phone`` column.
    """
    imported, rejected = 0, 0
    problems: list[ImportProblem] = []
    rows = read_rows(lines, default_region)
    while batch := list(itertools.islice(rows, BATCH)):
        good = [row for row in batch if isinstance(row, ImportRow)]
        for problem in (row for row in batch if isinstance(row, ImportProblem)):
            rejected += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(problem)
        if good:
            imported += await write(merged(good))
    return ImportResult(imported=imported, rejected=rejected, problems=problems)
