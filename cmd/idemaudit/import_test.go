package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// importReport is the part of the JSON report the trace-import tests read.
type importReport struct {
	Summary struct {
		Calls               int `json:"calls"`
		TelemetryDuplicates int `json:"telemetry_duplicates"`
	} `json:"summary"`
	Findings []struct {
		ID         string `json:"id"`
		Rule       string `json:"rule"`
		Severity   string `json:"severity"`
		ActionType string `json:"action_type"`
		Pattern    string `json:"pattern"`
		Calls      []struct {
			Source string  `json:"source"`
			Line   int     `json:"line"`
			SpanID *string `json:"span_id"`
		} `json:"calls"`
	} `json:"findings"`
	Inputs []struct {
		Source    string `json:"source"`
		Format    string `json:"format"`
		Collapsed int    `json:"telemetry_duplicates"`
		Skipped   int    `json:"not_tool_calls"`
	} `json:"inputs"`
	ReadOnly []struct {
		ActionType string `json:"action_type"`
	} `json:"read_only"`
}

func auditImport(t *testing.T, args ...string) importReport {
	t.Helper()
	r := run(t, nil, append([]string{"audit", "-f", "json", "--config", os.DevNull}, args...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep importReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	return rep
}

// finding is "rule/severity/action/pattern" and the evidence "line:span".
func summarize(rep importReport) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Rule == "missing-key" {
			continue
		}
		var ev []string
		for _, c := range f.Calls {
			span := "-"
			if c.SpanID != nil {
				span = *c.SpanID
			}
			ev = append(ev, strings.TrimPrefix(c.Source, "sample-logs/traces/")+":"+strconv.Itoa(c.Line)+"@"+span)
		}
		out = append(out, f.Rule+"/"+f.Severity+"/"+f.ActionType+"/"+f.Pattern+" "+strings.Join(ev, " "))
	}
	sort.Strings(out)
	return out
}

// TestAuditTraceSamples: each sample export, auto-detected, gives the
// planted duplicate side effects with their lines, span ids and pattern;
// reads and telemetry duplicates stay out.
func TestAuditTraceSamples(t *testing.T) {
	cases := map[string]struct {
		format   string
		findings []string
		reads    []string
	}{
		"otlp-collector.jsonl": {"otlp", []string{
			"repeat-without-key/high/charge_card/retry-after-error otlp-collector.jsonl:1@a2fb4a1d1a96d312 otlp-collector.jsonl:2@c7ad6b7169203331",
			"same-key-different-response/critical/create_invoice/repeat otlp-collector.jsonl:4@b7ad6b7169203331 otlp-collector.jsonl:4@e457b5a2e4d86bd1",
		}, []string{"get_customer"}},
		"langfuse-observations.json": {"langfuse", []string{
			"repeat-without-key/high/book_meeting/concurrent langfuse-observations.json:47@2f1c0d8e-tool-2 langfuse-observations.json:73@2f1c0d8e-tool-3",
			"retry-after-rejection/low/send_invite/repeat langfuse-observations.json:114@2f1c0d8e-tool-4 langfuse-observations.json:136@2f1c0d8e-tool-5",
		}, []string{"search_calendar"}},
		"langsmith-runs.jsonl": {"langsmith", []string{
			"unstable-key/high/send_email/repeat langsmith-runs.jsonl:4@1e0c5a3e-0000-4000-8000-0000000000b3 langsmith-runs.jsonl:6@1e0c5a3e-0000-4000-8000-0000000000c3",
		}, []string{"lookup_order"}},
		"openai-agents-spans.jsonl": {"openai-agents", []string{
			"repeat-without-key/high/refund_order/retry-after-error openai-agents-spans.jsonl:4@span_c1c2e3f4a5b6c7d8e9f0a1b2 openai-agents-spans.jsonl:5@span_d1c2e3f4a5b6c7d8e9f0a1b2 openai-agents-spans.jsonl:6@span_e1c2e3f4a5b6c7d8e9f0a1b2",
		}, []string{"fetch_order"}},
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			rep := auditImport(t, "sample-logs/traces/"+name)
			if got := summarize(rep); strings.Join(got, "\n") != strings.Join(w.findings, "\n") {
				t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(w.findings, "\n"))
			}
			if len(rep.Inputs) != 1 || rep.Inputs[0].Format != w.format || rep.Inputs[0].Collapsed != 1 || rep.Summary.TelemetryDuplicates != 1 {
				t.Errorf("inputs %+v, summary %+v", rep.Inputs, rep.Summary)
			}
			var reads []string
			for _, a := range rep.ReadOnly {
				reads = append(reads, a.ActionType)
			}
			if strings.Join(reads, ",") != strings.Join(w.reads, ",") {
				t.Errorf("read-only %v, want %v", reads, w.reads)
			}
		})
	}
	// --include audits a read anyway; --exclude leaves a side effect out
	rep := auditImport(t, "--include", "get_*", "--exclude", "charge_card", "sample-logs/traces/otlp-collector.jsonl")
	if len(rep.ReadOnly) != 1 || rep.ReadOnly[0].ActionType != "charge_card" {
		t.Errorf("read-only with --include get_* --exclude charge_card: %+v", rep.ReadOnly)
	}
	// the whole directory at once: every format told apart
	rep = auditImport(t, "sample-logs/traces/")
	formats := map[string]bool{}
	for _, in := range rep.Inputs {
		formats[in.Format] = true
	}
	if len(formats) != 4 || rep.Summary.TelemetryDuplicates != 4 {
		t.Errorf("a directory of exports: formats %v, %d telemetry duplicates", formats, rep.Summary.TelemetryDuplicates)
	}
}

