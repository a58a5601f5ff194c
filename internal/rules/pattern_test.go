package rules_test

import (
	"strings"
	"testing"

	"github.com/idemaudit/idemaudit/internal/rules"
)

func TestPatterns(t *testing.T) {
	res := auditLines(t,
		// a 504 that went through after all (its response id), then a retry
		`{"ts":"2026-11-16T09:00:00Z","action_type":"charge","args":{"a":1},"status":504,"response_id":"ch_1"}`,
		`{"ts":"2026-11-16T09:00:30Z","action_type":"charge","args":{"a":1},"status":"ok","response_id":"ch_2"}`,
		// a client that gave up after 30 s and retried at once
		`{"ts":"2026-11-16T09:30:00Z","action_type":"pay","args":{"a":1},"status":"timeout","duration_ms":30000}`,
		`{"ts":"2026-11-16T09:30:31Z","action_type":"pay","args":{"a":1},"status":"ok","response_id":"py_2"}`,
		// two branches: the second starts while the first runs (2 s), other spans
		`{"ts":"2026-11-16T10:00:00Z","action_type":"book","args":{"b":1},"status":"ok","response_id":"r1","duration_ms":2000,"span_id":"s1"}`,
		`{"ts":"2026-11-16T10:00:01Z","action_type":"book","args":{"b":1},"status":"ok","response_id":"r2","duration_ms":2000,"span_id":"s2"}`,
		// a worker restarted and replayed the step
		`{"ts":"2026-11-16T11:00:00Z","action_type":"mail","args":{"c":1},"status":"ok","response_id":"m1","run_id":"run_a","duration_ms":100}`,
		`{"ts":"2026-11-16T11:03:00Z","action_type":"mail","args":{"c":1},"status":"ok","response_id":"m2","run_id":"run_b","duration_ms":100}`,
		// three calls, all answered
		`{"ts":"2026-11-16T12:00:00Z","action_type":"post","args":{"d":1},"status":"ok","response_id":"p1"}`,
		`{"ts":"2026-11-16T12:00:10Z","action_type":"post","args":{"d":1},"status":"ok","response_id":"p2"}`,
		`{"ts":"2026-11-16T12:00:20Z","action_type":"post","args":{"d":1},"status":"ok","response_id":"p3"}`,
		// two, nothing else to say
		`{"ts":"2026-11-16T13:00:00Z","action_type":"note","args":{"e":1},"status":"ok","response_id":"n1"}`,
		`{"ts":"2026-11-16T13:00:10Z","action_type":"note","args":{"e":1},"status":"ok","response_id":"n2"}`,
		// a 504 retried half a millisecond later
		`{"ts":"2026-11-16T14:00:00Z","action_type":"fast","args":{"f":1},"status":504}`,
		`{"ts":"2026-11-16T14:00:00.0005Z","action_type":"fast","args":{"f":1},"status":"ok","response_id":"f2"}`,
	)
	want := map[string]string{"charge": "retry-after-error", "pay": "retry-after-error", "book": "concurrent", "mail": "replay", "post": "retry-storm", "note": "repeat", "fast": "retry-after-error"}
	for _, f := range findings(res, "repeat-without-key") {
		if f.Pattern != want[f.ActionType] {
			t.Errorf("%s: pattern %q, want %q", f.ActionType, f.Pattern, want[f.ActionType])
		}
		delete(want, f.ActionType)
		note := rules.PatternNote(&f, func(s string) string { return "`" + s + "`" })
		if f.ActionType == "charge" && !strings.Contains(note, "answered `504` and was retried 30s later; its response id `ch_1` shows it went through after all") {
			t.Errorf("charge note %q", note)
		}
		if f.ActionType == "pay" && !strings.Contains(note, "ended with status `timeout` after 30s and was retried 31s after it started (a client timeout") {
			t.Errorf("pay note %q", note)
		}
		if f.ActionType == "charge" && strings.Contains(note, "client timeout") {
			t.Errorf("charge note %q: no duration, no client timeout", note)
		}
		if f.ActionType == "fast" && !strings.Contains(note, "retried 0.0005s later") {
			t.Errorf("fast note %q: the gap as the timeline shows it", note)
		}
		if f.ActionType == "book" && !strings.Contains(note, ":6 (span `s2`) started before the one at") {
			t.Errorf("book note %q", note)
		}
	}
	if len(want) > 0 {
		t.Errorf("no finding for %v", want)
	}
	for _, f := range findings(res, "missing-key") {
		if f.Pattern != "" {
			t.Errorf("a coverage finding has no pattern: %q", f.Pattern)
		}
	}
}
