-- name: claim(ids, now, held_states)
-- Claim every row of :ids that is pending, due and whose run is not held (paused, canceled, expired): the only
-- way into 'sending' (attempts + 1, claimed_at). The rows after; one that another worker holds is simply not
-- returned (row locks make concurrent claims of one row exclusive). One row is a list of one. The run condition
-- is ledger.due_condition's. A run's first claim stamps its started_at: written only while it is null, and
-- SKIP LOCKED so a claim never waits on a run row (nor takes it after its message rows while another writer
-- holds it and waits on them); a run locked at that moment gets it from its next claim, or when it finishes.
-- The status is tested as `(...) IS TRUE`, which no index serves: with statistics from before a fan-out the
-- planner takes 'pending' for rare and read every owed row through the (status, send_at) index for each claim of
-- 100 (4 ms at 20,000 owed; seen in the e2e bench); the ids are the way in (pending_of likewise).
WITH claimed AS (
    UPDATE message SET status = 'sending', attempts = attempts + 1, claimed_at = :now, updated_at = :now
    WHERE id = ANY(:ids::bigint[]) AND (status = 'pending') IS TRUE
      AND (send_at IS NULL OR send_at <= :now) AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
      AND NOT EXISTS (SELECT 1 FROM run WHERE run.id = message.run
                      AND (run.state = ANY(:held_states::varchar[]) OR run.expires_at <= :now))
    RETURNING *
), started AS (
    UPDATE run SET started_at = :now
    WHERE run.id IN (SELECT unstarted.id FROM run AS unstarted
                     WHERE unstarted.id IN (SELECT claimed.run FROM claimed) AND unstarted.started_at IS NULL
                     FOR UPDATE SKIP LOCKED)
)
SELECT * FROM claimed;

-- name: pending_of(ids)
-- The ids of :ids still 'pending' (a batch delivered again after its rows were sent reserves no slot for them).
SELECT id FROM message WHERE id = ANY(:ids::bigint[]) AND (status = 'pending') IS TRUE ORDER BY id;

-- name: owed_of_run(run, after, now, held_states, n)
-- A run's next :n owed rows above id :after that may be sent at :now (pending, due, run not held: the rule of
-- ledger.due_condition and claim) and were not touched after :now; ascending. Through the partial index on a
-- run's owed rows (message_owed): the status is a literal, so the prepared statement's generic plan uses it.
SELECT id FROM message
WHERE run = :run AND status = 'pending' AND id > :after AND updated_at <= :now
  AND (send_at IS NULL OR send_at <= :now) AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
  AND NOT EXISTS (SELECT 1 FROM run WHERE run.id = message.run
                  AND (run.state = ANY(:held_states::varchar[]) OR run.expires_at <= :now))
ORDER BY id LIMIT :n;

-- name: submit(ids, sids, from_sending, from_unknown, ats, finished_sending, finished_unknown, reported, sources, claims)
-- Record Twilio's answer on 'sending' / 'unknown' rows, one array element per row (distinct ids): the sid, the
-- status it moves to from either state (and finished_at when that is final), the history event. A row moves only
-- while it carries the writer's claim (claimed_at; null: whoever holds it). Each row after, with whether reports
-- for its sid are parked: the lookup reads the snapshot before this statement, so the events inserted here are
-- not counted. One row is a list of one.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :sids::text[], :from_sending::text[], :from_unknown::text[],
                         :ats::timestamptz[], :finished_sending::timestamptz[], :finished_unknown::timestamptz[],
                         :reported::text[], :sources::text[], :claims::timestamptz[])
         AS i(id, sid, from_sending, from_unknown, at, finished_sending, finished_unknown, reported, source, claim)
), moved AS (
    UPDATE message SET sid = input.sid, sent_at = input.at, updated_at = input.at,
           status = CASE message.status WHEN 'sending' THEN input.from_sending ELSE input.from_unknown END,
           finished_at = CASE message.status WHEN 'sending' THEN input.finished_sending ELSE input.finished_unknown END
    FROM input
    WHERE message.id = input.id AND message.status IN ('sending', 'unknown')
      AND (input.claim IS NULL OR message.claimed_at = input.claim)
    RETURNING message.*
), history AS (
    INSERT INTO status_event (message, sid, status, source, payload, applied, at)
    SELECT moved.id, moved.sid, input.reported, input.source, '{}', true, moved.sent_at
    FROM moved JOIN input ON input.id = moved.id
)
SELECT moved.*, EXISTS (SELECT 1 FROM status_event
                        WHERE status_event.sid = moved.sid AND status_event.message IS NULL) AS parked
FROM moved;
