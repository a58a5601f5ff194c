-- A key whose later call (after the first by ts, then source and line)
-- reports an effect other than noop: the replay was executed again.
WITH o AS (
    SELECT action_type, idempotency_key, effect,
        row_number() OVER (PARTITION BY action_type, idempotency_key
                           ORDER BY ts NULLS LAST, path, line) AS rn
    FROM audit_calls
    WHERE idempotency_key IS NOT NULL
), g AS (
    SELECT action_type, idempotency_key
    FROM o
    GROUP BY action_type, idempotency_key
    HAVING bool_or(rn > 1 AND effect IS NOT NULL AND lower(effect) <> 'noop')
)
SELECT to_json([action_type, idempotency_key])::VARCHAR AS grp, -- unambiguous, whatever the strings hold
       'high' AS severity, action_type, idempotency_key, source_id, line
FROM audit_calls JOIN g USING (action_type, idempotency_key)
