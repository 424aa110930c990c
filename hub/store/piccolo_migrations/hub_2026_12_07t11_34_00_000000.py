from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T11:34:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "journeys: an entry's path lines of one save in one row (journey_walk); journey_path is a view of lines"

# A timer fired wrote three path lines (waited, sent, awaiting): three tuples, three sequence values and six index
# entries, a third of the save's time (EXPLAIN ANALYZE: 12 of 36 ms per 1,000 timers). One row per save holds its
# lines in order, as a JSON array of [step, at, outcome, detail] (written as the worker encoded it; read seldom);
# the view journey_path keeps the lines' columns for the readers, `id, n` order an entry's lines. No primary key:
# the rows are read by entry (in id order) or by run.
FORWARDS = [
    "ALTER TABLE journey_path RENAME TO journey_path_lines",
    """CREATE TABLE journey_walk (
        id BIGSERIAL NOT NULL,
        entry BIGINT NOT NULL,
        run BIGINT NOT NULL,
        lines JSON NOT NULL
    )""",
    "INSERT INTO journey_walk (entry, run, lines)"
    " SELECT entry, run, json_build_array(json_build_array(step, at, outcome, detail)) FROM journey_path_lines"
    " ORDER BY id",
    "DROP TABLE journey_path_lines",
    "CREATE INDEX journey_walk_entry ON journey_walk (entry, id)",
    "CREATE INDEX journey_walk_run ON journey_walk (run)",
    """CREATE VIEW journey_path AS
        SELECT w.id, l.n, w.entry, w.run, l.line ->> 0 AS step, (l.line ->> 1)::timestamptz AS at,
               l.line ->> 2 AS outcome, l.line ->> 3 AS detail
        FROM journey_walk w, json_array_elements(w.lines) WITH ORDINALITY AS l(line, n)""",
]

BACKWARDS = [
    "DROP VIEW IF EXISTS journey_path",
    """CREATE TABLE journey_path (
        id BIGSERIAL PRIMARY KEY,
        entry BIGINT NOT NULL,
        run BIGINT NOT NULL,
        step TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT
    )""",
    "INSERT INTO journey_path (entry, run, step, at, outcome, detail)"
    " SELECT w.entry, w.run, l.line ->> 0, (l.line ->> 1)::timestamptz, l.line ->> 2, l.line ->> 3"
    " FROM journey_walk w, json_array_elements(w.lines) WITH ORDINALITY AS l(line, n) ORDER BY w.id, l.n",
    "CREATE INDEX journey_path_entry ON journey_path (entry, id)",
    "CREATE INDEX journey_path_run_step ON journey_path (run, step)",
    "DROP TABLE IF EXISTS journey_walk",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
