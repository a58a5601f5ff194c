-- A key whose later call (after an earlier call of the key that was not
-- rejected; order: ts, then source and line; untimed calls last, but in a
-- period report at their ingest time, the latest they can have happened:
-- unlike a second response id, whether a replay was executed again depends
-- on which call came first) reports an effect other than
-- noop and was not rejected itself: the replay was executed again. Those
-- later calls are the offending ones. noop, no-op, no_op and none, in any
-- case, spaces around trimmed (as statuses are), all mean that nothing
-- happened. A call after a rejected one is the
-- first execution (a rejected request stores no result to replay).
WITH replayed AS ( -- only keys used twice can be replayed; grouped by a 64-bit
    -- hash of (action, key): a collision only lets more calls through to the
    -- exact partitions below
    SELECT hash(action_type, idempotency_key) AS h
    FROM candidate_calls
    WHERE idempotency_key IS NOT NULL
    GROUP BY h
    HAVING count(*) >= 2
), o AS (
    SELECT source_id, line, pos, action_type, idempotency_key,
        coalesce(sum(CASE WHEN outcome <> 'rejected' THEN 1 ELSE 0 END) OVER (PARTITION BY action_type, idempotency_key
                     ORDER BY coalesce(ts, ingest_order) NULLS LAST, ingest_order NULLS FIRST, path_rank, line, pos, source_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) >= 1
            AND outcome <> 'rejected'
            AND effect IS NOT NULL AND NOT {{effect_is_noop}} AS offending
    FROM candidate_calls a SEMI JOIN replayed r ON hash(a.action_type, a.idempotency_key) = r.h
    WHERE a.idempotency_key IS NOT NULL
), g AS (
    SELECT action_type, idempotency_key
    FROM o
    GROUP BY action_type, idempotency_key
    HAVING bool_or(offending)
)
SELECT to_json([action_type, idempotency_key])::VARCHAR AS grp, -- unambiguous, whatever the strings hold
       'high' AS severity, action_type, idempotency_key, source_id, line, pos, offending
FROM o JOIN g USING (action_type, idempotency_key)
