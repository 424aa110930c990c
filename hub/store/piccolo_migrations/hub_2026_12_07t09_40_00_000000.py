from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T09:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "message: drop the run and status indexes that wider indexes already cover"

# message_run (run) is the leading column of message_run_recipient_step, message_status (status) of
# message_status_send_at: every insert and every status change wrote both for no read the wider ones cannot serve.
FORWARDS = ["DROP INDEX IF EXISTS message_run", "DROP INDEX IF EXISTS message_status"]
BACKWARDS = [
    "CREATE INDEX IF NOT EXISTS message_run ON message (run)",
    "CREATE INDEX IF NOT EXISTS message_status ON message (status)",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
