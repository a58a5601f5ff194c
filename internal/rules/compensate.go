package rules

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// duplicateRules are the rules whose findings are duplicate side effects
// that a later compensating call can undo, matched by response id.
var duplicateRules = map[string]bool{"same-key-different-response": true, "repeat-without-key": true, "unstable-key": true}

// IsDuplicateRule reports a rule whose findings are duplicate side effects
// (compensations apply to them).
func IsDuplicateRule(id string) bool { return duplicateRules[id] }

// compensate finds, for every duplicate finding, the later calls of a
// compensating action (configured at ingest: their args strings are kept)
// that were applied and whose args hold one of the finding's response ids as
// a string value. A finding whose every extra side effect was undone is
// marked compensated and drops to low; otherwise it keeps its severity and
// its stats say how many extras remain. It reads every call of each
// finding's group from evidence_rows, not only the listed ones, and counts
// every compensation; a finding lists its first maxListed (0: all).
func compensate(ctx context.Context, conn *sql.Conn, fs []Finding, maxListed int) error {
	var dups []*Finding
	for i := range fs {
		f := &fs[i]
		if duplicateRules[f.Rule] && f.Stats.SideEffects >= 2 {
			f.Stats.ExtraRemaining = f.Stats.SideEffects - 1
			dups = append(dups, f)
		}
	}
	if len(dups) == 0 {
		return nil
	}
	var kept int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM arg_strings LIMIT 1)").Scan(&kept); err != nil {
		return err
	}
	if kept == 0 {
		return nil // no compensating call at all
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE dup_groups (rule_no INTEGER, grp VARCHAR, idx INTEGER)"); err != nil {
		return err
	}
	for start := 0; start < len(dups); start += 1000 {
		n := min(len(dups)-start, 1000)
		vals := make([]any, 0, 3*n)
		for i := start; i < start+n; i++ {
			vals = append(vals, dups[i].ruleNo, dups[i].grp, i)
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO dup_groups VALUES "+strings.Repeat("(?, ?, ?), ", n-1)+"(?, ?, ?)", vals...); err != nil {
			return err
		}
	}
	// each group's side effects that a compensation can name: the response
	// ids of its calls not rejected, with a time, each with its first time
	// and first place in evidence order; the compensating calls that name
	// one (narrow rows through the unnest: a compensating call holds a
	// dozen strings)
	for _, q := range []string{
		`CREATE OR REPLACE TEMP TABLE dup_effects AS
		SELECT d.idx, e.response_id, min(e.ts) AS first_ts, min(e.k) AS first_at
		FROM evidence_rows e JOIN dup_groups d USING (rule_no, grp)
		WHERE e.outcome <> 'rejected' AND e.response_id IS NOT NULL AND e.ts IS NOT NULL
		GROUP BY d.idx, e.response_id`,
		`CREATE OR REPLACE TEMP TABLE comp_matches AS
		WITH x AS (
			SELECT source_id, line, pos, unnest(string_split(strings, chr(31))) AS s FROM arg_strings
		)
		SELECT DISTINCT source_id, line, pos, s FROM x SEMI JOIN (SELECT DISTINCT response_id FROM dup_effects) t ON x.s = t.response_id`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS dup_groups; DROP TABLE IF EXISTS dup_effects; DROP TABLE IF EXISTS comp_matches; DROP TABLE IF EXISTS comp_rows")
	// every compensation of every group: an applied call naming one of its
	// side effects after that side effect first happened, and not one of the
	// group's own calls (told apart by source id: two sources may share a
	// path, as standard input read twice does); numbered in the order a
	// finding lists them: by time, then by the side effect's first call, then
	// by place
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE comp_rows AS
		WITH cc AS (
			SELECT m.s AS of, c.source_id, c.path, c.path_rank, c.line, c.pos, c.ts, c.action_type, c.idempotency_key, c.response_id,
				c.status, c.status_num, c.effect, c.session_id, c.outcome, c.span_id, c.run_id, c.duration_ms
			FROM comp_matches m JOIN audit_calls c USING (source_id, line, pos)
			WHERE c.outcome = 'applied' AND c.ts IS NOT NULL
		), own AS (
			SELECT DISTINCT d.idx, e.source_id, e.line, e.pos
			FROM evidence_rows e JOIN dup_groups d USING (rule_no, grp)
			SEMI JOIN comp_matches m ON e.source_id = m.source_id AND e.line = m.line AND e.pos = m.pos
		)
		SELECT d.idx, d.first_at, cc.*,
			row_number() OVER (PARTITION BY d.idx ORDER BY cc.ts, d.first_at, cc.path_rank, cc.line, cc.pos, cc.source_id) AS rn
		FROM dup_effects d JOIN cc ON cc.of = d.response_id AND cc.ts > d.first_ts
		WHERE NOT EXISTS (SELECT 1 FROM own o WHERE o.idx = d.idx AND o.source_id = cc.source_id AND o.line = cc.line AND o.pos = cc.pos)`); err != nil {
		return err
	}
	// per group: the side effects undone, the compensations in all, and the
	// first five distinct response ids undone and compensating actions, in
	// the order of their first compensation (what the message names)
	rows, err := conn.QueryContext(ctx, `WITH o AS (SELECT idx, of, min(rn) AS r FROM comp_rows GROUP BY idx, of),
		a AS (SELECT idx, action_type, min(rn) AS r FROM comp_rows GROUP BY idx, action_type),
		t AS (SELECT idx, count(*) AS total FROM comp_rows GROUP BY idx),
		os AS (SELECT idx, count(*) AS n, to_json(min_by(of, r, 5))::VARCHAR AS v FROM o GROUP BY idx),
		ac AS (SELECT idx, count(*) AS n, to_json(min_by(action_type, r, 5))::VARCHAR AS v FROM a GROUP BY idx)
		SELECT idx, t.total, os.n, os.v, ac.n, ac.v FROM t JOIN os USING (idx) JOIN ac USING (idx)`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			idx, total, undone int
			ofs, acts          string
			n                  compNames
		)
		if err := rows.Scan(&idx, &total, &undone, &ofs, &n.actionsTotal, &acts); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(ofs), &n.of); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(acts), &n.actions); err != nil {
			rows.Close()
			return err
		}
		f := dups[idx]
		f.compNames, f.CompensationsTotal = &n, total
		f.Stats.Compensated = undone
		f.Stats.ExtraRemaining = max(0, f.Stats.SideEffects-1-undone)
		if f.Stats.ExtraRemaining == 0 {
			f.Compensated, f.SeverityBefore, f.Severity = true, f.Severity, Low
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// the compensations each finding lists: its first maxListed (0: all)
	where := ""
	if maxListed > 0 {
		where = " WHERE rn <= " + strconv.Itoa(maxListed)
	}
	rows, err = conn.QueryContext(ctx, `SELECT idx, of, path, line, pos, ts, action_type, idempotency_key, response_id,
			status, status_num, effect, session_id, outcome, span_id, run_id, duration_ms
		FROM comp_rows`+where+` ORDER BY idx, rn`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			idx     int
			outcome string
			ts      int64
			c       Compensation
		)
		if err := rows.Scan(&idx, &c.Of, &c.Source, &c.Line, &c.Pos, &ts, &c.ActionType, &c.Key, &c.ResponseID,
			&c.Status, &c.StatusNum, &c.Effect, &c.SessionID, &outcome, &c.SpanID, &c.RunID, &c.DurationMS); err != nil {
			return err
		}
		t := time.Unix(0, ts).UTC()
		c.TS, c.Outcome = &t, Outcome(outcome)
		dups[idx].Compensations = append(dups[idx].Compensations, c)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return nil
}
