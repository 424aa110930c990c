-- name: run_tallies(runs)
-- Each run's net rows per status and error code, with how many tally rows made them (to know when to fold).
SELECT run, status, error_code, sum(n)::bigint AS n, count(*) AS pieces
FROM run_tally WHERE run = ANY(:runs::bigint[]) GROUP BY run, status, error_code;

-- name: every_tally()
-- Every run's net rows per status and error code, with the tally rows behind them (the ledger's totals).
SELECT run, status, error_code, sum(n)::bigint AS n, count(*) AS pieces
FROM run_tally GROUP BY run, status, error_code;

-- name: fold_tally(run)
-- A run's tally rows folded into one per key. Rows appended meanwhile are not in the DELETE's snapshot and stay;
-- two folds at once cannot both take a row.
WITH gone AS (DELETE FROM run_tally WHERE run = :run RETURNING status, error_code, n)
INSERT INTO run_tally (run, status, error_code, n)
SELECT :run, status, error_code, sum(n) FROM gone GROUP BY status, error_code HAVING sum(n) <> 0;

-- name: run_activity(run, bucket_s, origin)
-- A run's milestones per bucket of :bucket_s seconds from :origin, with the tally rows and 10 s slots behind each.
SELECT date_bin(make_interval(secs => :bucket_s::int), at, :origin::timestamptz) AS at,
       sum(sent)::bigint AS sent, sum(delivered)::bigint AS delivered, sum(read)::bigint AS read,
       sum(failed)::bigint AS failed, count(*) AS pieces, count(DISTINCT at) AS slots
FROM run_activity WHERE run = :run GROUP BY 1 ORDER BY 1;

-- name: fold_activity(run)
-- A run's activity rows folded into one per 10 s slot (as fold_tally).
WITH gone AS (DELETE FROM run_activity WHERE run = :run RETURNING at, sent, delivered, read, failed)
INSERT INTO run_activity (run, at, sent, delivered, read, failed)
SELECT :run, at, sum(sent), sum(delivered), sum(read), sum(failed) FROM gone GROUP BY at;
