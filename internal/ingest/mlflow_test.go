package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// mlflowToolSpan is a TOOL span of an MLflow trace in one of the schemas
// Span.from_dict reads (mlflow/entities/span.py): "v2" (MLflow 2:
// context, parent_id, start_time, status_code), "v3" (protobuf dict:
// base64 ids, STATUS_CODE_*), "v4" (hex ids, otel_trace_id, "OK").
func mlflowToolSpan(schema, name, fn, spanHex string, startNs int64, inputs, outputs string, failed bool) map[string]any {
	const traceHex = "5c1f0e2a9b7d4e61a3f08c2d7e9b1a44"
	attrs := map[string]any{"mlflow.traceRequestId": `"tr-` + traceHex + `"`, "mlflow.spanType": `"TOOL"`,
		"mlflow.spanFunctionName": `"` + fn + `"`, "mlflow.spanInputs": inputs}
	if outputs != "" {
		attrs["mlflow.spanOutputs"] = outputs
	}
	switch schema {
	case "v2":
		code := "OK"
		if failed {
			code = "ERROR"
		}
		return map[string]any{"name": name, "context": map[string]any{"trace_id": "0x" + traceHex, "span_id": "0x" + spanHex},
			"parent_id": "0x7a00000000000001", "start_time": startNs, "end_time": startNs + 1e9, "status_code": code,
			"status_message": "", "attributes": attrs, "events": []any{}}
	case "v3":
		code := "STATUS_CODE_OK"
		if failed {
			code = "STATUS_CODE_ERROR"
		}
		return map[string]any{"trace_id": "XB8OKpt9TmGj8IwtfpsaRA==", "span_id": hexToB64(spanHex), "parent_span_id": "egAAAAAAAAE=",
			"name": name, "start_time_unix_nano": json.Number(itoa(startNs)), "end_time_unix_nano": json.Number(itoa(startNs + 1e9)),
			"attributes": attrs, "status": map[string]any{"code": code}}
	default:
		code := "OK"
		if failed {
			code = "ERROR"
		}
		return map[string]any{"trace_id": "tr-" + traceHex, "span_id": spanHex, "parent_span_id": "7a00000000000001", "name": name,
			"start_time_unix_nano": startNs, "end_time_unix_nano": startNs + 1e9, "events": []any{},
			"status": map[string]any{"code": code, "message": ""}, "attributes": attrs, "otel_trace_id": traceHex}
	}
}

func hexToB64(h string) string {
	switch h {
	case "7a00000000000004":
		return "egAAAAAAAAQ="
	case "7a00000000000005":
		return "egAAAAAAAAU="
	}
	panic(h)
}

// TestMLflowTraceSchemas: a TOOL span of MLflow's trace JSON reads as the
// same span of MLflow's OTLP export, in each span schema: the function
// renamed name_N by MLflow is the action, the OpenTelemetry trace and span
// ids (hex, as OTLP writes them; MLflow 3's protobuf dict writes them
// base64, MLflow 2 with a 0x), the session from the trace metadata, the
// status, the key and response id from the inputs and outputs.
func TestMLflowTraceSchemas(t *testing.T) {
	in := `{"customer": "cus_88Q", "amount": 4200, "idempotency_key": "chg-ord_551"}`
	for _, schema := range []string{"v2", "v3", "v4"} {
		t.Run(schema, func(t *testing.T) {
			info := map[string]any{"trace_id": "tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44", "state": "OK",
				"trace_metadata": map[string]any{"mlflow.trace.session": "sess-ord_551"}}
			if schema == "v2" {
				info = map[string]any{"request_id": "tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44", "status": "OK",
					"request_metadata": map[string]any{"mlflow.trace.session": "sess-ord_551"}}
			}
			trace := map[string]any{"info": info, "data": map[string]any{"spans": []any{
				mlflowToolSpan(schema, "charge_card_1", "charge_card", "7a00000000000004", 1795424401700000000, in, "", true),
				mlflowToolSpan(schema, "charge_card_2", "charge_card", "7a00000000000005", 1795424432000000000, in, `{"id": "ch_3Qa7Rx"}`, false),
			}}}
			b, err := json.Marshal(trace)
			if err != nil {
				t.Fatal(err)
			}
			d, st := ingestOne(t, "trace.json", string(b)+"\n", nil)
			cs := importedCalls(t, d)
			if len(cs) != 2 || st.Malformed != 0 {
				t.Fatalf("%d calls, %d malformed, want 2 and none: %+v", len(cs), st.Malformed, cs)
			}
			want := []struct{ span, status, resp string }{{"7a00000000000004", "error", ""}, {"7a00000000000005", "ok", "ch_3Qa7Rx"}}
			for i, c := range cs {
				if c.Action != "charge_card" || c.Trace != "5c1f0e2a9b7d4e61a3f08c2d7e9b1a44" || c.Span != want[i].span ||
					c.Session != "sess-ord_551" || c.Status != want[i].status || c.Key != "chg-ord_551" || c.Resp != want[i].resp ||
					!c.HasTS || !c.HasDur || c.Line != 1 {
					t.Errorf("call %d: %+v, want charge_card, span %s, trace 5c1f…, session sess-ord_551, %s, key chg-ord_551, response %q",
						i, c, want[i].span, want[i].status, want[i].resp)
				}
			}
		})
	}
}

