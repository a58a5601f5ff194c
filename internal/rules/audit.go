package rules

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options parameterise an audit.
type Options struct {
	Window time.Duration // the chain gap for window rules
}

// DefaultWindow is the chain gap when none is given.
const DefaultWindow = 10 * time.Minute

// view is what every rule reads: the calls with their source path, which
// orders ties of equal ts the same way everywhere (ts, then path, then line).
const view = `CREATE OR REPLACE TEMP VIEW audit_calls AS
SELECT c.*, s.path FROM calls c JOIN sources s USING (source_id)`

// Audit runs the whole catalogue over the calls in the database.
func Audit(ctx context.Context, conn *sql.Conn, o Options) (*Result, error) {
	if o.Window <= 0 {
		return nil, fmt.Errorf("the window must be positive, got %s", o.Window)
	}
	if _, err := conn.ExecContext(ctx, view); err != nil {
		return nil, err
	}
	res := &Result{Window: o.Window, Summary: Summary{FindingsBySeverity: map[Severity]int{}}}
	for _, r := range catalogue {
		res.Rules = append(res.Rules, r.Doc)
		fs, err := r.run(ctx, conn, o)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		res.Findings = append(res.Findings, fs...)
	}
	sortFindings(res.Findings, catalogueIndex())
	for _, f := range res.Findings {
		res.Summary.FindingsBySeverity[f.Severity]++
	}
	if err := summarize(ctx, conn, res); err != nil {
		return nil, err
	}
	return res, nil
}

func catalogueIndex() map[string]int {
	m := map[string]int{}
	for i, r := range catalogue {
		m[r.ID] = i
	}
	return m
}

// sortFindings orders by severity, then the first call's time, source and
// line; rule order and the finding's own key make the order total.
func sortFindings(fs []Finding, ruleIdx map[string]int) {
	first := func(f *Finding) Call {
		if len(f.Calls) == 0 {
			return Call{}
		}
		return f.Calls[0]
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		ca, cb := first(a), first(b)
		if c := compareTS(ca.TS, cb.TS); c != 0 {
			return c < 0
		}
		if ca.Source != cb.Source {
			return ca.Source < cb.Source
		}
		if ca.Line != cb.Line {
			return ca.Line < cb.Line
		}
		if ruleIdx[a.Rule] != ruleIdx[b.Rule] {
			return ruleIdx[a.Rule] < ruleIdx[b.Rule]
		}
		return a.ActionType < b.ActionType
	})
}

// compareTS orders timestamps with a missing one last.
func compareTS(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// run executes one rule. A rule's query returns one row per evidence call:
// grp (the group's identity), severity, action_type, idempotency_key,
// source_id, line and, when it samples its evidence, group_calls.
func (r *Rule) run(ctx context.Context, conn *sql.Conn, o Options) ([]Finding, error) {
	q := strings.ReplaceAll(r.SQL, "{{window_ns}}", strconv.FormatInt(o.Window.Nanoseconds(), 10))
	groupCalls := "NULL::BIGINT"
	if strings.Contains(q, "group_calls") {
		groupCalls = "r.group_calls"
	}
	rows, err := conn.QueryContext(ctx, `WITH r AS (`+q+`)
SELECT r.grp, r.severity, r.action_type, r.idempotency_key, `+groupCalls+`,
       c.path, c.line, c.ts, c.idempotency_key, c.response_id, c.status, c.status_num,
       c.effect, c.session_id, c.args_fp::VARCHAR
FROM r JOIN audit_calls c USING (source_id, line)
ORDER BY r.grp, c.ts NULLS LAST, c.path, c.line`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Finding
	var args []*string
	lastGrp := ""
	for rows.Next() {
		var (
			grp, sev, action string
			key, argsFP      sql.NullString
			total            sql.NullInt64
			c                Call
			ts               sql.NullInt64
		)
		if err := rows.Scan(&grp, &sev, &action, &key, &total, &c.Source, &c.Line, &ts,
			&c.Key, &c.ResponseID, &c.Status, &c.StatusNum, &c.Effect, &c.SessionID, &argsFP); err != nil {
			return nil, err
		}
		if ts.Valid {
			t := time.Unix(0, ts.Int64).UTC()
			c.TS = &t
		}
		c.ActionType = action
		if len(out) == 0 || grp != lastGrp {
			if len(out) > 0 {
				finish(&out[len(out)-1], args)
			}
			s, err := ParseSeverity(sev)
			if err != nil {
				return nil, err
			}
			f := Finding{Rule: r.ID, Severity: s, ActionType: action}
			if key.Valid {
				f.Key = &key.String
			}
			if total.Valid {
				f.Stats.Calls = int(total.Int64)
			}
			out = append(out, f)
			args, lastGrp = args[:0], grp
		}
		f := &out[len(out)-1]
		f.Calls = append(f.Calls, c)
		if argsFP.Valid {
			args = append(args, &argsFP.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) > 0 {
		finish(&out[len(out)-1], args)
	}
	for i := range out {
		if out[i].Message, err = r.render(&out[i], verbatim); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// finish computes a finding's stats from its evidence.
func finish(f *Finding, args []*string) {
	st := &f.Stats
	if st.Calls > len(f.Calls) {
		f.Sampled = true
	} else {
		st.Calls = len(f.Calls)
	}
	resp, keys, fps := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var first, last *time.Time
	for _, c := range f.Calls {
		if c.ResponseID != nil {
			resp[*c.ResponseID] = true
		} else {
			st.NullResponses++
		}
		if c.Key != nil {
			keys[*c.Key] = true
		}
		if c.TS != nil {
			if first == nil {
				first = c.TS
			}
			last = c.TS
		}
	}
	for _, a := range args {
		fps[*a] = true
	}
	st.DistinctResponses, st.DistinctKeys, st.DistinctArgs = len(resp), len(keys), len(fps)
	if first != nil {
		st.Span = last.Sub(*first)
	}
}

func verbatim(s string) string { return s }
