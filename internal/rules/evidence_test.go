package rules_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/rules"
	"github.com/idemaudit/idemaudit/internal/sample"
)

// statsOf is the definition of a finding's stats, computed from its listed
// calls in Go (all but DistinctArgs: calls do not carry their args): the
// oracle for the stats the audit computes in SQL.
func statsOf(calls []rules.Call) rules.Stats {
	var st rules.Stats
	st.Calls = len(calls)
	resp, keys := map[string]bool{}, map[string]bool{}
	var first, last *time.Time
	for _, c := range calls {
		switch c.Outcome {
		case rules.Applied:
			st.Applied++
		case rules.Rejected:
			st.Rejected++
		default:
			st.Unknown++
		}
		// what may have happened: calls not rejected, by response id, or
		// each on its own without one unless its effect says noop
		if c.Outcome != rules.Rejected {
			if c.ResponseID != nil {
				resp[*c.ResponseID] = true
			} else if c.Effect == nil || !rules.IsNoop(*c.Effect) {
				st.NullResponses++
			}
		}
		if c.Key != nil {
			keys[*c.Key] = true
		}
		if c.TS != nil {
			if first == nil {
				first = c.TS
			}
			last = c.TS
		}
	}
	st.DistinctResponses, st.DistinctKeys = len(resp), len(keys)
	st.SideEffects = st.DistinctResponses + st.NullResponses
	if first != nil {
		st.Span = last.Sub(*first)
	}
	return st
}

// writeSample writes a generated sample with planted anomalies.
func writeSample(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	files, err := sample.Write(dir, sample.Options{Calls: 20000, Seed: 11, Files: 2,
		Start: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), Days: 14, AnomalyRate: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.Join(dir, filepath.Base(f))
	}
	return files
}

