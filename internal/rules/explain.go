package rules

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Selector picks the calls an explanation is about: exactly one of Key,
// Finding, Session, Response and Arg set.
type Selector struct {
	Key, Finding, Session, Response string
	// Arg: the calls whose args hold this value, which the database does
	// not keep: the caller reads the logs again and lists them in ArgCalls
	Arg      string
	ArgCalls []CallRef
}

// CallRef names one call: its source's path as ingested, line and place
// among its line's calls.
type CallRef struct {
	Source string
	Line   int64
	Pos    int32
}

func (s Selector) describe() (string, error) {
	var set []string
	for _, kv := range [][2]string{{"key", s.Key}, {"finding", s.Finding}, {"session", s.Session}, {"response id", s.Response}, {"args value", s.Arg}} {
		if kv[1] != "" {
			set = append(set, kv[0]+" "+kv[1])
		}
	}
	if len(set) != 1 {
		return "", errors.New("give exactly one of --key, --finding, --session, --response, --arg")
	}
	return set[0], nil
}

// Explanation is a timeline of calls and what the audit found in them.
type Explanation struct {
	Subject  string    // e.g. "key chg-42"
	Calls    []Call    // ordered by ts, source, line
	Findings []Finding // the findings among these calls (coverage findings left out), audit order
	Capped   int       // calls left out beyond MaxExplainCalls
}

// MaxExplainCalls bounds a timeline (a session of a million calls is not a
// timeline anyone reads; the JSON report has every finding's calls).
const MaxExplainCalls = 10000

// ErrNothingToExplain is a selector no call matches.
var ErrNothingToExplain = errors.New("no call matches")

// Explain runs the audit and gathers the timeline of the selected calls:
// a key's calls (any action), a session's, a finding's evidence and
// compensating calls, or, for a response id, the evidence of every finding
// that holds it (else the calls that returned it).
func Explain(ctx context.Context, conn *sql.Conn, o Options, sel Selector) (*Explanation, error) {
	subject, err := sel.describe()
	if err != nil {
		return nil, err
	}
	// every call of every finding: which findings hold the selected calls
	// is read from their calls; the timeline is capped below
	o.MaxEvidence = 0
	res, err := Audit(ctx, conn, o)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Subject: subject}
	var where string
	var args []any
	switch {
	case sel.Finding != "":
		var hit []*Finding
		for i := range res.Findings {
			if strings.HasPrefix(res.Findings[i].ID, sel.Finding) {
				hit = append(hit, &res.Findings[i])
			}
		}
		switch {
		case len(hit) == 0:
			return nil, fmt.Errorf("%w: no finding has id %s", ErrNothingToExplain, sel.Finding)
		case len(hit) > 1:
			return nil, fmt.Errorf("finding id %s is ambiguous (%d findings start with it): give more of it", sel.Finding, len(hit))
		}
		ex.Subject = "finding " + hit[0].ID // the whole id, whatever part of it was given
		ex.Calls = append(ex.Calls, hit[0].Calls...)
		for _, c := range hit[0].Compensations {
			ex.Calls = append(ex.Calls, c.Call)
		}
		sortCalls(ex.Calls)
	case sel.Response != "":
		seen := map[[3]any]bool{}
		for i := range res.Findings {
			f := &res.Findings[i]
			if f.Rule == "missing-key" || !holds(f, sel.Response) {
				continue
			}
			for _, c := range append(append([]Call(nil), f.Calls...), compCalls(f)...) {
				if k := [3]any{c.Source, c.Line, c.Pos}; !seen[k] {
					seen[k] = true
					ex.Calls = append(ex.Calls, c)
				}
			}
		}
		sortCalls(ex.Calls)
		if len(ex.Calls) == 0 {
			where, args = "response_id = ?", []any{sel.Response}
		}
	case sel.Key != "":
		where, args = "idempotency_key = ?", []any{sel.Key}
	case sel.Arg != "":
		if err := argCalls(ctx, conn, sel.ArgCalls); err != nil {
			return nil, err
		}
		where = "(source_id, line, pos) IN (SELECT source_id, line, pos FROM arg_calls)"
	default:
		where, args = "session_id = ?", []any{sel.Session}
	}
	if where != "" {
		if ex.Calls, ex.Capped, err = selectCalls(ctx, conn, where, args...); err != nil {
			return nil, err
		}
	}
	if len(ex.Calls) == 0 {
		if where != "" {
			// the calls may be there, left out of the audit as reads
			var actions []string
			rows, err := conn.QueryContext(ctx, "SELECT DISTINCT action_type FROM classified_calls WHERE read_only AND "+where+" ORDER BY 1 LIMIT 5", args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var a string
				if err := rows.Scan(&a); err != nil {
					rows.Close()
					return nil, err
				}
				actions = append(actions, a)
			}
			rows.Close()
			if len(actions) > 0 {
				return nil, fmt.Errorf("%w %s among the audited calls; read-only calls of %s match (left out as reads: --include audits them)",
					ErrNothingToExplain, subject, strings.Join(actions, ", "))
			}
		}
		return nil, fmt.Errorf("%w %s", ErrNothingToExplain, subject)
	}
	in := map[[3]any]bool{}
	for _, c := range ex.Calls {
		in[[3]any{c.Source, c.Line, c.Pos}] = true
	}
	for _, f := range res.Findings {
		if f.Rule == "missing-key" && (sel.Finding == "" || !strings.HasPrefix(f.ID, sel.Finding)) {
			continue
		}
		for _, c := range f.Calls {
			if in[[3]any{c.Source, c.Line, c.Pos}] {
				ex.Findings = append(ex.Findings, f)
				break
			}
		}
	}
	return ex, nil
}

