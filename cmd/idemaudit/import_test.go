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
			"unstable-key/high/send_email/replay langsmith-runs.jsonl:4@1e0c5a3e-0000-4000-8000-0000000000b3 langsmith-runs.jsonl:6@1e0c5a3e-0000-4000-8000-0000000000c3",
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
}

// TestExplainTrace: the forensic question on an export, by response id.
func TestExplainTrace(t *testing.T) {
	out := explainJSONOut(t, "--config", os.DevNull, "--response", "re_3QxT", "sample-logs/traces/openai-agents-spans.jsonl")
	if len(out.Calls) != 3 || out.Calls[0].SpanID == nil || *out.Calls[0].SpanID != "span_c1c2e3f4a5b6c7d8e9f0a1b2" || *out.Calls[1].Gap != 32 {
		t.Errorf("timeline %+v", out.Calls)
	}
	v := strings.Join(out.Verdict, "\n")
	if !strings.Contains(v, "3 side effects of refund_order") || !strings.Contains(v, "answered 504 after 29.9s and was retried 32s later (a client timeout") {
		t.Errorf("verdict %q", v)
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
