package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// JSON writes the machine-readable report, schema version 1. The wire
// structs below are the contract other tools read; they are separate from
// the internal types so a refactoring cannot change the output by accident.
//
// Log values are carried exactly, with JSON escaping only (< > & as \u003c
// \u003e \u0026, control characters escaped, C1 controls and the invisible
// characters the other reports escape too: jsonEscapeHidden), with one
// exception: JSON text is UTF-8, so encoding/json writes each invalid byte of
// a value as U+FFFD. The table and Markdown reports show such bytes as \xNN
// instead.
type JSON struct{}

type jsonReport struct {
	SchemaVersion int             `json:"schema_version"`
	Period        jsonPeriod      `json:"period"`
	WindowSeconds float64         `json:"window_seconds"`
	Summary       jsonSummary     `json:"summary"`
	Actions       []jsonAction    `json:"actions"`
	Findings      []jsonFinding   `json:"findings"`
	Malformed     []jsonMalformed `json:"malformed"`
	Inputs        []jsonInput     `json:"inputs"`
	Trend         []jsonTrend     `json:"trend"`
	ScoreChanges  []jsonScore     `json:"score_changes"`
	Config        *string         `json:"config"`    // the configuration file; null: defaults
	ReadOnly      []jsonReadOnly  `json:"read_only"` // actions left out of the audit
}

type jsonReadOnly struct {
	ActionType string `json:"action_type"`
	Calls      int64  `json:"calls"`
}

type jsonTrend struct {
	Label              string         `json:"label"`
	Start              string         `json:"start"`
	End                string         `json:"end"`
	Calls              int64          `json:"calls"`
	KeyedCalls         int64          `json:"keyed_calls"`
	KeyCoverage        float64        `json:"key_coverage"`
	FindingsBySeverity map[string]int `json:"findings_by_severity"`
}

type jsonScore struct {
	ActionType string `json:"action_type"`
	From       int    `json:"from"`
	To         int    `json:"to"`
}

type jsonPeriod struct {
	Start *string `json:"start"`
	End   *string `json:"end"`
	Label *string `json:"label"`
}

type jsonSummary struct {
	Calls                int64          `json:"calls"`
	KeyedCalls           int64          `json:"keyed_calls"`
	MalformedLines       int64          `json:"malformed_lines"`
	UnfingerprintedCalls int64          `json:"unfingerprinted_calls"`
	UntimedCalls         int64          `json:"untimed_calls"`
	FindingsBySeverity   map[string]int `json:"findings_by_severity"`
	NewFindings          int            `json:"new_findings"`
	Suppressed           int            `json:"suppressed"`
	QuietRejections      int            `json:"quiet_rejections"`
	TelemetryDuplicates  int64          `json:"telemetry_duplicates"`
}

type jsonAction struct {
	ActionType  string  `json:"action_type"`
	Calls       int64   `json:"calls"`
	KeyedCalls  int64   `json:"keyed_calls"`
	KeyCoverage float64 `json:"key_coverage"`
	Findings    int     `json:"findings"`
	Score       int     `json:"score"`
	Identity    string  `json:"identity"`
	Repeatable  bool    `json:"repeatable"`
}

type jsonFinding struct {
	findingHead
	Calls []jsonCall `json:"calls"`
}

// findingHead is a finding without its calls (which stream after it).
type findingHead struct {
	ID             string  `json:"id"`
	Rule           string  `json:"rule"`
	Severity       string  `json:"severity"`
	ActionType     string  `json:"action_type"`
	IdempotencyKey *string `json:"idempotency_key"`
	Message        string  `json:"message"`
	CallsTotal     int     `json:"calls_total"`
	Sampled        bool    `json:"sampled"`
	FirstSeen      *string `json:"first_seen"`
	New            bool    `json:"new"`
	Suppressed     bool    `json:"suppressed"`
	// Identity: the args paths that fingerprint the action, ["*"] for whole
	// args, ["*", "!path"] for whole args but ignored paths.
	Identity []string     `json:"identity"`
	Outcomes jsonOutcomes `json:"outcomes"`
	// SideEffects: distinct response ids of calls not rejected, plus such
	// calls without one.
	SideEffects int `json:"side_effects"`
	// for duplicate findings: how many extra side effects a later
	// compensating call undid, how many remain; compensated when none does.
	ExtraSideEffects *int               `json:"extra_side_effects,omitempty"`
	ExtraRemaining   *int               `json:"extra_side_effects_remaining,omitempty"`
	Compensated      bool               `json:"compensated"`
	SeverityBefore   *string            `json:"severity_before_compensation"`
	Compensations    []jsonCompensation `json:"compensations"`
	// the compensations in all; the first --max-evidence are listed
	CompensationsTotal int `json:"compensations_total"`
	// how a repeat came about: retry-after-error, concurrent, replay,
	// retry-storm, repeat; null for other findings
	Pattern     *string `json:"pattern"`
	PatternNote *string `json:"pattern_note"`
}

