package rules

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"unicode"

	"github.com/idemaudit/idemaudit/internal/config"
)

// The built-in status words, matched after trimming, without case. HTTP
// codes (a number, or a string of three digits) are classed by range:
// 2xx applied; 408 unknown (the request timed out: it may have run); other
// 4xx rejected; 1xx, 3xx, 5xx unknown. The configuration's outcomes lists
// are looked at first and so can reclass any of these, codes included.
var (
	AppliedStatuses = []string{"ok", "success", "succeeded", "successful", "completed", "complete",
		"done", "created", "applied", "accepted", "executed"}
	RejectedStatuses = []string{"rejected", "invalid", "invalid_request", "invalid_argument", "invalid_params",
		"validation_error", "validation_failed", "bad_request", "unauthorized", "unauthenticated", "forbidden",
		"permission_denied", "not_found", "conflict", "already_exists", "failed_precondition", "precondition_failed",
		"out_of_range", "unprocessable", "unprocessable_entity", "denied", "refused", "declined", "rate_limited",
		"too_many_requests", "resource_exhausted"}
	UnknownStatuses = []string{"timeout", "timed_out", "deadline_exceeded", "error", "failed", "failure",
		"unavailable", "internal", "internal_error", "server_error", "unknown", "aborted", "cancelled",
		"canceled", "pending", "in_progress"}
)

// statusOutcomes writes the temp table status_outcomes: the outcome each
// distinct status of the database says (NULL: the status does not say, the
// response id and effect decide). Statuses are few; calls are many: the
// views join this table instead of evaluating the mapping on every call.
func statusOutcomes(ctx context.Context, conn *sql.Conn, cfg *config.Config) error {
	_, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE status_outcomes (status VARCHAR, status_num BOOLEAN, status_outcome VARCHAR, PRIMARY KEY (status, status_num));
		INSERT INTO status_outcomes SELECT status, status_num, `+statusOutcomeSQL(cfg)+`
		FROM (SELECT status, status_num, `+httpCodeSQL+` AS http FROM (SELECT DISTINCT status, status_num FROM calls WHERE status IS NOT NULL)) c`)
	return err
}

// httpCodeSQL is the HTTP code a status (alias-free: status, status_num)
// holds, or NULL: a JSON number whose value is a whole number from 100 to
// 599 (402, 402.0, 4.02e2), or a string of three digits after trimming
// ("402 "; not "4e2" or "402.0", which are words).
var httpCodeSQL = `CASE WHEN status_num THEN CASE WHEN TRY_CAST(status AS DOUBLE) BETWEEN 100 AND 599
        AND TRY_CAST(status AS DOUBLE) = floor(TRY_CAST(status AS DOUBLE)) THEN CAST(TRY_CAST(status AS DOUBLE) AS INTEGER) END
    WHEN regexp_full_match(` + trimSQL("status") + `, '[0-9]{3}') THEN CAST(` + trimSQL("status") + ` AS INTEGER) END`

// spaceChars is, as a SQL expression, every character Go's
// strings.TrimSpace trims (unicode.IsSpace): a status or effect read from
// a log is trimmed as one from the configuration is. DuckDB's trim() alone
// trims the Unicode spaces but no tab, CR or LF ("409\n", "noop\t").
var spaceChars = func() string {
	var b strings.Builder
	for r := rune(0); r <= 0x3000; r++ {
		if unicode.IsSpace(r) {
			b.WriteRune(r) // none is a quote: a plain SQL literal (a constant, not an expression per row)
		}
	}
	return "'" + b.String() + "'"
}()

// trimSQL trims x as strings.TrimSpace does.
func trimSQL(x string) string { return "trim(" + x + ", " + spaceChars + ")" }

// httpCode is a status the configuration lists that is an HTTP code.
var httpCode = regexp.MustCompile(`^[0-9]{3}$`)

// outcomeSQL is the expression that classes a row of calls (alias c, with
// c.http its httpCodeSQL):
//  1. the configuration's statuses, then
//  2. an HTTP code, then the built-in words, then
//  3. without a status that says: a response id or an effect means applied
//     (the downstream answered), nothing at all means unknown.
func outcomeSQL(cfg *config.Config) string {
	var b strings.Builder
	s := "lower(" + trimSQL("c.status") + ")"
	in := func(list []string, out Outcome) {
		if len(list) == 0 {
			return
		}
		b.WriteString(" WHEN " + s + " IN (")
		var codes []string
		for i, v := range list {
			if i > 0 {
				b.WriteString(", ")
			}
			v = strings.ToLower(strings.TrimSpace(v))
			b.WriteString(sqlString(v))
			if httpCode.MatchString(v) {
				codes = append(codes, v)
			}
		}
		b.WriteString(")")
		if len(codes) > 0 { // "429" reclasses the code in any form: 429, 429.0, " 429"
			b.WriteString(" OR c.http IN (" + strings.Join(codes, ", ") + ")")
		}
		b.WriteString(" THEN '" + string(out) + "'")
	}
	b.WriteString("CASE")
	if cfg != nil {
		in(cfg.Outcomes.Applied, Applied)
		in(cfg.Outcomes.Rejected, Rejected)
		in(cfg.Outcomes.Unknown, Unknown)
	}
	b.WriteString(` WHEN c.http BETWEEN 100 AND 599 THEN
	    CASE WHEN c.http BETWEEN 200 AND 299 THEN 'applied' WHEN c.http = 408 THEN 'unknown'
	         WHEN c.http BETWEEN 400 AND 499 THEN 'rejected' ELSE 'unknown' END`)
	in(AppliedStatuses, Applied)
	in(RejectedStatuses, Rejected)
	in(UnknownStatuses, Unknown)
	b.WriteString(" WHEN c.response_id IS NOT NULL OR c.effect IS NOT NULL THEN 'applied' ELSE 'unknown' END")
	return b.String()
}

// statusOutcomeSQL is outcomeSQL for a status alone: NULL where the
// response id and effect would decide.
func statusOutcomeSQL(cfg *config.Config) string {
	s := outcomeSQL(cfg)
	return strings.Replace(s, " WHEN c.response_id IS NOT NULL OR c.effect IS NOT NULL THEN 'applied' ELSE 'unknown' END", " ELSE NULL END", 1)
}

// callOutcomeSQL classes a call joined with status_outcomes (alias so).
const callOutcomeSQL = `coalesce(so.status_outcome, CASE WHEN c.response_id IS NOT NULL OR c.effect IS NOT NULL THEN 'applied' ELSE 'unknown' END)`

// sqlString is a SQL string literal.
func sqlString(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
