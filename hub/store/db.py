"""Database engines and their lifecycle: connect per event loop, run from sync code, migrate.

One process may touch the database from several event loops (the web server's loop, Dramatiq's
AsyncIO thread, and sync callers such as the CLI and APScheduler threads, which go through
:func:`run_sync`). An asyncpg pool belongs to the loop that created it, so on PostgreSQL the engine
keeps one pool per running loop, created on first use. SQLite needs no pool: each query opens a
connection with WAL, a 30 s busy timeout and ``synchronous=NORMAL``, which is safe across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import sqlite3
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import asyncpg
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, dict_factory
from piccolo.table import Table

from hub.config import Settings, redact_url
from hub.errors import ConfigError, HubError
from hub.store.piccolo_app import APP_NAME
from hub.store.tables import TABLES

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds a SQLite writer waits for the lock before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Connections per event loop and process on PostgreSQL.
PG_POOL_MIN_SIZE = 1
PG_POOL_MAX_SIZE = 10
_SQLITE_PREFIX = "sqlite:///"
_PICCOLO_CONF = "hub.store.piccolo_conf"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class MigrationError(HubError):
    """The schema could not be created or upgraded."""


class HubSQLiteEngine(SQLiteEngine):
    """SQLite with the set-up several processes need: WAL (set once, persistent), busy timeout, NORMAL sync.

    Queries outside transactions share one connection per process, used by one thread at a time: opening
    a connection costs about 6 ms, a statement on an open one about 0.05 ms, and SQLite has a single
    writer anyway. It is a plain ``sqlite3`` connection driven through ``asyncio.to_thread``, so it works
    from any event loop. Transactions (migrations) still get their own aiosqlite connection.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
        self.url = _SQLITE_PREFIX + path
        self._prepared = False
        self._shared: sqlite3.Connection | None = None
        self._shared_pid = 0
        self._shared_lock = threading.Lock()

    async def check_version(self) -> None:  # the bundled sqlite3 is new enough; skip the log line
        return None

    async def prepare(self) -> None:
        """Create the file's folder and switch the database to WAL (a persistent, per-file setting)."""
        if self._prepared:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(**self.connection_kwargs) as connection:
            await connection.execute("PRAGMA journal_mode=WAL")
        self._prepared = True

    async def get_connection(self) -> aiosqlite.Connection:
        connection = await super().get_connection()
        await connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def _connection(self) -> sqlite3.Connection:
        # Called with _shared_lock held. A connection inherited through fork must not be used.
        if self._shared is None or self._shared_pid != os.getpid():
            connection = sqlite3.connect(**self.connection_kwargs, check_same_thread=False)
            connection.row_factory = dict_factory
            connection.execute("PRAGMA foreign_keys = 1")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._shared, self._shared_pid = connection, os.getpid()
        return self._shared

    def _execute(self, query: str, args: list[Any]) -> list[dict[str, Any]]:
        with self._shared_lock:
            cursor = self._connection().execute(query, args)
            try:
                return cursor.fetchall()
            finally:
                cursor.close()

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        # Autocommit (isolation_level=None): each statement is its own transaction.
        return await asyncio.to_thread(self._execute, query, list(args or []))

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        """Run one raw statement (``?`` placeholders) on the shared connection; rows as dicts."""
        return await asyncio.to_thread(self._execute, sql, list(args))

    def close(self) -> None:
        """Close the shared connection (it reopens on next use)."""
        with self._shared_lock:
            if self._shared is not None and self._shared_pid == os.getpid():
                self._shared.close()
            self._shared = None


class _LoopTransaction(PostgresTransaction):
    engine: LoopPoolPostgresEngine

    async def get_connection(self) -> Any:
        await self.engine.ensure_pool()
        return await super().get_connection()


