from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "run tallies: no foreign key to run and no id (a deleted run's tallies go with it by trigger)"

# The triggers append a few tally rows per statement on message. Each row's foreign key check was a query of its
# own, and a KEY SHARE lock on the run row that concurrent writers (callbacks, claims) turned into multixacts; each
# row's id cost a sequence value and a primary key entry, for no read. Tally rows are written only by the
# triggers, from rows whose run exists; a run deleted takes its tallies with it (run_tallies_gone), as the
# cascade did.
FORWARDS = [
    "ALTER TABLE run_tally DROP CONSTRAINT IF EXISTS run_tally_run_fkey",
    "ALTER TABLE run_activity DROP CONSTRAINT IF EXISTS run_activity_run_fkey",
    "ALTER TABLE run_tally DROP COLUMN IF EXISTS id",
    "ALTER TABLE run_activity DROP COLUMN IF EXISTS id",
    """
    CREATE OR REPLACE FUNCTION hub_drop_run_tallies() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM run_tally WHERE run IN (SELECT id FROM gone);
        DELETE FROM run_activity WHERE run IN (SELECT id FROM gone);
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS run_tallies_gone ON run",
    """
    CREATE TRIGGER run_tallies_gone AFTER DELETE ON run
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION hub_drop_run_tallies()
    """,
]
BACKWARDS = [
    "DROP TRIGGER IF EXISTS run_tallies_gone ON run",
    "DROP FUNCTION IF EXISTS hub_drop_run_tallies()",
    "ALTER TABLE run_tally ADD COLUMN IF NOT EXISTS id bigserial PRIMARY KEY",
    "ALTER TABLE run_activity ADD COLUMN IF NOT EXISTS id bigserial PRIMARY KEY",
    """
    ALTER TABLE run_tally ADD CONSTRAINT run_tally_run_fkey FOREIGN KEY (run) REFERENCES run (id) ON DELETE CASCADE
    """,
    """
    ALTER TABLE run_activity ADD CONSTRAINT run_activity_run_fkey FOREIGN KEY (run) REFERENCES run (id)
    ON DELETE CASCADE
    """,
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