type jsonOutcomes struct {
	Applied  int `json:"applied"`
	Rejected int `json:"rejected"`
	Unknown  int `json:"unknown"`
}

type jsonCompensation struct {
	Compensates string `json:"compensates"` // the response id it undid
	ActionType  string `json:"action_type"`
	jsonCall
}

type jsonCall struct {
	Source         string          `json:"source"`
	Line           int64           `json:"line"`
	TS             *string         `json:"ts"`
	IdempotencyKey *string         `json:"idempotency_key"`
	ResponseID     *string         `json:"response_id"`
	Status         json.RawMessage `json:"status"`
	Effect         *string         `json:"effect"`
	Outcome        string          `json:"outcome"`
	SessionID      *string         `json:"session_id"`
	SpanID         *string         `json:"span_id"`
	RunID          *string         `json:"run_id"`
	DurationMS     *float64        `json:"duration_ms"`
}

type jsonMalformed struct {
	Source string `json:"source"`
	Line   int64  `json:"line"`
	Error  string `json:"error"`
}

type jsonInput struct {
	Source    string `json:"source"`
	Lines     int64  `json:"lines"`
	Calls     int64  `json:"calls"`
	Malformed int64  `json:"malformed"`
	Bytes     int64  `json:"bytes"`
	Format    string `json:"format"`
	Collapsed int64  `json:"telemetry_duplicates"` // records of a span already read: one call, not a repeat
	Skipped   int64  `json:"not_tool_calls"`       // records of a trace export that are no tool call
}

func jsonTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// jsonStatus keeps the status's JSON type: 504 stays a number.
func jsonStatus(c rules.Call) json.RawMessage {
	switch {
	case c.Status == nil:
		return json.RawMessage("null")
	case c.StatusNum && json.Valid([]byte(*c.Status)):
		return json.RawMessage(*c.Status)
	}
	b, _ := json.Marshal(*c.Status)
	return b
}

func (JSON) Write(w io.Writer, r *rules.Result) error {
	return writeStreaming(w, wire(r))
}

// wire converts a result to the wire structs.
func wire(r *rules.Result) *jsonReport {
	out := &jsonReport{
		SchemaVersion: 1,
		Period:        jsonPeriod{Start: jsonTime(r.Period.Start), End: jsonTime(r.Period.End), Label: r.Period.Label},
		WindowSeconds: r.Window.Seconds(),
		Summary: jsonSummary{
			Calls:                r.Summary.Calls,
			KeyedCalls:           r.Summary.KeyedCalls,
			MalformedLines:       r.Summary.MalformedLines,
			UnfingerprintedCalls: r.Summary.UnfingerprintedCalls,
			UntimedCalls:         r.Summary.UntimedCalls,
			FindingsBySeverity:   severities(r.Summary.FindingsBySeverity),
			NewFindings:          r.Summary.NewFindings,
			Suppressed:           r.Summary.Suppressed,
			TelemetryDuplicates:  r.Summary.Collapsed,
		},
		Actions:      []jsonAction{},
		Findings:     []jsonFinding{},
		Malformed:    []jsonMalformed{},
		Inputs:       []jsonInput{},
		Trend:        []jsonTrend{},
		ScoreChanges: []jsonScore{},
		ReadOnly:     []jsonReadOnly{},
	}
	out.Summary.QuietRejections = r.Summary.QuietRejections
	if r.Config != "" {
		c := r.Config
		out.Config = &c
	}
	for _, a := range r.ReadOnly {
		out.ReadOnly = append(out.ReadOnly, jsonReadOnly{a.ActionType, a.Calls})
	}
	for _, t := range r.Trend {
		out.Trend = append(out.Trend, jsonTrend{t.Label, *jsonTime(&t.Start), *jsonTime(&t.End), t.Calls, t.KeyedCalls,
			coverage(t.KeyedCalls, t.Calls), severities(t.FindingsBySeverity)})
	}
	for _, c := range r.ScoreChanges {
		out.ScoreChanges = append(out.ScoreChanges, jsonScore{c.ActionType, c.From, c.To})
	}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, jsonAction{a.ActionType, a.Calls, a.KeyedCalls,
			math.Round(a.KeyCoverage*1e4) / 1e4, a.Findings, a.Score, a.Identity, a.Repeatable})
	}
	for _, f := range r.Findings {
		jf := jsonFinding{findingHead: findingHead{ID: f.ID, Rule: f.Rule, Severity: f.Severity.String(), ActionType: f.ActionType,
			IdempotencyKey: f.Key, Message: f.Message, CallsTotal: max(f.Stats.Calls, len(f.Calls)),
			Sampled: f.Sampled, FirstSeen: jsonTime(f.FirstSeen), New: f.New, Suppressed: f.Suppressed,
			Identity: f.Identity, Outcomes: jsonOutcomes{f.Stats.Applied, f.Stats.Rejected, f.Stats.Unknown},
			SideEffects: f.Stats.SideEffects, Compensated: f.Compensated, Compensations: []jsonCompensation{},
			CompensationsTotal: max(f.CompensationsTotal, len(f.Compensations))}, Calls: []jsonCall{}}
		if f.Identity == nil {
			jf.Identity = []string{}
		}
		if rules.IsDuplicateRule(f.Rule) && f.Stats.SideEffects >= 2 {
			extra, rem := f.Stats.SideEffects-1, f.Stats.ExtraRemaining
			jf.ExtraSideEffects, jf.ExtraRemaining = &extra, &rem
		}
		if f.Compensated {
			s := f.SeverityBefore.String()
			jf.SeverityBefore = &s
		}
		if f.Pattern != "" {
			p, n := f.Pattern, rules.PatternNote(&f, func(s string) string { return s })
			jf.Pattern = &p
			if n != "" {
				jf.PatternNote = &n
			}
		}
		for _, c := range f.Compensations {
			jf.Compensations = append(jf.Compensations, jsonCompensation{c.Of, c.ActionType, callWire(c.Call)})
		}
		for _, c := range f.Calls {
			jf.Calls = append(jf.Calls, callWire(c))
		}
		out.Findings = append(out.Findings, jf)
	}
	for _, m := range r.Malformed {
		out.Malformed = append(out.Malformed, jsonMalformed{m.Source, m.Line, m.Error})
	}
	for _, in := range r.Inputs {
		out.Inputs = append(out.Inputs, jsonInput{in.Source, in.Lines, in.Calls, in.Malformed, in.Bytes, in.Format, in.Collapsed, in.Skipped})
	}
	return out
}

