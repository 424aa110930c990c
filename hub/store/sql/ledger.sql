-- name: insert_messages(run, now, final_statuses, steps, recipients, bodies, content_sids, content_variables, media_urls, statuses, error_codes, error_messages, send_ats, metas, checkpoint)
-- The ledger's bulk insert, one statement whatever the row count: one array per column (unnest turns them back
-- into rows; an empty array means every row takes the column's default, and recipients is never empty). A row
-- whose (run, recipient, step, entry) exists is left alone. When :checkpoint is not null the run's fan-out checkpoint is
-- set by the same statement, so it commits with the rows it covers. One row back: the new pending ids, ascending.
WITH new AS (
    INSERT INTO message (run, step, recipient, body, content_sid, content_variables, media_url, status,
                         error_code, error_message, attempts, send_at, created_at, updated_at, finished_at, meta)
    SELECT :run, COALESCE(t.step, 0), t.recipient, t.body, t.content_sid, t.content_variables::json,
           COALESCE(t.media_url, '[]')::json, COALESCE(t.status, 'pending'), t.error_code, t.error_message, 0,
           t.send_at, :now, :now, CASE WHEN t.status = ANY(:final_statuses::text[]) THEN :now::timestamptz END,
           COALESCE(t.meta, '{}')::json
    FROM unnest(:steps::int[], :recipients::text[], :bodies::text[], :content_sids::text[],
                :content_variables::text[], :media_urls::text[], :statuses::text[], :error_codes::int[],
                :error_messages::text[], :send_ats::timestamptz[], :metas::text[])
         AS t(step, recipient, body, content_sid, content_variables, media_url, status, error_code, error_message,
              send_at, meta)
    ON CONFLICT (run, recipient, step, entry) DO NOTHING
    RETURNING id, status
), mark AS (
    UPDATE run SET checkpoint = :checkpoint WHERE id = :run AND :checkpoint::int IS NOT NULL
)
SELECT array_agg(id ORDER BY id) FILTER (WHERE status = 'pending') AS pending FROM new;