func holds(f *Finding, resp string) bool {
	for _, c := range f.Calls {
		if c.ResponseID != nil && *c.ResponseID == resp {
			return true
		}
	}
	for _, c := range f.Compensations {
		if c.Of == resp || (c.ResponseID != nil && *c.ResponseID == resp) {
			return true
		}
	}
	return false
}

func compCalls(f *Finding) []Call {
	var out []Call
	for _, c := range f.Compensations {
		out = append(out, c.Call)
	}
	return out
}

func sortCalls(cs []Call) {
	sort.SliceStable(cs, func(i, j int) bool { return compareCalls(&cs[i], &cs[j]) < 0 })
}

// selectCalls reads the audited calls matching one condition, in time order.
func selectCalls(ctx context.Context, conn *sql.Conn, where string, args ...any) ([]Call, int, error) {
	var total int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM audit_calls WHERE "+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := conn.QueryContext(ctx, `SELECT path, line, pos, ts, action_type, idempotency_key, response_id, status, status_num,
		effect, session_id, span_id, run_id, duration_ms, outcome
		FROM audit_calls WHERE `+where+` ORDER BY ts NULLS LAST, path_rank, line, pos, source_id LIMIT `+fmt.Sprint(MaxExplainCalls), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Call
	for rows.Next() {
		var c Call
		var ts sql.NullInt64
		var outcome string
		if err := rows.Scan(&c.Source, &c.Line, &c.Pos, &ts, &c.ActionType, &c.Key, &c.ResponseID, &c.Status, &c.StatusNum,
			&c.Effect, &c.SessionID, &c.SpanID, &c.RunID, &c.DurationMS, &outcome); err != nil {
			return nil, 0, err
		}
		if ts.Valid {
			t := time.Unix(0, ts.Int64).UTC()
			c.TS = &t
		}
		c.Outcome = Outcome(outcome)
		out = append(out, c)
	}
	return out, total - len(out), rows.Err()
}

// Verdict says in plain words what happened: for each finding among the
// calls, how many side effects one operation had, how the repeat came
// about, and whether it was undone. Log values go through quote.
func Verdict(ex *Explanation, quote func(string) string) []string {
	var out []string
	dup := 0
	for i := range ex.Findings {
		f := &ex.Findings[i]
		var s string
		switch {
		case f.Rule == "missing-key":
			s = Message(f, quote) + "."
		case IsDuplicateRule(f.Rule) && f.Stats.SideEffects >= 2:
			dup++
			s = fmt.Sprintf("%d side effects of %s for one logical operation (%s)", f.Stats.SideEffects, quote(f.ActionType), f.Rule)
			ids := responses(f, quote)
			if n := f.Stats.NullResponses; n > 0 {
				// a side effect the verdict cannot name by its id
				w := "calls"
				if n == 1 {
					w = "call"
				}
				ids = append(ids, fmt.Sprintf("%d %s without a response id", n, w))
			}
			if len(ids) > 0 {
				s += ": " + strings.Join(ids, ", ")
			}
			if n := PatternNote(f, quote); n != "" {
				s += "; " + n
			}
			switch {
			case f.Compensated:
				s += "; every extra one was undone later (compensated)"
			case f.Stats.Compensated > 0:
				s += fmt.Sprintf("; %d of the extra ones undone, %d still standing", f.Stats.Compensated, f.Stats.ExtraRemaining)
			default:
				s += fmt.Sprintf("; %d extra still standing", f.Stats.ExtraRemaining)
			}
			s += "."
		default:
			if f.Rule == "non-noop-replay" {
				dup++ // the downstream says it executed the key again
			}
			s = Message(f, quote)
			if n := PatternNote(f, quote); n != "" {
				s += " (" + n + ")"
			}
			s += "."
		}
		out = append(out, s)
	}
	if dup == 0 {
		lead := fmt.Sprintf("No duplicate side effect among these %d calls.", len(ex.Calls))
		if len(ex.Calls) == 1 {
			lead = "No duplicate side effect: one call."
		}
		out = append([]string{lead}, out...)
	}
	return out
}

func responses(f *Finding, quote func(string) string) []string {
	var ids []string
	seen := map[string]bool{}
	for _, c := range f.Calls {
		if c.Outcome != Rejected && c.ResponseID != nil && !seen[*c.ResponseID] {
			seen[*c.ResponseID] = true
			ids = append(ids, quote(*c.ResponseID))
		}
	}
	if len(ids) > 5 {
		ids = append(ids[:5], fmt.Sprintf("and %d more", len(ids)-5))
	}
	return ids
}

// argCalls writes the calls of refs to the temp table arg_calls, by source
// id: a path names its source's segments (a log read in parts has several).
// A ref ingest set aside (collapsed_calls) stands for the calls that stayed
// in its place: the kept copy of its span (a telemetry duplicate) and the
// attempts that took its args (a wrapper span: the calls under it of its
// tool with its args fingerprint).
func argCalls(ctx context.Context, conn *sql.Conn, refs []CallRef) error {
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE arg_refs (path VARCHAR, line BIGINT, pos INTEGER)`); err != nil {
		return err
	}
	for len(refs) > 0 {
		n := min(len(refs), 500)
		vals := make([]any, 0, 3*n)
		for _, r := range refs[:n] {
			vals = append(vals, r.Source, r.Line, r.Pos)
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO arg_refs VALUES "+strings.Repeat("(?, ?, ?), ", n-1)+"(?, ?, ?)", vals...); err != nil {
			return err
		}
		refs = refs[n:]
	}
	// the attempts: calls of the wrapper's trace and tool with its args
	// fingerprint (an ignored path may differ) whose span it holds, up
	// their parents (tool spans or other: span_links); only calls of trace
	// exports (a JSON Lines call without a trace id is in no trace)
	_, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE arg_calls AS
		WITH RECURSIVE refs AS (SELECT s.source_id, r.line, r.pos FROM arg_refs r JOIN sources s USING (path)
		), aside AS (
			SELECT k.* FROM refs r JOIN collapsed_calls k ON k.source_id = r.source_id AND k.line = r.line AND k.pos = r.pos
		), traced AS (
			SELECT c.* FROM calls c WHERE c.source_id IN (SELECT source_id FROM sources WHERE coalesce(format, 'jsonl') <> 'jsonl')
		), links AS (
			SELECT coalesce(trace_id, '') AS t, span_id, parent_id FROM span_links
			UNION SELECT coalesce(trace_id, ''), span_id, parent_id FROM traced WHERE span_id IS NOT NULL AND parent_id IS NOT NULL
			UNION SELECT coalesce(trace_id, ''), span_id, parent_id FROM collapsed_calls WHERE span_id IS NOT NULL AND parent_id IS NOT NULL
		), up(source_id, line, pos, t, want, anc, depth) AS (
			SELECT c.source_id, c.line, c.pos, coalesce(c.trace_id, ''), k.span_id, c.parent_id, 0
			FROM aside k JOIN traced c ON coalesce(c.trace_id, '') = coalesce(k.trace_id, '')
				AND c.action_type = k.action_type AND c.args_fp = k.args_fp
			WHERE c.parent_id IS NOT NULL
			UNION ALL
			SELECT up.source_id, up.line, up.pos, up.t, up.want, l.parent_id, up.depth + 1
			FROM up JOIN links l ON l.t = up.t AND l.span_id = up.anc
			WHERE up.anc <> up.want AND up.depth < 64
		)
		SELECT * FROM refs
		UNION SELECT c.source_id, c.line, c.pos FROM aside k
		JOIN traced c ON coalesce(c.trace_id, '') = coalesce(k.trace_id, '') AND c.span_id = k.span_id
		UNION SELECT source_id, line, pos FROM up WHERE anc = want`)
	return err
}
