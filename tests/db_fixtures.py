"""Database fixtures (a pytest plugin loaded from ``tests/conftest.py``): migrated, connected ledgers.

- ``sqlite_settings``: Settings on a fresh SQLite file in ``tmp_path``, migrated and connected. Always runs.
- ``pg_settings``: Settings on a PostgreSQL database created for this test session
  (``hub_test_<random>`` on the server of ``HUB_TEST_DATABASE_URL``, dropped at session end; no other
  database is touched), migrated once, connected, with every table emptied before each test.
  Skips when ``HUB_TEST_DATABASE_URL`` is unset, fails when ``CI`` is set (like ``postgres_url``).
- ``db_settings``: parametrized over both (``[sqlite]`` and ``[postgres]`` test ids).

"Connected" means the tables are bound to that database; on PostgreSQL each event loop gets its own
pool on first use, so async tests (``@pytest.mark.anyio``) and sync code (``hub.store.db.run_sync``)
both work. An async test may ``await hub.store.db.disconnect()`` at its end to close its loop's pool
early; pools of closed loops are dropped on the next use anyway.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

from hub.config import Settings, load_settings
from hub.store import db

_TABLES = "run, message, status_event, contact, inbound_message, idempotency_key"


def _infra_url(var: str) -> str:
    # The rule of tests/conftest.py: skip locally, fail in CI.
    url = os.environ.get(var)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{var} is not set: CI must run the integration tests against real servers")
        pytest.skip(f"{var} not set (integration test against a real server)")
    return url


def _settings_for(folder: Path, url: str) -> Settings:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": url}}), encoding="utf-8")
    return load_settings(path, env={})


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn=url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def _pg_session_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A fresh, migrated PostgreSQL database for the whole session."""
    admin_url = _infra_url("HUB_TEST_DATABASE_URL")
    name = f"hub_test_{secrets.token_hex(6)}"
    db.run_sync(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    settings = _settings_for(tmp_path_factory.mktemp("pg"), _with_database(admin_url, name))
    try:
        db.run_sync(db.migrate(settings))
        yield settings
    finally:
        db.reset()
        db.run_sync(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings on a fresh SQLite file (``tmp_path/hub.db``), migrated and connected."""
    folder = tmp_path / "sqlite-db"
    folder.mkdir()
    settings = _settings_for(folder, "sqlite:///hub.db")
    db.run_sync(db.migrate(settings))
    return settings


@pytest.fixture
def pg_settings(_pg_session_settings: Settings) -> Settings:
    """Settings on this session's PostgreSQL test database, connected, every table emptied first."""
    db.run_sync(db.connect(_pg_session_settings))
    db.run_sync(_admin(_pg_session_settings.database.url, f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
    return _pg_session_settings


@pytest.fixture(params=["sqlite", "postgres"])
def db_settings(request: pytest.FixtureRequest) -> Settings:
    """``sqlite_settings`` or ``pg_settings``: the same test runs on both engines."""
    name = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    settings: Settings = request.getfixturevalue(name)
    return settings


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the loop the hub uses everywhere)."""
    return "asyncio"


__all__ = ["db_settings", "pg_settings", "sqlite_settings"]