func callWire(c rules.Call) jsonCall {
	return jsonCall{c.Source, c.Line, jsonTime(c.TS), c.Key, c.ResponseID, jsonStatus(c), c.Effect, string(c.Outcome),
		c.SessionID, c.SpanID, c.RunID, c.DurationMS}
}

// writeStreaming writes the report byte for byte as json.MarshalIndent with
// a two-space indent would (TestJSONStreaming holds it to that), but a
// finding's calls one at a time: a million-call finding is not built in
// memory and re-indented.
func writeStreaming(w io.Writer, out *jsonReport) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var err error
	put := func(prefix string, v any) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = json.MarshalIndent(v, prefix, "  "); err == nil {
			bw.Write(jsonEscapeHidden(b))
		}
	}
	field := func(name string, v any, last bool) {
		fmt.Fprintf(bw, "  %q: ", name)
		put("  ", v)
		if !last {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
	}
	bw.WriteString("{\n")
	field("schema_version", out.SchemaVersion, false)
	field("period", out.Period, false)
	field("window_seconds", out.WindowSeconds, false)
	field("summary", out.Summary, false)
	field("actions", out.Actions, false)
	bw.WriteString(`  "findings": [`)
	for i := range out.Findings {
		f := &out.Findings[i]
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		// the finding without its calls, then the calls, one at a time
		var head []byte
		if head, err = json.MarshalIndent(f.findingHead, "    ", "  "); err != nil {
			return err
		}
		bw.Write(jsonEscapeHidden(head[:len(head)-len("\n    }")]))
		bw.WriteString(",\n      \"calls\": [")
		for j := range f.Calls {
			if j > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n        ")
			put("        ", f.Calls[j])
		}
		if len(f.Calls) > 0 {
			bw.WriteString("\n      ")
		}
		bw.WriteString("]\n    }")
	}
	if len(out.Findings) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n")
	field("malformed", out.Malformed, false)
	field("inputs", out.Inputs, false)
	field("trend", out.Trend, false)
	field("score_changes", out.ScoreChanges, false)
	field("config", out.Config, false)
	field("read_only", out.ReadOnly, true)
	bw.WriteString("}\n")
	if err != nil {
		return err
	}
	return bw.Flush()
}

// severities always has all four keys.
func severities(m map[rules.Severity]int) map[string]int {
	out := map[string]int{}
	for _, s := range rules.Severities {
		out[s.String()] = m[s]
	}
	return out
}

func coverage(keyed, calls int64) float64 {
	if calls == 0 {
		return 0
	}
	return math.Round(float64(keyed)/float64(calls)*1e4) / 1e4
}

// EscapeHiddenJSON is jsonEscapeHidden for JSON written outside this
// package (the baseline file).
func EscapeHiddenJSON(b []byte) []byte { return jsonEscapeHidden(b) }

// jsonEscapeHidden rewrites, in JSON text, each character the table and
// Markdown reports escape (hidden: C1 controls such as CSI U+009B, bidi
// overrides, zero-width and other invisible characters) as a \u escape:
// encoding/json writes them raw, and JSON shown on a terminal would act on
// it or hide what it says. The value a JSON parser reads is the same. Such
// characters occur only inside strings: JSON's own syntax is ASCII.
func jsonEscapeHidden(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) {
		return b
	}
	out := append([]byte(nil), b[:i]...)
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case size > 1 && hidden(r) && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		case size > 1 && hidden(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
