-- Action types some of whose calls in the period carry no idempotency key.
-- Evidence is the first 20 keyless calls of the period (a top-20 aggregate:
-- no sort of every keyless call); group_calls counts them all; since is the
-- first keyless call ever seen, for "new" in trends.
WITH k AS (
    SELECT action_type, count(*) AS group_calls,
        min_by({'source_id': source_id, 'line': line, 'pos': pos},
               (ts IS NULL, coalesce(ts, 0), path_rank, line, pos, source_id), 20) AS first_calls
    FROM period_calls
    WHERE idempotency_key IS NULL
    GROUP BY action_type
), e AS (
    SELECT action_type, group_calls, unnest(first_calls, recursive := true)
    FROM k
), s AS (
    SELECT action_type, min(ts) AS since FROM audit_calls WHERE idempotency_key IS NULL GROUP BY action_type
)
SELECT action_type AS grp, 'low' AS severity, action_type,
       NULL::VARCHAR AS idempotency_key, source_id, line, pos, group_calls, since
FROM e JOIN s USING (action_type)
