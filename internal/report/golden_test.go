package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func sp(s string) *string { return &s }

func tm(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func catalogueDocs() []rules.Doc {
	var out []rules.Doc
	for _, r := range rules.Catalogue() {
		out = append(out, r.Doc)
	}
	return out
}

// result builds a result by hand: every renderer branch, no database.
func result(key, action, resp, source, errText string) *rules.Result {
	calls := []rules.Call{
		{Source: source, Line: 3, TS: tm("2026-11-16T09:00:00Z"), ActionType: action, Key: sp(key), ResponseID: sp(resp), Status: sp("timeout"), Effect: sp("created")},
		{Source: source, Line: 9, TS: tm("2026-11-16T09:00:31.5Z"), ActionType: action, Key: sp(key), ResponseID: sp("ch_2"), Status: sp("504"), StatusNum: true, Effect: sp("created")},
	}
	f1 := rules.Finding{Rule: "same-key-different-response", Severity: rules.Critical, ActionType: action, Key: sp(key),
		Stats: rules.Stats{Calls: 2, DistinctResponses: 2, Span: 31500 * time.Millisecond}, Calls: calls}
	f2 := rules.Finding{Rule: "missing-key", Severity: rules.Low, ActionType: action,
		Stats: rules.Stats{Calls: 25}, Sampled: true,
		Calls: []rules.Call{{Source: source, Line: 12, ActionType: action, ResponseID: nil}}}
	r := &rules.Result{
		Period: rules.Period{Start: tm("2026-11-16T09:00:00Z"), End: tm("2026-11-16T09:00:31.5Z")},
		Window: 10 * time.Minute,
		Summary: rules.Summary{Calls: 27, KeyedCalls: 2, MalformedLines: 1, UnfingerprintedCalls: 4, UntimedCalls: 1,
			FindingsBySeverity: map[rules.Severity]int{rules.Critical: 1, rules.Low: 1}},
		Actions:   []rules.ActionStats{{ActionType: action, Calls: 27, KeyedCalls: 2, KeyCoverage: 2.0 / 27, Findings: 2, Score: 1}},
		Findings:  []rules.Finding{f1, f2},
		Malformed: []rules.Malformed{{Source: source, Line: 5, Error: errText}},
		Inputs:    []rules.Input{{Source: source, Lines: 40, Calls: 27, Malformed: 1, Bytes: 9000}},
		Rules:     catalogueDocs(),
	}
	classify(r)
	for i := range r.Findings {
		r.Findings[i].Message = rules.Message(&r.Findings[i], func(s string) string { return s })
	}
	return r
}

func render(t *testing.T, format string, r *rules.Result) string {
	t.Helper()
	rep, err := New(format)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// weekResult is result as a period report: trend, a new and a recurring
// finding, one suppressed by the baseline, a score change.
func weekResult() *rules.Result {
	r := result("chg-42", "charge_card", "ch_1", "logs/billing.jsonl", `unparseable ts "yesterday"`)
	label := "2026-W47"
	r.Period = rules.Period{Start: tm("2026-11-16T00:00:00Z"), End: tm("2026-11-23T00:00:00Z"), Label: &label}
	r.Periodic = true
	r.Findings[0].ID, r.Findings[0].New, r.Findings[0].FirstSeen = "00aa11bb22cc33dd", true, tm("2026-11-16T09:00:31.5Z")
	r.Findings[1].ID, r.Findings[1].FirstSeen = "44ee55ff66007711", tm("2026-11-03T08:00:00Z")
	sup := r.Findings[0]
	sup.ID, sup.Suppressed, sup.Key = "8899aabbccddeeff", true, sp("chg-7")
	r.Findings = append(r.Findings, sup)
	r.Summary.NewFindings, r.Summary.Suppressed = 1, 1
	for i, w := range []string{"2026-W45", "2026-W46", "2026-W47"} {
		start := tm("2026-11-02T00:00:00Z").AddDate(0, 0, 7*i)
		r.Trend = append(r.Trend, rules.TrendPoint{Label: w, Start: start, End: start.AddDate(0, 0, 7),
			Calls: int64(10 + 10*i), KeyedCalls: int64(10 - 4*i),
			FindingsBySeverity: map[rules.Severity]int{rules.Critical: i / 2, rules.Low: 1},
			Actions: map[string]rules.ActionStats{"charge_card": {ActionType: "charge_card", Calls: int64(10 + 10*i),
				KeyedCalls: int64(10 - 4*i), KeyCoverage: float64(10-4*i) / float64(10+10*i), Findings: i + 1}}})
	}
	r.ScoreChanges = []rules.ScoreChange{{ActionType: "charge_card", From: 3, To: 1}}
	return r
}

// richResult is the golden audit: a finding of every severity, among them a
// sampled one, a failed dedupe said once with its non-noop replay, a keyless
// repeat the downstream deduped, calls without ts, key, response or status,
// numeric statuses, actions without findings, malformed lines, and an empty
// trend and score-change list.
func richResult() *rules.Result {
	r := result("chg-42", "charge_card", "ch_1", "logs/billing.jsonl", `unparseable ts "yesterday"`)
	crit, low := r.Findings[0], r.Findings[1]
	replay := crit
	replay.Rule, replay.Severity = "non-noop-replay", rules.High
	email := []rules.Call{
		{Source: "logs/mail.jsonl", Line: 7, TS: tm("2026-11-16T09:05:00.123456Z"), ActionType: "send_email", Status: sp("200"), StatusNum: true, Effect: sp("sent")},
		{Source: "logs/mail.jsonl", Line: 8, TS: tm("2026-11-16T09:05:02.000000001Z"), ActionType: "send_email", Status: sp("timeout")},
		{Source: "logs/mail.jsonl", Line: 11, TS: tm("2026-11-16T09:05:40Z"), ActionType: "send_email", ResponseID: sp("msg_9"), Status: sp("200"), StatusNum: true, Effect: sp("sent")},
	}
	repeat := rules.Finding{Rule: "repeat-without-key", Severity: rules.High, ActionType: "send_email",
		Stats: rules.Stats{Calls: 3, DistinctResponses: 1, NullResponses: 2, Span: 40 * time.Second}, Calls: email}
	booking := []rules.Call{
		{Source: "logs/travel.jsonl", Line: 2, TS: tm("2026-11-16T09:10:00Z"), ActionType: "book_room", Key: sp("bk-1"), ResponseID: sp("r_1"), Status: sp("ok"), Effect: sp("created")},
		{Source: "logs/travel.jsonl", Line: 30, ActionType: "book_room", Key: sp("bk-1"), ResponseID: sp("r_1"), Status: sp("ok"), Effect: sp("noop")},
	}
	mismatch := rules.Finding{Rule: "key-payload-mismatch", Severity: rules.Medium, ActionType: "book_room", Key: sp("bk-1"),
		Stats: rules.Stats{Calls: 2, DistinctResponses: 1, DistinctKeys: 1, DistinctArgs: 2}, Calls: booking}
	deduped := rules.Finding{Rule: "repeat-without-key", Severity: rules.Low, ActionType: "send_email",
		Stats: rules.Stats{Calls: 2, DistinctResponses: 1, Span: 3 * time.Second}, Calls: []rules.Call{email[2], email[2]}}
	// a triple booking whose two extras were cancelled later, and a retry
	// after a rejection
	triple := []rules.Call{
		{Source: "logs/travel.jsonl", Line: 40, TS: tm("2026-11-16T09:20:00Z"), ActionType: "book_flight", ResponseID: sp("res_4"), Status: sp("ok")},
		{Source: "logs/travel.jsonl", Line: 41, TS: tm("2026-11-16T09:21:00Z"), ActionType: "book_flight", ResponseID: sp("res_5"), Status: sp("ok")},
		{Source: "logs/travel.jsonl", Line: 42, TS: tm("2026-11-16T09:22:00Z"), ActionType: "book_flight", ResponseID: sp("res_6|<b>"), Status: sp("ok")},
	}
	compensated := rules.Finding{Rule: "repeat-without-key", Severity: rules.Low, SeverityBefore: rules.High, Compensated: true,
		ActionType: "book_flight", Stats: rules.Stats{Calls: 3, DistinctResponses: 3, Span: 2 * time.Minute, Compensated: 2}, Calls: triple,
		Identity: []string{"user_id", "flights"},
		Compensations: []rules.Compensation{
			{Of: "res_5", Call: rules.Call{Source: "logs/travel.jsonl", Line: 50, TS: tm("2026-11-16T09:40:00Z"), ActionType: "cancel_flight", ResponseID: sp("cx_1"), Status: sp("ok")}},
			{Of: "res_6|<b>", Call: rules.Call{Source: "logs/travel.jsonl", Line: 51, TS: tm("2026-11-16T09:41:00Z"), ActionType: "cancel_flight", ResponseID: sp("cx_2"), Status: sp("ok")}},
		}}
	rejected := rules.Finding{Rule: "retry-after-rejection", Severity: rules.Low, ActionType: "book_flight",
		Stats: rules.Stats{Calls: 2, DistinctResponses: 1, Span: 30 * time.Second}, Identity: []string{"user_id", "flights"},
		Calls: []rules.Call{
			{Source: "logs/travel.jsonl", Line: 60, TS: tm("2026-11-16T09:30:00Z"), ActionType: "book_flight", Status: sp("422"), StatusNum: true},
			{Source: "logs/travel.jsonl", Line: 61, TS: tm("2026-11-16T09:30:30Z"), ActionType: "book_flight", ResponseID: sp("res_9"), Status: sp("ok")},
		}}
	// patterns as the audit labels them (the first call of crit timed out)
	crit.Pattern, replay.Pattern, deduped.Pattern, compensated.Pattern = "retry-after-error", "retry-after-error", "repeat", "retry-storm"
	r.Findings = []rules.Finding{crit, repeat, replay, mismatch, low, deduped, compensated, rejected}
	classify(r)
	for i := range r.Findings {
		r.Findings[i].ID = fmt.Sprintf("%016x", 0x1d0e0000+i)
		r.Findings[i].Message = rules.Message(&r.Findings[i], func(s string) string { return s })
	}
	r.Config = "idemaudit.toml"
	r.ReadOnly = []rules.ActionStats{{ActionType: "get_flight", Calls: 12, Identity: "read-only"}}
	r.Summary.FindingsBySeverity = map[rules.Severity]int{rules.Critical: 1, rules.High: 2, rules.Medium: 1, rules.Low: 4}
	r.Summary.Calls, r.Summary.KeyedCalls = 40, 7
	r.Period.End = tm("2026-11-16T09:10:00Z")
	r.Actions = []rules.ActionStats{
		{ActionType: "book_flight", Calls: 6, Findings: 2, Identity: "user_id, flights"},
		{ActionType: "book_room", Calls: 4, KeyedCalls: 4, KeyCoverage: 1, Findings: 1, Score: 2, Identity: "all args except request_ts"},
		r.Actions[0],
		{ActionType: "lookup", Calls: 1, KeyedCalls: 1, KeyCoverage: 1, Score: 1},
		{ActionType: "refund", Calls: 3, KeyedCalls: 3, KeyCoverage: 1, Score: 3},
		{ActionType: "send_email", Calls: 5, Findings: 2, Identity: "all args"},
		{ActionType: "toggle_data", Calls: 2, Identity: "all args", Repeatable: true},
	}
	r.Malformed = append(r.Malformed, rules.Malformed{Source: "logs/mail.jsonl", Line: 1, Error: "invalid character 'x' looking for beginning of value"})
	r.Inputs = append(r.Inputs, rules.Input{Source: "logs/mail.jsonl", Lines: 12, Calls: 5, Malformed: 1, Bytes: 2048},
		rules.Input{Source: "logs/travel.jsonl", Lines: 30, Calls: 8, Bytes: 4096})
	r.Summary.MalformedLines = int64(len(r.Malformed))
	classify(r)
	return r
}

// classify sets what the audit would: each call's outcome (a test-sized
// version of the mapping), the outcome stats and the identity.
func classify(r *rules.Result) {
	for i := range r.Actions {
		if r.Actions[i].Identity == "" {
			r.Actions[i].Identity = "all args"
		}
	}
	outcome := func(c rules.Call) rules.Outcome {
		switch {
		case c.Status == nil && c.ResponseID == nil && c.Effect == nil:
			return rules.Unknown
		case c.Status == nil, *c.Status == "ok", strings.HasPrefix(*c.Status, "2"):
			return rules.Applied
		case strings.HasPrefix(*c.Status, "4"):
			return rules.Rejected
		}
		return rules.Unknown
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		f.Stats.Applied, f.Stats.Rejected, f.Stats.Unknown, f.Stats.SideEffects = 0, 0, 0, 0
		resp := map[string]bool{}
		for j := range f.Calls {
			c := &f.Calls[j]
			c.Outcome = outcome(*c)
			switch c.Outcome {
			case rules.Applied:
				f.Stats.Applied++
			case rules.Rejected:
				f.Stats.Rejected++
			default:
				f.Stats.Unknown++
			}
			if c.Outcome != rules.Rejected {
				if c.ResponseID != nil {
					resp[*c.ResponseID] = true
				} else {
					f.Stats.SideEffects++
				}
			}
		}
		f.Stats.SideEffects += len(resp)
		for j := range f.Compensations {
			f.Compensations[j].Outcome = rules.Applied
		}
		if f.Identity == nil {
			f.Identity = []string{"*"}
		}
		if rules.IsDuplicateRule(f.Rule) && f.Stats.SideEffects >= 2 {
			f.Stats.ExtraRemaining = max(0, f.Stats.SideEffects-1-f.Stats.Compensated)
		}
	}
}

func TestGolden(t *testing.T) {
	for name, r := range map[string]*rules.Result{
		"golden":      richResult(),
		"golden-week": weekResult(),
	} {
		golden(t, name, r)
	}
}

// golden compares each format's rendering of r with testdata/name.*;
// go test ./internal/report -update rewrites them.
func golden(t *testing.T, name string, r *rules.Result) {
	for format, file := range map[string]string{"json": name + ".json", "markdown": name + ".md", "table": name + ".txt"} {
		t.Run(name+"/"+format, func(t *testing.T) {
			got := render(t, format, r)
			path := filepath.Join("testdata", file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s is stale or the renderer changed: %s\nreview the change, then run go test ./internal/report -update and diff testdata/ in git\n--- got ---\n%s",
					path, firstDiff(string(want), got), got)
			}
		})
	}
}

// firstDiff says where two renderings part, line by line.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < min(len(w), len(g)); i++ {
		if w[i] != g[i] {
			return fmt.Sprintf("line %d\n  want %q\n  got  %q", i+1, w[i], g[i])
		}
	}
	return fmt.Sprintf("want %d lines, got %d", len(w), len(g))
}
