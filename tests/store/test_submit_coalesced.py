"""mark_submitted on PostgreSQL: concurrent submits on one loop are written by one statement, each caller getting
the answer it would have got alone (a worker runtime's hub.store.sends.Submits)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import pytest
from helpers_store import at, run_with

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import db
from hub.store import queries as q
from hub.store.engines import LoopPoolPostgresEngine
from hub.store.sends import Submits, new_submits
from hub.store.sql import statements as sql_statements

pytestmark = pytest.mark.anyio


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The submit statements run, in order: how many rows each wrote (``1``: a row alone)."""
    seen: list[int] = []
    fetch = LoopPoolPostgresEngine.fetch
    submit = sql_statements("send")["submit"].text

    async def counting(
        self: LoopPoolPostgresEngine, sql: str, args: Sequence[Any], **options: Any
    ) -> list[dict[str, Any]]:
        if sql == submit:
            seen.append(len(args[0]))  # the ids array
        return await fetch(self, sql, args, **options)

    monkeypatch.setattr(LoopPoolPostgresEngine, "fetch", counting)
    yield seen


@pytest.fixture
def submits() -> Submits:
    """The coalescer a worker's runtime holds, fresh for the test."""
    return new_submits()


async def claimed(n: int) -> list[int]:
    _, ids = await run_with(n)
    for message_id in ids:
        assert await q.claim_for_send(message_id, at(1))
    return ids


async def worker_events(message_id: int) -> list[tuple[str, str | None]]:
    message = await q.get_message(message_id, with_history=True)
    assert message is not None
    return [(event.status, event.sid) for event in message.history if event.source == "worker"]


async def test_concurrent_submits_are_written_by_one_statement(
    pg_settings: Settings, submits: Submits, statements: list[int]
) -> None:
    ids = await claimed(5)

    rows = await asyncio.gather(*(q.mark_submitted(i, f"SM{i}", "queued", now=at(2), submits=submits) for i in ids))

    assert statements == [5]
    assert [(r.id, r.sid, r.status, r.sent_at) for r in rows if r is not None] == [
        (i, f"SM{i}", S.QUEUED, at(2)) for i in ids
    ]
    assert [await worker_events(i) for i in ids] == [[("queued", f"SM{i}")] for i in ids]


async def test_a_row_not_in_sending_is_left_alone_and_its_caller_told(
    pg_settings: Settings, submits: Submits, statements: list[int]
) -> None:
    ids = await claimed(2)
    _, (pending,) = await run_with(1)

    rows = await asyncio.gather(
        *(q.mark_submitted(i, f"SM{i}", "queued", now=at(2), submits=submits) for i in [*ids, pending])
    )

    assert statements == [3]
    assert [r.status if r else None for r in rows] == [S.QUEUED, S.QUEUED, None]
    untouched = await q.get_message(pending)
    assert untouched is not None and (untouched.status, untouched.sid) == (S.PENDING, None)
    assert await worker_events(pending) == []


async def test_a_row_the_sweeper_gave_up_on_is_recorded_from_unknown(pg_settings: Settings, submits: Submits) -> None:
    sending, unknown = await claimed(2)
    assert await q.mark_final(unknown, S.UNKNOWN, from_states=[S.SENDING], source="sweeper")

    rows = await asyncio.gather(
        q.mark_submitted(sending, "SMa", "failed", now=at(2), submits=submits),
        q.mark_submitted(unknown, "SMb", "failed", now=at(2), submits=submits),
    )

    assert [(r.status, r.finished_at) for r in rows if r is not None] == [(S.FAILED, at(2)), (S.FAILED, at(2))]


async def test_one_callers_failure_is_raised_to_it_alone(
    pg_settings: Settings, submits: Submits, statements: list[int]
) -> None:
    # Given three claimed rows, two of them submitted with the same sid (unique): the batch statement fails
    first, second, third = await claimed(3)

    outcomes = await asyncio.gather(
        q.mark_submitted(first, "SMsame", "queued", now=at(2), submits=submits),
        q.mark_submitted(second, "SMsame", "queued", now=at(2), submits=submits),
        q.mark_submitted(third, "SMother", "queued", now=at(2), submits=submits),
        return_exceptions=True,
    )

    # Then each was written alone: the first and the third hold their sids, the second's caller has the error
    assert statements == [3, 1, 1, 1]
    assert isinstance(outcomes[1], asyncpg.UniqueViolationError)
    assert [getattr(o, "sid", None) for o in (outcomes[0], outcomes[2])] == ["SMsame", "SMother"]
    left = await q.get_message(second)
    assert left is not None and left.status == S.SENDING


async def test_the_same_row_twice_in_one_batch_is_written_once_in_call_order(
    pg_settings: Settings, submits: Submits, statements: list[int]
) -> None:
    (message_id,) = await claimed(1)

    first, second = await asyncio.gather(
        q.mark_submitted(message_id, "SM1", "queued", now=at(2), submits=submits),
        q.mark_submitted(message_id, "SM1", "queued", now=at(3), submits=submits),
    )

    assert first is not None and first.sent_at == at(2)
    assert second is None
    assert await worker_events(message_id) == [("queued", "SM1")]


async def test_a_parked_report_is_applied_to_its_row_of_a_batch(pg_settings: Settings, submits: Submits) -> None:
    early, other = await claimed(2)
    assert await q.apply_status(q.StatusUpdate(sid="SMearly", status="delivered", at=at(3))) == "parked"

    rows = await asyncio.gather(
        q.mark_submitted(early, "SMearly", "queued", now=at(4), submits=submits),
        q.mark_submitted(other, "SMo", "queued", now=at(4), submits=submits),
    )

    assert [r.status for r in rows if r is not None] == [S.DELIVERED, S.QUEUED]


async def test_a_submit_inside_a_transaction_runs_in_it_alone(
    pg_settings: Settings, submits: Submits, statements: list[int]
) -> None:
    (message_id,) = await claimed(1)

    async with db.transaction():
        row = await q.mark_submitted(message_id, "SMtx", "queued", now=at(2), submits=submits)

    assert row is not None and row.sid == "SMtx"
    assert statements == [1]
