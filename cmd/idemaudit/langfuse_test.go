package main

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// langfuseOfSpan is an observation as Langfuse's OpenTelemetry endpoint
// makes it of a span and its public API returns it: the name is the
// span's display name (logfire.msg, the Vercel AI SDK's operation id, else
// the span name), input and output only what Langfuse extracts (nothing
// from gen_ai.tool.call.*), every span attribute kept as a string in
// metadata.attributes, level ERROR for a span with status ERROR.
func langfuseOfSpan(id, typ, name string, sec int, attrs map[string]string, input, output any, failed bool) map[string]any {
	level := "DEFAULT"
	if failed {
		level = "ERROR"
	}
	ts := func(s int) string {
		return "2026-03-10T14:" + []string{"00", "01", "02", "03"}[s/60] + ":" + string(rune('0'+s%60/10)) + string(rune('0'+s%10)) + ".000Z"
	}
	return map[string]any{"id": id, "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "type": typ, "name": name,
		"startTime": ts(sec), "endTime": ts(sec + 1), "input": input, "output": output, "level": level,
		"parentObservationId": "00f067aa0ba902b7", "environment": "default",
		"metadata": map[string]any{"attributes": attrs, "resourceAttributes": map[string]any{"service.name": "billing-agent"},
			"scope": map[string]any{"name": "opentelemetry.instrumentation.openai_agents", "attributes": map[string]any{}}}}
}

// TestLangfuseObservationsOfOTelSpans: the Langfuse export of an agent
// traced with OpenTelemetry (its OTLP endpoint) names a GenAI tool span
// "execute_tool charge_card" and keeps its arguments and result in
// metadata.attributes only, names every Vercel AI SDK tool call
// "ai.toolCall", and keeps a span's HTTP status there too. Read as the
// OTLP export of the same spans reads: the double charge under one key is
// found on charge_card (it was lost: no args, key or response id), reads
// are reads (a lookup and a shipment of one order are two tools, not one
// "ai.toolCall" repeated: a false high), a declined charge is rejected (a
// false high when retried).
func TestLangfuseObservationsOfOTelSpans(t *testing.T) {
	dir := t.TempDir()
	page := func(obs ...map[string]any) string {
		b, err := json.MarshalIndent(map[string]any{"data": obs, "meta": map[string]any{"page": 1, "limit": 50, "totalItems": len(obs), "totalPages": 1}}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	genai := func(id, tool string, sec int, args, result string) map[string]any {
		a := map[string]string{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool, "gen_ai.tool.call.id": "call_" + id,
			"gen_ai.conversation.id": "conv-7", "gen_ai.tool.call.arguments": args, "gen_ai.tool.call.result": result}
		return langfuseOfSpan(id, "TOOL", "execute_tool "+tool, sec, a, nil, nil, false)
	}
	vercel := func(id, tool string, sec int, args, result string) map[string]any {
		a := map[string]string{"operation.name": "ai.toolCall", "ai.operationId": "ai.toolCall", "ai.toolCall.name": tool,
			"ai.toolCall.id": "call_" + id, "ai.toolCall.args": args, "ai.toolCall.result": result}
		return langfuseOfSpan(id, "TOOL", "ai.toolCall", sec, a, args, result, false)
	}
	openinference := func(id string, sec int, status string, result any) map[string]any {
		args := `{"customer_id":"cus_D","amount":2500}`
		a := map[string]string{"openinference.span.kind": "TOOL", "tool.name": "charge_card", "input.value": args, "session.id": "conv-8"}
		if status != "" {
			a["http.response.status_code"] = status
		}
		return langfuseOfSpan(id, "TOOL", "charge_card", sec, a, args, result, status != "")
	}
	cases := []struct {
		name string
		obs  []map[string]any
		want []string
	}{
		{"GenAI execute_tool spans", []map[string]any{
			genai("1111111111111111", "get_customer", 0, `{"customer_id":"cus_B"}`, `{"id":"cus_B"}`),
			genai("2222222222222222", "charge_card", 2, `{"customer_id":"cus_B","amount":1200,"idempotency_key":"chg-42"}`, `{"id":"ch_1"}`),
			genai("3333333333333333", "charge_card", 27, `{"customer_id":"cus_B","amount":1200,"idempotency_key":"chg-42"}`, `{"id":"ch_2"}`)},
			[]string{"same-key-different-response/critical/charge_card/repeat 33@2222222222222222 63@3333333333333333"}},
		{"Vercel AI SDK tool calls", []map[string]any{
			vercel("4444444444444444", "lookup_order", 0, `{"order_id":"o-1"}`, `{"status":"paid"}`),
			vercel("5555555555555555", "ship_order", 20, `{"order_id":"o-1"}`, `{"status":"shipped"}`)}, nil},
		{"a declined charge retried", []map[string]any{
			openinference("6666666666666666", 0, "402", `{"error":{"code":"card_declined"}}`),
			openinference("7777777777777777", 20, "", `{"id":"ch_9"}`)},
			[]string{"retry-after-rejection/low/charge_card/repeat 3@6666666666666666 32@7777777777777777"}},
	}
	for _, c := range cases {
		f := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".json", page(c.obs...))
		rep := auditImport(t, "-q", f)
		var got []string
		for _, s := range summarize(rep) {
			got = append(got, strings.ReplaceAll(s, f+":", ""))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: findings %q, want %q", c.name, got, c.want)
		}
		// each call is located at the line where its observation begins
		content, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(content), "\n")
		for _, fd := range rep.Findings {
			for _, call := range fd.Calls {
				if call.Line < 1 || call.Line > len(lines) || strings.TrimSpace(lines[call.Line-1]) != "{" ||
					!strings.Contains(strings.Join(lines[call.Line:min(call.Line+12, len(lines))], "\n"), `"id": "`+*call.SpanID+`"`) {
					t.Errorf("%s: %s names line %d for observation %s", c.name, fd.Rule, call.Line, *call.SpanID)
				}
			}
		}
		for _, f := range rep.Findings {
			if f.ActionType != "charge_card" && f.Rule != "missing-key" {
				t.Errorf("%s: a %s finding on %q: the tool is the span's gen_ai.tool.name / ai.toolCall.name / tool.name", c.name, f.Rule, f.ActionType)
			}
		}
	}
}

