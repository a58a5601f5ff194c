package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestJaegerSpan: a Jaeger span becomes the OpenTelemetry span it was made
// of: typed tags as attributes (an int64 a number), the status from
// otel.status_code or the error tag, the parent from the CHILD_OF
// reference, microseconds as nanoseconds, logs as events; the tags Jaeger
// writes for the span's own fields are no attributes.
func TestJaegerSpan(t *testing.T) {
	var sp map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"traceID": "af7651916cd43dd8448eb211c80319c", "spanID": "2d9b5f1a6c3e0b8",
		"operationName": "execute_tool charge_card",
		"references": [{"refType": "FOLLOWS_FROM", "traceID": "t", "spanID": "1111111111111111"},
			{"refType": "CHILD_OF", "traceID": "t", "spanID": "5fb397be34d26b51"}],
		"startTime": 1763541600000001, "duration": 1500,
		"tags": [{"key": "gen_ai.tool.name", "type": "string", "value": "charge_card"},
			{"key": "amount", "type": "int64", "value": 4900},
			{"key": "big", "type": "int64", "value": "9007199254740993"},
			{"key": "ratio", "type": "float64", "value": 0.5},
			{"key": "retry", "type": "bool", "value": "true"},
			{"key": "blob", "type": "binary", "value": "aGk="},
			{"key": "span.kind", "type": "string", "value": "client"},
			{"key": "otel.scope.name", "type": "string", "value": "x"},
			{"key": "otel.status_code", "type": "string", "value": "ERROR"},
			{"key": "otel.status_description", "type": "string", "value": "timed out"},
			{"key": "error", "type": "bool", "value": true}],
		"logs": [{"timestamp": 1763541600000900, "fields": [{"key": "event", "type": "string", "value": "gen_ai.tool.message"},
			{"key": "content", "type": "string", "value": "{\"amount\": 4900}"}]}],
		"processID": "p1", "warnings": null}`))
	dec.UseNumber()
	if err := dec.Decode(&sp); err != nil {
		t.Fatal(err)
	}
	otel, attrs := jaegerSpan(sp)
	wantAttrs := map[string]any{"gen_ai.tool.name": "charge_card", "amount": json.Number("4900"), "big": json.Number("9007199254740993"),
		"ratio": json.Number("0.5"), "retry": true, "blob": "hi"}
	if !reflect.DeepEqual(attrs, wantAttrs) {
		t.Errorf("attributes %#v\nwant %#v", attrs, wantAttrs)
	}
	want := map[string]any{"name": "execute_tool charge_card", "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "02d9b5f1a6c3e0b8",
		"parentSpanId": "5fb397be34d26b51", "startTimeUnixNano": "1763541600000001000", "endTimeUnixNano": "1763541600001501000",
		"status": map[string]any{"code": "2", "message": "timed out"},
		"events": []any{map[string]any{"name": "gen_ai.tool.message", "timeUnixNano": "1763541600000900000",
			"attributes": map[string]any{"content": `{"amount": 4900}`}}}}
	if !reflect.DeepEqual(otel, want) {
		t.Errorf("span %#v\nwant %#v", otel, want)
	}
	// the error tag alone (OpenTracing clients) fails a span too; no status tag is success
	for tags, code := range map[string]any{`[{"key": "error", "type": "bool", "value": true}]`: "2", `[]`: nil,
		`[{"key": "otel.status_code", "type": "string", "value": "OK"}]`: nil} {
		var tl any
		json.Unmarshal([]byte(tags), &tl)
		otel, _ := jaegerSpan(map[string]any{"tags": tl})
		if got := otel["status"].(map[string]any)["code"]; got != code {
			t.Errorf("tags %s: status code %v, want %v", tags, got, code)
		}
	}
}

// TestJaegerShapes: Jaeger's classic JSON as the query API and Jaeger UI
// give it — {"data": [Trace]} pretty-printed (each call at its span's
// line) or on one line (at line 1), one Trace, its members in any order
// (jq -S puts processes first), an array of Traces — gives the same calls,
// with the process's tags as resource attributes (the session), and the
// same span in an OTLP export is one call with it (Jaeger drops the
// leading zero of the trace id).
func TestJaegerShapes(t *testing.T) {
	span := func(id, parent, name, tags string) string {
		refs := `[]`
		if parent != "" {
			refs = `[{"refType": "CHILD_OF", "traceID": "af7651916cd43dd8448eb211c80319c", "spanID": "` + parent + `"}]`
		}
		return `{
      "traceID": "af7651916cd43dd8448eb211c80319c",
      "spanID": "` + id + `",
      "operationName": "` + name + `",
      "references": ` + refs + `,
      "startTime": 1763541600000000,
      "duration": 1000,
      "tags": [` + tags + `],
      "logs": [],
      "processID": "p1"
    }`
	}
	tool := `{"key": "gen_ai.operation.name", "type": "string", "value": "execute_tool"},
        {"key": "gen_ai.tool.name", "type": "string", "value": "send_email"},
        {"key": "gen_ai.tool.call.arguments", "type": "string", "value": "{\"to\": \"ana@example.com\"}"}`
	spans := `"spans": [
    ` + span("5fb397be34d26b51", "", "invoke_agent", `{"key": "gen_ai.operation.name", "type": "string", "value": "invoke_agent"}`) + `,
    ` + span("1c8a4e0f5b2d9a71", "5fb397be34d26b51", "execute_tool send_email", tool) + `,
    ` + span("2d9b5f1a6c3e0b82", "5fb397be34d26b51", "execute_tool send_email", tool) + `
  ]`
	processes := `"processes": {"p1": {"serviceName": "agent", "tags": [{"key": "session.id", "type": "string", "value": "conv-1"}]}}`
	trace := "{\n  \"traceID\": \"af7651916cd43dd8448eb211c80319c\",\n  " + spans + ",\n  " + processes + ",\n  \"warnings\": null\n}"
	sorted := "{\n  " + processes + ",\n  " + spans + ",\n  \"traceID\": \"af7651916cd43dd8448eb211c80319c\"\n}"
	compact := func(s string) string {
		var v any
		json.Unmarshal([]byte(s), &v)
		b, _ := json.Marshal(v)
		return string(b)
	}
	for _, c := range []struct {
		name, doc string
		lines     []int64
	}{
		{"api answer", "{\n\"data\": [\n" + trace + "\n],\n\"total\": 0,\n\"limit\": 0,\n\"offset\": 0,\n\"errors\": null\n}\n", []int64{17, 30}},
		{"one trace", trace + "\n", []int64{15, 28}},
		{"keys sorted", sorted + "\n", []int64{15, 28}},
		{"array of traces", "[\n" + trace + "\n]\n", []int64{16, 29}},
		{"UI download, one line", `{"data":[` + compact(trace) + `]}`, []int64{1, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, st := ingestOne(t, "trace.json", c.doc, nil)
			cs := importedCalls(t, d)
			if len(cs) != 2 || st.Malformed != 0 {
				t.Fatalf("%d calls, %d malformed: %+v", len(cs), st.Malformed, cs)
			}
			for i, cl := range cs {
				if cl.Line != c.lines[i] || cl.Action != "send_email" || cl.Trace != "0af7651916cd43dd8448eb211c80319c" ||
					cl.Session != "conv-1" || cl.Status != "ok" || !cl.HasTS || !cl.HasDur || cl.FP != cs[0].FP {
					t.Errorf("call %d: %+v, want line %d", i, cl, c.lines[i])
				}
			}
		})
	}
	t.Run("the same span from OTLP", func(t *testing.T) {
		d := openMem(t)
		dir := t.TempDir()
		otlp := `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c",` +
			`"spanId":"1c8a4e0f5b2d9a71","parentSpanId":"5fb397be34d26b51","name":"execute_tool send_email",` +
			`"startTimeUnixNano":"1763541600000000000","endTimeUnixNano":"1763541601000000000","attributes":[` +
			`{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"send_email"}},` +
			`{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"to\": \"ana@example.com\"}"}}],"status":{}}]}]}]}` + "\n"
		for _, f := range []struct{ name, data string }{{"collector.jsonl", otlp}, {"jaeger.json", trace}} {
			if _, err := d.IngestFile(context.Background(), write(t, dir, f.name, []byte(f.data))); err != nil {
				t.Fatal(err)
			}
		}
		var calls, collapsed int
		if err := d.Conn.QueryRowContext(context.Background(), "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM collapsed_calls)").Scan(&calls, &collapsed); err != nil {
			t.Fatal(err)
		}
		if calls != 2 || collapsed != 1 {
			t.Errorf("%d calls, %d collapsed; want the span exported twice one call", calls, collapsed)
		}
	})
}

