package rules

import (
	"context"
	"database/sql"
	"strings"

	"github.com/idemaudit/idemaudit/internal/config"
)

// RetryAfterRejection is the rule --quiet-rejections leaves out.
const RetryAfterRejection = "retry-after-rejection"

// settings are the configuration resolved for every action type in the
// database.
type settings struct {
	byAction map[string]config.Resolved
	readOnly bool // some action is read-only
}

func (s *settings) of(action string) config.Resolved { return s.byAction[action] }

// actionSettings resolves the configuration for each action type and writes
// the repeatable and read-only ones to the temp table action_settings, which
// the audit views join.
func actionSettings(ctx context.Context, conn *sql.Conn, cfg *config.Config) (*settings, error) {
	s := &settings{byAction: map[string]config.Resolved{}}
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE action_settings
		(action_type VARCHAR PRIMARY KEY, repeatable BOOLEAN NOT NULL, read_only BOOLEAN NOT NULL)`); err != nil {
		return nil, err
	}
	// an action seen only in trace exports is a read when its name says so
	// (trace exports record every tool call; audit logs only side effects)
	var imported int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sources WHERE coalesce(format, 'jsonl') <> 'jsonl'").Scan(&imported); err != nil {
		return nil, err
	}
	q := "SELECT DISTINCT action_type, false FROM calls"
	if imported > 0 {
		q = `SELECT action_type, bool_and(coalesce(s.format, 'jsonl') <> 'jsonl') FROM calls JOIN sources s USING (source_id) GROUP BY action_type`
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	var special []string
	var vals []any
	for rows.Next() {
		var a string
		var traceOnly bool
		if err := rows.Scan(&a, &traceOnly); err != nil {
			rows.Close()
			return nil, err
		}
		r := cfg.Resolve(a)
		if traceOnly && !r.ReadOnlySet {
			for _, g := range config.DefaultTraceReads {
				if config.MatchDefault(g, a) {
					r.ReadOnly = true
				}
			}
		}
		s.byAction[a] = r
		s.readOnly = s.readOnly || r.ReadOnly
		if r.Repeatable || r.ReadOnly {
			special = append(special, "(?, ?, ?)")
			vals = append(vals, a, r.Repeatable, r.ReadOnly)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for len(special) > 0 {
		n := min(len(special), 500)
		if _, err := conn.ExecContext(ctx, "INSERT INTO action_settings VALUES "+strings.Join(special[:n], ", "), vals[:3*n]...); err != nil {
			return nil, err
		}
		special, vals = special[n:], vals[3*n:]
	}
	return s, nil
}
