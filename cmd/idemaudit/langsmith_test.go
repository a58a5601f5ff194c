package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestAuditLangSmithChildRuns: the reviewer's repro. The charges nested in
// a LangGraph run's child_runs give the critical finding (key chg-42 → ch_1,
// ch_2) that the same runs written flat as JSON Lines give, and
// --fail-on critical fails; read both, they are one pair of calls.
func TestAuditLangSmithChildRuns(t *testing.T) {
	dir := t.TempDir()
	nested, err := filepath.Abs("../../internal/ingest/testdata/langsmith-child-runs.json")
	if err != nil {
		t.Fatal(err)
	}
	charge := func(id, start, resp string) string {
		return `{"id":"` + id + `","name":"charge_card","run_type":"tool","trace_id":"r0","parent_run_id":"r0","start_time":"2025-03-12T18:00:` + start +
			`","end_time":"2025-03-12T18:00:` + start + `","status":"success","inputs":{"customer":"cus_9","amount":2000,"idempotency_key":"chg-42"},"outputs":{"output":{"id":"` + resp + `"}}}`
	}
	flat := writeFile(t, dir, "flat.jsonl", `{"id":"r0","name":"LangGraph","run_type":"chain","trace_id":"r0","start_time":"2025-03-12T18:00:00","end_time":"2025-03-12T18:02:00","status":"success","extra":{"metadata":{"thread_id":"thr_1"}}}`+"\n"+
		charge("r1", "10", "ch_1")+"\n"+charge("r2", "40", "ch_2")+"\n")
	want := []string{"same-key-different-response/critical/charge_card/repeat"}
	for _, files := range [][]string{{nested}, {flat}, {flat, nested}} {
		rep := auditImport(t, append([]string{"-q"}, files...)...)
		var got []string
		for _, s := range summarize(rep) {
			got = append(got, strings.Fields(s)[0])
		}
		if !reflect.DeepEqual(got, want) || rep.Summary.Calls != 2 {
			t.Errorf("%v: %d calls, findings %q; want 2 calls and %q", files, rep.Summary.Calls, summarize(rep), want)
		}
		if len(files) == 2 && rep.Summary.TelemetryDuplicates != 2 {
			t.Errorf("nested and flat: %d telemetry duplicates, want 2", rep.Summary.TelemetryDuplicates)
		}
	}
	if r := run(t, nil, "audit", "-q", "--config", os.DevNull, "--fail-on", "critical", nested); r.code != 1 ||
		!strings.Contains(r.stdout, "key chg-42 of charge_card produced 2 distinct response ids (ch_1, ch_2)") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