// TestSniffJaeger: a Jaeger document too long for the sniffed bytes is
// told by its first span.
func TestSniffJaeger(t *testing.T) {
	head := "{\n    \"data\": [\n        {\n            \"traceID\": \"af76\",\n            \"spans\": [\n                {\n" +
		"                    \"traceID\": \"af76\",\n                    \"operationName\": \"" + strings.Repeat("x", 100)
	if doc, f := sniff([]byte(head)); !doc || f != FormatOTLP {
		t.Errorf("sniff = %v %q, want a document of %q", doc, f, FormatOTLP)
	}
}

// TestJaegerSortedLong: a Jaeger document longer than the sniffed bytes
// with its keys sorted (jq -S ., jq -cS .: every span opens with
// "duration") is told by its first span too: read as JSON Lines it gave
// one malformed line and no call.
func TestJaegerSortedLong(t *testing.T) {
	tag := func(k, v string) map[string]any { return map[string]any{"key": k, "type": "string", "value": v} }
	var spans []any
	for i := 0; i < 2; i++ {
		spans = append(spans, map[string]any{"traceID": "af76", "spanID": "000000000000000" + string(rune('1'+i)),
			"operationName": "execute_tool charge_card", "references": []any{}, "startTime": 1763541600000000 + i*5000000,
			"duration": 1000, "processID": "p1", "logs": []any{}, "tags": []any{tag("gen_ai.operation.name", "execute_tool"),
				tag("gen_ai.tool.name", "charge_card"), tag("gen_ai.tool.call.arguments", `{"amount": 4900}`)}})
	}
	for i := 0; len(spans) < 6000; i++ {
		spans = append(spans, map[string]any{"traceID": "af76", "spanID": "1000000000000000", "operationName": "chat",
			"startTime": 1763541600000000, "duration": 10, "tags": []any{tag("pad", strings.Repeat("x", 200))}})
	}
	doc := map[string]any{"data": []any{map[string]any{"traceID": "af76", "spans": spans,
		"processes": map[string]any{"p1": map[string]any{"serviceName": "billing"}}}}, "errors": nil}
	pretty, err := json.MarshalIndent(doc, "", "  ") // map keys sorted, as jq -S writes them
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(doc)
	for name, b := range map[string][]byte{"jq -S .": pretty, "jq -cS .": compact} {
		if len(b) <= sniffSize {
			t.Fatalf("%s: %d bytes, not longer than the sniff", name, len(b))
		}
		t.Run(name, func(t *testing.T) {
			d, st := ingestOne(t, "trace.json", string(b), nil)
			if cs := importedCalls(t, d); len(cs) != 2 || st.Malformed != 0 {
				t.Errorf("%d calls, %d malformed, want 2 and none", len(cs), st.Malformed)
			}
		})
	}
}

