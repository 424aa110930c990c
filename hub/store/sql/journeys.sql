-- name: claim_due(now, limit)
-- Lock up to :limit entries of running runs whose timer is due, oldest first; one another advancer holds is
-- skipped. The run's pinned campaign is not read here (once per run and process: run_metas).
SELECT e.id, e.run, e.campaign, e.recipient, e.key, e.active, e.step, e.phase, e.reached_at, e.due_at, e.seen,
       e.outcome, e.version, e.last_message, e.vars::text AS vars, e.event::text AS event, e.started_at,
       e.ended_at, r.state AS run_state
FROM journey_entry e JOIN run r ON r.id = e.run
WHERE e.due_at <= :now AND r.state = 'running'
ORDER BY e.due_at
LIMIT :limit
FOR UPDATE OF e SKIP LOCKED;

-- name: lock_entries(ids)
-- Lock these entries in id order (two callers never deadlock).
SELECT e.id, e.run, e.campaign, e.recipient, e.key, e.active, e.step, e.phase, e.reached_at, e.due_at, e.seen,
       e.outcome, e.version, e.last_message, e.vars::text AS vars, e.event::text AS event, e.started_at,
       e.ended_at, r.state AS run_state
FROM journey_entry e JOIN run r ON r.id = e.run
WHERE e.id = ANY(:ids::bigint[])
ORDER BY e.id
FOR UPDATE OF e;

-- name: claim_events(limit)
-- Take up to :limit pending events off the queue, oldest first (they return if the transaction fails). Those of a
-- paused run's entries wait with its timers; a canceled run's are taken (its entries ended: they are dropped).
WITH ev AS (SELECT j.id FROM journey_event j JOIN journey_entry e ON e.id = j.entry JOIN run r ON r.id = e.run
            WHERE r.state <> 'paused' ORDER BY j.id LIMIT :limit FOR UPDATE OF j SKIP LOCKED)
DELETE FROM journey_event j USING ev WHERE j.id = ev.id
RETURNING j.id, j.entry, j.type, j.at, j.message;

-- name: requeue_events(entries, types, ats, messages)
-- Put claimed events back on the queue (their entries could not advance; they wait with their run).
INSERT INTO journey_event (entry, type, at, message)
SELECT * FROM unnest(:entries::bigint[], :types::text[], :ats::timestamptz[], :messages::bigint[]);

-- name: run_metas(ids)
-- The runs' meta (the pinned campaign text), for the runs a process has not cached yet.
SELECT id, meta::text AS meta FROM run WHERE id = ANY(:ids::bigint[]);

-- name: insert_messages(m_entries, m_runs, m_steps, m_recipients, m_bodies, m_content_sids, m_content_variables, m_media_urls, m_statuses, m_errors, m_send_ats, m_metas, now, final_statuses)
-- A batch of entries' new message rows: one per run, recipient, step and entry (a row already there is kept, and
-- not returned). Runs before save_entries, under the default plan cache: the message.run foreign-key check is a
-- cached plan of PostgreSQL's, which save_entries' forced custom plans would make it plan again for every row.
INSERT INTO message (run, step, recipient, body, content_sid, content_variables, media_url, status, error_message,
                     attempts, send_at, created_at, updated_at, finished_at, meta, entry)
SELECT x.run, x.step, x.recipient, x.body, x.content_sid, x.content_variables::json, x.media_url::json, x.status,
       x.error, 0, x.send_at, :now, :now,
       CASE WHEN x.status = ANY(:final_statuses::text[]) THEN :now::timestamptz END, x.meta::json, x.entry
FROM unnest(:m_entries::bigint[], :m_runs::bigint[], :m_steps::int[], :m_recipients::text[], :m_bodies::text[],
            :m_content_sids::text[], :m_content_variables::text[], :m_media_urls::text[], :m_statuses::text[],
            :m_errors::text[], :m_send_ats::timestamptz[], :m_metas::text[])
     AS x(entry, run, step, recipient, body, content_sid, content_variables, media_url, status, error, send_at, meta)
ON CONFLICT (run, recipient, step, entry) DO NOTHING
RETURNING id, run, entry, step, status, send_at;

-- name: save_entries(ids, runs, versions, steps, phases, reached, dues, seens, outcomes, last_sends, last_ids, lines, now)
-- Write a batch of entries' decisions in one statement: each entry's next state (compare-and-set on the version
-- it was read at; seen is comma-joined) and its path lines (:lines, one JSON array per entry, null for none). An
-- entry's last_message becomes the row of its last send step (:last_sends, the message step index; null: it sent
-- nothing): :last_ids when insert_messages just wrote it, else the row already there (a loop back to the step). The caller holds the entries' locks; it compares the
-- saved count with its batch and rolls back on a difference (every CTE runs whatever the others find).
WITH t AS (
    SELECT * FROM unnest(:ids::bigint[], :versions::int[], :steps::text[], :phases::text[],
                         :reached::timestamptz[], :dues::timestamptz[], :seens::text[], :outcomes::text[],
                         :last_sends::int[], :last_ids::bigint[])
         AS t(id, version, step, phase, reached_at, due_at, seen, outcome, last_send, last_id)
), p AS (
    INSERT INTO journey_walk (entry, run, lines)
    SELECT x.entry, x.run, x.lines::json
    FROM unnest(:ids::bigint[], :runs::bigint[], :lines::text[]) AS x(entry, run, lines)
    WHERE x.lines IS NOT NULL
), u AS (
    UPDATE journey_entry e
    SET step = t.step, phase = t.phase, reached_at = t.reached_at, due_at = t.due_at,
        seen = string_to_array(t.seen, ','), outcome = t.outcome, active = t.phase <> 'ended',
        ended_at = CASE WHEN t.phase = 'ended' THEN :now::timestamptz END,
        last_message = COALESCE(t.last_id, (SELECT o.id FROM message o WHERE t.last_send IS NOT NULL
                                            AND o.run = e.run AND o.recipient = e.recipient AND o.step = t.last_send
                                            AND o.entry = e.id),
                                e.last_message),
        version = e.version + 1
    FROM t
    WHERE e.id = t.id AND e.version = t.version
    RETURNING e.id
)
SELECT count(*) AS saved FROM u;
