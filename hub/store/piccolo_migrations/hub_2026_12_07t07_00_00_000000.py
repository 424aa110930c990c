from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from hub.store.ddl_migration import ddl_migration

ID = "2026-12-07T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "journeys: entries (the timer is the entry's due_at), their path and events; messages name their entry"

FORWARDS = [
    """CREATE TABLE journey_entry (
        id BIGSERIAL PRIMARY KEY,
        run BIGINT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
        campaign VARCHAR(100) NOT NULL,
        recipient VARCHAR(64) NOT NULL,
        key TEXT NOT NULL DEFAULT '',
        active BOOLEAN NOT NULL DEFAULT true,
        step TEXT NOT NULL,
        phase VARCHAR(16) NOT NULL,
        reached_at TIMESTAMPTZ NOT NULL,
        due_at TIMESTAMPTZ,
        seen TEXT[] NOT NULL DEFAULT '{}',
        outcome TEXT,
        version INTEGER NOT NULL DEFAULT 0,
        last_message BIGINT,
        vars JSONB NOT NULL DEFAULT '{}',
        event JSONB NOT NULL DEFAULT '{}',
        started_at TIMESTAMPTZ NOT NULL,
        ended_at TIMESTAMPTZ
    )""",
    # One active entry per campaign, recipient and key; a recipient may enter again once it ended (`reentry`).
    "CREATE UNIQUE INDEX journey_entry_active ON journey_entry (campaign, recipient, key) WHERE active",
    "CREATE INDEX journey_entry_previous ON journey_entry (campaign, recipient, key, ended_at)",
    # The timers: the sweep claims due entries in due order.
    "CREATE INDEX journey_entry_due ON journey_entry (due_at) WHERE due_at IS NOT NULL",
    # Replies and opt-outs reach the recipient's active entries through this index, never a scan.
    "CREATE INDEX journey_entry_recipient ON journey_entry (recipient) WHERE active",
    "CREATE INDEX journey_entry_run ON journey_entry (run, recipient)",
    """CREATE TABLE journey_path (
        id BIGSERIAL PRIMARY KEY,
        entry BIGINT NOT NULL REFERENCES journey_entry (id) ON DELETE CASCADE,
        run BIGINT NOT NULL,
        step TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT
    )""",
    "CREATE INDEX journey_path_entry ON journey_path (entry, id)",
    "CREATE INDEX journey_path_run_step ON journey_path (run, step)",
    """CREATE TABLE journey_event (
        id BIGSERIAL PRIMARY KEY,
        entry BIGINT NOT NULL REFERENCES journey_entry (id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        message BIGINT
    )""",
    # A journey's message names its entry: one row per run, recipient, step and entry (NULL entry: a campaign's).
    "ALTER TABLE message ADD COLUMN entry BIGINT REFERENCES journey_entry (id) ON DELETE SET NULL",
    "DROP INDEX IF EXISTS message_run_recipient_step",
    "CREATE UNIQUE INDEX message_run_recipient_step ON message (run, recipient, step, entry) NULLS NOT DISTINCT",
    # Events are written in the transaction of the change they report, so none is lost between two processes.
    """CREATE FUNCTION journey_status_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO journey_event (entry, type, at, message)
        VALUES (NEW.entry, CASE WHEN NEW.status = 'undelivered' THEN 'failed' ELSE NEW.status END, now(), NEW.id);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER message_journey_status AFTER UPDATE OF status ON message FOR EACH ROW
        WHEN (NEW.entry IS NOT NULL AND NEW.status IS DISTINCT FROM OLD.status
              AND NEW.status IN ('delivered', 'read', 'failed', 'undelivered'))
        EXECUTE FUNCTION journey_status_event()""",
    """CREATE FUNCTION journey_reply_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO journey_event (entry, type, at)
        SELECT id, 'replied', NEW.received_at FROM journey_entry WHERE recipient = NEW.from_phone AND active;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER inbound_journey_reply AFTER INSERT ON inbound_message FOR EACH ROW
        EXECUTE FUNCTION journey_reply_event()""",
    """CREATE FUNCTION journey_opt_out_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO journey_event (entry, type, at)
        SELECT id, 'opted_out', NEW.opted_out_at FROM journey_entry WHERE recipient = NEW.phone AND active;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER contact_journey_opt_out AFTER INSERT OR UPDATE OF opted_out_at ON contact FOR EACH ROW
        WHEN (NEW.opted_out_at IS NOT NULL) EXECUTE FUNCTION journey_opt_out_event()""",
    # A canceled run's entries end with it, their timers dropped, whoever canceled it.
    """CREATE FUNCTION journey_run_canceled() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE journey_entry SET active = false, phase = 'ended', step = 'end', due_at = NULL,
            outcome = 'canceled', ended_at = now(), version = version + 1
        WHERE run = NEW.id AND active;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER run_journey_canceled AFTER UPDATE OF state ON run FOR EACH ROW
        WHEN (NEW.state = 'canceled' AND OLD.state IS DISTINCT FROM 'canceled')
        EXECUTE FUNCTION journey_run_canceled()""",
]

BACKWARDS = [
    "DROP TRIGGER IF EXISTS run_journey_canceled ON run",
    "DROP FUNCTION IF EXISTS journey_run_canceled()",
    "DROP TRIGGER IF EXISTS contact_journey_opt_out ON contact",
    "DROP FUNCTION IF EXISTS journey_opt_out_event()",
    "DROP TRIGGER IF EXISTS inbound_journey_reply ON inbound_message",
    "DROP FUNCTION IF EXISTS journey_reply_event()",
    "DROP TRIGGER IF EXISTS message_journey_status ON message",
    "DROP FUNCTION IF EXISTS journey_status_event()",
    "DROP INDEX IF EXISTS message_run_recipient_step",
    "ALTER TABLE message DROP COLUMN IF EXISTS entry",
    "CREATE UNIQUE INDEX message_run_recipient_step ON message (run, recipient, step)",
    "DROP TABLE IF EXISTS journey_event",
    "DROP TABLE IF EXISTS journey_path",
    "DROP TABLE IF EXISTS journey_entry",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
