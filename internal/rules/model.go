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
	Line       int64      // 1-based physical line of the decompressed file (a Parquet file: its row)
	Pos        int32      // its place among the calls of that line (a trace line holds many); 0 for a log line
	TS         *time.Time // nil when the line carried no ts
	ActionType string
	Key        *string // nil: no idempotency key (missing, null or "")
	ResponseID *string
	Status     *string
	StatusNum  bool // Status was a JSON number in the log (e.g. 504)
	Effect     *string
	SessionID  *string
	SpanID     *string
	RunID      *string
	DurationMS *float64
	Outcome    Outcome // applied, rejected or unknown (see outcome.go)
}

// Outcome says whether a call's side effect happened: applied (it did),
// rejected (the downstream refused: nothing happened) or unknown (a
// timeout, a 5xx: it may have happened).
type Outcome string

const (
	Applied  Outcome = "applied"
	Rejected Outcome = "rejected"
	Unknown  Outcome = "unknown"
)

// Compensation is a later call that undid one of a finding's side effects:
// a compensating action (cancel_*, refund_*, ...) whose args name the
// response id.
type Compensation struct {
	Call
	Of string // the response id it compensates
}

// Stats describe the calls of one finding's group, for messages and summaries.
type Stats struct {
	Calls             int           // calls in the group (may exceed len(Calls) when evidence is sampled)
	DistinctResponses int           // distinct non-null response ids of calls not rejected
	NullResponses     int           // calls not rejected without a response id whose effect is not noop
	DistinctKeys      int           // distinct non-empty idempotency keys
	DistinctArgs      int           // distinct args fingerprints among calls with args
	Span              time.Duration // last ts - first ts

	Applied, Rejected, Unknown int // calls by outcome
	// SideEffects counts what may have happened: distinct response ids of
	// calls not rejected, plus each such call without a response id whose
	// effect is not noop (DistinctResponses + NullResponses).
	SideEffects int
	// Compensated counts side effects (response ids) a later compensating
	// call undid; ExtraRemaining the extra side effects (beyond the one
	// intended) still standing. Set for duplicate findings only.
	Compensated, ExtraRemaining int
}

// messageNames are the values a finding's message names, read from every
// call of its group: the first five distinct response ids (of calls not
// rejected), keys and later effects (other than noop, of replays: calls not
// rejected after an earlier call not rejected), each in the order of its
// first call.
type messageNames struct {
	responses, keys, effects []string
	effectsTotal             int // distinct later effects in all
}

// compNames are the compensations a message names, read from all of them:
// the first five distinct response ids undone (as many as
// Stats.Compensated in all) and compensating actions, each in the order of
// its first compensation.
type compNames struct {
	of, actions  []string
	actionsTotal int
}

// Finding is one rule firing on one group of calls.
type Finding struct {
	ID         string // stable: a hash of the rule and the group's identity (the key; the fingerprint and the chain's first call; the action)
	Rule       string
	Severity   Severity
	ActionType string
	Key        *string // the group's idempotency key, for key rules
	Message    string  // plain text, one line; log values appear verbatim (renderers escape)
	Stats      Stats
	Calls      []Call     // evidence, ordered by ts, source, line
	Sampled    bool       // Calls holds only the first calls of a larger group (Stats.Calls says how many): the rule samples them, or Options.MaxEvidence caps them
	FirstSeen  *time.Time // when it first happened: its earliest offending call
	New        bool       // a period report: first seen in this period
	Suppressed bool       // listed in the baseline and no worse: reported, not counted for --fail-on
	// Identity is how the action's calls were fingerprinted: the configured
	// args paths, ["*"] for whole args, ["*", "!path", ...] for whole args
	// but the ignored paths.
	Identity []string
	// Compensations are later calls that undid side effects of this finding:
	// the first ones (Options.MaxEvidence) of CompensationsTotal.
	Compensations      []Compensation
	CompensationsTotal int
	// Compensated: every extra side effect was undone; the severity dropped
	// to low from SeverityBefore.
	Compensated    bool
	SeverityBefore Severity
	// Pattern says how a repeat came about (duplicate and repeat findings):
	// retry-after-error, concurrent, replay, retry-storm or repeat; see
	// pattern.go. PatternNote says what in the evidence shows it.
	Pattern string

	inSpans   string // '1' at i: an offending call is in the audit's i-th span (Options.spans)
	ruleNo    int    // the rule_rows group it comes from, while the audit runs
	grp       string
	names     *messageNames // what its message names, from every call of the group (nil: from Calls)
	compNames *compNames    // what its message names of its compensations, from all of them (nil: from Compensations)
	patternAt int           // the evidence call the pattern points at (PatternNote)
}