// TestMLflowTraceLong: MLflow trace JSON longer than the sniffed bytes
// (large span inputs: retrieved documents, long chats) is told by its
// spans' mlflow.traceRequestId member, pretty-printed with its keys sorted
// (jq -S: data, with its spans, before info) and as JSON Lines (one
// to_json() a line): read as JSON Lines of calls it gave malformed lines
// and no call.
func TestMLflowTraceLong(t *testing.T) {
	in := `{"customer": "cus_88Q", "amount": 4200}`
	spans := []any{
		mlflowToolSpan("v4", "charge_card_1", "charge_card", "7a00000000000004", 1795424401700000000, in, "", true),
		mlflowToolSpan("v4", "charge_card_2", "charge_card", "7a00000000000005", 1795424432000000000, in, `{"id": "ch_3Qa7Rx"}`, false),
	}
	for i := 0; i < 300; i++ {
		spans = append(spans, map[string]any{"trace_id": "tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44", "span_id": "7b00000000000001",
			"name": "retrieve", "start_time_unix_nano": 1795424400000000000, "status": map[string]any{"code": "OK"},
			"attributes": map[string]any{"mlflow.traceRequestId": `"tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44"`,
				"mlflow.spanType": `"RETRIEVER"`, "mlflow.spanOutputs": `"` + strings.Repeat("x", 4000) + `"`}})
	}
	trace := map[string]any{"info": map[string]any{"trace_id": "tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44", "state": "OK"},
		"data": map[string]any{"spans": spans}}
	pretty, err := json.MarshalIndent(trace, "", "  ") // keys sorted: "data" before "info"
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(trace)
	for name, c := range map[string]struct {
		data  string
		calls int
		line  int64
	}{"jq -S .": {string(pretty), 2, 4}, "JSON Lines": {string(compact) + "\n" + string(compact) + "\n", 2, 1}} {
		if len(c.data) <= sniffSize {
			t.Fatalf("%s: %d bytes, not longer than the sniff", name, len(c.data))
		}
		t.Run(name, func(t *testing.T) {
			d, st := ingestOne(t, "trace.json", c.data, nil)
			cs := importedCalls(t, d)
			if len(cs) != c.calls || st.Malformed != 0 || cs[0].Line != c.line {
				t.Errorf("%d calls (%+v), %d malformed, want %d at line %d, none malformed", len(cs), cs, st.Malformed, c.calls, c.line)
			}
		})
	}
}

