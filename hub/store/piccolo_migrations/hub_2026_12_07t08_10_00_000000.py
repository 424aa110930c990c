from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T08:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "replies: the rule as one function (hub_replied_rows) for the funnel's count and the message search"

# What counts as a reply, written once: a run's row was replied to when its recipient wrote to us at or after it
# was sent. The dashboard's funnel counts these rows' recipients and the message search lists the rows, both
# through this function (a SQL function the planner inlines). It starts from the inbound side (replies are few
# next to sends) and finds each sender's rows through the run's (run, recipient, ...) key; inbound messages from
# before the run was created cannot answer one of its rows, and the index on received_at skips them.
FORWARDS = [
    "CREATE INDEX IF NOT EXISTS inbound_message_received_at ON inbound_message (received_at)",
    """
    CREATE OR REPLACE FUNCTION hub_replied_rows(for_run bigint)
    RETURNS TABLE (message bigint, recipient varchar) LANGUAGE sql STABLE AS $$
        SELECT DISTINCT m.id, m.recipient
        FROM inbound_message i
        JOIN message m ON m.run = for_run AND m.recipient = i.from_phone AND m.sent_at <= i.received_at
        WHERE i.received_at >= (SELECT r.created_at FROM run r WHERE r.id = for_run)
    $$
    """,
]
BACKWARDS = [
    "DROP FUNCTION IF EXISTS hub_replied_rows(bigint)",
    "DROP INDEX IF EXISTS inbound_message_received_at",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
