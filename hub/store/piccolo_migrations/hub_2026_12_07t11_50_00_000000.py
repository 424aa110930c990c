from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T11:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "message: the sid and sent_at indexes hold only rows that have one"

# A row gets its sid and sent_at when Twilio takes it. Indexing the nulls too wrote two index entries per row at
# the fan-out and two more at its claim (a status change is never a HOT update), entries no read uses: every
# read of them compares a value (sid = ..., sent_at >= ...), which implies the column is not null. Same
# uniqueness of sids.
FORWARDS = [
    "DROP INDEX IF EXISTS message_sent_at",
    "CREATE INDEX message_sent_at ON message (sent_at) WHERE sent_at IS NOT NULL",
    "ALTER TABLE message DROP CONSTRAINT IF EXISTS message_sid_key",
    "CREATE UNIQUE INDEX message_sid_key ON message (sid) WHERE sid IS NOT NULL",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS message_sid_key",
    "ALTER TABLE message ADD CONSTRAINT message_sid_key UNIQUE (sid)",
    "DROP INDEX IF EXISTS message_sent_at",
    "CREATE INDEX message_sent_at ON message (sent_at)",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