// auditSample audits the files with o.
func auditSample(t *testing.T, files []string, o rules.Options) *rules.Result {
	t.Helper()
	ctx := context.Background()
	db, err := ingest.Open(ctx, "", ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Config = &config.Config{} // the default compensating actions: refund_* keeps its args strings
	for _, f := range files {
		if _, err := db.IngestFile(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if o.Window == 0 {
		o.Window = rules.DefaultWindow
	}
	res, err := rules.Audit(ctx, db.Conn, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The stats computed in SQL match their definition over the calls, and a
// finding capped at MaxEvidence calls keeps its identity, stats, severity,
// message, compensations in all, first time and periods: only its lists of
// calls and compensating calls are shorter.
func TestEvidenceCapKeepsStats(t *testing.T) {
	files := writeSample(t)
	for _, period := range []bool{false, true} {
		o := rules.Options{}
		if period {
			week := func(d int) time.Time { return time.Date(2026, 11, 2+d, 0, 0, 0, 0, time.UTC) }
			o.Period = &rules.Span{Start: week(7), End: week(14), Label: "W2"}
			o.Trend = []rules.Span{{Start: week(0), End: week(7), Label: "W1"}}
		}
		full := auditSample(t, files, o)
		o.MaxEvidence = 2
		capped := auditSample(t, files, o)
		if len(full.Findings) != len(capped.Findings) {
			t.Fatalf("period %v: %d findings, %d when capped", period, len(full.Findings), len(capped.Findings))
		}
		larger, compensated, named := 0, 0, 0
		for i, f := range full.Findings {
			if !f.Sampled {
				want := statsOf(f.Calls)
				want.DistinctArgs, want.Compensated, want.ExtraRemaining = f.Stats.DistinctArgs, f.Stats.Compensated, f.Stats.ExtraRemaining
				if f.Stats != want {
					t.Errorf("%s %s: stats %+v, from its calls %+v", f.Rule, f.ID, f.Stats, want)
				}
			}
			c := capped.Findings[i]
			if c.ID != f.ID || !reflect.DeepEqual(c.FirstSeen, f.FirstSeen) || c.New != f.New {
				t.Fatalf("period %v: finding %d is %s %s (first %v, new %v) capped, %s %s (first %v, new %v) in full",
					period, i, c.Rule, c.ID, c.FirstSeen, c.New, f.Rule, f.ID, f.FirstSeen, f.New)
			}
			if f.CompensationsTotal != len(f.Compensations) {
				t.Errorf("%s %s: %d compensations in all, %d listed with no cap", f.Rule, f.ID, f.CompensationsTotal, len(f.Compensations))
			}
			if c.Stats != f.Stats || c.Severity != f.Severity || c.Message != f.Message || c.Compensated != f.Compensated ||
				c.CompensationsTotal != f.CompensationsTotal || !reflect.DeepEqual(c.Compensations, f.Compensations[:min(len(f.Compensations), 2)]) {
				t.Errorf("%s %s: capped %v %+v %q (compensations %v), in full %v %+v %q (compensations %v)", f.Rule, f.ID,
					c.Severity, c.Stats, c.Message, c.Compensations, f.Severity, f.Stats, f.Message, f.Compensations)
			}
			n := min(len(f.Calls), 2)
			if !reflect.DeepEqual(c.Calls, f.Calls[:n]) {
				t.Errorf("%s %s: capped calls %+v, not the first %d of %+v", f.Rule, f.ID, c.Calls, n, f.Calls)
			}
			if c.Sampled != (c.Stats.Calls > 2) {
				t.Errorf("%s %s: sampled %v with %d calls in all", f.Rule, f.ID, c.Sampled, c.Stats.Calls)
			}
			if len(f.Calls) > 2 {
				larger++
				if f.Stats.DistinctResponses > 2 && strings.Contains(f.Message, "response id") {
					named++ // its message names more responses than capped calls list
				}
			}
			if len(f.Compensations) > 0 {
				compensated++
			}
		}
		if larger == 0 || compensated == 0 || named == 0 {
			t.Fatalf("period %v: %d findings with more than 2 calls, %d compensated, %d naming more responses than 2 calls hold: the cap is not tested",
				period, larger, compensated, named)
		}
		if !reflect.DeepEqual(full.Trend, capped.Trend) {
			t.Errorf("period %v: trend %+v capped, %+v in full", period, capped.Trend, full.Trend)
		}
	}
}

// A finding whose only offending call is past the listed ones still
// belongs to the period of that call, and the message counts what is not
// listed.
func TestEvidenceCapPeriodOfAnUnlistedCall(t *testing.T) {
	lines := []string{
		`{"ts":"2026-11-03T10:00:00Z","action_type":"charge","idempotency_key":"k","response_id":"r1"}`,
		`{"ts":"2026-11-03T10:01:00Z","action_type":"charge","idempotency_key":"k","response_id":"r1"}`,
		`{"ts":"2026-11-11T09:00:00Z","action_type":"charge","idempotency_key":"k","response_id":"r2"}`,
		`{"ts":"2026-11-11T09:05:00Z","action_type":"charge","idempotency_key":"k","response_id":"r3"}`,
	}
	week := func(d int) time.Time { return time.Date(2026, 11, 2+d, 0, 0, 0, 0, time.UTC) }
	for _, max := range []int{0, 1, 3} {
		o := rules.Options{Window: rules.DefaultWindow, MaxEvidence: max,
			Period: &rules.Span{Start: week(7), End: week(14), Label: "W2"},
			Trend:  []rules.Span{{Start: week(0), End: week(7), Label: "W1"}}}
		res := auditWith(t, o, map[string][]string{"a.jsonl": lines})
		fs := findings(res, "same-key-different-response")
		if len(fs) != 1 {
			t.Fatalf("max %d: %d same-key-different-response findings in week 2, want 1", max, len(fs))
		}
		f := fs[0]
		if want := time.Date(2026, 11, 11, 9, 0, 0, 0, time.UTC); f.FirstSeen == nil || !f.FirstSeen.Equal(want) {
			t.Errorf("max %d: first seen %v, want %v", max, f.FirstSeen, want)
		}
		if f.Stats.Calls != 4 || f.Stats.DistinctResponses != 3 || f.Stats.Span != 191*time.Hour+5*time.Minute {
			t.Errorf("max %d: stats %+v", max, f.Stats)
		}
		if wantLen := map[int]int{0: 4, 1: 1, 3: 3}[max]; len(f.Calls) != wantLen || f.Sampled != (wantLen < 4) {
			t.Errorf("max %d: %d calls listed (sampled %v), want %d", max, len(f.Calls), f.Sampled, wantLen)
		}
		// the message names the responses of every call, listed or not
		if want := "key k of charge produced 3 distinct response ids (r1, r2, r3) over 4 calls"; f.Message != want {
			t.Errorf("max %d: message %q, want %q", max, f.Message, want)
		}
		if w1 := res.Trend[0]; w1.FindingsBySeverity[f.Severity] != 0 {
			t.Errorf("max %d: week 1 counts %v, want none (the new responses came in week 2)", max, w1.FindingsBySeverity)
		}
	}
}

// Stats computed over every call, capped or not: a rejected call's
// response id is no side effect, an untimed call counts but spans nothing,
// and a repeated argument set is one.
func TestEvidenceStatsByHand(t *testing.T) {
	lines := []string{
		`{"ts":"2026-11-16T09:00:00Z","action_type":"charge","idempotency_key":"k2","response_id":"r1","status":"ok"}`,
		`{"ts":"2026-11-16T09:01:00Z","action_type":"charge","idempotency_key":"k2","response_id":"r2","status":"rejected"}`,
		`{"action_type":"charge","idempotency_key":"k2","response_id":"r4","status":"rejected"}`,
		`{"ts":"2026-11-16T09:03:00Z","action_type":"charge","idempotency_key":"k2","response_id":"r3","status":"ok"}`,
		`{"ts":"2026-11-16T09:04:00Z","action_type":"charge","idempotency_key":"k2","status":"timeout"}`,
		`{"ts":"2026-11-16T10:00:00Z","action_type":"book","idempotency_key":"kp","args":{"a":1},"response_id":"b1"}`,
		`{"ts":"2026-11-16T10:01:00Z","action_type":"book","idempotency_key":"kp","args":{"a":2},"response_id":"b1"}`,
		`{"ts":"2026-11-16T10:02:00Z","action_type":"book","idempotency_key":"kp","args":{"a":1},"response_id":"b1"}`,
		`{"ts":"2026-11-16T10:03:00Z","action_type":"book","idempotency_key":"kp","args":{"a":3},"response_id":"b1"}`,
	}
	for _, max := range []int{0, 1, 2} {
		res := auditWith(t, rules.Options{Window: rules.DefaultWindow, MaxEvidence: max}, map[string][]string{"a.jsonl": lines})
		dup := findings(res, "same-key-different-response")
		if len(dup) != 1 {
			t.Fatalf("max %d: %d same-key-different-response findings, want 1", max, len(dup))
		}
		want := rules.Stats{Calls: 5, DistinctResponses: 2, NullResponses: 1, DistinctKeys: 1, DistinctArgs: 0, Span: 4 * time.Minute,
			Applied: 2, Rejected: 2, Unknown: 1, SideEffects: 3, ExtraRemaining: 2} // r1, r3 and the timeout
		if got := dup[0].Stats; got != want {
			t.Errorf("max %d: same-key-different-response stats\n%+v, want\n%+v", max, got, want)
		}
		mis := findings(res, "key-payload-mismatch")
		if len(mis) != 1 {
			t.Fatalf("max %d: %d key-payload-mismatch findings, want 1", max, len(mis))
		}
		if got := mis[0].Stats; got.Calls != 4 || got.DistinctArgs != 3 || got.DistinctResponses != 1 || got.SideEffects != 1 {
			t.Errorf("max %d: key-payload-mismatch stats %+v, want 4 calls, 3 argument sets, 1 response, 1 side effect", max, got)
		}
		if want := "key kp of book was sent with 3 different argument sets over 4 calls"; mis[0].Message != want {
			t.Errorf("max %d: message %q, want %q", max, mis[0].Message, want)
		}
	}
}

// A replay's later effect is named even when the call that reported it is
// not listed, and a capped chain of three calls is still a retry storm.
func TestEvidenceCapNamesWhatIsNotListed(t *testing.T) {
	lines := []string{
		`{"ts":"2026-11-16T10:00:00Z","action_type":"book","idempotency_key":"K","response_id":"b1","status":"ok","effect":"created"}`,
		`{"ts":"2026-11-16T10:01:00Z","action_type":"book","idempotency_key":"K","response_id":"b1","status":"ok","effect":"noop"}`,
		`{"ts":"2026-11-16T10:02:00Z","action_type":"book","idempotency_key":"K","response_id":"b1","status":"ok","effect":"created"}`,
	}
	for _, max := range []int{0, 1, 2} {
		res := auditWith(t, rules.Options{Window: rules.DefaultWindow, MaxEvidence: max}, map[string][]string{"a.jsonl": lines})
		fs := findings(res, "non-noop-replay")
		if len(fs) != 1 {
			t.Fatalf("max %d: %d non-noop-replay findings, want 1", max, len(fs))
		}
		if want := "key K of book was replayed and a later call reported effect created instead of noop (3 calls)"; fs[0].Message != want {
			t.Errorf("max %d: message %q, want %q", max, fs[0].Message, want)
		}
		if fs[0].Pattern != rules.PatternRetryStorm {
			t.Errorf("max %d: pattern %q, want %q", max, fs[0].Pattern, rules.PatternRetryStorm)
		}
	}
}

// A group whose calls are centuries apart (ts may be 1800 to 2199) spans
// the longest duration, as time.Sub says, instead of overflowing.
func TestEvidenceSpanOfCenturies(t *testing.T) {
	res := auditLines(t,
		`{"ts":"1800-01-01T00:00:00Z","action_type":"send_email","args":{"to":"a"}}`,
		`{"ts":"2199-01-01T00:00:00Z","action_type":"send_email","args":{"to":"b"}}`,
		`{"ts":"1800-01-01T00:00:00Z","action_type":"charge","idempotency_key":"k","response_id":"r1"}`,
		`{"ts":"2199-01-01T00:00:00Z","action_type":"charge","idempotency_key":"k","response_id":"r2"}`)
	fs := findings(res, "same-key-different-response")
	if len(fs) != 1 || fs[0].Stats.Span != time.Duration(1<<63-1) {
		t.Fatalf("findings %+v, want one spanning the longest duration", fs)
	}
	if len(findings(res, "missing-key")) != 1 {
		t.Errorf("no missing-key finding for the untimely keyless calls")
	}
}
