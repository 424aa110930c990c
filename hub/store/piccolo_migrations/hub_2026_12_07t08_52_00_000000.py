from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T08:52:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "journeys: no foreign-key checks on a journey's path lines and message rows (their entry is locked)"

# A journey's path lines and message rows are written by the statement that updates their entry, in the
# transaction that holds the entry's lock (hub/store/sql/journeys.sql save_entries), and nothing deletes an entry
# (a run is never deleted). The two checks proved nothing, and cost more than half of that statement's time:
# 65 of 135 ms for a batch of 1,000 timers (3,000 path lines, 1,000 rows) at 300,000 entries (EXPLAIN ANALYZE).
FORWARDS = [
    "ALTER TABLE journey_path DROP CONSTRAINT IF EXISTS journey_path_entry_fkey",
    "ALTER TABLE message DROP CONSTRAINT IF EXISTS message_entry_fkey",
]

BACKWARDS = [
    "ALTER TABLE journey_path ADD CONSTRAINT journey_path_entry_fkey FOREIGN KEY (entry)"
    " REFERENCES journey_entry (id) ON DELETE CASCADE",
    "ALTER TABLE message ADD CONSTRAINT message_entry_fkey FOREIGN KEY (entry)"
    " REFERENCES journey_entry (id) ON DELETE SET NULL",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
