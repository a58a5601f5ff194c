-- One idempotency key (per action type) answered with two or more distinct
-- response ids by calls that were not rejected: the downstream did not dedupe,
-- the side effect happened twice. (A rejected call's id, e.g. of an error
-- object, is no side effect.) A call is offending when it brings a response
-- id not seen before for the key (the first one excepted): that is when, and
-- how often, it happened.
WITH g0 AS ( -- keys with two response ids at all: few; only their calls need an outcome.
    -- On 64-bit hashes, far cheaper than the strings: a collision of two keys
    -- only lets a few more calls through to the exact grouping below; two
    -- response ids of one key colliding (odds about 1 in 10^19) would hide it.
    SELECT hash(action_type, idempotency_key) AS h
    FROM candidate_calls
    WHERE idempotency_key IS NOT NULL
    GROUP BY h
    HAVING min(hash(response_id)) FILTER (WHERE response_id IS NOT NULL)
        <> max(hash(response_id)) FILTER (WHERE response_id IS NOT NULL)
), k AS (
    SELECT a.* FROM candidate_calls a SEMI JOIN g0 ON hash(a.action_type, a.idempotency_key) = g0.h
    WHERE a.idempotency_key IS NOT NULL
), g AS (
    SELECT action_type, idempotency_key
    FROM k
    GROUP BY action_type, idempotency_key
    HAVING count(DISTINCT response_id) FILTER (WHERE outcome <> 'rejected') >= 2
), c AS (
    SELECT k.*, outcome <> 'rejected' AND response_id IS NOT NULL AS effect_id,
        row_number() OVER (PARTITION BY action_type, idempotency_key, response_id, outcome = 'rejected'
                           ORDER BY ingest_order NULLS LAST, ts NULLS LAST, path_rank, line, pos, source_id) AS nth_of_response
    FROM k JOIN g USING (action_type, idempotency_key)
), f AS (
    SELECT *, first_value(CASE WHEN effect_id THEN response_id END IGNORE NULLS) OVER (PARTITION BY action_type, idempotency_key
        ORDER BY ingest_order NULLS LAST, ts NULLS LAST, path_rank, line, pos, source_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_response
    FROM c
)
SELECT to_json([action_type, idempotency_key])::VARCHAR AS grp, -- unambiguous, whatever the strings hold
       'critical' AS severity, action_type, idempotency_key, source_id, line, pos,
       effect_id AND nth_of_response = 1 AND response_id <> first_response AS offending
FROM f
