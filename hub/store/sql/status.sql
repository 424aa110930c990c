-- name: record_and_apply(reports, sids)
-- Store status reports as events and move their messages, one statement for a batch whose sids and dedupe keys
-- are all distinct (a single report is a batch of one). The one place the monotonic status rule is written: the
-- compare-and-set moves a message only from a status in its report's forward set, evaluated on the row's latest
-- version. A report without event_id is inserted as an event unless its dedupe key exists, linked to its message
-- when the sid is known (parked otherwise), applied when it moved the message. A report with event_id is one
-- stored before (parked until its sid was stored, or looked up again): that event is linked and, when it moved
-- the message, marked applied (applied only ever turns on). Each row returned says whether its report moved the
-- message in this statement. Deadlock-free among concurrent batches: messages are
-- locked in id order, and every lock is taken (moved_sids aggregates the whole UPDATE) before events are written.
-- The reports travel as one JSON array (:reports) rather than an array per column: asyncpg's array encoding cost
-- the API process ~25 us per report, more than the rest of the write; :sids keeps the lock on the sid index.
WITH input AS (
    SELECT * FROM json_to_recordset(:reports::json) AS i(
        event_id bigint, sid varchar, status varchar, error_code int, error_message text, source varchar, dedupe_key varchar,
        payload json, at timestamptz, new_status varchar, forward text, delivered_at timestamptz,
        read_at timestamptz, finished_at timestamptz, sets_error bool, new_error_code int, new_error_message text
    )
),
locked AS (
    SELECT m.id, m.sid FROM message m WHERE m.sid = ANY(:sids::varchar[]) ORDER BY m.id FOR UPDATE
),
moved AS (
    UPDATE message m SET
        status = i.new_status,
        updated_at = i.at,
        delivered_at = COALESCE(i.delivered_at, m.delivered_at),
        read_at = COALESCE(i.read_at, m.read_at),
        finished_at = COALESCE(i.finished_at, m.finished_at),
        error_code = CASE WHEN i.sets_error THEN i.new_error_code ELSE m.error_code END,
        error_message = CASE WHEN i.sets_error THEN i.new_error_message ELSE m.error_message END
    FROM locked l JOIN input i ON i.sid = l.sid
    WHERE m.id = l.id AND i.new_status IS NOT NULL AND m.status = ANY(string_to_array(i.forward, ','))
    RETURNING m.sid
),
moved_sids AS (SELECT coalesce(array_agg(sid), '{}') AS sids FROM moved),
relinked AS (
    UPDATE status_event e SET message = l.id, applied = e.applied OR i.sid = ANY(ms.sids)
    FROM input i CROSS JOIN moved_sids ms LEFT JOIN locked l ON l.sid = i.sid
    WHERE e.id = i.event_id AND l.id IS NOT NULL
    RETURNING e.id, e.message, i.sid = ANY(ms.sids) AS applied, e.dedupe_key
),
inserted AS (
    INSERT INTO status_event (message, sid, status, error_code, error_message, source, dedupe_key, payload, applied, at)
    SELECT l.id, i.sid, i.status, i.error_code, i.error_message, i.source, i.dedupe_key, i.payload,
           i.sid = ANY(ms.sids), i.at
    FROM input i CROSS JOIN moved_sids ms LEFT JOIN locked l ON l.sid = i.sid
    WHERE i.event_id IS NULL
    ORDER BY i.dedupe_key
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, message, applied, dedupe_key
)
SELECT id, message, applied, dedupe_key FROM inserted
UNION ALL
SELECT id, message, applied, dedupe_key FROM relinked;
