package rules

import (
	"fmt"
	"strings"
	"time"
)

// Severity orders findings; higher is worse.
type Severity int

const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

// Severities lists every severity from worst to least, the order reports use.
var Severities = []Severity{Critical, High, Medium, Low}

func (s Severity) String() string {
	switch s {
	case Critical:
		return "critical"
	case High:
		return "high"
	case Medium:
		return "medium"
	case Low:
		return "low"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads a severity name as written by String.
func ParseSeverity(s string) (Severity, error) {
	for _, v := range Severities {
		if strings.EqualFold(s, v.String()) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want critical, high, medium or low)", s)
}

// Call is one logged side-effecting call as evidence in a finding.
// Nil pointers are JSON null / absent in the log.
type Call struct {
	Source     string     // the path as given on the command line ("-" for stdin)
	Line       int64      // 1-based physical line of the decompressed file
	TS         *time.Time // nil when the line carried no ts
	ActionType string
	Key        *string // nil: no idempotency key (missing, null or "")
	ResponseID *string
	Status     *string
	StatusNum  bool // Status was a JSON number in the log (e.g. 504)
	Effect     *string
	SessionID  *string
}

// Stats describe the calls of one finding's group, for messages and summaries.
type Stats struct {
	Calls             int           // calls in the group (may exceed len(Calls) when evidence is sampled)
	DistinctResponses int           // distinct non-null response ids
	NullResponses     int           // calls whose outcome is unknown (no response id)
	DistinctKeys      int           // distinct non-empty idempotency keys
	DistinctArgs      int           // distinct args fingerprints among calls with args
	Span              time.Duration // last ts - first ts
}

// Finding is one rule firing on one group of calls.
type Finding struct {
	Rule       string
	Severity   Severity
	ActionType string
	Key        *string // the group's idempotency key, for key rules
	Message    string  // plain text, one line; log values appear verbatim (renderers escape)
	Stats      Stats
	Calls      []Call // evidence, ordered by ts, source, line
	Sampled    bool   // Calls holds only the first calls of a larger group (Stats.Calls says how many)
}

// ActionStats is one row of the per-action scorecard.
type ActionStats struct {
	ActionType  string
	Calls       int64
	KeyedCalls  int64
	KeyCoverage float64 // KeyedCalls / Calls, 0..1
	Findings    int
	Score       int // 0..3, see README "Score"
}

// Malformed is a skipped input line.
type Malformed struct {
	Source string
	Line   int64
	Error  string
}

// Input is one source that was read, for the report's appendix.
type Input struct {
	Source    string
	Lines     int64 // physical lines, blank and malformed included
	Calls     int64
	Malformed int64
	Bytes     int64 // decompressed bytes
}

// Period is the time span a report covers.
type Period struct {
	Start, End *time.Time // nil when there is no timestamped call
	Label      *string    // e.g. an ISO week; nil for an ad-hoc audit
}

// Summary totals a report.
type Summary struct {
	Calls                int64
	KeyedCalls           int64
	MalformedLines       int64
	UnfingerprintedCalls int64 // calls with neither args nor session_id: no window rule can see them
	UntimedCalls         int64 // calls without ts: no window rule can see them
	FindingsBySeverity   map[Severity]int
}

// Doc is the documentation of one rule, from its catalogue file.
type Doc struct {
	ID          string
	Title       string
	Severity    string // the default severity, or e.g. "high or low"
	Group       string // what the rule groups calls by
	Description string
	Fix         string
	Example     string
}

// Result is everything one audit found: what every renderer draws.
type Result struct {
	Period    Period
	Window    time.Duration
	Summary   Summary
	Actions   []ActionStats // ordered by action type
	Findings  []Finding     // ordered by severity, first call's ts, source, line
	Malformed []Malformed   // ordered by source order, line
	Inputs    []Input
	Rules     []Doc // the catalogue, in catalogue order
}