class LoopPoolPostgresEngine(PostgresEngine):
    """PostgreSQL with one asyncpg pool per running event loop (a pool cannot cross loops)."""

    def __init__(self, url: str) -> None:
        self._pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}
        self._creating: dict[asyncio.AbstractEventLoop, asyncio.Future[asyncpg.Pool]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.url = url
        super().__init__(config={"dsn": url}, extensions=())

    async def check_version(self) -> None:  # avoids a blocking connection at construction time
        return None

    @property
    def pool(self) -> asyncpg.Pool | None:
        loop = _running_loop()
        return self._pools.get(loop) if loop is not None else None

    @pool.setter
    def pool(self, value: asyncpg.Pool | None) -> None:
        # Piccolo assigns None in __init__ and after closing; pools are managed by ensure_pool/close_pool.
        if value is not None:
            raise AttributeError("pools are created per event loop by ensure_pool()")

    def _forget_foreign(self) -> None:
        """Drop pools of closed loops, and every pool inherited through fork (the sockets are the parent's)."""
        with self._lock:
            if os.getpid() != self._pid:
                self._pid = os.getpid()
                self._pools.clear()
                self._creating.clear()
                return
            for loop in [loop for loop in self._pools if loop.is_closed()]:
                pool = self._pools.pop(loop)
                with contextlib.suppress(Exception):
                    pool.terminate()

    async def ensure_pool(self) -> asyncpg.Pool:
        """The running loop's pool, created on first use."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None and os.getpid() == self._pid:
            return pool
        self._forget_foreign()
        pending = self._creating.get(loop)
        if pending is None:
            pending = loop.create_future()
            self._creating[loop] = pending
            try:
                pool = await asyncpg.create_pool(dsn=self.url, min_size=PG_POOL_MIN_SIZE, max_size=PG_POOL_MAX_SIZE)
            except BaseException as exc:
                self._creating.pop(loop, None)
                pending.set_exception(exc)
                pending.exception()  # mark retrieved: the caller re-raises it
                raise
            self._pools[loop] = pool
            self._creating.pop(loop, None)
            pending.set_result(pool)
            return pool
        return await asyncio.shield(pending)

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        """Run one raw statement (``$n`` placeholders) on the running loop's pool; rows as dicts."""
        pool = await self.ensure_pool()
        return [dict(row) for row in await pool.fetch(sql, *args)]

    async def close_pool(self) -> None:
        """Close the running loop's pool, if it has one."""
        loop = asyncio.get_running_loop()
        pool = self._pools.pop(loop, None)
        if pool is not None:
            await pool.close()

    def close_all(self, timeout_s: float = 5.0) -> None:
        """Close every pool from sync code: politely on loops still running elsewhere, else by force."""
        with self._lock:
            pools = list(self._pools.items())
            self._pools.clear()
        for loop, pool in pools:
            with contextlib.suppress(Exception):
                if loop.is_running() and not loop.is_closed() and _running_loop() is not loop:
                    asyncio.run_coroutine_threadsafe(pool.close(), loop).result(timeout_s)
                else:
                    pool.terminate()

    async def run_querystring(self, querystring: Any, in_pool: bool = True) -> Any:
        if self.current_transaction.get() is None:
            await self.ensure_pool()
        return await super().run_querystring(querystring, in_pool=in_pool)

    async def run_ddl(self, ddl: str, in_pool: bool = True) -> Any:
        if self.current_transaction.get() is None:
            await self.ensure_pool()
        return await super().run_ddl(ddl, in_pool=in_pool)

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return _LoopTransaction(engine=self, allow_nested=allow_nested)


HubEngine = HubSQLiteEngine | LoopPoolPostgresEngine

# Engines are kept per URL (tests switch databases in one process; pools stay with their engine).
_engines: dict[str, HubEngine] = {}
_engine: HubEngine | None = None
_engine_lock = threading.Lock()


def build_engine(url: str) -> HubEngine:
    """Make the engine for a ``database.url`` (``sqlite:///ABS_PATH`` or ``postgresql://...``).

    Raises:
        ConfigError: an unsupported scheme, or an in-memory SQLite database (each query opens its
            own connection, so it would see an empty database).
    """
    if url.startswith(_SQLITE_PREFIX):
        path = url[len(_SQLITE_PREFIX) :]
        if not path or path == ":memory:":
            raise ConfigError("database.url: an in-memory SQLite database is not supported; give a file path")
        return HubSQLiteEngine(path)
    if url.startswith(("postgresql://", "postgres://")):
        return LoopPoolPostgresEngine(url)
    raise ConfigError(f"database.url: expected sqlite:///PATH or postgresql://..., got {redact_url(url)!r}")


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

    return use_engine(load_settings().database.url)


async def connect(settings: Settings) -> None:
    """Bind the tables to ``settings.database.url`` and open the running loop's pool (PostgreSQL).

    Idempotent; call it once per event loop at start-up (further loops get a pool on first use anyway).
    """
    engine = use_engine(settings.database.url)
    if isinstance(engine, HubSQLiteEngine):
        await engine.prepare()
    else:
        await engine.ensure_pool()


async def disconnect() -> None:
    """Close the running loop's pool (a no-op on SQLite). Other loops keep theirs."""
    engine = _engine
    if isinstance(engine, LoopPoolPostgresEngine):
        await engine.close_pool()


def reset() -> None:
    """Forget every engine and drop their pools without waiting (tests switching databases; shutdown)."""
    global _engine
    with _engine_lock:
        for engine in _engines.values():
            if isinstance(engine, LoopPoolPostgresEngine):
                engine.close_all()
            else:
                engine.close()
        _engines.clear()
        _engine = None


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
    if isinstance(engine, LoopPoolPostgresEngine):
        connection = await asyncpg.connect(dsn=engine.url)
        try:
            await connection.execute("SELECT pg_advisory_lock(hashtext('hub.store.migrate'))")
            yield
        finally:
            await connection.close()  # ends the session, which releases the lock
    else:
        import fcntl

        lock_path = Path(engine.path + ".migrate-lock")
        with lock_path.open("a") as handle:
            await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
    "HubSQLiteEngine",
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
    "use_engine",
]
