-- name: reason_groups(run, statuses, sample, top)
-- A run's rows in :statuses by status and reason, over at most :sample of them (any: a bounded read).
SELECT status, reason, count(*) AS count
FROM (SELECT status, error_message AS reason FROM message
      WHERE run = :run AND status = ANY(:statuses::varchar[]) LIMIT :sample) AS sampled
GROUP BY status, reason ORDER BY count(*) DESC LIMIT :top;

-- name: replied_count(run)
-- Recipients of a run who wrote after their message was sent (the rule: hub_replied_rows, see the migrations).
SELECT count(DISTINCT recipient) AS count FROM hub_replied_rows(:run);

-- name: recent_sends(runs, since)
-- Rows of each run handed to Twilio since :since (the sent_at index: the last minute's rows only).
SELECT run, count(*) AS n FROM message WHERE sent_at >= :since AND run = ANY(:runs::bigint[]) GROUP BY run;

-- name: latest_callback(recent)
-- The latest status callback among the last :recent events (a ledger of worker events is not scanned whole).
SELECT max(at) AS at FROM (
    SELECT at FROM status_event WHERE source = 'callback'
    AND id > (SELECT coalesce(max(id), 0) - :recent FROM status_event) ORDER BY id DESC LIMIT 1
) AS latest;

-- name: awaiting_callback(statuses, cap)
-- Rows handed to Twilio with no callback yet, at most :cap of them, and the oldest send among those.
SELECT count(*) AS n, min(sent_at) AS oldest
FROM (SELECT sent_at FROM message WHERE status = ANY(:statuses::varchar[]) LIMIT :cap) AS waiting;
