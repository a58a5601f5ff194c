-- Action types some of whose calls in the period carry no idempotency key.
-- Evidence is the first 20 keyless calls of the period (a top-20 aggregate:
-- no sort of every keyless call); group_calls counts them all and
-- group_stats holds the finding's stats over them all (outcomes, side
-- effects, time span; not distinct args, which only unstable-key shows); since is the first keyless call ever seen, for "new"
-- in trends.
WITH k AS (
    SELECT action_type, count(*) AS group_calls,
        {'applied': count(*) FILTER (WHERE outcome = 'applied'), 'rejected': count(*) FILTER (WHERE outcome = 'rejected'),
         'distinct_responses': count(DISTINCT response_id) FILTER (WHERE outcome <> 'rejected'),
         'null_responses': count(*) FILTER (WHERE outcome <> 'rejected' AND response_id IS NULL AND NOT {{effect_is_noop}}),
         'span_ns': least(max(ts)::HUGEINT - min(ts), 9223372036854775807)::BIGINT} AS group_stats,
        min_by({'source_id': source_id, 'line': line, 'pos': pos},
               (ts IS NULL, coalesce(ts, 0), path_rank, line, pos, source_id), 20) AS first_calls
    FROM period_calls
    WHERE idempotency_key IS NULL
    GROUP BY action_type
), e AS (
    SELECT action_type, group_calls, group_stats, unnest(first_calls, recursive := true)
    FROM k
), s AS (
    -- (or, in a period report, when its first untimed keyless call was read:
    -- an action whose untimed calls lack keys week after week is recurring)
    SELECT action_type, least(min(ts), min(ingest_order)) AS since FROM audit_calls WHERE idempotency_key IS NULL GROUP BY action_type
)
SELECT action_type AS grp, 'low' AS severity, action_type,
       NULL::VARCHAR AS idempotency_key, source_id, line, pos, group_calls, group_stats, since
FROM e JOIN s USING (action_type)
