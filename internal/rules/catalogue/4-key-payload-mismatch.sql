-- One idempotency key (per action type) reused with different arguments.
-- A call is offending when it brings an argument set not seen before for the
-- key (the first one excepted). Medium; low when only one argument set got
-- through (the downstream rejected the others, as Stripe does).
WITH g0 AS ( -- grouped by a 64-bit hash of (action, key): cheap; a collision
    -- only lets more calls through to the exact grouping below
    SELECT hash(action_type, idempotency_key) AS h
    FROM candidate_calls
    WHERE idempotency_key IS NOT NULL
    GROUP BY h
    HAVING min(args_fp) <> max(args_fp) -- two distinct argument sets
), k AS (
    SELECT a.* FROM candidate_calls a SEMI JOIN g0 ON hash(a.action_type, a.idempotency_key) = g0.h
    WHERE a.idempotency_key IS NOT NULL
), g AS (
    SELECT action_type, idempotency_key,
        count(DISTINCT args_fp) FILTER (WHERE outcome <> 'rejected') AS accepted_args
    FROM k
    GROUP BY action_type, idempotency_key
    HAVING min(args_fp) <> max(args_fp)
), c AS (
    SELECT a.*, g.accepted_args,
        row_number() OVER (PARTITION BY action_type, idempotency_key, args_fp ORDER BY ingest_order NULLS LAST, ts NULLS LAST, path_rank, line, pos, source_id) AS nth_of_args,
        first_value(args_fp IGNORE NULLS) OVER (PARTITION BY action_type, idempotency_key
            ORDER BY ingest_order NULLS LAST, ts NULLS LAST, path_rank, line, pos, source_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_args
    FROM k a JOIN g USING (action_type, idempotency_key)
)
SELECT to_json([action_type, idempotency_key])::VARCHAR AS grp, -- unambiguous, whatever the strings hold
       CASE WHEN accepted_args >= 2 THEN 'medium' ELSE 'low' END AS severity, action_type, idempotency_key, source_id, line, pos,
       args_fp IS NOT NULL AND nth_of_args = 1 AND args_fp <> first_args AS offending
FROM c
