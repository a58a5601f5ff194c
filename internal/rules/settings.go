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
	rows, err := conn.QueryContext(ctx, "SELECT DISTINCT action_type FROM calls")
	if err != nil {
		return nil, err
	}
	var special []string
	var vals []any
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return nil, err
		}
		r := cfg.Resolve(a)
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
