-- One idempotency key (per action type) reused with different arguments.
WITH g AS (
    SELECT action_type, idempotency_key
    FROM audit_calls
    WHERE idempotency_key IS NOT NULL
    GROUP BY action_type, idempotency_key
    HAVING count(DISTINCT args_fp) >= 2
)
SELECT to_json([action_type, idempotency_key])::VARCHAR AS grp, -- unambiguous, whatever the strings hold
       'medium' AS severity, action_type, idempotency_key, source_id, line
FROM audit_calls JOIN g USING (action_type, idempotency_key)
