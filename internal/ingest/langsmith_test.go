package ingest

// LangSmith runs nested through child_runs (Run.child_runs, as
// client.read_run(run_id, load_child_runs=True) fills it): each nested run
// is a record of its own.

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// lsRun is a LangSmith run as JSON; members are added verbatim (`"k":v`).
func lsRun(id, typ, name string, members ...string) string {
	return `{"id":"` + id + `","name":"` + name + `","run_type":"` + typ + `"` + prefixed(members) + `}`
}

func prefixed(members []string) string {
	if len(members) == 0 {
		return ""
	}
	return "," + strings.Join(members, ",")
}

// lsCharge is a charge_card tool run under key chg-42 returning resp.
func lsCharge(id, start, resp string, members ...string) string {
	return lsRun(id, "tool", "charge_card", append([]string{`"start_time":"2025-03-12T18:00:` + start + `"`, `"end_time":"2025-03-12T18:00:` + start + `.5"`,
		`"status":"success"`, `"inputs":{"customer":"cus_9","amount":2000,"idempotency_key":"chg-42"}`,
		`"outputs":{"output":{"id":"` + resp + `"}}`}, members...)...)
}

func children(runs ...string) string { return `"child_runs":[` + strings.Join(runs, ",") + `]` }

// parents lists "span<parent" of the calls, in order.
func parents(t *testing.T, d *DB) []string {
	t.Helper()
	return queryStrings(t, d, `SELECT span_id || '<' || coalesce(parent_id, '') FROM calls ORDER BY source_id, line, pos`)
}

// The reviewer's repro, pretty-printed: the two charges nested in the
// LangGraph run are read, located at the line where the record begins,
// told apart by their run ids, in the root's trace and thread.
func TestLangSmithChildRunsDocument(t *testing.T) {
	doc, err := os.ReadFile("testdata/langsmith-child-runs.json")
	if err != nil {
		t.Fatal(err)
	}
	d, st := ingestOne(t, "tree.json", string(doc), nil)
	if st.Format != FormatLangSmith || st.Calls != 2 || st.Skipped != 1 || st.Malformed != 0 {
		t.Fatalf("stats %+v, want 2 calls and the chain skipped", st)
	}
	cs := importedCalls(t, d)
	for i, want := range []struct{ span, resp string }{{"r1", "ch_1"}, {"r2", "ch_2"}} {
		c := cs[i]
		if c.Span != want.span || c.Resp != want.resp || c.Key != "chg-42" || c.Trace != "r0" || c.Session != "thr_1" ||
			c.Line != 1 || c.Pos != int32(i) || c.Status != "success" || !c.HasDur {
			t.Errorf("call %d: %+v", i, c)
		}
	}
	if cs[0].FP != cs[1].FP {
		t.Errorf("one operation, one fingerprint: %+v", cs)
	}
}

