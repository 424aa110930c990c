"""``hub.store.db.transaction()``: all or nothing, on both engines, under concurrent callers."""

from __future__ import annotations

import asyncio

import pytest

from hub.config import Settings
from hub.store import db
from hub.store import queries as q

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


def row(phone: str) -> q.NewMessage:
    return q.NewMessage(recipient=phone, body="hi")


async def test_commits_every_statement(db_settings: Settings) -> None:
    async with db.transaction():
        run, _ = await q.create_run(kind="bulk")
        await q.insert_messages(run.id, [row("+14155550100"), row("+14155550101")])

    assert (await q.run_counts(run.id)) == {"pending": 2}


async def test_error_rolls_back_every_statement(db_settings: Settings) -> None:
    with pytest.raises(Boom):
        async with db.transaction():
            run, _ = await q.create_run(kind="bulk")
            await q.insert_messages(run.id, [row("+14155550100")])
            raise Boom

    assert await q.list_runs() == []


async def test_nested_transaction_joins_the_outer_one(db_settings: Settings) -> None:
    with pytest.raises(Boom):
        async with db.transaction():
            async with db.transaction():
                await q.create_run(kind="bulk")
            raise Boom

    assert await q.list_runs() == []


async def test_other_tasks_do_not_land_inside_a_transaction(db_settings: Settings) -> None:
    started = asyncio.Event()

    async def outside() -> None:
        await started.wait()
        await q.create_run(kind="single")  # must not be rolled back with the transaction below

    async def inside() -> None:
        with pytest.raises(Boom):
            async with db.transaction():
                await q.create_run(kind="bulk")
                started.set()
                await asyncio.sleep(0.05)
                raise Boom

    await asyncio.gather(inside(), outside())

    assert [run.kind for run in await q.list_runs()] == ["single"]


async def test_many_waiting_statements_do_not_starve_a_transaction(db_settings: Settings) -> None:
    # More waiters than the default thread pool has threads: the transaction still finishes.
    async def create_in_transaction() -> None:
        async with db.transaction():
            await asyncio.sleep(0.01)
            run, _ = await q.create_run(kind="bulk")
            await q.insert_messages(run.id, [row("+14155550100")])

    readers = [q.list_runs() for _ in range(64)]
    await asyncio.gather(create_in_transaction(), *readers, create_in_transaction())

    assert len(await q.list_runs()) == 2