// ActionStats is one row of the per-action scorecard.
type ActionStats struct {
	ActionType  string
	Calls       int64
	KeyedCalls  int64
	KeyCoverage float64 // KeyedCalls / Calls, 0..1
	Findings    int
	Score       int    // 0..3, see README "Score"
	Identity    string // in words: "all args", "user_id, flights", "all args except payment_id"
	Repeatable  bool   // configured as repeatable: no repeat rules
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
	Bytes     int64  // decompressed bytes
	Format    string // jsonl, otlp, langfuse, langsmith, openai-agents
	Collapsed int64  // telemetry duplicates dropped (a span exported twice is one call)
	Skipped   int64  // records of a trace export that are no tool call
}

// Period is the time span a report covers. For an ad-hoc audit it is the
// first and last call's time; for a period report [Start, End).
type Period struct {
	Start, End *time.Time // nil when there is no timestamped call
	Label      *string    // e.g. an ISO week; nil for an ad-hoc audit
}

// Span is a half-open time range [Start, End) a report is asked for.
type Span struct {
	Start, End time.Time
	Label      string
}

// TrendPoint sums up one earlier period, for trends.
type TrendPoint struct {
	Label              string
	Start, End         time.Time
	Calls, KeyedCalls  int64
	FindingsBySeverity map[Severity]int
	Actions            map[string]ActionStats
}

// ScoreChange is an action type whose score changed since the previous period.
type ScoreChange struct {
	ActionType string
	From, To   int
}

// Summary totals a report.
type Summary struct {
	Calls                int64
	KeyedCalls           int64
	MalformedLines       int64
	UnfingerprintedCalls int64            // calls with neither args nor session_id: no window rule can see them
	UntimedCalls         int64            // calls without ts: no window rule can see them (and no period report)
	FindingsBySeverity   map[Severity]int // suppressed findings not counted
	NewFindings          int              // a period report: findings first seen in the period
	Suppressed           int              // findings listed in the baseline
	QuietRejections      int              // retry-after-rejection findings left out (--quiet-rejections)
	Collapsed            int64            // telemetry duplicates collapsed over the inputs
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
	// ReadOnly lists the actions configured read_only, left out of the
	// audit, with their calls in the period (Calls and KeyedCalls only).
	ReadOnly []ActionStats
	Config   string // the configuration file used; "" for the defaults

	Periodic     bool          // a period report: findings new or recurring, trend
	Trend        []TrendPoint  // earlier periods, oldest first, then this one
	ScoreChanges []ScoreChange // against the previous period
}

// Baselined is what a baseline recorded of a finding. The finding stays
// suppressed while it is no worse: a key whose double charge was accepted
// and that then charges a third time, or a finding that rose to a higher
// severity, is reported again. A baseline without these figures (nil)
// compares nothing.
type Baselined struct {
	Severity    *Severity
	SideEffects *int
}

// Covers reports whether the baseline still covers f. Side effects are
// compared for every rule but missing-key (a coverage finding's count is
// no damage, and grows with every keyless call).
func (b Baselined) Covers(f *Finding) bool {
	if b.Severity != nil && f.Severity > *b.Severity {
		return false
	}
	return b.SideEffects == nil || !ComparesSideEffects(f.Rule) || f.Stats.SideEffects <= *b.SideEffects
}

// ComparesSideEffects reports whether a baseline records and compares
// the side effects of a rule's findings.
func ComparesSideEffects(rule string) bool { return rule != "missing-key" }
