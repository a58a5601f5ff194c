-- Keyless calls of one fingerprint (the same action with the same canonical
-- args, or the same session when there are no args), chained while each gap
-- to the previous call is at most the window.
WITH keyless AS (
    SELECT source_id, line, path_rank, ts, fp, response_id, action_type
    FROM audit_calls
    WHERE idempotency_key IS NULL AND fp IS NOT NULL AND ts IS NOT NULL
), repeated AS ( -- most operations happen once: only fingerprints seen twice need a window
    SELECT fp FROM keyless GROUP BY fp HAVING count(*) >= 2
), k AS (
    SELECT * FROM keyless SEMI JOIN repeated USING (fp)
), b AS (
    SELECT *,
        CASE WHEN lag(ts) OVER w >= ts - {{window_ns}} THEN 0 ELSE 1 END AS brk
    FROM k WINDOW w AS (PARTITION BY fp ORDER BY ts, path_rank, line)
), c AS (
    SELECT *,
        sum(brk) OVER (PARTITION BY fp ORDER BY ts, path_rank, line ROWS UNBOUNDED PRECEDING) AS chain
    FROM b
), g AS (
    SELECT fp, chain,
        CASE WHEN count(DISTINCT response_id) >= 2 OR count(response_id) < count(*)
             THEN 'high' ELSE 'low' END AS severity
    FROM c
    GROUP BY fp, chain
    HAVING count(*) >= 2
)
-- grp is stable: the fingerprint and the chain's first call
SELECT fp::VARCHAR || '/' || min(ts) OVER (PARTITION BY fp, chain) AS grp, severity, action_type,
       NULL::VARCHAR AS idempotency_key, source_id, line
FROM c JOIN g USING (fp, chain)
