"""The database engine: PostgreSQL with one asyncpg pool per event loop (a pool cannot cross loops)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

from hub.config import redact_url
from hub.errors import ConfigError

#: Connections per event loop and process on PostgreSQL.
PG_POOL_MIN_SIZE = 1
PG_POOL_MAX_SIZE = 10
#: Seconds to open a connection: a database that does not answer (stalled, not refusing) fails fast.
PG_CONNECT_TIMEOUT_S = 1.0
#: Seconds a statement may take on a pool that serves requests (the API answers 503 within 2 s when it is exceeded).
INTERACTIVE_COMMAND_TIMEOUT_S = 1.5
#: Seconds a statement may take elsewhere (workers, scheduler, CLI, migrations): bounded, with room for big batches.
BACKGROUND_COMMAND_TIMEOUT_S = 30.0


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Pool release hook: skip asyncpg's default reset query (``RESET ALL; UNLISTEN *; ...``), one extra round
    trip per statement (measured: 4,200 -> 10,600 pooled ``SELECT 1``/s at 16 in flight). The hub sets no session
    state (no SET, LISTEN, advisory locks or cursors on pooled connections), so there is nothing to reset."""


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _drop_if_timed_out(connection: asyncpg.Connection, exc: BaseException | None) -> bool:
    """After a statement timed out, asyncpg cancels it over the network, and giving the connection back (or a
    ROLLBACK) first waits for that as long again: against a stalled server, twice the limit. Dropping the
    connection instead ends its transaction on the server and frees the caller at once."""
    if isinstance(exc, TimeoutError):
        connection.terminate()
        return True
    return False


async def _fetch_pooled(pool: asyncpg.Pool, sql: str, args: Sequence[Any], timeout_s: float | None) -> list[Any]:
    connection = await pool.acquire()
    try:
        return list(await connection.fetch(sql, *args, timeout=timeout_s))
    except BaseException as exc:
        _drop_if_timed_out(connection, exc)
        raise
    finally:
        await pool.release(connection)


class _LoopTransaction(PostgresTransaction):
    engine: LoopPoolPostgresEngine

    async def get_connection(self) -> Any:
        await self.engine.ensure_pool()
        return await super().get_connection()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent is None and _drop_if_timed_out(self.connection, exception):
            self._rolled_back = True  # the server rolls back the transaction of a dropped connection
        return await super().__aexit__(exception_type, exception, traceback)


class LoopPoolPostgresEngine(PostgresEngine):
    """PostgreSQL with one asyncpg pool per running event loop (a pool cannot cross loops)."""

    def __init__(self, url: str) -> None:
        self._pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}
        self._creating: dict[asyncio.AbstractEventLoop, asyncio.Future[asyncpg.Pool]] = {}
        self._command_timeouts: dict[asyncio.AbstractEventLoop, float] = {}
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
                self._command_timeouts.clear()
                self._creating.clear()
                return
            for loop in [loop for loop in self._pools if loop.is_closed()]:
                pool = self._pools.pop(loop)
                self._command_timeouts.pop(loop, None)
                with contextlib.suppress(Exception):
                    pool.terminate()

    async def ensure_pool(self, command_timeout_s: float = BACKGROUND_COMMAND_TIMEOUT_S) -> asyncpg.Pool:
        """The running loop's pool, created on first use with ``command_timeout_s`` for its statements."""
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
                pool = await asyncpg.create_pool(
                    dsn=self.url,
                    min_size=PG_POOL_MIN_SIZE,
                    max_size=PG_POOL_MAX_SIZE,
                    reset=_keep_session,
                    timeout=PG_CONNECT_TIMEOUT_S,
                    command_timeout=command_timeout_s,
                )
            except BaseException as exc:
                self._creating.pop(loop, None)
                pending.set_exception(exc)
                pending.exception()  # mark retrieved: the caller re-raises it
                raise
            self._pools[loop] = pool
            self._command_timeouts[loop] = command_timeout_s
            self._creating.pop(loop, None)
            pending.set_result(pool)
            return pool
        return await asyncio.shield(pending)

    async def fetch(self, sql: str, args: Sequence[Any], *, at_least_s: float | None = None) -> list[dict[str, Any]]:
        """Run one raw statement (``$n`` placeholders) in the task's transaction, else on the loop's pool.

        Args:
            at_least_s: allow the statement this many seconds when the pool's limit is shorter (big batches).
        """
        timeout_s = None
        if at_least_s is not None:
            timeout_s = max(at_least_s, self._command_timeouts.get(asyncio.get_running_loop(), 0.0))
        tx = self.current_transaction.get()
        if tx is not None:
            return [dict(row) for row in await tx.connection.fetch(sql, *args, timeout=timeout_s)]
        pool = await self.ensure_pool()
        return [dict(row) for row in await _fetch_pooled(pool, sql, args, timeout_s)]

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None) -> Any:
        # Piccolo's queries outside transactions: the same drop-on-timeout as fetch().
        return await _fetch_pooled(await self.ensure_pool(), query, args or [], None)

    async def close_pool(self) -> None:
        """Close the running loop's pool, if it has one."""
        loop = asyncio.get_running_loop()
        pool = self._pools.pop(loop, None)
        self._command_timeouts.pop(loop, None)
        if pool is not None:
            await pool.close()

    def close_all(self, timeout_s: float = 5.0) -> None:
        """Close every pool from sync code: politely on loops still running elsewhere, else by force."""
        with self._lock:
            pools = list(self._pools.items())
            self._pools.clear()
            self._command_timeouts.clear()
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


HubEngine = LoopPoolPostgresEngine


def build_engine(url: str) -> HubEngine:
    """Make the engine for a ``postgresql://...`` URL.

    Raises:
        ConfigError: any other scheme.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return LoopPoolPostgresEngine(url)
    raise ConfigError(f"database.url: expected postgresql://... or embedded, got {redact_url(url)!r}")


__all__ = [
    "BACKGROUND_COMMAND_TIMEOUT_S",
    "INTERACTIVE_COMMAND_TIMEOUT_S",
    "PG_CONNECT_TIMEOUT_S",
    "PG_POOL_MAX_SIZE",
    "PG_POOL_MIN_SIZE",
    "HubEngine",
    "LoopPoolPostgresEngine",
    "build_engine",
]
