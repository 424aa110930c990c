"""Row plumbing shared by the query modules: clocks, JSON decoding, row-to-record conversion (store-internal)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from hub.store.records import MessageRecord, RunRecord, StatusEventRecord

T = TypeVar("T")

#: asyncpg refuses statements with more bind parameters than this.
MAX_BIND_PARAMS = 32767


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def utc(value: datetime | None) -> datetime | None:
    """``value`` as aware UTC (naive values are taken to be UTC already); None stays None."""
    if value is None or value.tzinfo is UTC:  # what asyncpg hands back for timestamptz: nothing to convert
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def when(value: datetime | None) -> datetime:
    """``value`` as aware UTC, or now when None."""
    return utc(value) or utcnow()


#: The JSON texts most rows hold, decoded once (a fresh copy per row: records may be changed by their readers).
_EMPTY_JSON: dict[str, Any] = {"{}": dict, "[]": list, "null": lambda: None}


def loads(value: Any) -> Any:
    """A JSON column's value: engines hand back text from RETURNING clauses and raw queries."""
    if isinstance(value, str | bytes):
        empty = _EMPTY_JSON.get(value) if isinstance(value, str) else None
        return empty() if empty is not None else json.loads(value)
    return value


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _times(row: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        value = row.get(name)
        row[name] = utc(value)


_MESSAGE_TIMES = (
    "send_at",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "claimed_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "finished_at",
)
_RUN_TIMES = ("scheduled_at", "started_at", "finished_at", "expires_at", "fanned_out_at", "created_at")


def message_record(row: dict[str, Any], history: list[StatusEventRecord] | None = None) -> MessageRecord:
    """Convert a ``message`` row (optionally with a joined ``campaign``) into a record."""
    data = dict(row)
    data["run_id"] = data.pop("run")
    for name in ("content_variables", "media_url", "meta"):
        data[name] = loads(data.get(name))
    data["media_url"] = data["media_url"] or []
    data["meta"] = data["meta"] or {}
    _times(data, _MESSAGE_TIMES)
    if history is not None:
        data["history"] = history
    return msgspec.convert(data, MessageRecord, strict=False)


def run_record(row: dict[str, Any]) -> RunRecord:
    """Convert a ``run`` row into a record."""
    data = dict(row)
    data["meta"] = loads(data.get("meta")) or {}
    _times(data, _RUN_TIMES)
    return msgspec.convert(data, RunRecord, strict=False)


def event_record(row: dict[str, Any]) -> StatusEventRecord:
    """Convert a ``status_event`` row into a record."""
    data = dict(row)
    data["message_id"] = data.pop("message")
    data["payload"] = loads(data.get("payload")) or {}
    _times(data, ("at",))
    return msgspec.convert(data, StatusEventRecord, strict=False)


def is_unique_violation(exc: BaseException) -> bool:
    """True for a unique-constraint error."""
    import asyncpg

    return isinstance(exc, asyncpg.exceptions.UniqueViolationError)
