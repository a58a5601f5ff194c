package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/rules"
)

// TestOutcomeMapping: the documented status → outcome table, line by line.
func TestOutcomeMapping(t *testing.T) {
	cases := []struct {
		fields string
		want   rules.Outcome
	}{
		{`"status":"ok"`, rules.Applied},
		{`"status":" Success "`, rules.Applied},
		{`"status":200`, rules.Applied},
		{`"status":"201"`, rules.Applied},
		{`"status":422`, rules.Rejected},
		{`"status":"404"`, rules.Rejected},
		{`"status":429`, rules.Rejected},
		{`"status":408`, rules.Unknown},
		{`"status":504`, rules.Unknown},
		{`"status":302`, rules.Unknown},
		{`"status":"rejected"`, rules.Rejected},
		{`"status":"INVALID"`, rules.Rejected},
		{`"status":"validation_error"`, rules.Rejected},
		{`"status":"timeout"`, rules.Unknown},
		{`"status":"error"`, rules.Unknown},
		{`"status":"error","response_id":"r1"`, rules.Unknown}, // the status says it
		{`"status":"weird","response_id":"r1"`, rules.Applied}, // an unknown word: the response id says it
		{`"status":"weird"`, rules.Unknown},
		{`"response_id":"r1"`, rules.Applied},
		{`"effect":"created"`, rules.Applied},
		{``, rules.Unknown},
		{`"status":"card_declined"`, rules.Rejected}, // from the config
		{`"status":"429"`, rules.Rejected},
	}
	cfg, err := config.Parse("c.toml", []byte("[outcomes]\nrejected = [\"card_declined\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ls []string
	for i, c := range cases {
		f := c.fields
		if f != "" {
			f = "," + f
		}
		ls = append(ls, fmt.Sprintf(`{"ts":"2026-11-16T09:%02d:00Z","action_type":"x","args":{"n":%d}%s}`, i, i, f))
	}
	res := auditWith(t, rules.Options{Window: rules.DefaultWindow, Config: cfg}, map[string][]string{"a.jsonl": ls})
	mk := findings(res, "missing-key")
	if len(mk) != 1 || len(mk[0].Calls) != 20 {
		t.Fatalf("missing-key evidence: %+v", mk)
	}
	for i, c := range mk[0].Calls {
		if c.Outcome != cases[i].want {
			t.Errorf("line %d {%s}: %s, want %s", c.Line, cases[i].fields, c.Outcome, cases[i].want)
		}
	}
	// an HTTP code in any number form, or three digits in a string after
	// trimming; other strings are words (say nothing: the response id does)
	codes := []struct {
		status string
		want   rules.Outcome
	}{
		{`402.0`, rules.Rejected}, {`4.22e2`, rules.Rejected}, {`"402 "`, rules.Rejected}, {`" 422"`, rules.Rejected},
		{`504.0`, rules.Unknown}, {`" 504 "`, rules.Unknown}, {`408.0`, rules.Unknown}, {`2.01E2`, rules.Applied},
		{`"4e2"`, rules.Applied}, {`"402.0"`, rules.Applied}, {`402.5`, rules.Applied}, {`"1000"`, rules.Applied},
		{`600`, rules.Applied}, {`-404`, rules.Applied},
		// trimmed as strings.TrimSpace trims: tabs, CR and LF too
		{`"\t409"`, rules.Rejected}, {`"409\n"`, rules.Rejected}, {`"\r\n504\t"`, rules.Unknown}, {`"\tREJECTED"`, rules.Rejected},
	}
	ls = ls[:0]
	for i, c := range codes {
		ls = append(ls, fmt.Sprintf(`{"ts":"2026-11-16T09:%02d:00Z","action_type":"x","args":{"n":%d},"status":%s,"response_id":"r%d"}`, i, i, c.status, i))
	}
	res = auditWith(t, rules.Options{Window: rules.DefaultWindow}, map[string][]string{"a.jsonl": ls})
	for i, c := range findings(res, "missing-key")[0].Calls {
		if c.Outcome != codes[i].want {
			t.Errorf("line %d status %s: %s, want %s", c.Line, codes[i].status, c.Outcome, codes[i].want)
		}
	}
	// the config can reclass a code, too
	cfg2, _ := config.Parse("c.toml", []byte("[outcomes]\nunknown = [\"429\"]\n"))
	res = auditWith(t, rules.Options{Window: rules.DefaultWindow, Config: cfg2}, map[string][]string{"a.jsonl": {
		`{"ts":"2026-11-16T09:00:00Z","action_type":"x","args":{},"status":429}`,
	}})
	if c := findings(res, "missing-key")[0].Calls[0]; c.Outcome != rules.Unknown {
		t.Errorf("429 reclassed: %s", c.Outcome)
	}
	// in any form the code takes
	for _, status := range []string{`429.0`, `" 429 "`, `4.29e2`} {
		res = auditWith(t, rules.Options{Window: rules.DefaultWindow, Config: cfg2}, map[string][]string{"a.jsonl": {
			`{"ts":"2026-11-16T09:00:00Z","action_type":"x","args":{},"status":` + status + `}`,
		}})
		if c := findings(res, "missing-key")[0].Calls[0]; c.Outcome != rules.Unknown {
			t.Errorf("429 reclassed, status %s: %s", status, c.Outcome)
		}
	}
}

// TestKeyRulesIgnoreRejectedCalls: a rejected call is no side effect.
func TestKeyRulesIgnoreRejectedCalls(t *testing.T) {
	res := auditLines(t,
		// an error object's id on a rejected retry: not a second response
		`{"ts":"2026-11-16T09:00:00Z","action_type":"charge","idempotency_key":"k1","args":{"a":1},"status":"ok","response_id":"ch_1"}`,
		`{"ts":"2026-11-16T09:00:30Z","action_type":"charge","idempotency_key":"k1","args":{"a":1},"status":400,"response_id":"err_1"}`,
		// the same key, other args, refused by the downstream: low
		`{"ts":"2026-11-16T10:00:00Z","action_type":"charge","idempotency_key":"k2","args":{"a":1},"status":"ok","response_id":"ch_2"}`,
		`{"ts":"2026-11-16T10:00:30Z","action_type":"charge","idempotency_key":"k2","args":{"a":2},"status":422}`,
		// the same key, other args, accepted: medium
		`{"ts":"2026-11-16T11:00:00Z","action_type":"charge","idempotency_key":"k3","args":{"a":1},"status":"ok","response_id":"ch_3"}`,
		`{"ts":"2026-11-16T11:00:30Z","action_type":"charge","idempotency_key":"k3","args":{"a":2},"status":"ok","response_id":"ch_3","effect":"noop"}`,
		// rejected first, then executed: the first execution, not a replay
		`{"ts":"2026-11-16T12:00:00Z","action_type":"charge","idempotency_key":"k4","args":{"a":4},"status":400,"effect":"none"}`,
		`{"ts":"2026-11-16T12:00:30Z","action_type":"charge","idempotency_key":"k4","args":{"a":4},"status":"ok","response_id":"ch_4","effect":"created"}`,
		// a fresh key per retry, the first rejected: medium, not high
		`{"ts":"2026-11-16T13:00:00Z","action_type":"charge","idempotency_key":"u1","args":{"a":5},"status":422}`,
		`{"ts":"2026-11-16T13:00:30Z","action_type":"charge","idempotency_key":"u2","args":{"a":5},"status":"ok","response_id":"ch_5"}`,
		// a fresh key per retry, the first timed out: high
		`{"ts":"2026-11-16T14:00:00Z","action_type":"charge","idempotency_key":"u3","args":{"a":6},"status":504}`,
		`{"ts":"2026-11-16T14:00:30Z","action_type":"charge","idempotency_key":"u4","args":{"a":6},"status":"ok","response_id":"ch_6"}`,
	)
	if fs := findings(res, "same-key-different-response"); len(fs) != 0 {
		t.Errorf("a rejected call's id counted as a response: %+v", fs)
	}
	sev := map[string]rules.Severity{}
	for _, f := range findings(res, "key-payload-mismatch") {
		sev[*f.Key] = f.Severity
	}
	if sev["k2"] != rules.Low || sev["k3"] != rules.Medium || len(sev) != 2 {
		t.Errorf("key-payload-mismatch severities %v", sev)
	}
	if fs := findings(res, "non-noop-replay"); len(fs) != 0 {
		t.Errorf("a call after a rejected one is no replay: %+v", fs)
	}
	var got []string
	for _, f := range findings(res, "unstable-key") {
		got = append(got, fmt.Sprint(lines(f), f.Severity))
	}
	if fmt.Sprint(got) != "[[11 12] high [9 10] medium]" {
		t.Errorf("unstable-key: %v", got)
	}
}

// missing-key lists the first 20 keyless calls, but its stats (outcomes,
// side effects, span) are those of every keyless call, as every other
// finding's are.
func TestMissingKeyStatsCountEveryCall(t *testing.T) {
	var ls []string
	for i := 0; i < 50; i++ {
		status := `"ok","response_id":"r` + fmt.Sprint(i) + `"`
		switch {
		case i >= 40:
			status = `422`
		case i >= 30:
			status = `504`
		}
		ls = append(ls, fmt.Sprintf(`{"ts":"2026-11-16T09:%02d:00Z","action_type":"x","args":{"n":%d},"status":%s}`, i, i%45, status))
	}
	res := auditWith(t, rules.Options{Window: rules.DefaultWindow}, map[string][]string{"a.jsonl": ls})
	mk := findings(res, "missing-key")
	if len(mk) != 1 {
		t.Fatalf("missing-key: %+v", mk)
	}
	st := mk[0].Stats
	if len(mk[0].Calls) != 20 || st.Calls != 50 || st.Applied != 30 || st.Unknown != 10 || st.Rejected != 10 ||
		st.DistinctResponses != 30 || st.NullResponses != 10 || st.SideEffects != 40 || st.Span != 49*time.Minute {
		t.Errorf("%d calls listed, stats %+v; want 20 listed, 50 calls: 30 applied, 10 unknown, 10 rejected, 30 response ids, 10 without, 40 side effects, 49m", len(mk[0].Calls), st)
	}
}

// The rules test an effect against the noop spellings the log holds (an
// IN list); past 64 of them (noop padded every way) each effect is
// trimmed instead: the findings are the same.
func TestManyNoopSpellings(t *testing.T) {
	for _, n := range []int{3, 70} {
		var ls []string
		for i := 0; i < n; i++ {
			ls = append(ls, fmt.Sprintf(`{"ts":"2026-11-16T09:00:%02dZ","action_type":"mk","idempotency_key":"k%d","args":{"n":%d},"status":"ok","response_id":"r%d","effect":"created"}`, i%60, i, i, i),
				fmt.Sprintf(`{"ts":"2026-11-16T09:01:%02dZ","action_type":"mk","idempotency_key":"k%d","args":{"n":%d},"status":"ok","response_id":"r%d","effect":"noop%s"}`, i%60, i, i, i, strings.Repeat(" ", i)))
		}
		ls = append(ls, `{"ts":"2026-11-16T10:00:00Z","action_type":"mk","idempotency_key":"kx","args":{"n":-1},"status":"ok","response_id":"rx","effect":"created"}`,
			`{"ts":"2026-11-16T10:01:00Z","action_type":"mk","idempotency_key":"kx","args":{"n":-1},"status":"ok","response_id":"rx","effect":"updated\t"}`)
		res := auditWith(t, rules.Options{Window: rules.DefaultWindow}, map[string][]string{"a.jsonl": ls})
		fs := findings(res, "non-noop-replay")
		if len(fs) != 1 || fs[0].Key == nil || *fs[0].Key != "kx" {
			t.Errorf("%d noop spellings: non-noop-replay %+v, want one, of key kx", n, fs)
		}
	}
}
