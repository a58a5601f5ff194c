package rules

import (
	"context"
	"database/sql"
	"time"
)

// summarize fills the totals, period, scorecard, malformed lines and inputs.
func summarize(ctx context.Context, conn *sql.Conn, res *Result) error {
	var minTS, maxTS sql.NullInt64
	s := &res.Summary
	err := conn.QueryRowContext(ctx, `SELECT count(*), count(idempotency_key),
		count(*) FILTER (WHERE fp IS NULL), count(*) FILTER (WHERE ts IS NULL), min(ts), max(ts),
		(SELECT count(*) FROM malformed)
		FROM audit_calls`).Scan(&s.Calls, &s.KeyedCalls, &s.UnfingerprintedCalls, &s.UntimedCalls,
		&minTS, &maxTS, &s.MalformedLines)
	if err != nil {
		return err
	}
	if minTS.Valid {
		a, b := time.Unix(0, minTS.Int64).UTC(), time.Unix(0, maxTS.Int64).UTC()
		res.Period.Start, res.Period.End = &a, &b
	}
	if err := scorecard(ctx, conn, res); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, `SELECT s.path, m.line, m.error
		FROM malformed m JOIN sources s USING (source_id) ORDER BY m.source_id, m.line`)
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
	// a source read in several segments (a growing log) is one input
	rows, err = conn.QueryContext(ctx, `SELECT path, max(first_line + lines - 1), sum(calls), sum(malformed), max(end_bytes)
		FROM sources GROUP BY path ORDER BY min(source_id)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var in Input
		if err := rows.Scan(&in.Source, &in.Lines, &in.Calls, &in.Malformed, &in.Bytes); err != nil {
			return err
		}
		res.Inputs = append(res.Inputs, in)
	}
	return rows.Err()
}

// scorecard rates each action type after the CLI idempotency rubric:
// 0 no call keyed; 1 partly keyed, or keyed without effects reported;
// 2 every call keyed and reporting an effect; 3 as 2 with no finding.
func scorecard(ctx context.Context, conn *sql.Conn, res *Result) error {
	findings := map[string]int{}
	for _, f := range res.Findings {
		findings[f.ActionType]++
	}
	rows, err := conn.QueryContext(ctx, `SELECT action_type, count(*), count(idempotency_key),
		bool_and(effect IS NOT NULL) FROM audit_calls GROUP BY action_type ORDER BY action_type`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a ActionStats
		var allEffects bool
		if err := rows.Scan(&a.ActionType, &a.Calls, &a.KeyedCalls, &allEffects); err != nil {
			return err
		}
		a.KeyCoverage = float64(a.KeyedCalls) / float64(a.Calls)
		a.Findings = findings[a.ActionType]
		switch {
		case a.KeyedCalls == 0:
			a.Score = 0
		case a.KeyedCalls < a.Calls || !allEffects:
			a.Score = 1
		case a.Findings > 0:
			a.Score = 2
		default:
			a.Score = 3
		}
		res.Actions = append(res.Actions, a)
	}
	return rows.Err()
}
