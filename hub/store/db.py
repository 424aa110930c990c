"""Database engines and their lifecycle: connect per event loop, run from sync code, migrate.

One process may touch the database from several event loops (the web server's loop, Dramatiq's
AsyncIO thread, and sync callers such as the CLI and APScheduler threads, which go through
:func:`run_sync`). An asyncpg pool belongs to the loop that created it, so on PostgreSQL the engine
keeps one pool per running loop, created on first use (see :mod:`hub.store.engines`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import asyncpg
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.table import Table

from hub.config import Settings, redact_url
from hub.errors import HubError
from hub.store.embedded import EMBEDDED, database_url
from hub.store.engines import (
    BACKGROUND_COMMAND_TIMEOUT_S,
    INTERACTIVE_COMMAND_TIMEOUT_S,
    HubEngine,
    LoopPoolPostgresEngine,
    build_engine,
)
from hub.store.piccolo_app import APP_NAME
from hub.store.tables import TABLES

log = logging.getLogger(__name__)

T = TypeVar("T")

_PICCOLO_CONF = "hub.store.piccolo_conf"


class MigrationError(HubError):
    """The schema could not be created or upgraded."""


# Engines are kept per URL (tests switch databases in one process; pools stay with their engine).
_engines: dict[str, HubEngine] = {}
_engine: HubEngine | None = None
_engine_lock = threading.Lock()


def _bind(engine: Engine) -> None:
    tables: tuple[type[Table], ...] = (*TABLES, Migration)
    for table in tables:
        table._meta.db = engine


def use_engine(url: str) -> HubEngine:
    """Bind every table to the engine for ``url`` (built on first use, then reused)."""
    global _engine
    with _engine_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = build_engine(url)
        if _engine is not engine:
            _bind(engine)
            _engine = engine
            log.debug("database engine bound to %s", redact_url(url))
        return engine


def current_engine() -> HubEngine:
    """The bound engine.

    Raises:
        HubError: :func:`connect` has not been called in this process.
    """
    if _engine is None:
        raise HubError("the database is not connected: call hub.store.db.connect(settings) first")
    return _engine


def engine_for_piccolo() -> HubEngine:
    """``DB`` of :mod:`hub.store.piccolo_conf`: the bound engine, else one built from the settings."""
    if _engine is not None:
        return _engine
    from hub.config import load_settings

    return use_engine(database_url(load_settings()))


async def connect(settings: Settings, *, interactive: bool = False) -> None:
    """Bind the tables to ``settings.database.url`` and open the running loop's pool.

    Idempotent; call it once per event loop at start-up (further loops get a pool on first use anyway). With
    ``embedded`` it starts the embedded server first, or reuses the one running on the same data folder.

    Args:
        interactive: the loop serves requests: its statements time out after
            :data:`~hub.store.engines.INTERACTIVE_COMMAND_TIMEOUT_S` (else the background limit), so a stalled
            database is an answer (503) within 2 s rather than a hung request.
    """
    url = settings.database.url
    if url == EMBEDDED:
        url = await asyncio.to_thread(database_url, settings)
    timeout_s = INTERACTIVE_COMMAND_TIMEOUT_S if interactive else BACKGROUND_COMMAND_TIMEOUT_S
    await use_engine(url).ensure_pool(command_timeout_s=timeout_s)


async def disconnect() -> None:
    """Close the running loop's pool. Other loops keep theirs."""
    if _engine is not None:
        await _engine.close_pool()


def reset() -> None:
    """Forget every engine and drop their pools without waiting (tests switching databases; shutdown)."""
    global _engine
    with _engine_lock:
        for engine in _engines.values():
            engine.close_all()
        _engines.clear()
        _engine = None


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """Run the enclosed store calls as one database transaction: all of them commit, or none.

    A Piccolo transaction on a connection of the running loop's pool. Store calls made inside (Piccolo
    queries and raw ``engine.fetch``) use the transaction; nesting joins the outer one.
    """
    async with current_engine().transaction():
        yield


class _LoopThread:
    """One event loop on a daemon thread, so sync callers share one PostgreSQL pool per process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hub-db-loop", daemon=True)
        self.thread.start()


_background: _LoopThread | None = None
_background_lock = threading.Lock()


def _background_loop() -> _LoopThread:
    global _background
    with _background_lock:
        # After fork the thread is gone (only the forking thread survives): start a new one.
        if _background is None or _background.pid != os.getpid() or not _background.thread.is_alive():
            _background = _LoopThread()
        return _background


def run_sync(coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
    """Run ``coro`` from sync code on this process's persistent database loop and return its result.

    Args:
        coro: the coroutine (typically a :mod:`hub.store.queries` call).
        timeout_s: seconds to wait for the result; None waits forever.

    Raises:
        RuntimeError: called from the database loop's own thread (it would deadlock).
    """
    background = _background_loop()
    if threading.current_thread() is background.thread:
        coro.close()
        raise RuntimeError("run_sync() called from the database loop itself; await the coroutine instead")
    return asyncio.run_coroutine_threadsafe(coro, background.loop).result(timeout_s)


@contextlib.asynccontextmanager
async def _migration_lock(engine: HubEngine) -> Any:
    # Several processes may start at once on a fresh database; only one may create the tables.
    connection = await asyncpg.connect(dsn=engine.url)
    try:
        await connection.execute("SELECT pg_advisory_lock(hashtext('hub.store.migrate'))")
        yield
    finally:
        await connection.close()  # ends the session, which releases the lock


async def migrate(settings: Settings) -> list[str]:
    """Create or upgrade the schema with Piccolo's migrations; running it again does nothing.

    Returns:
        The ids of the migrations applied now (empty when the schema was current).

    Raises:
        MigrationError: a migration failed (Piccolo's message is included).
    """
    from piccolo.apps.migrations.commands.forwards import run_forwards

    await connect(settings)
    engine = current_engine()
    # Piccolo's migration runner finds the engine through PICCOLO_CONF; ours serves the bound engine.
    os.environ["PICCOLO_CONF"] = _PICCOLO_CONF
    async with _migration_lock(engine):
        before = await _applied_migrations()
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output):
                result = await run_forwards(app_name=APP_NAME)
        except Exception as exc:
            log.debug("piccolo migrations: %s", output.getvalue())
            raise MigrationError(f"database migration failed: {type(exc).__name__}: {exc}") from exc
        log.debug("piccolo migrations: %s", output.getvalue())
        if not result.success:
            raise MigrationError(f"database migration failed: {result.message}")
        after = await _applied_migrations()
    return sorted(set(after) - set(before))


async def _applied_migrations() -> list[str]:
    await Migration.create_table(if_not_exists=True)
    return await Migration.get_migrations_which_ran(app_name=APP_NAME)


__all__ = [
    "LoopPoolPostgresEngine",
    "MigrationError",
    "build_engine",
    "connect",
    "current_engine",
    "disconnect",
    "engine_for_piccolo",
    "migrate",
    "reset",
    "run_sync",
    "transaction",
    "use_engine",
]
