"""Migrations: a fresh database gets the schema, a second run is a no-op, composite keys exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.config import Settings
from hub.store import db

pytestmark = pytest.mark.anyio


async def test_migrate_twice_is_a_noop(db_settings: Settings) -> None:
    assert await db.migrate(db_settings) == []


async def test_fresh_sqlite_file_gets_every_migration(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings({"database": {"url": "sqlite:///data/fresh.db"}})

    applied = await db.migrate(settings)

    assert len(applied) == len(list((Path(db.__file__).parent / "piccolo_migrations").glob("hub_*.py")))
    assert (tmp_path / "data" / "fresh.db").exists()


async def test_sqlite_database_is_in_wal_mode(sqlite_settings: Settings) -> None:
    import sqlite3

    path = sqlite_settings.database.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cli_migrate_reports_up_to_date(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("database:\n  url: sqlite:///cli.db\n", encoding="utf-8")
    runner = CliRunner()

    first = runner.invoke(main, ["--config", str(config), "db", "migrate"])
    second = runner.invoke(main, ["--config", str(config), "db", "migrate"])

    assert first.exit_code == 0 and "applied" in first.output
    assert second.exit_code == 0 and "up to date" in second.output


def test_cli_migrate_rejects_unknown_database_scheme(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("database:\n  url: mysql://somewhere/db\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["--config", str(config), "db", "migrate"])

    assert result.exit_code == 1 and "database.url" in result.output
