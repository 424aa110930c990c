from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T11:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "contact: attributes (jsonb) and tags (text[]), tags indexed for the contacts list and audiences"

# A constant default: PostgreSQL adds the columns without rewriting the table.
FORWARDS = [
    "ALTER TABLE contact ADD COLUMN IF NOT EXISTS attributes jsonb NOT NULL DEFAULT '{}'::jsonb",
    "ALTER TABLE contact ADD COLUMN IF NOT EXISTS tags text[] NOT NULL DEFAULT '{}'::text[]",
    "CREATE INDEX IF NOT EXISTS contact_tags ON contact USING gin (tags)",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS contact_tags",
    "ALTER TABLE contact DROP COLUMN IF EXISTS tags",
    "ALTER TABLE contact DROP COLUMN IF EXISTS attributes",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
