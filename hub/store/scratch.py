"""Scratch databases on a PostgreSQL server: created empty for a test or a benchmark, dropped with ``FORCE`` after."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead (query parameters, such as a socket folder, are kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin_execute(server_url: str, sql: str) -> None:
    """Run one statement on its own connection, from any thread, inside or outside a running event loop."""

    async def run() -> None:
        import asyncpg

        connection = await asyncpg.connect(dsn=server_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    # A thread of its own: callers may already be inside an event loop (pytest-asyncio, the hub's sync bridge).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str = "hub_scratch") -> Iterator[str]:
    """A new, empty database ``<prefix>_<random>`` on the server of ``server_url``; yields its URL, drops it after."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
