from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T06:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "run tallies: the activity part looks only at rows with a milestone time (fan-out and claims skip it)"

# The same function as 2026-12-07T06:00, with the rows filtered before they are unnested into milestones: a
# fan-out insert (pending rows, no times) and a claim (pending -> sending) then cost the activity part nothing.
FUNCTION = """
CREATE OR REPLACE FUNCTION hub_tally_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO run_tally (run, status, error_code, n)
        SELECT run, status, error_code, count(*) FROM new_rows GROUP BY run, status, error_code;
        INSERT INTO run_activity (run, at, sent, delivered, read, failed)
        SELECT run, at, sum(s), sum(d), sum(r), sum(f) FROM (
            SELECT m.run, date_bin('10 seconds', v.at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS at,
                   (v.kind = 's')::int AS s, (v.kind = 'd')::int AS d, (v.kind = 'r')::int AS r,
                   (v.kind = 'f')::int AS f
            FROM (SELECT * FROM new_rows WHERE sent_at IS NOT NULL OR delivered_at IS NOT NULL
                  OR read_at IS NOT NULL OR finished_at IS NOT NULL) AS m
            CROSS JOIN LATERAL (VALUES ('s', m.sent_at), ('d', m.delivered_at), ('r', m.read_at),
                ('f', CASE WHEN m.status IN ('failed', 'undelivered') THEN m.finished_at END)) AS v(kind, at)
            WHERE v.at IS NOT NULL
        ) AS marks GROUP BY run, at;
    ELSE
        INSERT INTO run_tally (run, status, error_code, n)
        SELECT run, status, error_code, sum(n) FROM (
            SELECT run, status, error_code, -1 AS n FROM old_rows
            UNION ALL SELECT run, status, error_code, 1 FROM new_rows
        ) AS change GROUP BY run, status, error_code HAVING sum(n) <> 0;
        INSERT INTO run_activity (run, at, sent, delivered, read, failed)
        SELECT run, at, sum(s), sum(d), sum(r), sum(f) FROM (
            SELECT m.run, date_bin('10 seconds', v.at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS at,
                   m.sign * (v.kind = 's')::int AS s, m.sign * (v.kind = 'd')::int AS d,
                   m.sign * (v.kind = 'r')::int AS r, m.sign * (v.kind = 'f')::int AS f
            FROM (SELECT run, status, sent_at, delivered_at, read_at, finished_at, -1 AS sign FROM old_rows
                  WHERE sent_at IS NOT NULL OR delivered_at IS NOT NULL OR read_at IS NOT NULL
                  OR finished_at IS NOT NULL
                  UNION ALL
                  SELECT run, status, sent_at, delivered_at, read_at, finished_at, 1 FROM new_rows
                  WHERE sent_at IS NOT NULL OR delivered_at IS NOT NULL OR read_at IS NOT NULL
                  OR finished_at IS NOT NULL) AS m
            CROSS JOIN LATERAL (VALUES ('s', m.sent_at), ('d', m.delivered_at), ('r', m.read_at),
                ('f', CASE WHEN m.status IN ('failed', 'undelivered') THEN m.finished_at END)) AS v(kind, at)
            WHERE v.at IS NOT NULL
        ) AS marks GROUP BY run, at
        HAVING sum(s) <> 0 OR sum(d) <> 0 OR sum(r) <> 0 OR sum(f) <> 0;
    END IF;
    RETURN NULL;
END
$$
"""


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, [FUNCTION])
