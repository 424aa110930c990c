"""Files a campaign refers to: where they are, how to name them to the user, and the CSV header."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from hub.config import Settings

__all__ = ["CSV_ENCODING", "csv_lines", "display_path", "project_path", "read_csv_header", "template_path"]

#: ``utf-8-sig`` reads plain UTF-8 and also drops the byte-order mark spreadsheet programs write.
CSV_ENCODING = "utf-8-sig"


def project_path(settings: Settings, path: Path | str) -> Path:
    """Resolve a path written relative to the project root (the folder of ``config.yaml``)."""
    path = Path(path)
    return path if path.is_absolute() else settings.root / path


def display_path(path: Path, settings: Settings) -> str:
    """How to name a file in messages: relative to the project root when it is inside it."""
    try:
        return str(path.resolve().relative_to(settings.root.resolve()))
    except ValueError:
        return str(path)


def template_path(settings: Settings, name: str) -> Path:
    """The file of a message template named relative to ``paths.templates``.

    Raises:
        ValueError: the name is absolute or climbs out of the templates folder (``../secrets``).
    """
    folder = project_path(settings, settings.paths.templates).resolve()
    if Path(name).is_absolute():
        raise ValueError(f"expected a file name relative to the templates folder, found the absolute path {name!r}")
    target = (folder / name).resolve()
    if not target.is_relative_to(folder):
        raise ValueError(f"expected a file inside the templates folder, found {name!r}, which points outside it")
    return target


def csv_lines(handle: BinaryIO) -> Iterator[str]:
    """Decode a CSV file line by line, so a bad byte is reported at its own line (not a block earlier).

    Decoding happens lazily as lines are read (the first line at once); ``map`` keeps it in C, which matters
    at a million rows.

    Raises:
        UnicodeDecodeError: when the line being read is not UTF-8.
    """
    header = handle.readline().decode(CSV_ENCODING)
    return itertools.chain((header,), map(bytes.decode, handle))


def read_csv_header(path: Path) -> list[str]:
    """Read only the header row of a CSV file (the rest is never loaded).

    Returns:
        The column names, stripped of surrounding spaces.

    Raises:
        ValueError: the header is empty, not UTF-8 or malformed; OSError: the file cannot be opened.
    """
    with path.open("rb") as handle:
        try:
            header = next(csv.reader(csv_lines(handle)), None)
        except UnicodeDecodeError:
            raise ValueError("expected UTF-8 text, found bytes that are not UTF-8") from None
        except csv.Error as exc:
            raise ValueError(f"expected CSV, found a malformed header row ({exc})") from None
    if not header:
        raise ValueError("expected a header row with a `phone` column, found an empty first row")
    return [name.strip() for name in header]
