from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-24T02:43:18:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique keys of runs and messages"

# Composite keys as plain unique indexes: Piccolo's table-level Unique breaks on SQLite.
INDEXES = {
    # One ledger row per run, step and recipient: re-running a fan-out chunk creates nothing new.
    "message_run_recipient_step": "CREATE UNIQUE INDEX IF NOT EXISTS message_run_recipient_step"
    " ON message (run, recipient, step)",
    # One run per campaign fire: the scheduler's exactly-once key (NULL fire keys never collide).
    "run_campaign_fire_key": "CREATE UNIQUE INDEX IF NOT EXISTS run_campaign_fire_key ON run (campaign, fire_key)",
    # The due sweep scans owed rows by due time.
    "message_status_send_at": "CREATE INDEX IF NOT EXISTS message_status_send_at ON message (status, send_at)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="hub", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        for ddl in INDEXES.values():
            await engine.run_ddl(ddl)

    async def drop_indexes():
        engine = engine_finder()
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)

    return manager