// TestMLflowTraceInfoInvalidUTF8: an MLflow trace whose info is not valid
// UTF-8 is malformed, as it is read from JSON Lines: encoding/json would
// repair it silently, and two sessions that differ by an invalid byte
// would be one (their calls without args one operation).
func TestMLflowTraceInfoInvalidUTF8(t *testing.T) {
	trace := func(session, span string) string {
		return `{"info": {"trace_id": "tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44", "trace_metadata": {"mlflow.trace.session": "` + session + `"}},
 "data": {"spans": [
  {"trace_id": "tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44", "span_id": "` + span + `", "name": "send_email", "start_time_unix_nano": 1795424401700000000,
   "status": {"code": "OK"}, "attributes": {"mlflow.spanType": "\"TOOL\""}}]}}`
	}
	doc := "[\n" + trace("s\xff", "7a00000000000001") + ",\n" + trace("s\xfe", "7a00000000000002") + "\n]\n"
	lines := strings.ReplaceAll(trace("s\xff", "7a00000000000001"), "\n", "") + "\n" + strings.ReplaceAll(trace("s\xfe", "7a00000000000002"), "\n", "") + "\n"
	for name, data := range map[string]string{"pretty": doc, "JSON Lines": lines} {
		t.Run(name, func(t *testing.T) {
			d, st := ingestOne(t, "traces.json", data, nil)
			cs := importedCalls(t, d)
			for _, c := range cs {
				if strings.ContainsRune(c.Session, utf8.RuneError) {
					t.Errorf("session %q: repaired, not reported", c.Session)
				}
			}
			if len(cs) != 0 || st.Malformed != 2 {
				t.Errorf("%d calls %+v, %d malformed %+v: want none, two malformed", len(cs), cs, st.Malformed, st.MalformedAt)
			}
		})
	}
}

// TestMLflowMarkNotInLangfuse: a page of Langfuse observations that an
// MLflow app sent to Langfuse's OTLP endpoint keeps each span's
// attributes, mlflow.traceRequestId among them, in metadata.attributes:
// with a first observation longer than the sniff, that member is no mark
// of MLflow's trace JSON (read as one, the page gave no call at all).
func TestMLflowMarkNotInLangfuse(t *testing.T) {
	obs := func(id, typ, name, attrs string) string {
		return `{"id": "` + id + `", "traceId": "0af7651916cd43dd8448eb211c80319c", "type": "` + typ + `", "name": "` + name +
			`", "startTime": "2026-11-24T08:00:0` + id[1:] + `.000Z", "endTime": "2026-11-24T08:00:0` + id[1:] + `.500Z", "input": null, "output": null, ` +
			`"metadata": {"attributes": {"mlflow.traceRequestId": "\"tr-0af7651916cd43dd8448eb211c80319c\"", ` + attrs + `}, ` +
			`"resourceAttributes": {"service.name": "billing-agent"}, "scope": {"name": "mlflow.tracing", "attributes": {}}}, "level": "DEFAULT"}`
	}
	tool := func(id, name, resp string) string {
		return obs(id, "TOOL", name, `"mlflow.spanType": "\"TOOL\"", "mlflow.spanFunctionName": "\"charge_card\"", `+
			`"mlflow.spanInputs": "{\"amount\": 1, \"idempotency_key\": \"k1\"}", "mlflow.spanOutputs": "{\"id\": \"`+resp+`\"}"`)
	}
	for name, size := range map[string]int{"short": 10, "longer than the sniff": sniffSize + 100} {
		t.Run(name, func(t *testing.T) {
			doc := "{\n  \"data\": [\n" + obs("a1", "SPAN", "retrieve", `"mlflow.spanType": "\"RETRIEVER\"", "mlflow.spanOutputs": "\"`+strings.Repeat("x", size)+`\""`) +
				",\n" + tool("a2", "charge_card_1", "ch_1") + ",\n" + tool("a3", "charge_card_2", "ch_2") + "\n  ],\n  \"meta\": {\"page\": 1}\n}\n"
			d, st := ingestOne(t, "observations.json", doc, nil)
			cs := importedCalls(t, d)
			if st.Format != FormatLangfuse || len(cs) != 2 || cs[0].Action != "charge_card" || cs[0].Key != "k1" || cs[1].Key != "k1" || cs[1].Resp != "ch_2" {
				t.Errorf("format %s, %d calls %+v: want langfuse, charge_card twice under k1", st.Format, len(cs), cs)
			}
		})
	}
}
