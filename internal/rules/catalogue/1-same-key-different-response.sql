-- One idempotency key (per action type) answered with two or more distinct
-- response ids: the downstream did not dedupe, the side effect happened twice.
WITH g AS (
    SELECT action_type, idempotency_key
    FROM audit_calls
    WHERE idempotency_key IS NOT NULL
    GROUP BY action_type, idempotency_key
    HAVING count(DISTINCT response_id) >= 2
)
SELECT to_json([action_type, idempotency_key])::VARCHAR AS grp, -- unambiguous, whatever the strings hold
       'critical' AS severity, action_type, idempotency_key, source_id, line
FROM audit_calls JOIN g USING (action_type, idempotency_key)
