-- Keyless calls of one fingerprint (the same action with the same identity:
-- canonical args, or the configured identity paths; when there are no args,
-- the same tool call id of a trace export, else the same session), chained
-- while each gap to the previous call is at most the window. Repeatable
-- actions are left out.
--
-- A chain's side effects: its distinct response ids among calls that were
-- not rejected, plus every such call without a response id (applied or
-- unknown: it may have happened) unless its effect says noop. Two or more:
-- high. At most one, with rejected calls first and then the calls that went
-- through (or none): a retry after a rejection (its own rule, low).
-- Otherwise (the same response id again, or a rejection after the call
-- that went through): low.
WITH repeated AS ( -- most operations happen once: only fingerprints seen twice
    -- need a window. Grouped by a 64-bit hash of the fingerprint, far cheaper
    -- than the fingerprint: a collision only lets a few more calls through to
    -- the exact partitions below (a chain of one call never fires).
    SELECT hash(fp) AS h
    FROM candidate_calls
    WHERE idempotency_key IS NULL AND fp IS NOT NULL AND ts IS NOT NULL AND NOT repeatable
    GROUP BY h
    HAVING count(*) >= 2
), k AS ( -- narrow rows through the windows: a chain may hold millions of calls
    SELECT source_id, line, pos, path_rank, ts, fp
    FROM candidate_calls a SEMI JOIN repeated r ON hash(a.fp) = r.h
    WHERE idempotency_key IS NULL AND fp IS NOT NULL AND ts IS NOT NULL AND NOT repeatable
), b AS (
    SELECT *,
        CASE WHEN lag(ts) OVER w >= ts - {{window_ns}} THEN 0 ELSE 1 END AS brk
    FROM k WINDOW w AS (PARTITION BY fp ORDER BY ts, path_rank, line, pos, source_id)
), c AS (
    SELECT source_id, line, pos, path_rank, ts, fp,
        sum(brk) OVER (PARTITION BY fp ORDER BY ts, path_rank, line, pos, source_id ROWS UNBOUNDED PRECEDING) AS chain
    FROM b
), cc AS ( -- each chained call with what its chain's severity needs
    SELECT c.*, a.response_id, a.action_type, a.outcome, a.effect
    FROM c JOIN candidate_calls a USING (source_id, line, pos)
), g AS (
    SELECT fp, chain, min(ts) AS first_ts,
        count(DISTINCT response_id) FILTER (WHERE outcome <> 'rejected')
            + count(*) FILTER (WHERE outcome <> 'rejected' AND response_id IS NULL AND NOT {{effect_is_noop}}) AS effects,
        count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
        -- rejected calls then the ones that went through, not the other way
        coalesce(max({'t': ts, 'r': path_rank, 'l': line, 'p': pos, 's': source_id}) FILTER (WHERE outcome = 'rejected')
            < min({'t': ts, 'r': path_rank, 'l': line, 'p': pos, 's': source_id}) FILTER (WHERE outcome <> 'rejected'), true) AS rejected_first
    FROM cc
    GROUP BY fp, chain
    HAVING count(*) >= 2
)
, e AS ( -- in a chain of two side effects or more, the calls that bring one:
    -- not rejected, with a response id not seen before in the chain, or none
    SELECT cc.*, g.first_ts, g.effects, g.rejected, g.rejected_first,
        outcome <> 'rejected' AND (response_id IS NULL AND NOT {{effect_is_noop}} OR response_id IS NOT NULL AND row_number() OVER (
            PARTITION BY fp, chain, response_id, outcome = 'rejected' ORDER BY ts, path_rank, line, pos, source_id) = 1) AS brings
    FROM cc JOIN g USING (fp, chain)
)
-- grp is stable: the fingerprint and the chain's first call. A call is
-- offending when it brings a side effect after the chain's first one: the
-- duplicate happened then (a chain crossing into the next period is
-- reported in the period its extra side effect happened in). A chain of
-- at most one side effect happened at its first call (offending NULL).
SELECT fp::VARCHAR || '/' || first_ts AS grp,
       CASE WHEN effects >= 2 THEN 'high' ELSE 'low' END AS severity,
       CASE WHEN effects <= 1 AND rejected >= 1 AND rejected_first THEN 'retry-after-rejection' ELSE 'repeat-without-key' END AS rule,
       action_type, NULL::VARCHAR AS idempotency_key, source_id, line, pos,
       CASE WHEN effects >= 2 THEN brings AND sum(brings::INTEGER) OVER (
            PARTITION BY fp, chain ORDER BY ts, path_rank, line, pos, source_id ROWS UNBOUNDED PRECEDING) >= 2 END AS offending
FROM e