// One run tree per line, nested at any depth: a run without trace_id takes
// the root's, without parent_run_id the enclosing run's id, without
// metadata the thread and run id of the nearest enclosing run that has
// them; its own win. A child run that is no object is reported.
func TestLangSmithChildRunsJSONLines(t *testing.T) {
	tree1 := lsRun("a0", "chain", "LangGraph", `"trace_id":"A"`, `"extra":{"metadata":{"thread_id":"thr_a","run_id":"proc-1"}}`,
		children(lsRun("a1", "chain", "agent", children(
			lsRun("a2", "chain", "tools", children(
				lsCharge("a3", "10", "ch_1"),
				lsCharge("a4", "40", "ch_2", `"trace_id":"A"`, `"parent_run_id":"a2"`, `"extra":{"metadata":{"thread_id":"thr_own"}}`))),
			lsRun("a5", "llm", "model"))),
			lsCharge("a6", "50", "ch_3", `"child_runs":null`)))
	tree2 := lsRun("b0", "chain", "LangGraph", `"trace_id":"B"`, children(lsCharge("b1", "55", "ch_4"), `42`))
	d, st := ingestOne(t, "trees.jsonl", tree1+"\n"+tree2+"\n", nil)
	if st.Format != FormatLangSmith || st.Calls != 4 || st.Skipped != 5 || st.Malformed != 1 {
		t.Fatalf("stats %+v", st)
	}
	var got []string
	for _, c := range importedCalls(t, d) {
		got = append(got, fmt.Sprintf("%d.%d %s %s %s %s %s", c.Line, c.Pos, c.Span, c.Trace, c.Session, c.Run, c.Resp))
	}
	want := []string{
		"1.0 a3 A thr_a proc-1 ch_1",
		"1.1 a4 A thr_own proc-1 ch_2",
		"1.2 a6 A thr_a proc-1 ch_3",
		"2.0 b1 B   ch_4",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
	if p := parents(t, d); !reflect.DeepEqual(p, []string{"a3<a2", "a4<a2", "a6<a0", "b1<b0"}) {
		t.Errorf("parents %q", p)
	}
	if e := malformedErrors(t, d); len(e) != 1 || !strings.Contains(e[0], "2: run b0: a child run that is not a JSON object") {
		t.Errorf("malformed %q", e)
	}
}

// An array of run trees, and an API page {"runs": [...]} of them: each
// tree located at the line it begins, its nested runs there too.
func TestLangSmithChildRunsPages(t *testing.T) {
	t1 := lsRun("r0", "chain", "LangGraph", `"trace_id":"r0"`, children(lsCharge("r1", "10", "ch_1")))
	t2 := lsRun("s0", "chain", "LangGraph", `"trace_id":"s0"`, children(lsCharge("s1", "40", "ch_2")))
	for name, doc := range map[string]string{
		"array.json": "[\n  " + t1 + ",\n  " + t2 + "\n]\n",
		"page.json":  "{\n  \"runs\": [\n    " + t1 + ",\n    " + t2 + "\n  ],\n  \"cursors\": {}\n}\n",
	} {
		d, st := ingestOne(t, name, doc, nil)
		if st.Calls != 2 || st.Skipped != 2 || st.Malformed != 0 {
			t.Fatalf("%s: %+v", name, st)
		}
		cs := importedCalls(t, d)
		first := int64(2)
		if name == "page.json" {
			first = 3
		}
		if cs[0].Span != "r1" || cs[0].Line != first || cs[1].Span != "s1" || cs[1].Line != first+1 || cs[0].Trace != "r0" {
			t.Errorf("%s: %+v", name, cs)
		}
	}
}

// A run read both nested (read_run with its child runs) and flat (a
// list_runs export) is one call: collapsed as a telemetry duplicate, in
// either order and within one file, not a second charge.
func TestLangSmithNestedAndFlatCollapse(t *testing.T) {
	nested := lsRun("r0", "chain", "LangGraph", `"trace_id":"r0"`, children(
		lsCharge("r1", "10", "ch_1"), // no trace_id, no parent_run_id: both inherited
		lsCharge("r2", "40", "ch_2", `"trace_id":"r0"`, `"parent_run_id":"r0"`))) + "\n"
	flat := lsRun("r0", "chain", "LangGraph", `"trace_id":"r0"`) + "\n" +
		lsCharge("r1", "10", "ch_1", `"trace_id":"r0"`, `"parent_run_id":"r0"`) + "\n" +
		lsCharge("r2", "40", "ch_2", `"trace_id":"r0"`, `"parent_run_id":"r0"`) + "\n"
	for _, order := range [][2]string{{nested, flat}, {flat, nested}} {
		d := openMem(t)
		dir := t.TempDir()
		var last Stats
		for i, data := range order {
			st, err := d.IngestFile(context.Background(), write(t, dir, fmt.Sprintf("%d.jsonl", i), []byte(data)))
			if err != nil {
				t.Fatal(err)
			}
			last = st
		}
		cs := importedCalls(t, d)
		if len(cs) != 2 || last.Collapsed != 2 || cs[0].Span != "r1" || cs[1].Span != "r2" {
			t.Errorf("nested and flat: %+v, last %+v; want 2 calls, the second export's 2 collapsed", cs, last)
		}
	}
	d, st := ingestOne(t, "both.jsonl", flat+nested, nil)
	if st.Calls != 2 || st.Collapsed != 2 {
		t.Errorf("one file with both: %+v", st)
	}
	if cs := importedCalls(t, d); cs[0].Line != 2 || cs[1].Line != 3 {
		t.Errorf("the copy read first stays: %+v", cs)
	}
}

// A tool run holding a tool run of the same tool (a client retrying under
// one tool run), directly or through a chain run, nested through
// child_runs: the wrapper goes, the attempts stay and take its thread.
func TestLangSmithNestedWrapper(t *testing.T) {
	wrapper := func(inner string) string {
		return lsRun("w", "tool", "charge_card", `"trace_id":"T"`, `"start_time":"2025-03-12T18:00:00"`, `"end_time":"2025-03-12T18:01:00"`,
			`"extra":{"metadata":{"thread_id":"thr_w"}}`, `"inputs":{"amount":2000}`, children(inner))
	}
	attempts := lsCharge("x1", "10", "ch_1") + "," + lsCharge("x2", "40", "ch_2")
	for name, tree := range map[string]string{
		"direct":       wrapper(attempts),
		"through link": wrapper(lsRun("h", "chain", "http", children(attempts))),
	} {
		d, st := ingestOne(t, "w.jsonl", tree+"\n", nil)
		cs := importedCalls(t, d)
		if st.Calls != 2 || st.Collapsed != 1 || cs[0].Span != "x1" || cs[1].Span != "x2" || cs[0].Session != "thr_w" || cs[0].Trace != "T" {
			t.Errorf("%s: %+v %+v; want the 2 attempts, the wrapper collapsed", name, st, cs)
		}
	}
}

// Hostile input: child_runs nested thousands of runs deep are walked
// without recursion down to maxRunDepth; the runs below are not read and
// the record says so; the record's other runs and the next line are read.
func TestHostileDeepChildRuns(t *testing.T) {
	const depth = 3000 // 6,000 JSON levels: encoding/json decodes up to 10,000
	var b strings.Builder
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, `{"id":"c%d","run_type":"chain","name":"n","trace_id":"T","child_runs":[`, i)
		switch i {
		case 10, maxRunDepth - 1:
			b.WriteString(lsCharge(fmt.Sprintf("ok%d", i), "10", "ch_"+fmt.Sprint(i)) + ",")
		case maxRunDepth + 50:
			b.WriteString(lsCharge("lost", "10", "ch_lost") + ",")
		}
	}
	b.WriteString(strings.Repeat(`]}`, depth))
	next := lsRun("z0", "chain", "g", `"trace_id":"Z"`, children(lsCharge("z1", "30", "ch_z")))
	d, st := ingestBytes(t, []byte(b.String()+"\n"+next+"\n"))
	if st.Format != FormatLangSmith || st.Calls != 3 || st.Malformed != 1 {
		t.Fatalf("%+v %v", st, malformedErrors(t, d))
	}
	var spans []string
	for _, c := range importedCalls(t, d) {
		spans = append(spans, c.Span)
	}
	if want := []string{"ok10", fmt.Sprintf("ok%d", maxRunDepth-1), "z1"}; !reflect.DeepEqual(spans, want) {
		t.Errorf("spans %q, want %q", spans, want)
	}
	if e := malformedErrors(t, d); !strings.Contains(e[0], fmt.Sprintf("1: run c%d: child_runs nested deeper than 512 runs", maxRunDepth)) {
		t.Errorf("malformed %q", e)
	}
}