// TestFromOverridesDetection: --from names the format; an export read as
// another format gives no calls rather than wrong ones.
func TestFromOverridesDetection(t *testing.T) {
	rep := auditImport(t, "--from", "langsmith", "sample-logs/traces/openai-agents-spans.jsonl")
	if rep.Summary.Calls != 0 || len(rep.Findings) != 0 || rep.Inputs[0].Format != "langsmith" {
		t.Errorf("%+v", rep)
	}
	if r := run(t, nil, "audit", "--from", "xml", "sample-logs/traces/"); r.code != 2 || !strings.Contains(r.stderr, "--from \"xml\": want one of auto, jsonl") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if r := run(t, nil, "audit", "--from", "otlp", "--map", "ts=@timestamp", "sample-logs/traces/"); r.code != 2 || !strings.Contains(r.stderr, "--map") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	// an empty or dangling path finds nothing: a usage error, not silence
	for _, arg := range []string{"--key-path=", "--response-path=", "--key-path=args.", "--response-path=id,", "--tool-spans="} {
		if r := run(t, nil, "audit", arg, "sample-logs/traces/otlp-collector.jsonl"); r.code != 2 || !strings.Contains(r.stderr, "want names or dotted paths") {
			t.Errorf("%s: exit %d %s", arg, r.code, r.stderr)
		}
	}
	// a log forced to another format: no call, and a warning saying so (for OTLP too)
	for _, from := range []string{"otlp", "langsmith"} {
		r := run(t, nil, "audit", "--from", from, "sample-logs/billing-agent.jsonl")
		if !strings.Contains(r.stderr, "no tool call among its") {
			t.Errorf("--from %s on a log: no warning\n%s", from, r.stderr)
		}
	}
}

