package rules

import (
	"context"
	"database/sql"
	"sort"
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
// finding's group from evidence_rows, not only the listed ones.
func compensate(ctx context.Context, conn *sql.Conn, fs []Finding) error {
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
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS dup_groups; DROP TABLE IF EXISTS dup_effects; DROP TABLE IF EXISTS comp_matches")
	rows, err := conn.QueryContext(ctx, `SELECT m.s, c.source_id, c.path, c.path_rank, c.line, c.pos, c.ts, c.action_type, c.idempotency_key, c.response_id,
			c.status, c.status_num, c.effect, c.session_id, c.outcome, c.span_id, c.run_id, c.duration_ms
		FROM comp_matches m JOIN audit_calls c USING (source_id, line, pos)
		WHERE c.outcome = 'applied' AND c.ts IS NOT NULL
		ORDER BY c.ts, c.path_rank, c.line, c.pos, c.source_id, m.s`)
	if err != nil {
		return err
	}
	// a compensating call with its source: two sources may have the same
	// path (standard input read twice), so its source id tells it apart
	type sourced struct {
		Call
		sid int32
	}
	by := map[string][]sourced{}
	for rows.Next() {
		var (
			of, outcome string
			rank        int64
			ts          int64
			c           sourced
		)
		if err := rows.Scan(&of, &c.sid, &c.Source, &rank, &c.Line, &c.Pos, &ts, &c.ActionType, &c.Key, &c.ResponseID,
			&c.Status, &c.StatusNum, &c.Effect, &c.SessionID, &outcome, &c.SpanID, &c.RunID, &c.DurationMS); err != nil {
			rows.Close()
			return err
		}
		t := time.Unix(0, ts).UTC()
		c.TS, c.Outcome = &t, Outcome(outcome)
		by[of] = append(by[of], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// a group's own calls never compensate it
	type at struct {
		idx  int
		sid  int32
		line int64
		pos  int32
	}
	own := map[at]bool{}
	rows, err = conn.QueryContext(ctx, `SELECT d.idx, e.source_id, e.line, e.pos
		FROM evidence_rows e JOIN dup_groups d USING (rule_no, grp)
		SEMI JOIN comp_matches m ON e.source_id = m.source_id AND e.line = m.line AND e.pos = m.pos`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var a at
		if err := rows.Scan(&a.idx, &a.sid, &a.line, &a.pos); err != nil {
			rows.Close()
			return err
		}
		own[a] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// each group's side effects that some compensating call names, in the
	// order they first happened
	type effect struct {
		id    string
		first time.Time
	}
	effects := map[int][]effect{}
	rows, err = conn.QueryContext(ctx, `SELECT idx, response_id, first_ts FROM dup_effects
		SEMI JOIN (SELECT DISTINCT s FROM comp_matches) m ON response_id = m.s
		ORDER BY idx, first_at`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			idx int
			e   effect
			ts  int64
		)
		if err := rows.Scan(&idx, &e.id, &ts); err != nil {
			rows.Close()
			return err
		}
		e.first = time.Unix(0, ts).UTC()
		effects[idx] = append(effects[idx], e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for idx, f := range dups {
		undone := 0
		for _, e := range effects[idx] {
			hit := false
			for _, cc := range by[e.id] {
				if own[at{idx, cc.sid, cc.Line, cc.Pos}] || !cc.TS.After(e.first) {
					continue // a compensation comes after the side effect it undoes
				}
				f.Compensations = append(f.Compensations, Compensation{Call: cc.Call, Of: e.id})
				hit = true
			}
			if hit {
				undone++
			}
		}
		if undone == 0 {
			continue
		}
		sort.SliceStable(f.Compensations, func(a, b int) bool { return f.Compensations[a].TS.Before(*f.Compensations[b].TS) })
		f.Stats.Compensated = undone
		f.Stats.ExtraRemaining = max(0, f.Stats.SideEffects-1-undone)
		if f.Stats.ExtraRemaining == 0 {
			f.Compensated, f.SeverityBefore, f.Severity = true, f.Severity, Low
		}
	}
	return nil
}