// TestJaegerV3ErrorAnswer: an api_v3 answer holding an error and no trace
// (Jaeger's HTTP gateway: GRPCGatewayError; a gRPC gateway's stream error;
// a gRPC status) is one malformed line naming the error, also after the
// traces a stream gave before failing; an API error of another shape is
// no Jaeger answer.
func TestJaegerV3ErrorAnswer(t *testing.T) {
	span := `{"result":{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c",` +
		`"spanId":"1c8a4e0f5b2d9a71","name":"execute_tool send_email","startTimeUnixNano":"1763541600000000000","attributes":[` +
		`{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"send_email"}}]}]}]}]}}`
	for _, c := range []struct {
		doc, want   string
		calls, line int
	}{
		{`{"error":{"httpCode":404,"message":"trace not found"}}` + "\n", "404 trace not found", 0, 1},
		{"{\n  \"error\": {\n    \"httpCode\": 404,\n    \"message\": \"trace not found\"\n  }\n}\n", "404 trace not found", 0, 1}, // jq .
		{`{"error":{"grpcCode":5,"httpCode":404,"message":"trace not found","httpStatus":"Not Found"}}`, "404 trace not found", 0, 1},
		{`{"error":{"code":5,"message":"trace not found","details":[]}}`, "5 trace not found", 0, 1},
		{`{"error":{"httpCode":400,"message":"malformed parameter trace_id: strconv.ParseUint: parsing \"xyz\": invalid syntax"}}`,
			`400 malformed parameter trace_id: strconv.ParseUint: parsing "xyz": invalid syntax`, 0, 1},
		{span + "\n" + `{"error":{"grpcCode":2,"httpCode":500,"message":"context deadline exceeded","httpStatus":"Internal Server Error"}}` + "\n",
			"500 context deadline exceeded", 1, 2},
	} {
		d, st := ingestOne(t, "trace.json", c.doc, nil)
		want := fmt.Sprintf("%d: a Jaeger API error answer (%s): no trace in it", c.line, c.want)
		if got := malformedErrors(t, d); st.Format != FormatOTLP || int(st.Calls) != c.calls || len(got) != 1 || got[0] != want {
			t.Errorf("%.60s: %+v, malformed %q, want %q", c.doc, st, got, want)
		}
	}
	for _, s := range []string{
		`{"error":{"message":"Invalid API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		`{"error":{"message":"trace not found"}}`,
		`{"error":{"code":"NOT_FOUND","message":"trace not found"}}`,
		`{"error":{"code":5,"message":"trace not found"},"ts":1}`,
		`{"error":{"code":5}}`,
		`{"error":"trace not found"}`,
	} {
		var m map[string]any
		json.Unmarshal([]byte(s), &m)
		if _, ok := jaegerError(m); ok || detect(m) != "" {
			t.Errorf("%s: read as a Jaeger error answer", s)
		}
	}
}

// TestJaegerV3ErrorDoesNotDecideALog: {"error": {"code", "message"}} is a
// common shape for any error a program logs; as the first line of a log of
// other records (idemaudit's own call records, a log read with --map) it
// does not make the whole log a trace export, whose reader would drop
// every call as no tool call. Alone (a saved answer), or beside Jaeger's
// {"result": ...} lines, it still is Jaeger's.
func TestJaegerV3ErrorDoesNotDecideALog(t *testing.T) {
	errLine := `{"error":{"code":503,"message":"payment gateway unavailable"}}` + "\n"
	calls := `{"ts":"2026-03-10T09:14:00Z","action_type":"charge_card","args":{"amount":4200}}` + "\n" +
		`{"ts":"2026-03-10T09:14:05Z","action_type":"charge_card","args":{"amount":4200}}` + "\n"
	d, st := ingestOne(t, "calls.jsonl", errLine+calls, nil)
	if st.Format != FormatJSONL || st.Calls != 2 || st.Malformed != 1 {
		t.Errorf("call log after an error line: %+v, malformed %q", st, malformedErrors(t, d))
	}
	mapped := `{"time":"2026-03-10T09:14:00Z","tool":{"name":"charge_card"}}` + "\n" + `{"time":"2026-03-10T09:14:05Z","tool":{"name":"charge_card"}}` + "\n"
	if _, st := ingestOne(t, "tools.jsonl", errLine+mapped, &Import{Map: map[string]string{"action_type": "tool.name", "ts": "time"}}); st.Format != FormatJSONL || st.Calls != 2 {
		t.Errorf("--map log after an error line: %+v", st)
	}
	for _, doc := range []string{errLine, errLine + errLine} {
		if _, st := ingestOne(t, "trace.json", doc, nil); st.Format != FormatOTLP || st.Calls != 0 {
			t.Errorf("%q: %+v, want read as Jaeger's answer", doc, st)
		}
	}
}