// TestExplainTrace: the forensic question on an export, by response id.
func TestExplainTrace(t *testing.T) {
	out := explainJSONOut(t, "--config", os.DevNull, "--response", "re_3QxT", "sample-logs/traces/openai-agents-spans.jsonl")
	if len(out.Calls) != 3 || out.Calls[0].SpanID == nil || *out.Calls[0].SpanID != "span_c1c2e3f4a5b6c7d8e9f0a1b2" || *out.Calls[1].Gap != 32 {
		t.Errorf("timeline %+v", out.Calls)
	}
	v := strings.Join(out.Verdict, "\n")
	if !strings.Contains(v, "3 side effects of refund_order") || !strings.Contains(v, "answered 504 after 29.9s and was retried 32s after it started (a client timeout") {
		t.Errorf("verdict %q", v)
	}
	// a side effect without a response id is named too, not only the ids
	o := explainJSONOut(t, "--config", os.DevNull, "--response", "ch_3Pq2Lk", "sample-logs/traces/otlp-collector.jsonl")
	if v := strings.Join(o.Verdict, "\n"); !strings.Contains(v, "2 side effects of charge_card for one logical operation (repeat-without-key): ch_3Pq2Lk, 1 call without a response id;") {
		t.Errorf("verdict %q", v)
	}
	// a read answered with the id: left out of the audit, and said so
	if r := run(t, nil, "explain", "--config", os.DevNull, "--response", "cus_Q42", "sample-logs/traces/otlp-collector.jsonl"); r.code != 2 ||
		!strings.Contains(r.stderr, "read-only calls of get_customer match (left out as reads: --include audits them)") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	// Markdown for the incident document, span ids in the timeline
	r := run(t, nil, "explain", "--config", os.DevNull, "-f", "markdown", "--key", "inv-2026-1118-cus_Q42", "sample-logs/traces/otlp-collector.jsonl")
	if r.code != 0 || !strings.Contains(r.stdout, "b7ad6b7169203331") || !strings.Contains(r.stdout, "in_1Nv9") {
		t.Errorf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

// TestImportMapCLI reads JSON Lines of another shape with --map.
func TestImportMapCLI(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "gateway.log", `{"@timestamp":"2026-11-18T10:00:00Z","tool":{"name":"charge","input":"{\"amount\": 5, \"customer\": \"c1\"}"},"out":{"id":"ch_1"}}
{"@timestamp":"2026-11-18T10:00:40Z","tool":{"name":"charge","input":{"customer":"c1","amount":5}},"out":{"id":"ch_2"}}
`)
	rep := auditImport(t, "--map", "ts=@timestamp", "--map", "action_type=tool.name", "--map", "args=tool.input", "--map", "response_id=out.id", filepath.Clean(log))
	got := summarize(rep)
	if len(got) != 1 || !strings.HasPrefix(got[0], "repeat-without-key/high/charge/repeat ") {
		t.Errorf("findings %q (args as a JSON string and as an object are one operation)", got)
	}
}

// TestExports audits exports written independently of the samples (see
// testdata/exports/README.md) and checks each gives what it plants:
// "rule/severity/action/pattern lines" per finding (coverage findings
// aside), the calls counted, the telemetry duplicates collapsed.
func TestExports(t *testing.T) {
	dir := "cmd/idemaudit/testdata/exports/"
	cases := []struct {
		files    []string
		calls    int
		dups     int
		findings []string
	}{
		{[]string{"otlp/collector.jsonl"}, 8, 1, []string{
			"same-key-different-response/critical/create_invoice/repeat 3 3",
			"repeat-without-key/high/charge_card/retry-after-error 1 2",
			"unstable-key/high/book_flight/retry-after-error 4 4"}},
		{[]string{"otlp/collector-jq-pretty.json"}, 8, 1, []string{
			"same-key-different-response/critical/create_invoice/repeat 385 479",
			"repeat-without-key/high/charge_card/retry-after-error 119 242",
			"unstable-key/high/book_flight/retry-after-error 575 633"}},
		{[]string{"otlp/collector-jq-slurp.json"}, 8, 1, []string{ // jq -s . of it: an array of TracesData, each span at its line
			"same-key-different-response/critical/create_invoice/repeat 386 480",
			"repeat-without-key/high/charge_card/retry-after-error 120 243",
			"unstable-key/high/book_flight/retry-after-error 576 634"}},
		{[]string{"otlp/mcp-pretty.json"}, 4, 8, []string{
			"same-key-different-response/critical/create_ticket/repeat 760 815",
			"repeat-without-key/high/send_email/retry-after-error 641 705"}},
		{[]string{"otlp/mcp-split.jsonl"}, 4, 12, []string{
			"same-key-different-response/critical/create_ticket/repeat 2 2",
			"repeat-without-key/high/send_email/retry-after-error 2 2"}},
		{[]string{"otlp/legacy-http-status.jsonl"}, 4, 0, []string{
			"retry-after-rejection/low/book_table/repeat 1 1",
			"retry-after-rejection/low/book_spa/repeat 2 2"}},
		{[]string{"otlp/instrumentations.jsonl"}, 6, 0, []string{
			"same-key-different-response/critical/create_booking/repeat 3 3",
			"repeat-without-key/high/charge_card/retry-after-error 1 1",
			"repeat-without-key/high/send_sms/retry-after-error 2 2"}},
		{[]string{"langfuse/blob-observations-with-versions.jsonl"}, 8, 3, []string{
			"same-key-different-response/critical/create_invoice/repeat 11 13",
			"repeat-without-key/high/charge_card/retry-after-error 3 4",
			"unstable-key/high/book_hotel/retry-after-error 7 8"}},
		{[]string{"langfuse/trace-detail.json"}, 6, 0, []string{
			"same-key-different-response/critical/create_payout/repeat 60 109",
			"repeat-without-key/high/cancel_subscription/retry-after-error 158 197",
			"repeat-without-key/high/send_sms/repeat 246 288"}},
		{[]string{"langfuse/pydantic-ai-otel-observations.json"}, 4, 0, []string{ // pydantic-ai over OTel: the tool by gen_ai.tool.name
			"same-key-different-response/critical/charge_card/repeat 122 162",
			"repeat-without-key/high/refund_payment/retry-after-error 202 242"}},
		{[]string{"langfuse/blob-observations.parquet"}, 8, 1, []string{
			"same-key-different-response/critical/create_invoice/repeat 10 11",
			"repeat-without-key/high/charge_card/retry-after-error 3 4",
			"unstable-key/high/book_hotel/retry-after-error 7 8"}},
		{[]string{"langsmith/export-0900.jsonl", "langsmith/export-0915.jsonl"}, 8, 3, []string{
			"same-key-different-response/critical/create_shipment/repeat 7 2",
			"repeat-without-key/high/refund_payment/retry-after-error 3 4",
			"unstable-key/high/schedule_pickup/retry-after-error 3 4"}},
		{[]string{"langsmith/runs-lc-constructor.jsonl"}, 8, 1, []string{
			"same-key-different-response/critical/create_shipment/repeat 7 8",
			"repeat-without-key/high/refund_payment/retry-after-error 3 4",
			"unstable-key/high/schedule_pickup/retry-after-error 9 10"}},
		{[]string{"langsmith/bulk-export-runs.parquet"}, 8, 1, []string{
			"same-key-different-response/critical/create_shipment/repeat 7 8",
			"repeat-without-key/high/refund_payment/retry-after-error 3 4",
			"unstable-key/high/schedule_pickup/retry-after-error 9 10"}},
		{[]string{"langsmith/runs-with-compensation.jsonl"}, 9, 1, []string{ // the double shipment was cancelled
			"repeat-without-key/high/refund_payment/retry-after-error 3 4",
			"unstable-key/high/schedule_pickup/retry-after-error 9 10",
			"same-key-different-response/low/create_shipment/repeat 7 8"}},
		{[]string{"openai/agents-mcp-and-models.jsonl"}, 4, 0, []string{
			"same-key-different-response/critical/create_ticket/repeat 3 4",
			"same-key-different-response/critical/issue_voucher/repeat 5 6"}},
		{[]string{"openai/backend-ingest-payload.json"}, 2, 0, nil},
		// a second round: other producers of OTLP
		{[]string{"otlp/logfire-pydantic-ai-v2.jsonl"}, 4, 0, []string{ // tool spans naming only the tool and its call id
			"same-key-different-response/critical/create_invoice/repeat 3 4",
			"repeat-without-key/high/charge_card/retry-after-error 1 2"}},
		{[]string{"otlp/langsmith-otel-langgraph.jsonl"}, 4, 0, []string{ // the tool in the span name, gen_ai.prompt/completion
			"same-key-different-response/critical/create_invoice/repeat 3 4",
			"repeat-without-key/high/charge_card/retry-after-error 1 2"}},
		{[]string{"otlp/strands-events.jsonl"}, 4, 0, []string{ // args and result in span events
			"same-key-different-response/critical/create_invoice/repeat 3 4",
			"repeat-without-key/high/charge_card/retry-after-error 1 2"}},
		{[]string{"otlp/strands-latest-conventions.jsonl"}, 4, 0, []string{ // gen_ai.input/output.messages parts
			"same-key-different-response/critical/create_invoice/repeat 3 4",
			"repeat-without-key/high/charge_card/retry-after-error 1 2"}},
		{[]string{"otlp/tempo-v2-trace.json"}, 4, 0, []string{ // {"trace": TracesData}: each span at its line
			"same-key-different-response/critical/Billing-create_invoice/repeat 223 314",
			"repeat-without-key/high/Billing-charge_card/retry-after-error 40 132"}},
		{[]string{"otlp/tempo-batches.json"}, 4, 0, []string{ // {"batches": [...]}
			"same-key-different-response/critical/Billing-create_invoice/repeat 222 313",
			"repeat-without-key/high/Billing-charge_card/retry-after-error 39 131"}},
		{[]string{"otlp/langfuse-v3-otel.jsonl"}, 4, 0, []string{ // langfuse.observation.* attributes
			"same-key-different-response/critical/create_invoice/repeat 3 4",
			"repeat-without-key/high/charge_card/retry-after-error 1 2"}},
		{[]string{"otlp/mcp-internal-retry.jsonl"}, 2, 1, []string{ // two attempts under one tool span
			"repeat-without-key/high/charge_card/retry-after-error 1 1"}},
		{[]string{"otlp/openllmetry.jsonl"}, 8, 0, []string{ // OpenLLMetry: LangChain callback envelopes, @tool inputs
			"same-key-different-response/critical/charge_card/repeat 1 2",
			"same-key-different-response/critical/create_invoice/repeat 4 4",
			"same-key-different-response/critical/issue_refund/repeat 5 5",
			"repeat-without-key/high/send_sms/retry-after-error 3 3"}},
		{[]string{"otlp/google-adk.jsonl"}, 6, 0, []string{ // gcp.vertex.agent.tool_call_args/tool_response; "(merged tools)" is no call
			"same-key-different-response/critical/create_invoice/repeat 3 3",
			"repeat-without-key/high/charge_card/retry-after-error 1 2"}},
		{[]string{"otlp/openinference-smolagents.jsonl"}, 4, 0, []string{ // input.value {"args", "sanitize_inputs_outputs", "kwargs"}
			"same-key-different-response/critical/create_invoice/repeat 3 3",
			"unstable-key/high/charge_card/retry-after-error 1 2"}},
		{[]string{"otlp/mlflow-otlp.jsonl"}, 2, 0, []string{ // mlflow.spanType "\"TOOL\"", mlflow.spanInputs/spanOutputs
			"repeat-without-key/high/refund_payment/retry-after-error 1 2"}},
		{[]string{"otlp/mlflow-dual-export.jsonl"}, 2, 0, []string{ // MLflow renamed the repeated spans refund_payment_1, _2: one action
			"repeat-without-key/high/refund_payment/retry-after-error 1 2"}},
		{[]string{"otlp/livekit-agents.jsonl"}, 3, 0, []string{ // function_tool spans: lk.function_tool.*, lk.pii.function_tool.*
			"repeat-without-key/high/book_table/retry-after-error 1 2"}},
		{[]string{"otlp/jaeger-api-v3.json"}, 2, 0, []string{ // Jaeger's {"result": TracesData}, jq-printed: each span at its line
			"repeat-without-key/high/create_transfer/retry-after-error 46 123"}},
		// Jaeger's classic JSON: the query API's answer as Jaeger UI's "Trace
		// JSON" shows it (pretty-printed: each span at its line), the search
		// page's "Download Results" (one line), both: the same spans
		{[]string{"jaeger/trace-json-pretty.json"}, 4, 0, []string{
			"same-key-different-response/critical/charge_card/repeat 250 445",
			"repeat-without-key/high/send_email/retry-after-error 580 756"}},
		{[]string{"jaeger/ui-download-results.json"}, 4, 0, []string{
			"same-key-different-response/critical/charge_card/repeat 1 1",
			"repeat-without-key/high/send_email/retry-after-error 1 1"}},
		{[]string{"jaeger/trace-json-pretty.json", "jaeger/ui-download-results.json"}, 4, 5, []string{
			"same-key-different-response/critical/charge_card/repeat 250 445",
			"repeat-without-key/high/send_email/retry-after-error 580 756"}},

		// Python's ConsoleSpanExporter captured to a file: span.to_json(indent=4)
		// one after another, each call at its span's first line; a span
		// printed twice (two console processors) is one call
		{[]string{"console/billing-agent-stdout.log"}, 4, 1, []string{
			"same-key-different-response/critical/create_invoice/repeat 285 319",
			"repeat-without-key/high/charge_card/retry-after-error 145 213"}},

		// MLflow's own trace JSON (Trace.to_dict / to_json): its TOOL spans
		// read as the same spans of MLflow's OTLP export, each at its line
		{[]string{"mlflow/trace-to-json-pretty.json"}, 4, 0, []string{ // MLflow 3, to_json(pretty=True): protobuf-dict spans, base64 ids
			"same-key-different-response/critical/charge_card/repeat 86 104",
			"repeat-without-key/high/refund_payment/retry-after-error 122 151"}},
		{[]string{"mlflow/search-traces-list.json"}, 4, 0, []string{ // a list of traces, hex ids; the session in the trace metadata
			"same-key-different-response/critical/issue_voucher/repeat 83 172",
			"repeat-without-key/high/book_flight/retry-after-error 54 151"}},
		{[]string{"mlflow/traces-v2.jsonl"}, 4, 0, []string{ // MLflow 2: one to_json() a line
			"same-key-different-response/critical/create_invoice/repeat 2 3",
			"repeat-without-key/high/send_email/retry-after-error 1 2"}},
		{[]string{"otlp/mlflow-dual-export.jsonl", "mlflow/dual-export-trace.json"}, 2, 4, []string{ // one trace both ways: each span one call
			"repeat-without-key/high/refund_payment/retry-after-error 1 2"}},

		// Go's stdouttrace exporter captured to a file: WithPrettyPrint (each
		// span a tab-indented object, each call at its span's first line),
		// and compact, one span a line, from two exporters on one provider
		// (a syncer and a batcher: every span printed twice, one call each)
		{[]string{"gostdout/billing-agent-pretty.log"}, 4, 0, []string{
			"same-key-different-response/critical/create_invoice/repeat 1035 1290",
			"repeat-without-key/high/charge_card/retry-after-error 519 780"}},
		{[]string{"gostdout/billing-agent-two-exporters.log"}, 4, 5, []string{
			"same-key-different-response/critical/create_invoice/repeat 9 11",
			"repeat-without-key/high/charge_card/retry-after-error 5 7"}},

		{[]string{"edge/langfuse-empty-page.json"}, 0, 0, nil},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.files, "+"), func(t *testing.T) {
			var args []string
			for _, f := range c.files {
				args = append(args, dir+f)
			}
			r := run(t, nil, append([]string{"audit", "-f", "json", "--config", os.DevNull}, args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var rep struct {
				Summary struct {
					Calls int `json:"calls"`
					Dups  int `json:"telemetry_duplicates"`
				} `json:"summary"`
				Findings []struct {
					Rule, Severity, Pattern string
					ActionType              string `json:"action_type"`
					Calls                   []struct{ Line int }
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				if f.Rule == "missing-key" {
					continue
				}
				s := f.Rule + "/" + f.Severity + "/" + f.ActionType + "/" + f.Pattern
				for _, c := range f.Calls {
					s += " " + strconv.Itoa(c.Line)
				}
				got = append(got, s)
			}
			if rep.Summary.Calls != c.calls || rep.Summary.Dups != c.dups || strings.Join(got, "\n") != strings.Join(c.findings, "\n") {
				t.Errorf("%d calls, %d telemetry duplicates, findings\n%s\nwant %d, %d,\n%s", rep.Summary.Calls, rep.Summary.Dups,
					strings.Join(got, "\n"), c.calls, c.dups, strings.Join(c.findings, "\n"))
			}
		})
	}
}

// TestConsoleSpanLookalikesStayLogs: a log line with a name, a context of
// trace and span ids and a start time is no ConsoleSpanExporter span (no
// "SpanKind." kind, no status object): a JSON Lines log opening with one,
// a log of another shape read with --map, and a call record whose context
// comes before args longer than the sniffed megabyte keep their calls.
func TestConsoleSpanLookalikesStayLogs(t *testing.T) {
	dir := t.TempDir()
	ctx := func(span string) string {
		return `"context":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"` + span + `"}`
	}
	header := writeFile(t, dir, "audit.jsonl", `{"name":"billing.agent","kind":"session",`+ctx("00f067aa0ba902b7")+`,"start_time":"2026-03-10T09:00:00Z","msg":"session started"}
{"ts":"2026-03-10T09:00:00Z","action_type":"charge_card","args":{"amount":5},"response_id":"ch_1"}
{"ts":"2026-03-10T09:00:10Z","action_type":"charge_card","args":{"amount":5},"response_id":"ch_2"}
`)
	shaped := writeFile(t, dir, "gateway.log", `{"name":"tool_call","tool":"charge_card",`+ctx("00f067aa0ba902b7")+`,"start_time":"2026-03-10T09:00:00Z","input":{"amount":5},"out":{"id":"ch_1"}}
{"name":"tool_call","tool":"charge_card",`+ctx("00f067aa0ba902b8")+`,"start_time":"2026-03-10T09:00:10Z","input":{"amount":5},"out":{"id":"ch_2"}}
`)
	note := strings.Repeat("x", 1<<20+1000)
	big := writeFile(t, dir, "big.jsonl", `{"ts":"2026-03-10T09:00:00Z",`+ctx("00f067aa0ba902b7")+`,"args":{"amount":5,"note":"`+note+`"},"action_type":"charge_card","response_id":"ch_1"}
{"ts":"2026-03-10T09:00:10Z",`+ctx("00f067aa0ba902b8")+`,"args":{"amount":5,"note":"`+note+`"},"action_type":"charge_card","response_id":"ch_2"}
`)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"first line a session record", []string{header}},
		{"--map", []string{"--map", "ts=start_time", "--map", "action_type=tool", "--map", "args=input", "--map", "response_id=out.id", shaped}},
		{"first record over the sniffed megabyte", []string{big}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := auditImport(t, c.args...)
			if rep.Summary.Calls != 2 || len(rep.Inputs) != 1 || rep.Inputs[0].Format != "jsonl" {
				t.Fatalf("read %d calls as %+v, want 2 calls of JSON Lines", rep.Summary.Calls, rep.Inputs)
			}
			if got := summarize(rep); len(got) != 1 || !strings.HasPrefix(got[0], "repeat-without-key/high/charge_card/") {
				t.Errorf("findings %q, want the repeated charge", got)
			}
		})
	}
}

