from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T11:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "message: a run's owed rows in id order (partial index on pending rows)"

# The send path queues a run's next owed rows above its cursor each batch (hub/run_share.py). Through the wider
# indexes the planner read every row of the run, or every owed row, per batch (5 ms at 20,000); this one holds only
# pending rows, so a claim or a callback writes nothing to it, and an insert one small entry.
FORWARDS = ["CREATE INDEX IF NOT EXISTS message_owed ON message (run, id) WHERE status = 'pending'"]
BACKWARDS = ["DROP INDEX IF EXISTS message_owed"]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
