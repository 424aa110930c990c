from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "message search by recipient: an index on (recipient, id)"

# The search by phone (GET /v1/messages?to=, /ui/messages?phone=) lists one number's rows newest first; the
# (run, recipient, step, entry) key cannot serve it without a run, so it scanned the ledger (120 ms at 1,000,000).
FORWARDS = ["CREATE INDEX IF NOT EXISTS message_recipient ON message (recipient, id)"]
BACKWARDS = ["DROP INDEX IF EXISTS message_recipient"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="hub", description=DESCRIPTION)

    async def create():
        for ddl in FORWARDS:
            await engine_finder().run_ddl(ddl)

    async def drop():
        for ddl in BACKWARDS:
            await engine_finder().run_ddl(ddl)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
