-- One idempotency key (per action type) answered with two or more distinct
-- response ids: the downstream did not dedupe, the side effect happened twice.
-- A call is offending when it brings a response id not seen before for the
-- key (the first one excepted): that is when, and how often, it happened.
WITH g AS (
    SELECT action_type, idempotency_key
    FROM audit_calls
    WHERE idempotency_key IS NOT NULL
    GROUP BY action_type, idempotency_key
    HAVING count(DISTINCT response_id) >= 2
), c AS (
    SELECT a.*,
        row_number() OVER (PARTITION BY action_type, idempotency_key, response_id ORDER BY ts NULLS LAST, path_rank, line) AS nth_of_response
    FROM audit_calls a JOIN g USING (action_type, idempotency_key)
), f AS (
    SELECT *, first_value(response_id IGNORE NULLS) OVER (PARTITION BY action_type, idempotency_key
        ORDER BY ts NULLS LAST, path_rank, line ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_response
    FROM c
)
SELECT to_json([action_type, idempotency_key])::VARCHAR AS grp, -- unambiguous, whatever the strings hold
       'critical' AS severity, action_type, idempotency_key, source_id, line,
       response_id IS NOT NULL AND nth_of_response = 1 AND response_id <> first_response AS offending
FROM f
