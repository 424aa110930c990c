from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "replies: hub_replied_rows probes each inbound sender's rows (a fence keeps the plan off a hash join)"

# The rule of 2026-12-07T08:10, unchanged. Its join was planned, in a prepared statement's generic plan (the run
# unknown), as a hash join that read every row of the run (1.3 s at 1,000,000); the lateral subquery behind
# OFFSET 0 cannot be pulled up, so each inbound sender's rows are looked up by index (20-30 ms for 5,000 inbound).
FUNCTION = """
CREATE OR REPLACE FUNCTION hub_replied_rows(for_run bigint)
RETURNS TABLE (message bigint, recipient varchar) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT m.id, m.recipient
    FROM inbound_message i
    CROSS JOIN LATERAL (
        SELECT m.id, m.recipient FROM message m
        WHERE m.run = for_run AND m.recipient = i.from_phone AND m.sent_at <= i.received_at
        OFFSET 0
    ) AS m
    WHERE i.received_at >= (SELECT r.created_at FROM run r WHERE r.id = for_run)
$$
"""
PREVIOUS = """
CREATE OR REPLACE FUNCTION hub_replied_rows(for_run bigint)
RETURNS TABLE (message bigint, recipient varchar) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT m.id, m.recipient
    FROM inbound_message i
    JOIN message m ON m.run = for_run AND m.recipient = i.from_phone AND m.sent_at <= i.received_at
    WHERE i.received_at >= (SELECT r.created_at FROM run r WHERE r.id = for_run)
$$
"""


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, [FUNCTION], [PREVIOUS])
