"""Status reports gathered into one multi-row statement on PostgreSQL: the single statement's rules, per batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers_store import at, run_with, submitted

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import db
from hub.store import queries as q
from hub.store.sql import statements as sql_statements

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def report(status: str, sid: str = "SM1", seconds: float = 10, **kwargs: Any) -> q.StatusUpdate:
    return q.StatusUpdate(sid=sid, status=status, at=at(seconds), **kwargs)


async def together(*updates: q.StatusUpdate) -> list[str]:
    """Apply the reports concurrently on one loop: they reach the database as one batch."""
    return list(await asyncio.gather(*(q.apply_status(update) for update in updates)))


async def state(message_id: int) -> tuple[Any, ...]:
    message = await q.get_message(message_id, with_history=True)
    assert message is not None
    events = [(e.status, e.at) for e in message.history if e.source == "callback"]
    return message.status, message.delivered_at, message.read_at, message.finished_at, message.error_code, events


@pytest.fixture
def statements(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every raw statement sent to PostgreSQL (one round trip each)."""
    engine = db.current_engine()
    sent: list[str] = []
    original = engine.fetch

    async def fetch(sql: str, args: Any, **options: Any) -> Any:
        sent.append(sql)
        return await original(sql, args, **options)

    monkeypatch.setattr(engine, "fetch", fetch)
    return sent


async def test_reports_of_distinct_sids_are_one_statement(statements: list[str]) -> None:
    ids = [await submitted(f"SM{i}") for i in range(5)]
    statements.clear()

    outcomes = await together(*(report("delivered", sid=f"SM{i}") for i in range(5)))

    assert outcomes == ["applied"] * 5
    assert statements == [sql_statements("status")["record_and_apply"].text]
    assert [(await state(i))[0] for i in ids] == [S.DELIVERED] * 5


async def test_batch_moves_status_only_forward(pg_settings: Settings) -> None:
    late = await submitted("SMlate")
    await q.apply_status(report("delivered", sid="SMlate", seconds=5))
    fresh = await submitted("SMfresh")

    outcomes = await together(report("sent", sid="SMlate"), report("sent", sid="SMfresh"))

    assert outcomes == ["recorded", "applied"]
    assert (await state(late))[0] == S.DELIVERED
    assert (await state(fresh))[0] == S.SENT


async def test_duplicates_in_one_batch_are_stored_once(pg_settings: Settings) -> None:
    message_id = await submitted("SM1")

    outcomes = await together(report("delivered"), report("delivered"), report("delivered", seconds=11))

    assert outcomes == ["applied", "duplicate", "duplicate"]
    assert (await state(message_id))[5] == [("delivered", at(10))]


async def test_same_idempotency_token_in_one_batch_is_a_duplicate(pg_settings: Settings) -> None:
    await submitted("SM1")
    await submitted("SM2")

    outcomes = await together(report("sent", dedupe_key="token-1"), report("sent", sid="SM2", dedupe_key="token-1"))

    assert outcomes == ["applied", "duplicate"]


async def test_duplicate_of_a_stored_report_in_a_batch(pg_settings: Settings) -> None:
    await submitted("SM1")
    await submitted("SM2")
    await q.apply_status(report("sent"))

    assert await together(report("sent", seconds=12), report("sent", sid="SM2")) == ["duplicate", "applied"]


@pytest.mark.parametrize(
    "sequence",
    [
        ("delivered", "read"),
        ("read", "delivered"),
        ("sent", "delivered", "read"),
        ("read", "sent"),
        ("sent", "undelivered", "delivered"),
        ("delivered", "failed"),
        ("sent", "partially_delivered", "sent"),
    ],
)
async def test_statuses_of_one_sid_in_one_batch_equal_one_after_another(
    pg_settings: Settings, sequence: tuple[str, ...]
) -> None:
    batched, single = await submitted("SMbatch"), await submitted("SMsingle")
    kwargs: dict[str, Any] = {"error_code": 63024}  # final: a retryable code would reopen the row in between

    together_outcomes = await together(
        *(report(s, sid="SMbatch", seconds=10 + n, **kwargs) for n, s in enumerate(sequence))
    )
    one_by_one = [
        await q.apply_status(report(s, sid="SMsingle", seconds=10 + n, **kwargs)) for n, s in enumerate(sequence)
    ]

    assert together_outcomes == one_by_one
    assert await state(batched) == await state(single)


async def test_unknown_sid_in_a_batch_is_parked_then_applied_at_submit(pg_settings: Settings) -> None:
    known = await submitted("SMknown")
    _, (early,) = await run_with(1)
    await q.claim_for_send(early, at(1))

    outcomes = await together(report("delivered", sid="SMknown"), report("delivered", sid="SMearly", seconds=3))
    message = await q.mark_submitted(early, "SMearly", "queued", now=at(4))

    assert outcomes == ["applied", "parked"]
    assert message is not None and (message.status, message.delivered_at) == (S.DELIVERED, at(3))
    assert (await state(known))[0] == S.DELIVERED


async def test_failed_batch_reaches_every_caller(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        await submitted(f"SM{i}")
    engine = db.current_engine()

    async def down(sql: str, args: Any) -> Any:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(engine, "fetch", down)

    results = await asyncio.gather(
        *(q.apply_status(report("delivered", sid=f"SM{i}")) for i in range(3)), return_exceptions=True
    )

    assert [type(result) for result in results] == [ConnectionError] * 3


async def test_report_the_database_refuses_fails_alone(pg_settings: Settings) -> None:
    good = await submitted("SMgood")
    too_long = "x" * 300  # status_event.dedupe_key is varchar(200)

    results = await asyncio.gather(
        q.apply_status(report("delivered", sid="SMgood")),
        q.apply_status(report("delivered", sid="SMgood2", dedupe_key=too_long)),
        return_exceptions=True,
    )

    assert results[0] == "applied" and isinstance(results[1], Exception)
    assert (await state(good))[0] == S.DELIVERED


async def test_report_inside_a_transaction_is_written_on_its_connection(pg_settings: Settings) -> None:
    message_id = await submitted("SM1")

    with pytest.raises(RuntimeError):
        async with db.transaction():
            assert await q.apply_status(report("delivered")) == "applied"
            raise RuntimeError("roll back")

    assert (await state(message_id))[0] == S.QUEUED
