package rules

import (
	"context"
	"database/sql"
	"time"
)

// summarize fills the totals, period, scorecard, malformed lines and inputs
// from the calls the report is about (period_calls).
func summarize(ctx context.Context, conn *sql.Conn, res *Result, o Options, set *settings) error {
	var minTS, maxTS sql.NullInt64
	untimedFrom := "calls" // the view joins settings: only worth it when some action is read-only
	if set.readOnly {
		untimedFrom = "(SELECT * FROM classified_calls WHERE NOT read_only)"
	}
	if o.Period != nil {
		untimedFrom = "period_calls" // those ingested in the period
	}
	s := &res.Summary
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM `+untimedFrom+` WHERE ts IS NULL`).Scan(&s.UntimedCalls); err != nil {
		return err
	}
	findings := map[string]int{}
	for _, f := range res.Findings {
		if !f.Suppressed {
			findings[f.ActionType]++
		}
	}
	// one pass over the period's calls: the totals are the actions' sums
	var err error
	if res.Actions, err = actionStats(ctx, conn, "SELECT * FROM period_calls", findings, func(calls, keyed, unfingerprinted int64, lo, hi sql.NullInt64) {
		s.Calls += calls
		s.KeyedCalls += keyed
		s.UnfingerprintedCalls += unfingerprinted
		if lo.Valid && (!minTS.Valid || lo.Int64 < minTS.Int64) {
			minTS = lo
		}
		if hi.Valid && (!maxTS.Valid || hi.Int64 > maxTS.Int64) {
			maxTS = hi
		}
	}); err != nil {
		return err
	}
	if p := o.Period; p != nil {
		a, b := p.Start.UTC(), p.End.UTC()
		res.Period.Start, res.Period.End = &a, &b
		if p.Label != "" {
			l := p.Label
			res.Period.Label = &l
		}
	} else if minTS.Valid {
		a, b := time.Unix(0, minTS.Int64).UTC(), time.Unix(0, maxTS.Int64).UTC()
		res.Period.Start, res.Period.End = &a, &b
	}
	for i := range res.Actions {
		a := &res.Actions[i]
		r := set.of(a.ActionType)
		a.Identity, a.Repeatable = r.Describe(), r.Repeatable
	}
	// read-only actions: not audited, but said
	ro := "SELECT c.* FROM classified_calls c WHERE c.read_only"
	if !set.readOnly {
		ro += " AND false"
	}
	if p := o.Period; p != nil {
		ro += " AND " + p.contains("coalesce(c.ts, (SELECT "+callIngestedNS+" FROM audit_sources s WHERE s.source_id = c.source_id))")
	}
	rows0, err := conn.QueryContext(ctx, `SELECT action_type, count(*), count(idempotency_key) FROM (`+ro+`) GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return err
	}
	for rows0.Next() {
		var a ActionStats
		if err := rows0.Scan(&a.ActionType, &a.Calls, &a.KeyedCalls); err != nil {
			rows0.Close()
			return err
		}
		a.Identity = "read-only"
		res.ReadOnly = append(res.ReadOnly, a)
	}
	rows0.Close()
	if err := rows0.Err(); err != nil {
		return err
	}
	// The sources the report draws on: all of them for an ad-hoc audit,
	// the files with calls in the period for a period report: every segment
	// of such a file (a log read as it grew is one input, as if read once)
	sources := "SELECT source_id FROM sources"
	if o.Period != nil {
		sources = "SELECT source_id FROM sources WHERE path IN (SELECT path FROM sources WHERE source_id IN (SELECT DISTINCT source_id FROM period_calls))"
	}
	rows, err := conn.QueryContext(ctx, `SELECT s.path, m.line, m.error FROM malformed m JOIN sources s USING (source_id)
		WHERE source_id IN (`+sources+`) ORDER BY s.path, m.line, m.error`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var m Malformed
		if err := rows.Scan(&m.Source, &m.Line, &m.Error); err != nil {
			rows.Close()
			return err
		}
		res.Malformed = append(res.Malformed, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	s.MalformedLines = int64(len(res.Malformed))
	// a source read in several segments (a growing log) is one input
	rows, err = conn.QueryContext(ctx, `SELECT path, max(first_line + lines - 1), sum(calls), sum(malformed), max(end_bytes),
		coalesce(max(format), 'jsonl'), sum(coalesce(collapsed, 0)), sum(coalesce(skipped, 0))
		FROM sources WHERE source_id IN (`+sources+`) GROUP BY path ORDER BY min(source_id)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var in Input
		if err := rows.Scan(&in.Source, &in.Lines, &in.Calls, &in.Malformed, &in.Bytes, &in.Format, &in.Collapsed, &in.Skipped); err != nil {
			return err
		}
		s.Collapsed += in.Collapsed
		res.Inputs = append(res.Inputs, in)
	}
	return rows.Err()
}

// actionStats rates each action type of a set of calls after the CLI
// idempotency rubric: 0 no call keyed; 1 partly keyed, or keyed without
// effects reported; 2 every call keyed and reporting an effect; 3 as 2
// with no finding.
// totals, when not nil, is also given each action's count of calls
// without a fingerprint and its first and last time.
func actionStats(ctx context.Context, conn *sql.Conn, calls string, findings map[string]int,
	totals func(calls, keyed, unfingerprinted int64, minTS, maxTS sql.NullInt64)) ([]ActionStats, error) {
	rows, err := conn.QueryContext(ctx, `SELECT action_type, count(*), count(idempotency_key),
		bool_and(effect IS NOT NULL), count(*) FILTER (WHERE fp IS NULL), min(ts), max(ts)
		FROM (`+calls+`) GROUP BY action_type ORDER BY action_type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ActionStats
	for rows.Next() {
		var a ActionStats
		var allEffects bool
		var unfingerprinted int64
		var lo, hi sql.NullInt64
		if err := rows.Scan(&a.ActionType, &a.Calls, &a.KeyedCalls, &allEffects, &unfingerprinted, &lo, &hi); err != nil {
			return nil, err
		}
		if totals != nil {
			totals(a.Calls, a.KeyedCalls, unfingerprinted, lo, hi)
		}
		a.KeyCoverage = float64(a.KeyedCalls) / float64(a.Calls)
		a.Findings = findings[a.ActionType]
		a.Score = score(a, allEffects)
		out = append(out, a)
	}
	return out, rows.Err()
}

func score(a ActionStats, allEffects bool) int {
	switch {
	case a.KeyedCalls == 0:
		return 0
	case a.KeyedCalls < a.Calls || !allEffects:
		return 1
	case a.Findings > 0:
		return 2
	}
	return 3
}

// trend sums up the earlier periods and this one with the same rules:
// a finding counts in every period one of its offending calls is in;
// missing-key counts once per action type with keyless calls in a period.
func trend(ctx context.Context, conn *sql.Conn, res *Result, o Options, all []Finding) error {
	spans := o.spans() // the same order as each finding's inSpans
	for si, sp := range spans {
		pt := TrendPoint{Label: sp.Label, Start: sp.Start.UTC(), End: sp.End.UTC(), FindingsBySeverity: map[Severity]int{}, Actions: map[string]ActionStats{}}
		findings := map[string]int{}
		for i := range all {
			f := &all[i]
			if f.Suppressed || f.Rule == "missing-key" || !f.happenedIn(si) {
				continue
			}
			pt.FindingsBySeverity[f.Severity]++
			findings[f.ActionType]++
		}
		where := "SELECT * FROM audit_calls WHERE " + sp.contains("coalesce(ts, ingested_ns)")
		var keyless []string
		rows, err := conn.QueryContext(ctx, `SELECT DISTINCT action_type FROM (`+where+`) WHERE idempotency_key IS NULL ORDER BY 1`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return err
			}
			keyless = append(keyless, a)
		}
		rows.Close()
		for _, a := range keyless {
			if _, ok := o.Baseline[findingID("missing-key", a)]; !ok {
				pt.FindingsBySeverity[Low]++
				findings[a]++
			}
		}
		stats, err := actionStats(ctx, conn, where, findings, nil)
		if err != nil {
			return err
		}
		for _, a := range stats {
			pt.Actions[a.ActionType] = a
			pt.Calls += a.Calls
			pt.KeyedCalls += a.KeyedCalls
		}
		res.Trend = append(res.Trend, pt)
	}
	if n := len(res.Trend); n >= 2 {
		prev, cur := res.Trend[n-2], res.Trend[n-1]
		for _, a := range res.Actions {
			if p, ok := prev.Actions[a.ActionType]; ok && p.Score != cur.Actions[a.ActionType].Score {
				res.ScoreChanges = append(res.ScoreChanges, ScoreChange{a.ActionType, p.Score, cur.Actions[a.ActionType].Score})
			}
		}
	}
	return nil
}
