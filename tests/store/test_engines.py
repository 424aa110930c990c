"""Engines: URL parsing, one pool per event loop, sync callers through run_sync."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from db_fixtures import settings_for
from helpers_store import run_with

from hub.config import Settings
from hub.errors import ConfigError
from hub.store import db
from hub.store import queries as q
from tests.chaos.proxy import CuttableProxy, proxy_for, through


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("postgresql://u@h:5432/d", db.LoopPoolPostgresEngine),
        ("postgres://u@h/d", db.LoopPoolPostgresEngine),
    ],
)
def test_build_engine_by_scheme(url: str, engine: type) -> None:
    assert isinstance(db.build_engine(url), engine)


@pytest.mark.parametrize("url", ["sqlite:///hub.db", "mysql://u:secret@h/d", "embedded"])
def test_build_engine_refuses_unsupported_urls_without_leaking_secrets(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        db.build_engine(url)
    assert "secret" not in str(info.value)


def test_run_sync_from_plain_code(db_settings: Settings) -> None:
    run, created = db.run_sync(q.create_run(campaign="sync"))

    assert created and db.run_sync(q.get_run(run.id)) == run


def test_run_sync_from_several_threads(db_settings: Settings) -> None:
    _, ids = db.run_sync(run_with(8))
    winners: list[bool] = []

    def claim(message_id: int) -> None:
        winners.append(db.run_sync(q.claim_for_send(message_id)) is not None)

    threads = [threading.Thread(target=claim, args=(i,)) for i in ids + ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(winners) == [False] * 8 + [True] * 8


def test_each_event_loop_can_use_the_database(db_settings: Settings) -> None:
    # Given loops that come and go (as in threads of a worker), each query works on its own loop.
    results = [asyncio.run(q.create_run(campaign=f"loop-{n}")) for n in range(3)]
    from_background = db.run_sync(q.list_runs())

    assert all(created for _, created in results)
    assert {r.campaign for r in from_background} >= {"loop-0", "loop-1", "loop-2"}


def test_postgres_pools_are_per_loop(pg_settings: Settings) -> None:
    engine = db.current_engine()
    assert isinstance(engine, db.LoopPoolPostgresEngine)

    async def pool_id() -> int:
        await q.list_runs()
        pool = engine.pool
        assert pool is not None
        return id(pool)

    async def two_calls() -> tuple[int, int]:
        return await pool_id(), await pool_id()

    first, again = asyncio.run(two_calls())
    other = db.run_sync(pool_id())

    assert first == again and first != other


def test_run_sync_inside_the_database_loop_is_refused(db_settings: Settings) -> None:
    async def nested() -> None:
        db.run_sync(q.list_runs())

    with pytest.raises(RuntimeError):
        db.run_sync(nested())


def test_current_engine_before_connect_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.errors import HubError

    monkeypatch.setattr(db, "_engine", None)
    with pytest.raises(HubError):
        db.current_engine()


@pytest.fixture
def stalling_settings(pg_url: str, tmp_path: Path) -> Iterator[tuple[Settings, CuttableProxy]]:
    """The test ledger reached through a proxy the test can stall."""
    proxy = proxy_for(pg_url)
    try:
        yield settings_for(tmp_path, through(pg_url, proxy)), proxy
    finally:
        proxy.restore()
        db.reset()
        proxy.close()


@pytest.mark.parametrize("in_transaction", [False, True])
def test_a_stalled_database_is_a_timeout_on_an_interactive_loop_and_the_pool_recovers(
    stalling_settings: tuple[Settings, CuttableProxy], in_transaction: bool
) -> None:
    settings, proxy = stalling_settings

    async def read() -> object:
        if not in_transaction:
            return await q.get_run(1)
        async with db.transaction():
            return await q.get_run(1)

    async def scenario() -> tuple[bool, object]:
        await db.connect(settings, interactive=True)
        await q.get_run(1)  # the pool holds an open connection when the stall begins
        proxy.stall()
        try:
            await read()
        except TimeoutError:
            timed_out = True
        else:
            timed_out = False
        proxy.restore()
        return timed_out, await read()

    assert asyncio.run(scenario()) == (True, None)
