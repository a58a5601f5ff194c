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
// its stats say how many extras remain.
func compensate(ctx context.Context, conn *sql.Conn, fs []Finding) error {
	var ids []string
	seen := map[string]bool{}
	for i := range fs {
		f := &fs[i]
		if !duplicateRules[f.Rule] || f.Stats.SideEffects < 2 {
			continue
		}
		f.Stats.ExtraRemaining = f.Stats.SideEffects - 1
		for _, c := range f.Calls {
			if c.Outcome != Rejected && c.ResponseID != nil && !seen[*c.ResponseID] {
				seen[*c.ResponseID] = true
				ids = append(ids, *c.ResponseID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var kept int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM arg_strings LIMIT 1)").Scan(&kept); err != nil {
		return err
	}
	if kept == 0 {
		return nil // no compensating call at all
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE comp_targets (response_id VARCHAR)"); err != nil {
		return err
	}
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), 1000)
		vals := make([]any, n)
		for i := range vals {
			vals[i] = rest[i]
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO comp_targets VALUES "+strings.Repeat("(?), ", n-1)+"(?)", vals...); err != nil {
			return err
		}
		rest = rest[n:]
	}
	// narrow rows through the unnest (a compensating call holds a dozen
	// strings), the call's details only for the matches
	rows, err := conn.QueryContext(ctx, `WITH x AS (
			SELECT source_id, line, pos, unnest(string_split(strings, chr(31))) AS s FROM arg_strings
		), m AS (
			SELECT DISTINCT source_id, line, pos, s FROM x SEMI JOIN comp_targets t ON x.s = t.response_id
		)
		SELECT m.s, c.path, c.path_rank, c.line, c.pos, c.ts, c.action_type, c.idempotency_key, c.response_id,
			c.status, c.status_num, c.effect, c.session_id, c.outcome, c.span_id, c.run_id, c.duration_ms
		FROM m JOIN audit_calls c USING (source_id, line, pos)
		WHERE c.outcome = 'applied' AND c.ts IS NOT NULL
		ORDER BY c.ts, c.path_rank, c.line, c.pos, c.source_id, m.s`)
	if err != nil {
		return err
	}
	by := map[string][]Call{}
	for rows.Next() {
		var (
			of, outcome string
			rank        int64
			ts          int64
			c           Call
		)
		if err := rows.Scan(&of, &c.Source, &rank, &c.Line, &c.Pos, &ts, &c.ActionType, &c.Key, &c.ResponseID,
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
	for i := range fs {
		f := &fs[i]
		if !duplicateRules[f.Rule] || f.Stats.SideEffects < 2 {
			continue
		}
		type at struct {
			source string
			line   int64
			pos    int32
		}
		own := map[at]bool{}
		first := map[string]time.Time{}
		var order []string
		for _, c := range f.Calls {
			own[at{c.Source, c.Line, c.Pos}] = true
			if c.Outcome == Rejected || c.ResponseID == nil || c.TS == nil {
				continue
			}
			id := *c.ResponseID
			if t, ok := first[id]; !ok || c.TS.Before(t) {
				if !ok {
					order = append(order, id)
				}
				first[id] = *c.TS
			}
		}
		undone := 0
		for _, id := range order {
			hit := false
			for _, cc := range by[id] {
				if own[at{cc.Source, cc.Line, cc.Pos}] || !cc.TS.After(first[id]) {
					continue // a compensation comes after the side effect it undoes
				}
				f.Compensations = append(f.Compensations, Compensation{Call: cc, Of: id})
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