// TestConsoleCaptureWithPrintedText: what an agent prints to stdout
// besides its ConsoleSpanExporter spans (before the first one ends, and
// between them) is reported line by line; every span is still read, each
// call at its span's first line.
func TestConsoleCaptureWithPrintedText(t *testing.T) {
	span := func(id, start, end, status, attrs string) string {
		return `{
    "name": "execute_tool charge_card",
    "context": {
        "trace_id": "0x4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "0x` + id + `",
        "trace_state": "[]"
    },
    "kind": "SpanKind.INTERNAL",
    "parent_id": null,
    "start_time": "` + start + `",
    "end_time": "` + end + `",
    "status": {
        "status_code": "` + status + `"
    },
    "attributes": {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "charge_card",
        "gen_ai.tool.call.arguments": "{\"amount\": 5}"` + attrs + `
    },
    "events": [],
    "links": [],
    "resource": {
        "attributes": {
            "service.name": "billing-agent"
        },
        "schema_url": ""
    }
}
`
	}
	log := writeFile(t, t.TempDir(), "stdout.log", "Starting billing agent...\n"+
		span("00f067aa0ba902b7", "2026-03-10T09:00:00.000000Z", "2026-03-10T09:00:30.000000Z", "ERROR", `,
        "error.type": "ReadTimeout"`)+
		"charging again\n"+
		span("00f067aa0ba902c1", "2026-03-10T09:00:31.000000Z", "2026-03-10T09:00:32.000000Z", "OK", `,
        "gen_ai.tool.call.result": "{\"id\": \"ch_2\"}"`))
	rep := auditImport(t, log)
	if rep.Summary.Calls != 2 || rep.Inputs[0].Format != "otlp" {
		t.Fatalf("read %d calls as %+v, want the 2 spans", rep.Summary.Calls, rep.Inputs)
	}
	want := "repeat-without-key/high/charge_card/retry-after-error " + log + ":2@00f067aa0ba902b7 " + log + ":32@00f067aa0ba902c1"
	if got := summarize(rep); len(got) != 1 || got[0] != want {
		t.Errorf("findings %q, want the retried charge at its spans' first lines", got)
	}
}

