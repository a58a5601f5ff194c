-- Keyed calls with the same fingerprint, chained within the window, that
-- carry two or more distinct keys: a fresh key per retry. The fingerprint is
-- the args' (without ignored paths), the configured identity's, or (a
-- trace export's call without args) its tool call id's: identity_fp. Calls
-- fingerprinted by their session take no part (two keys in one session are
-- two operations as often as not). High when two
-- or more of the chain's calls may have had an effect (distinct response ids
-- of calls not rejected, plus such calls without one and not noop), else medium: the keys
-- are unstable but no duplicate happened this time. Repeatable actions are
-- left out (a fresh key per intended repeat is right).
WITH rekeyed AS ( -- most operations happen once: only args seen twice need a
    -- window. Grouped by a 64-bit hash of the fingerprint, far cheaper than
    -- the fingerprint: a collision only lets a few more calls through to the
    -- exact partitions below (a chain of one call never fires).
    SELECT hash(fp) AS h
    FROM candidate_calls
    WHERE idempotency_key IS NOT NULL AND identity_fp AND ts IS NOT NULL AND NOT repeatable
    GROUP BY h
    HAVING count(*) >= 2
), k AS (
    SELECT source_id, line, pos, path_rank, ts, fp, idempotency_key, action_type, response_id, outcome, effect
    FROM candidate_calls a SEMI JOIN rekeyed r ON hash(a.fp) = r.h
    WHERE idempotency_key IS NOT NULL AND identity_fp AND ts IS NOT NULL AND NOT repeatable
), b AS (
    SELECT *,
        CASE WHEN lag(ts) OVER w >= ts - {{window_ns}} THEN 0 ELSE 1 END AS brk
    FROM k WINDOW w AS (PARTITION BY fp ORDER BY ts, path_rank, line, pos, source_id)
), c AS (
    SELECT *,
        sum(brk) OVER (PARTITION BY fp ORDER BY ts, path_rank, line, pos, source_id ROWS UNBOUNDED PRECEDING) AS chain
    FROM b
), g AS (
    SELECT fp, chain,
        count(DISTINCT response_id) FILTER (WHERE outcome <> 'rejected')
            + count(*) FILTER (WHERE outcome <> 'rejected' AND response_id IS NULL AND NOT {{effect_is_noop}}) AS effects
    FROM c
    GROUP BY fp, chain
    HAVING count(DISTINCT idempotency_key) >= 2
)
, e AS ( -- in a chain of two side effects or more, the calls that bring one:
    -- not rejected, with a response id not seen before in the chain, or none
    SELECT c.*, g.effects,
        outcome <> 'rejected' AND (response_id IS NULL AND NOT {{effect_is_noop}} OR response_id IS NOT NULL AND row_number() OVER (
            PARTITION BY fp, chain, response_id, outcome = 'rejected' ORDER BY ts, path_rank, line, pos, source_id) = 1) AS brings
    FROM c JOIN g USING (fp, chain)
)
-- grp is stable: the fingerprint and the chain's first call. Offending, in
-- a chain of two side effects or more: a call that brings one after the
-- first (as in repeat-without-key); otherwise the chain's first call.
SELECT fp::VARCHAR || '/' || min(ts) OVER (PARTITION BY fp, chain) AS grp,
       CASE WHEN effects >= 2 THEN 'high' ELSE 'medium' END AS severity, action_type,
       NULL::VARCHAR AS idempotency_key, source_id, line, pos,
       CASE WHEN effects >= 2 THEN brings AND sum(brings::INTEGER) OVER (
            PARTITION BY fp, chain ORDER BY ts, path_rank, line, pos, source_id ROWS UNBOUNDED PRECEDING) >= 2 END AS offending
FROM e
