"""Migrations: a fresh database gets the baseline (bigint ids, composite keys), a second run is a no-op."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.config import Settings
from hub.store import db

pytestmark = pytest.mark.anyio

_MIGRATIONS = Path(db.__file__).parent / "piccolo_migrations"


def _config(folder: Path, url: str) -> Path:
    config = folder / "config.yaml"
    config.write_text(f"database:\n  url: '{url}'\n", encoding="utf-8")
    return config


async def test_migrate_twice_is_a_noop(db_settings: Settings) -> None:
    assert await db.migrate(db_settings) == []


async def test_a_fresh_database_gets_the_baseline_then_each_later_migration(
    make_settings, empty_database_url: str
) -> None:  # type: ignore[no-untyped-def]
    applied = await db.migrate(make_settings({"database": {"url": empty_database_url}}))

    files = sorted(_MIGRATIONS.glob("hub_*.py"))
    assert len(applied) == len(files)
    assert applied[0] == "2026-12-07T05:22:25:060240"  # the one baseline; later files add to it


async def test_every_id_and_reference_to_one_is_bigint(pg_url: str) -> None:
    connection = await asyncpg.connect(dsn=pg_url)
    try:
        rows = await connection.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name <> 'migration'"  # Piccolo's own table
            " AND (column_name = 'id' OR (table_name, column_name) IN"
            " (('message', 'run'), ('status_event', 'message')))"
        )
    finally:
        await connection.close()

    assert len(rows) >= 9
    assert {(r["table_name"], r["column_name"]): r["data_type"] for r in rows if r["data_type"] != "bigint"} == {}


async def test_composite_keys_exist(pg_url: str) -> None:
    connection = await asyncpg.connect(dsn=pg_url)
    try:
        names = {r["indexname"] for r in await connection.fetch("SELECT indexname FROM pg_indexes")}
    finally:
        await connection.close()

    assert {"message_run_recipient_step", "run_campaign_fire_key", "message_status_send_at"} <= names


def test_cli_migrate_reports_up_to_date(tmp_path: Path, empty_database_url: str) -> None:
    config = _config(tmp_path, empty_database_url)
    runner = CliRunner()

    first = runner.invoke(main, ["--config", str(config), "db", "migrate"])
    second = runner.invoke(main, ["--config", str(config), "db", "migrate"])

    assert first.exit_code == 0 and "applied" in first.output
    assert second.exit_code == 0 and "up to date" in second.output


@pytest.mark.parametrize("url", ["mysql://somewhere/db", "sqlite:///hub.db"])
def test_cli_migrate_rejects_a_database_that_is_not_postgresql(tmp_path: Path, url: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(_config(tmp_path, url)), "db", "migrate"])

    assert result.exit_code == 2 and "database.url: expected postgresql://... or embedded" in result.output


async def test_the_search_by_phone_reads_an_index_newest_first(pg_url: str) -> None:
    connection = await asyncpg.connect(dsn=pg_url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL enable_seqscan = off")  # a tiny test table would be scanned anyway
            plan = await connection.fetch(
                "EXPLAIN SELECT * FROM message WHERE recipient = $1 ORDER BY id DESC LIMIT 51", "+14155550100"
            )
    finally:
        await connection.close()

    assert "Index Scan Backward using message_recipient" in "\n".join(row[0] for row in plan)
