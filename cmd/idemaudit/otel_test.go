package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// genAISpan is an execute_tool span as a default OpenTelemetry GenAI export
// writes it: the tool, its call id and the conversation, no arguments and
// no result (content capture is opt-in).
func genAISpan(span, tool, callID, conv string, start int) string {
	attr := func(k, v string) string { return `,{"key":"` + k + `","value":{"stringValue":"` + v + `"}}` }
	ns := strconv.Itoa(1763456000 + start)
	return `{"traceId":"8b8efff798038103d269b633813fc60c","spanId":"` + span + `","name":"execute_tool ` + tool + `",` +
		`"startTimeUnixNano":"` + ns + `000000000","endTimeUnixNano":"` + ns + `800000000","attributes":[` +
		`{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}}` + attr("gen_ai.tool.name", tool) +
		attr("gen_ai.tool.call.id", callID) + attr("gen_ai.conversation.id", conv) + `],"status":{}}`
}

func genAIExport(spans ...string) string {
	return `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}` + "\n"
}

// TestDefaultGenAIExportToolCalls: two send_email tool calls the model made
// two minutes apart in one conversation, exported without their arguments,
// are not a repeat; the same tool call executed twice (a framework retry,
// a replay: the same gen_ai.tool.call.id) is.
func TestDefaultGenAIExportToolCalls(t *testing.T) {
	dir := t.TempDir()
	two := writeFile(t, dir, "two.jsonl", genAIExport(genAISpan("1111111111111111", "send_email", "call_1", "conv_9", 45),
		genAISpan("2222222222222222", "send_email", "call_2", "conv_9", 165)))
	if got := summarize(auditImport(t, two)); len(got) != 0 {
		t.Errorf("two tool calls (call_1, call_2) without args: findings %q, want none", got)
	}
	again := writeFile(t, dir, "again.jsonl", genAIExport(genAISpan("1111111111111111", "send_email", "call_1", "conv_9", 45),
		genAISpan("2222222222222222", "send_email", "call_1", "conv_9", 165)))
	rep := auditImport(t, again)
	if got := strings.ReplaceAll(strings.Join(summarize(rep), "\n"), dir+"/", ""); got != "repeat-without-key/high/send_email/repeat again.jsonl:1@1111111111111111 again.jsonl:1@2222222222222222" {
		t.Errorf("one tool call (call_1) executed twice: findings %q, want a high repeat-without-key", got)
	}
	r := run(t, nil, "audit", "-q", "--config", "/dev/null", "-f", "markdown", again)
	if !strings.Contains(r.stdout, "the same tool call id") {
		t.Errorf("the rule's explanation does not say a call without args is identified by its tool call id:\n%s", r.stdout)
	}
}

// TestTempoAndCollectorExports: one span exported by the Collector (hex
// ids) and fetched from Grafana Tempo's trace API (base64 ids) is one call,
// a telemetry duplicate, not a repeat; the ids shown are hex.
func TestTempoAndCollectorExports(t *testing.T) {
	dir := t.TempDir()
	attrs := `"attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"send_email"}},` +
		`{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"to\":\"ana@example.com\"}"}},{"key":"gen_ai.tool.call.result","value":{"stringValue":"sent"}}],"status":{}`
	times := `"name":"execute_tool send_email","startTimeUnixNano":"1763456045000000000","endTimeUnixNano":"1763456046000000000",`
	collector := writeFile(t, dir, "collector.jsonl", `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"ab8efff798038103d269b633813fc60c","spanId":"1111111111111111",`+
		times+attrs+`}]}]}]}`+"\n")
	tempo := writeFile(t, dir, "tempo.json", `{"batches":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"q47/95gDgQPSabYzgT/GDA==","spanId":"ERERERERERE=",`+
		times+attrs+`}]}]}]}`)
	for _, order := range [][]string{{collector, tempo}, {tempo, collector}} {
		rep := auditImport(t, order...)
		if got := summarize(rep); len(got) != 0 || rep.Summary.Calls != 1 || rep.Summary.TelemetryDuplicates != 1 {
			t.Errorf("%v: %d calls, %d telemetry duplicates, findings %q; want one call, one duplicate, no finding", order,
				rep.Summary.Calls, rep.Summary.TelemetryDuplicates, got)
		}
		for _, f := range rep.Findings {
			for _, c := range f.Calls {
				if span := "null"; c.SpanID == nil || *c.SpanID != "1111111111111111" {
					if c.SpanID != nil {
						span = *c.SpanID
					}
					t.Errorf("%v: %s evidence span %s, want 1111111111111111", order, f.Rule, span)
				}
			}
		}
	}
}

