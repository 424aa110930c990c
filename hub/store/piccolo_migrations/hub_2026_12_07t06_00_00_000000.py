from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "run tallies (counts by status and error code, sends per 10 s, kept by triggers); error code index"

# Counts a run's pages need without scanning its rows. Each statement that writes `message` appends its net
# change (new rows' counts minus old rows', from the statement's transition tables): append-only, so concurrent
# writers never wait on a counter row; readers sum, and fold a run's rows into one when they pile up.
FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS run_tally (
        id bigserial PRIMARY KEY,
        run bigint NOT NULL REFERENCES run (id) ON DELETE CASCADE,
        status varchar(16) NOT NULL,
        error_code integer,
        n bigint NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS run_tally_run ON run_tally (run)",
    """
    CREATE TABLE IF NOT EXISTS run_activity (
        id bigserial PRIMARY KEY,
        run bigint NOT NULL REFERENCES run (id) ON DELETE CASCADE,
        at timestamptz NOT NULL,
        sent bigint NOT NULL,
        delivered bigint NOT NULL,
        read bigint NOT NULL,
        failed bigint NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS run_activity_run ON run_activity (run, at)",
    # The message search by error code, newest first (only rows with a code are in it).
    "CREATE INDEX IF NOT EXISTS message_error_code ON message (error_code, id) WHERE error_code IS NOT NULL",
    """
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
                FROM new_rows m CROSS JOIN LATERAL (VALUES ('s', m.sent_at), ('d', m.delivered_at), ('r', m.read_at),
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
                      UNION ALL
                      SELECT run, status, sent_at, delivered_at, read_at, finished_at, 1 FROM new_rows) AS m
                CROSS JOIN LATERAL (VALUES ('s', m.sent_at), ('d', m.delivered_at), ('r', m.read_at),
                    ('f', CASE WHEN m.status IN ('failed', 'undelivered') THEN m.finished_at END)) AS v(kind, at)
                WHERE v.at IS NOT NULL
            ) AS marks GROUP BY run, at
            HAVING sum(s) <> 0 OR sum(d) <> 0 OR sum(r) <> 0 OR sum(f) <> 0;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS message_tally_insert ON message",
    """
    CREATE TRIGGER message_tally_insert AFTER INSERT ON message
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hub_tally_rows()
    """,
    "DROP TRIGGER IF EXISTS message_tally_update ON message",
    """
    CREATE TRIGGER message_tally_update AFTER UPDATE ON message
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hub_tally_rows()
    """,
    # Rows already in the ledger.
    """
    INSERT INTO run_tally (run, status, error_code, n)
    SELECT run, status, error_code, count(*) FROM message GROUP BY run, status, error_code
    """,
    """
    INSERT INTO run_activity (run, at, sent, delivered, read, failed)
    SELECT run, at, sum(s), sum(d), sum(r), sum(f) FROM (
        SELECT m.run, date_bin('10 seconds', v.at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS at,
               (v.kind = 's')::int AS s, (v.kind = 'd')::int AS d, (v.kind = 'r')::int AS r, (v.kind = 'f')::int AS f
        FROM message m CROSS JOIN LATERAL (VALUES ('s', m.sent_at), ('d', m.delivered_at), ('r', m.read_at),
            ('f', CASE WHEN m.status IN ('failed', 'undelivered') THEN m.finished_at END)) AS v(kind, at)
        WHERE v.at IS NOT NULL
    ) AS marks GROUP BY run, at
    """,
]
BACKWARDS = [
    "DROP INDEX IF EXISTS message_error_code",
    "DROP TRIGGER IF EXISTS message_tally_update ON message",
    "DROP TRIGGER IF EXISTS message_tally_insert ON message",
    "DROP FUNCTION IF EXISTS hub_tally_rows()",
    "DROP TABLE IF EXISTS run_activity",
    "DROP TABLE IF EXISTS run_tally",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="hub", description=DESCRIPTION)

    async def create():
        engine = engine_finder()
        for ddl in FORWARDS:
            await engine.run_ddl(ddl)

    async def drop():
        engine = engine_finder()
        for ddl in BACKWARDS:
            await engine.run_ddl(ddl)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)

    return manager
