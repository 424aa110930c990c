"""A contacts CSV read row by row (pure): phone, tags split on ';', other columns as attributes; refusals located."""

from __future__ import annotations

import pytest

from hub.contact_import import ImportProblem, ImportRow, merged, read_rows
from hub.errors import HubError


def _rows(text: str) -> list[ImportRow | ImportProblem]:
    return list(read_rows(text.splitlines(keepends=True), "DE"))


def test_tags_are_split_and_other_columns_become_attributes() -> None:
    rows = _rows("phone,tags,tier,city\n+4915112345678, vip;news ,gold,\n")

    assert rows == [ImportRow("+4915112345678", {"tier": "gold"}, ["news", "vip"])]


def test_a_row_that_cannot_be_imported_is_refused_naming_its_line() -> None:
    rows = _rows('phone,tags,timezone\n12,,\n"+4915112345678",,Mars/Base\n015112345679,a,Europe/Berlin\n')

    assert [(r.line, r.phone) for r in rows if isinstance(r, ImportProblem)] == [(2, "12"), (3, "+4915112345678")]
    assert rows[-1] == ImportRow("+4915112345679", {"timezone": "Europe/Berlin"}, ["a"])


def test_a_file_without_a_phone_column_is_refused_whole() -> None:
    with pytest.raises(HubError, match="phone column"):
        _rows("number,tier\n+4915112345678,gold\n")


def test_a_batch_keeps_one_row_per_phone_the_later_attributes_winning() -> None:
    rows = [ImportRow("+1", {"a": "1", "b": "1"}, ["x"]), ImportRow("+1", {"b": "2"}, ["y"])]

    assert merged(rows) == [ImportRow("+1", {"a": "1", "b": "2"}, ["x", "y"])]
