-- Action types some of whose calls in the period carry no idempotency key.
-- Evidence is the first 20 keyless calls of the period; group_calls counts
-- them all; since is the first keyless call ever seen, for "new" in trends.
WITH k AS (
    SELECT action_type, source_id, line, pos,
        count(*) OVER (PARTITION BY action_type) AS group_calls,
        row_number() OVER (PARTITION BY action_type ORDER BY ts NULLS LAST, path_rank, line, pos) AS rn
    FROM period_calls
    WHERE idempotency_key IS NULL
), s AS (
    SELECT action_type, min(ts) AS since FROM audit_calls WHERE idempotency_key IS NULL GROUP BY action_type
)
SELECT action_type AS grp, 'low' AS severity, action_type,
       NULL::VARCHAR AS idempotency_key, source_id, line, pos, group_calls, since
FROM k JOIN s USING (action_type)
WHERE rn <= 20