// TestLangfusePydanticAIToolObservations: a pydantic-ai agent's tool
// calls exported from Langfuse, which got them over OpenTelemetry. The
// tool span (pydantic-ai _tool_manager.py, _instrumentation.py
// InstrumentationNames) is named "running tool" (instrumentation version
// 2: tool_arguments, tool_response) or "execute_tool charge_card" (3 and
// later: gen_ai.tool.call.arguments / result), with gen_ai.tool.name,
// gen_ai.tool.call.id and logfire.msg "running tool: charge_card", and no
// gen_ai.operation.name. Langfuse (packages/shared/src/server/otel:
// OtelIngestionProcessor extractName, extractInputAndOutput,
// ObservationTypeMapper) names the observation by logfire.msg (older
// versions: "running tool: charge_card", a SPAN) or by gen_ai.tool.name
// (later: "charge_card", a TOOL by its GenAI_Tool_Call mapper), keeps the
// attributes in metadata.attributes less the gen_ai.tool.call.* it moved to
// input and output, and in its events pipeline keeps no attributes at all.
// Each way the action is the tool, never the display name, and the double
// charge under one key and the refund retried after an error are found.
func TestLangfusePydanticAIToolObservations(t *testing.T) {
	dir := t.TempDir()
	const schema = `{"type": "object", "properties": {"tool_arguments": {"type": "object"}, "tool_response": {"type": "object"}, "gen_ai.tool.name": {}, "gen_ai.tool.call.id": {}}}`
	type call struct {
		id, tool, args, result string
		sec                    int
		failed                 bool
	}
	calls := []call{
		{"1111111111111111", "charge_card", `{"customer":"cus_B","amount":1200,"idempotency_key":"chg-42"}`, `{"id":"ch_1","status":"succeeded"}`, 0, false},
		{"2222222222222222", "charge_card", `{"customer":"cus_B","amount":1200,"idempotency_key":"chg-42"}`, `{"id":"ch_2","status":"succeeded"}`, 40, false},
		{"3333333333333333", "refund_payment", `{"payment_id":"pi_7","amount":500}`, "", 80, true},
		{"4444444444444444", "refund_payment", `{"payment_id":"pi_7","amount":500}`, `{"id":"re_1","status":"succeeded"}`, 120, false},
	}
	observation := func(c call, variant string) map[string]any {
		attrs := map[string]string{"gen_ai.tool.name": c.tool, "gen_ai.tool.call.id": "call_" + c.id[:4],
			"logfire.msg": "running tool: " + c.tool, "logfire.json_schema": schema}
		typ, name := "TOOL", c.tool
		switch variant {
		case "older Langfuse, instrumentation v2":
			typ, name = "SPAN", "running tool: "+c.tool
			attrs["tool_arguments"], attrs["tool_response"] = c.args, c.result
		case "Langfuse, instrumentation v2":
			attrs["tool_arguments"], attrs["tool_response"] = c.args, c.result
		}
		var output any
		if c.result != "" {
			output = c.result
		}
		o := langfuseOfSpan(c.id, typ, name, c.sec, attrs, c.args, output, c.failed)
		meta := o["metadata"].(map[string]any)
		meta["scope"] = map[string]any{"name": "pydantic-ai", "version": "1.0.10", "attributes": map[string]any{}}
		if variant == "Langfuse events, no attributes" {
			delete(meta, "attributes")
			delete(meta, "scope")
			meta["scopeAttributes"] = map[string]any{}
		}
		if c.failed {
			o["statusMessage"] = "TimeoutError: refund request timed out"
		}
		return o
	}
	for _, variant := range []string{"older Langfuse, instrumentation v2", "Langfuse, instrumentation v2",
		"Langfuse, instrumentation v3 and later", "Langfuse events, no attributes"} {
		var obs []map[string]any
		for _, c := range calls {
			obs = append(obs, observation(c, variant))
		}
		b, err := json.MarshalIndent(map[string]any{"data": obs, "meta": map[string]any{"page": 1, "limit": 50, "totalItems": len(obs), "totalPages": 1}}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		f := writeFile(t, dir, strings.NewReplacer(" ", "_", ",", "").Replace(variant)+".json", string(b))
		rep := auditImport(t, "-q", f)
		var got []string
		for _, s := range summarize(rep) {
			// the observations' lines differ between the variants: their spans tell the calls
			got = append(got, regexp.MustCompile(` [^ ]*:\d+@`).ReplaceAllString(s, " "))
		}
		sort.Strings(got)
		want := []string{"repeat-without-key/high/refund_payment/retry-after-error 3333333333333333 4444444444444444",
			"same-key-different-response/critical/charge_card/repeat 1111111111111111 2222222222222222"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: findings\n%s\nwant\n%s", variant, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
