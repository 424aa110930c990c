from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "message search by recipient: an index on (recipient, id)"

# The search by phone (GET /v1/messages?to=, /ui/messages?phone=) lists one number's rows newest first; the
# (run, recipient, step, entry) key cannot serve it without a run, so it scanned the ledger (120 ms at 1,000,000).
FORWARDS = ["CREATE INDEX IF NOT EXISTS message_recipient ON message (recipient, id)"]
BACKWARDS = ["DROP INDEX IF EXISTS message_recipient"]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