// TestUnstableKeyByToolCallIDOnKeptDatabase: the same tool call (one
// gen_ai.tool.call.id, no args) sent again under a fresh idempotency key is
// an unstable key, in a report read from a kept database (opened read-only)
// as in an audit; the message names the tool call id, not args.
func TestUnstableKeyByToolCallIDOnKeptDatabase(t *testing.T) {
	dir := t.TempDir()
	keyed := func(span, callID, key, id string, start int) string {
		return strings.Replace(genAISpan(span, "charge", callID, "conv_9", start), `],"status"`,
			`,{"key":"idempotency_key","value":{"stringValue":"`+key+`"}},`+
				`{"key":"gen_ai.tool.call.result","value":{"stringValue":"{\"id\":\"`+id+`\"}"}}],"status"`, 1)
	}
	export := writeFile(t, dir, "export.jsonl", genAIExport(keyed("1111111111111111", "call_1", "k1", "ch_1", 45),
		keyed("2222222222222222", "call_1", "k2", "ch_2", 75), keyed("3333333333333333", "call_2", "k3", "ch_3", 105)))
	db := filepath.Join(dir, "keep.duckdb")
	if r := run(t, nil, "ingest", "-q", "--config", "/dev/null", "--db", db, export); r.code != 0 {
		t.Fatalf("ingest: exit %d: %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"report", "--db", db, "--config", "/dev/null", "-f", "json", "--week", "2025-W47"},
		{"audit", "-q", "--config", "/dev/null", "-f", "json", export}} {
		r := run(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", args[0], r.code, r.stderr)
		}
		var rep struct {
			Findings []struct {
				Rule, Severity, Message string
				Calls                   []struct{ Line int }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range rep.Findings {
			if f.Rule == "unstable-key" {
				got = append(got, f.Severity+": "+f.Message)
			}
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], "high: charge was called 2 times with the same tool call id within 30s under 2 different idempotency keys") {
			t.Errorf("%s: unstable-key findings %q, want one high for call_1 naming the tool call id", args[0], got)
		}
	}
}

// TestKeyInLowerCaseHeader: a tool that sends its request's headers as
// arguments writes them as Node's http, fetch and HTTP/2 do, in lower
// case: {"headers": {"idempotency-key": "ord-77"}}. Header names have no
// case: that is the key (headers.Idempotency-Key), so a retry after a 504
// that the downstream deduplicated is no finding (it was a high
// repeat-without-key: the key was not seen), and a second charge under
// the key is critical.
func TestKeyInLowerCaseHeader(t *testing.T) {
	dir := t.TempDir()
	span := func(id string, start int, result string) string {
		attr := func(k, v string) string {
			b, _ := json.Marshal(v)
			return `,{"key":"` + k + `","value":{"stringValue":` + string(b) + `}}`
		}
		ns := strconv.Itoa(1773151200 + start)
		s := `{"traceId":"7b8efff798038103d269b633813fc60c","spanId":"` + id + `","name":"execute_tool stripe_request",` +
			`"startTimeUnixNano":"` + ns + `000000000","endTimeUnixNano":"` + ns + `900000000","attributes":[` +
			`{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}}` + attr("gen_ai.tool.name", "stripe_request") +
			attr("gen_ai.tool.call.id", "call_"+id) + attr("gen_ai.conversation.id", "conv-H") +
			attr("gen_ai.tool.call.arguments", `{"method":"POST","path":"/v1/charges","body":{"customer":"cus_H","amount":800},"headers":{"idempotency-key":"ord-77"}}`)
		if result == "" {
			return s + `,{"key":"http.response.status_code","value":{"intValue":"504"}}],"status":{"code":2}}`
		}
		return s + attr("gen_ai.tool.call.result", result) + `],"status":{}}`
	}
	deduped := writeFile(t, dir, "deduped.jsonl", genAIExport(span("1111111111111111", 0, ""), span("2222222222222222", 15, `{"id":"ch_H1"}`),
		span("3333333333333333", 30, `{"id":"ch_H1"}`)))
	if got := summarize(auditImport(t, "-q", deduped)); len(got) != 0 {
		t.Errorf("a keyed retry the downstream deduplicated: findings %q, want none", got)
	}
	double := writeFile(t, dir, "double.jsonl", genAIExport(span("1111111111111111", 0, `{"id":"ch_H1"}`), span("2222222222222222", 15, `{"id":"ch_H2"}`)))
	got := strings.ReplaceAll(strings.Join(summarize(auditImport(t, "-q", double)), "\n"), dir+"/", "")
	if want := "same-key-different-response/critical/stripe_request/repeat double.jsonl:1@1111111111111111 double.jsonl:1@2222222222222222"; got != want {
		t.Errorf("a second charge under key ord-77: findings %q, want %q", got, want)
	}
}

// TestCamelCaseToolNames: JavaScript agents name their tools getBalance and
// refundCharge. The default reads (get_*) and compensations (refund_*)
// take those spellings too: two balance reads are no repeat, and a
// refunded double charge is compensated (low), as get_balance and
// refund_charge would be.
func TestCamelCaseToolNames(t *testing.T) {
	dir := t.TempDir()
	span := func(id, tool string, start int, args, result string) string {
		attr := func(k, v string) string {
			b, _ := json.Marshal(v)
			return `,{"key":"` + k + `","value":{"stringValue":` + string(b) + `}}`
		}
		ns := strconv.Itoa(1773151200 + start)
		return `{"traceId":"6b8efff798038103d269b633813fc60c","spanId":"` + id + `","name":"execute_tool ` + tool + `",` +
			`"startTimeUnixNano":"` + ns + `000000000","endTimeUnixNano":"` + ns + `900000000","attributes":[` +
			`{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}}` + attr("gen_ai.tool.name", tool) +
			attr("gen_ai.conversation.id", "conv-C") + attr("gen_ai.tool.call.arguments", args) + attr("gen_ai.tool.call.result", result) + `],"status":{}}`
	}
	reads := writeFile(t, dir, "reads.jsonl", genAIExport(span("1111111111111111", "getBalance", 0, `{"account":"acc_1"}`, `{"balance":12}`),
		span("2222222222222222", "getBalance", 20, `{"account":"acc_1"}`, `{"balance":12}`)))
	if got := summarize(auditImport(t, "-q", reads)); len(got) != 0 {
		t.Errorf("two getBalance reads: findings %q, want none", got)
	}
	refunded := writeFile(t, dir, "refunded.jsonl", genAIExport(span("1111111111111111", "chargeCard", 0, `{"customer":"cus_C","amount":900}`, `{"id":"ch_C1"}`),
		span("2222222222222222", "chargeCard", 20, `{"customer":"cus_C","amount":900}`, `{"id":"ch_C2"}`),
		span("3333333333333333", "refundCharge", 300, `{"charge":"ch_C2"}`, `{"id":"re_C2"}`)))
	got := strings.ReplaceAll(strings.Join(summarize(auditImport(t, "-q", refunded)), "\n"), dir+"/", "")
	if want := "repeat-without-key/low/chargeCard/repeat refunded.jsonl:1@1111111111111111 refunded.jsonl:1@2222222222222222"; got != want {
		t.Errorf("a double charge refunded by refundCharge: findings %q, want %q (compensated)", got, want)
	}
}
