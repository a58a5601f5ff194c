-- Action types some of whose calls carry no idempotency key. Evidence is
-- the first 20 keyless calls; group_calls counts them all.
WITH k AS (
    SELECT action_type, source_id, line,
        count(*) OVER (PARTITION BY action_type) AS group_calls,
        row_number() OVER (PARTITION BY action_type ORDER BY ts NULLS LAST, path, line) AS rn
    FROM audit_calls
    WHERE idempotency_key IS NULL
)
SELECT action_type AS grp, 'low' AS severity, action_type,
       NULL::VARCHAR AS idempotency_key, source_id, line, group_calls
FROM k
WHERE rn <= 20
