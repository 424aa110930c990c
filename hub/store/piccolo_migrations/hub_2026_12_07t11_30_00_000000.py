from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T11:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "hub_tag_set(text[]): a contact's tags as stored, sorted and distinct (one rule for a change and an import)"

FORWARDS = [
    """CREATE OR REPLACE FUNCTION hub_tag_set(tags text[]) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT ARRAY(SELECT DISTINCT t FROM unnest(tags) AS t ORDER BY t) $$""",
]
BACKWARDS = ["DROP FUNCTION IF EXISTS hub_tag_set(text[])"]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