// TestJaegerErrorAnswer: the query API's answer for a trace it does not
// have (saved instead of the trace), classic or api_v3, is no trace: a
// malformed line naming the API's error, no call, no hint to read it as
// another format.
func TestJaegerErrorAnswer(t *testing.T) {
	for _, f := range []string{"api-error-trace-not-found.json", "api-v3-error-trace-not-found.json"} {
		t.Run(f, func(t *testing.T) {
			r := run(t, nil, "audit", "--config", os.DevNull, "cmd/idemaudit/testdata/exports/jaeger/"+f)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			want := ":1: a Jaeger API error answer (404 trace not found): no trace in it" // after the file's name
			if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "0 calls") {
				t.Errorf("report should name the API's error (%q):\n%s", want, r.stdout)
			}
			if strings.Contains(r.stderr, "--map") {
				t.Errorf("no hint to read it as a log of another shape: %s", r.stderr)
			}
		})
	}
}

// TestJaegerExport: of a Jaeger trace, only the tool spans are calls (the
// agent, LLM and HTTP spans are not; the read tool is read-only), with
// their spans, the statuses Jaeger's tags give, and the key in the args.
func TestJaegerExport(t *testing.T) {
	rep := auditImport(t, "cmd/idemaudit/testdata/exports/jaeger/trace-json-pretty.json")
	if len(rep.Inputs) != 1 || rep.Inputs[0].Format != "otlp" || rep.Inputs[0].Skipped != 8 {
		t.Errorf("inputs %+v, want one read as otlp, 8 spans no tool call (agent, 6 chats, HTTP)", rep.Inputs)
	}
	if len(rep.ReadOnly) != 1 || rep.ReadOnly[0].ActionType != "get_invoice" {
		t.Errorf("read-only %+v, want get_invoice", rep.ReadOnly)
	}
	got := summarize(rep)
	want := []string{
		"repeat-without-key/high/send_email/retry-after-error cmd/idemaudit/testdata/exports/jaeger/trace-json-pretty.json:580@9402c618d3af72f9 " +
			"cmd/idemaudit/testdata/exports/jaeger/trace-json-pretty.json:756@b624e83af5c1941b",
		"same-key-different-response/critical/charge_card/repeat cmd/idemaudit/testdata/exports/jaeger/trace-json-pretty.json:250@4fbd71c38e5a2da4 " +
			"cmd/idemaudit/testdata/exports/jaeger/trace-json-pretty.json:445@72e0a4f6b18d50d7",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestIngestAgainWithOtherSettings: an export that gave nothing (its tools
// were plain spans) is read anew when ingested with --tool-spans; with the
// same settings again, nothing changes.
func TestIngestAgainWithOtherSettings(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.duckdb")
	export := writeFile(t, dir, "spans.jsonl", `{"resourceSpans":[{"scopeSpans":[{"spans":[`+
		`{"traceId":"t","spanId":"a","name":"charge","startTimeUnixNano":"1794820000000000000","attributes":[{"key":"args","value":{"stringValue":"x"}}]},`+
		`{"traceId":"t","spanId":"b","name":"charge","startTimeUnixNano":"1794820030000000000","attributes":[]}]}]}]}`+"\n")
	r := run(t, nil, "ingest", "--config", os.DevNull, "--db", db, export)
	if r.code != 0 || !strings.Contains(r.stderr, "no tool call among its 2 records") {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "ingest", "--config", os.DevNull, "--db", db, "--tool-spans", "charge", export)
	if r.code != 0 || !strings.Contains(r.stdout, "1 reread") || !strings.Contains(r.stdout, "2 calls added") {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "ingest", "--config", os.DevNull, "--db", db, "--tool-spans", "charge", export)
	if r.code != 0 || !strings.Contains(r.stdout, "1 unchanged") || !strings.Contains(r.stdout, "0 calls added") {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	rep := run(t, nil, "report", "--config", os.DevNull, "--db", db, "--since", "2020-01-01", "-f", "json")
	if got := parseReport(t, rep.stdout); got.Summary.Calls != 2 {
		t.Errorf("%d calls in the database, want 2", got.Summary.Calls)
	}
}

// TestRereadKeepsPruned: a source read anew with other settings does not
// bring back the calls an earlier prune deleted.
func TestRereadKeepsPruned(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.duckdb")
	span := func(id, ts string) string {
		return `{"object":"trace.span","id":"` + id + `","trace_id":"t","started_at":"` + ts + `","ended_at":"` + ts + `","span_data":{"type":"function","name":"pay","input":"{}"}}`
	}
	export := writeFile(t, dir, "spans.jsonl", span("s1", "2026-10-01T10:00:00Z")+"\n"+span("s2", "2026-11-20T10:00:00Z")+"\n")
	for _, args := range [][]string{
		{"ingest", "--config", os.DevNull, "--db", db, export},
		{"prune", "--db", db, "--keep", "4w", "--now", "2026-11-23T00:00:00Z"},
		{"ingest", "--config", os.DevNull, "--db", db, "--tool-spans", "pay", export},
	} {
		if r := run(t, nil, args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	rep := run(t, nil, "report", "--config", os.DevNull, "--db", db, "--since", "2020-01-01", "-f", "json")
	if got := parseReport(t, rep.stdout); got.Summary.Calls != 1 {
		t.Errorf("%d calls after the re-read, want 1 (the pruned one stays pruned)", got.Summary.Calls)
	}
}

// A log read with --map keeps being read so: its new lines in a run
// without import flags (cron), and a run with flags for trace exports only
// does not read it anew with the defaults.
func TestMappedLogKeepsItsSettings(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.duckdb")
	log := writeFile(t, dir, "g.jsonl", `{"t":"2026-11-16T09:00:00Z","n":"charge","k":"k1","r":"r1"}`+"\n")
	mapped := []string{"--map", "ts=t", "--map", "action_type=n", "--map", "idempotency_key=k", "--map", "response_id=r"}
	if r := run(t, nil, append([]string{"ingest", "-q", "--config", os.DevNull, "--db", db}, append(mapped, log)...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"t":"2026-11-16T09:00:30Z","n":"charge","k":"k1","r":"r2"}` + "\n")
	f.Close()
	for _, args := range [][]string{{log}, {"--key-path", "idempotency_key", log}} {
		if r := run(t, nil, append([]string{"ingest", "--config", os.DevNull, "--db", db}, args...)...); r.code != 0 || strings.Contains(r.stdout, "malformed line (") {
			t.Errorf("ingest %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	rep := parseReport(t, run(t, nil, "report", "--config", os.DevNull, "--db", db, "--since", "2026-01-01", "-f", "json").stdout)
	if rep.Summary.Calls != 2 || len(rep.Findings) != 1 || rep.Findings[0].Rule != "same-key-different-response" {
		t.Errorf("%d calls, findings %+v: want both calls read with the map, one critical", rep.Summary.Calls, rep.Findings)
	}
}

// Reading a file anew with other settings drops the reading of its
// content, not the calls of what the path held before (a log truncated and
// rewritten: that content is gone from disk, its calls stay).
func TestRereadKeepsEarlierContents(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "z.duckdb")
	log := writeFile(t, dir, "app.log", `{"ts":"2026-11-16T09:00:00Z","action_type":"charge_card","idempotency_key":"k1","response_id":"r1"}`+"\n"+
		`{"ts":"2026-11-16T09:00:30Z","action_type":"charge_card","idempotency_key":"k1","response_id":"r2"}`+"\n")
	if r := run(t, nil, "ingest", "-q", "--config", os.DevNull, "--db", db, log); r.code != 0 {
		t.Fatal(r.stderr)
	}
	writeFile(t, dir, "app.log", `{"ts":"2026-11-16T10:00:00Z","action_type":"send_email","args":{"to":"a"}}`+"\n")
	for _, args := range [][]string{{log}, {"--map", "effect=e", log}} {
		if r := run(t, nil, append([]string{"ingest", "-q", "--config", os.DevNull, "--db", db}, args...)...); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	rep := parseReport(t, run(t, nil, "report", "--config", os.DevNull, "--db", db, "--since", "2026-01-01", "-f", "json").stdout)
	if rep.Summary.Calls != 3 || len(rep.Findings) == 0 || rep.Findings[0].Rule != "same-key-different-response" {
		t.Errorf("%d calls, findings %+v: the double charge read before the rewrite is gone", rep.Summary.Calls, rep.Findings)
	}
}

// A log's unfinished last line that a prune deleted stays deleted when the
// log grows and the line is read again, whole.
func TestGrownTailKeepsPruned(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "z.duckdb")
	log := writeFile(t, dir, "app.jsonl", `{"ts":"2026-11-04T09:00:00Z","action_type":"send_email","args":{"to":"x"},"status":"timeout"}`+"\n"+
		`{"ts":"2026-11-04T09:00:45Z","action_type":"send_email","args":{"to":"x"},"response_id":"m1","status":"ok"}`)
	for _, args := range [][]string{
		{"ingest", "--config", os.DevNull, "--db", db, log},
		{"prune", "--db", db, "--keep", "1w", "--now", "2026-11-16T00:00:00Z"},
	} {
		if r := run(t, nil, args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n" + `{"ts":"2026-11-17T10:00:00Z","action_type":"x","idempotency_key":"a","response_id":"r","status":"ok"}` + "\n")
	f.Close()
	if r := run(t, nil, "ingest", "--config", os.DevNull, "--db", db, log); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rep := run(t, nil, "report", "--config", os.DevNull, "--db", db, "--since", "2020-01-01", "-f", "json")
	if got := parseReport(t, rep.stdout); got.Summary.Calls != 1 {
		t.Errorf("%d calls, want 1: the pruned last line came back", got.Summary.Calls)
	}
	// a copy of another pruned log's complete lines with other lines where
	// its unfinished one was: those are new, however old, and stay (only a
	// line read again keeps a prune)
	db2 := filepath.Join(dir, "n.duckdb")
	first := `{"ts":"2026-11-04T09:00:00Z","action_type":"send_email","args":{"to":"x"},"status":"timeout"}`
	c := writeFile(t, dir, "c.jsonl", first+"\n"+`{"ts":"2026-11-04T09:01:00Z","action_type":"send_email","args":{"to":"w"}}`)
	for _, args := range [][]string{
		{"ingest", "--config", os.DevNull, "--db", db2, c},
		{"prune", "--db", db2, "--keep", "1w", "--now", "2026-11-16T00:00:00Z"},
	} {
		if r := run(t, nil, args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	copied := writeFile(t, dir, "copy.jsonl", first+"\n"+
		`{"ts":"2026-11-05T09:00:00Z","action_type":"send_sms","args":{"to":"y"}}`+"\n"+`{"ts":"2026-11-05T09:01:00Z","action_type":"send_sms","args":{"to":"z"}}`+"\n")
	if r := run(t, nil, "ingest", "--config", os.DevNull, "--db", db2, copied); r.code != 0 || !strings.Contains(r.stdout, "2 calls from lines 2–3") {
		t.Errorf("the copy's own lines: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A tool span holding another of the same tool through spans that are no
// tool call (an HTTP span between an MCP client's span and its server's) is
// a wrapper too: one call, in one export or when the HTTP span comes last
// in an export of its own.
func TestWrapperThroughOtherSpans(t *testing.T) {
	span := func(id, parent, name string, attrs string, result bool) string {
		if result {
			attrs += `,{"key":"gen_ai.tool.call.result","value":{"stringValue":"{\"id\":\"ch_1\"}"}}`
		}
		return `{"traceId":"T1","spanId":"` + id + `","parentSpanId":"` + parent + `","name":"` + name +
			`","startTimeUnixNano":"1794993242000000000","endTimeUnixNano":"1794993247000000000","attributes":[` + attrs + `]}`
	}
	tool := `{"key":"gen_ai.tool.name","value":{"stringValue":"charge_card"}},{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"amount\":5}"}}`
	a := span("A", "", "execute_tool charge_card", `{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},`+tool, false)
	x := span("X", "A", "POST /mcp", `{"key":"http.request.method","value":{"stringValue":"POST"}}`, false)
	y := span("Y", "X", "POST", `{"key":"http.request.method","value":{"stringValue":"POST"}}`, false)
	b := span("B", "Y", "tools/call charge_card", `{"key":"mcp.method.name","value":{"stringValue":"tools/call"}},`+tool, true)
	line := func(spans ...string) string {
		return `{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{},"spans":[` + strings.Join(spans, ",") + `]}]}]}` + "\n"
	}
	dir := t.TempDir()
	calls := func(r result) (int, int) {
		var rep struct {
			Summary struct {
				Calls int `json:"calls"`
				Dups  int `json:"telemetry_duplicates"`
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: %s", err, r.stderr)
		}
		return rep.Summary.Calls, rep.Summary.Dups
	}
	one := writeFile(t, dir, "one.jsonl", line(b)+line(y)+line(a, x)) // the links across lines, the attempt first
	if n, d := calls(run(t, nil, "audit", "-q", "-f", "json", one)); n != 1 || d != 1 {
		t.Errorf("one export: %d calls, %d collapsed; want the attempt alone, the wrapper collapsed", n, d)
	}
	db := filepath.Join(dir, "w.duckdb")
	for _, f := range []string{writeFile(t, dir, "tools.jsonl", line(a, b)), writeFile(t, dir, "http.jsonl", line(x, y))} {
		if r := run(t, nil, "ingest", "-q", "--db", db, f); r.code != 0 {
			t.Fatalf("ingest %s: %s", f, r.stderr)
		}
	}
	if n, d := calls(run(t, nil, "report", "--db", db, "--since", "2026-01-01", "-f", "json")); n != 1 || d != 1 {
		t.Errorf("the HTTP spans read last: %d calls, %d collapsed; want 1 and 1", n, d)
	}
}

// --map idempotency_key=PATH inside the args finds the key when the args
// are a JSON string too (as args themselves are read).
func TestMapKeyInsideStringArgs(t *testing.T) {
	p := writeFile(t, t.TempDir(), "m.jsonl",
		`{"@timestamp":"2026-11-16T09:00:00Z","tool":{"name":"charge_card","input":"{\"amount\":5,\"idem\":\"k1\"}"},"out":{"id":"r1"}}`+"\n"+
			`{"@timestamp":"2026-11-16T09:00:30Z","tool":{"name":"charge_card","input":"{\"amount\":5,\"idem\":\"k1\"}"},"out":{"id":"r2"}}`+"\n")
	r := run(t, nil, "audit", "-q", "-f", "json", "--config", os.DevNull, "--map", "ts=@timestamp", "--map", "action_type=tool.name",
		"--map", "args=tool.input", "--map", "idempotency_key=tool.input.idem", "--map", "response_id=out.id", p)
	rep := parseReport(t, r.stdout)
	if len(rep.Findings) == 0 || rep.Findings[0].Rule != "same-key-different-response" {
		t.Errorf("findings %+v: the key inside the string args was not read", rep.Findings)
	}
}
