"""Row plumbing of the store (pure): JSON column values and UTC times as the records need them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hub.store.rows import loads, utc

T = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [("{}", {}), ("[]", []), ("null", None), ('{"1": "Ada"}', {"1": "Ada"}), (b'["u"]', ["u"]), ({"a": 1}, {"a": 1})],
)
def test_a_json_column_decodes_to_its_value(text: Any, value: Any) -> None:
    assert loads(text) == value


def test_each_row_gets_its_own_empty_json_object() -> None:
    first, second = loads("{}"), loads("{}")
    first["changed"] = True
    assert second == {}


@pytest.mark.parametrize(
    "value",
    [T, T.replace(tzinfo=None), T.astimezone(timezone(timedelta(hours=2)))],
    ids=["utc", "naive", "other-zone"],
)
def test_a_time_reads_as_the_same_instant_in_utc(value: datetime) -> None:
    converted = utc(value)
    assert converted == T
    assert converted is not None and converted.tzinfo is UTC
