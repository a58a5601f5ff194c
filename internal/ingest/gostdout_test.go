package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// goSpan is a span as Go's stdouttrace exporter writes it WithPrettyPrint
// (a tracetest.SpanStub through json.Encoder.SetIndent("", "\t")).
const goSpan = `{
	"Name": "execute_tool charge_card",
	"SpanContext": {
		"TraceID": "0af7651916cd43dd8448eb211c80319c",
		"SpanID": "1c8a4e0f5b2d9a71",
		"TraceFlags": "01",
		"TraceState": "",
		"Remote": false
	},
	"Parent": {
		"TraceID": "0af7651916cd43dd8448eb211c80319c",
		"SpanID": "5fb397be34d26b51",
		"TraceFlags": "01",
		"TraceState": "",
		"Remote": false
	},
	"SpanKind": 1,
	"StartTime": "2026-03-10T10:14:02.5+01:00",
	"EndTime": "2026-03-10T10:14:12.5+01:00",
	"Attributes": [
		{"Key": "gen_ai.operation.name", "Value": {"Type": "STRING", "Value": "execute_tool"}},
		{"Key": "gen_ai.tool.name", "Value": {"Type": "STRING", "Value": "charge_card"}},
		{"Key": "gen_ai.tool.call.id", "Value": {"Type": "STRING", "Value": "call_1"}},
		{"Key": "gen_ai.tool.call.arguments", "Value": {"Type": "STRING", "Value": "{\"amount\": 4200, \"idempotency_key\": \"chg-1\"}"}},
		{"Key": "gen_ai.tool.call.result", "Value": {"Type": "STRING", "Value": "{\"id\": \"ch_1\"}"}},
		{"Key": "gen_ai.conversation.id", "Value": {"Type": "STRING", "Value": "conv-1"}}
	],
	"Events": [
		{"Name": "exception", "Attributes": [{"Key": "exception.message", "Value": {"Type": "STRING", "Value": "context deadline exceeded"}}],
			"DroppedAttributeCount": 0, "Time": "2026-03-10T10:14:12.5+01:00"}
	],
	"Links": null,
	"Status": {
		"Code": "Error",
		"Description": "context deadline exceeded"
	},
	"DroppedAttributes": 0,
	"DroppedEvents": 0,
	"DroppedLinks": 0,
	"ChildSpanCount": 1,
	"Resource": [
		{"Key": "run.id", "Value": {"Type": "STRING", "Value": "worker-7"}},
		{"Key": "service.name", "Value": {"Type": "STRING", "Value": "billing-agent"}}
	],
	"InstrumentationScope": {"Name": "agent", "Version": "", "SchemaURL": "", "Attributes": null},
	"InstrumentationLibrary": {"Name": "agent", "Version": "", "SchemaURL": "", "Attributes": null}
}
`

// goOTLP is the same span as the Collector's file exporter writes it.
const goOTLP = `{"resourceSpans":[{"resource":{"attributes":[{"key":"run.id","value":{"stringValue":"worker-7"}},` +
	`{"key":"service.name","value":{"stringValue":"billing-agent"}}]},"scopeSpans":[{"scope":{"name":"agent"},"spans":[{` +
	`"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"1c8a4e0f5b2d9a71","parentSpanId":"5fb397be34d26b51",` +
	`"name":"execute_tool charge_card","kind":1,"startTimeUnixNano":"1773134042500000000","endTimeUnixNano":"1773134052500000000",` +
	`"attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"charge_card"}},` +
	`{"key":"gen_ai.tool.call.id","value":{"stringValue":"call_1"}},` +
	`{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"amount\": 4200, \"idempotency_key\": \"chg-1\"}"}},` +
	`{"key":"gen_ai.tool.call.result","value":{"stringValue":"{\"id\": \"ch_1\"}"}},` +
	`{"key":"gen_ai.conversation.id","value":{"stringValue":"conv-1"}}],` +
	`"events":[{"timeUnixNano":"1773134052500000000","name":"exception","attributes":[{"key":"exception.message","value":{"stringValue":"context deadline exceeded"}}]}],` +
	`"status":{"message":"context deadline exceeded","code":2}}]}]}]}` + "\n"

// compactJSON gives a document on one line, its members in their order,
// as stdouttrace writes a span without WithPrettyPrint.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestGoStdoutSpan: a stdouttrace span becomes the OpenTelemetry span it
// prints: typed attribute values as the OTLP reader gives them (a byte
// slice the text it encodes, a slice of values and a map opened), the
// parent unless it is the zero span context, RFC 3339 times with an
// offset as Unix nanoseconds (the zero time WithoutTimestamps writes:
// none), the Error status with its description.
func TestGoStdoutSpan(t *testing.T) {
	var sp map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"Name": "x", "SpanContext": {"TraceID": "0AF7651916CD43DD8448EB211C80319C", "SpanID": "1c8a4e0f5b2d9a71"},
		"Parent": {"TraceID": "00000000000000000000000000000000", "SpanID": "0000000000000000", "TraceFlags": "00", "TraceState": "", "Remote": false},
		"SpanKind": 3, "StartTime": "2026-03-10T10:14:02.104518+01:00", "EndTime": "2026-03-10T10:14:03.1-05:30",
		"Attributes": [{"Key": "s", "Value": {"Type": "STRING", "Value": "a"}},
			{"Key": "n", "Value": {"Type": "INT64", "Value": 9007199254740993}},
			{"Key": "f", "Value": {"Type": "FLOAT64", "Value": 0.5}},
			{"Key": "b", "Value": {"Type": "BOOL", "Value": true}},
			{"Key": "ss", "Value": {"Type": "STRINGSLICE", "Value": ["a", "b"]}},
			{"Key": "raw", "Value": {"Type": "BYTESLICE", "Value": "aGk="}},
			{"Key": "bin", "Value": {"Type": "BYTESLICE", "Value": "/w=="}},
			{"Key": "sl", "Value": {"Type": "SLICE", "Value": [{"Type": "STRING", "Value": "a"}, {"Type": "INT64", "Value": 1}]}},
			{"Key": "m", "Value": {"Type": "MAP", "Value": [{"Key": "id", "Value": {"Type": "STRING", "Value": "ch_1"}}]}},
			{"Key": "e", "Value": {"Type": "EMPTY", "Value": null}},
			{"Key": "", "Value": {"Type": "STRING", "Value": "no key"}}],
		"Events": null, "Links": null, "Status": {"Code": "Error", "Description": "boom"}}`))
	dec.UseNumber()
	if err := dec.Decode(&sp); err != nil {
		t.Fatal(err)
	}
	if !isGoStdoutSpan(sp) {
		t.Fatal("not told as a stdouttrace span")
	}
	otel, attrs := goStdoutSpan(sp)
	wantAttrs := map[string]any{"s": "a", "n": json.Number("9007199254740993"), "f": json.Number("0.5"), "b": true,
		"ss": []any{"a", "b"}, "raw": "hi", "bin": "/w==", "sl": []any{"a", json.Number("1")}, "m": map[string]any{"id": "ch_1"}, "e": nil}
	if !reflect.DeepEqual(attrs, wantAttrs) {
		t.Errorf("attributes %#v\nwant %#v", attrs, wantAttrs)
	}
	want := map[string]any{"name": "x", "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "1c8a4e0f5b2d9a71",
		"startTimeUnixNano": "1773134042104518000", "endTimeUnixNano": "1773157443100000000",
		"status": map[string]any{"code": "2", "message": "boom"}}
	if !reflect.DeepEqual(otel, want) {
		t.Errorf("span %#v\nwant %#v", otel, want)
	}
	// WithoutTimestamps: the zero time is no time; Unset and Ok are no failure
	sp["StartTime"], sp["EndTime"] = "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"
	for _, code := range []string{"Unset", "Ok"} {
		sp["Status"] = map[string]any{"Code": code, "Description": ""}
		otel, _ := goStdoutSpan(sp)
		if otel["startTimeUnixNano"] != nil || otel["endTimeUnixNano"] != nil || len(otel["status"].(map[string]any)) != 0 {
			t.Errorf("%s: %#v", code, otel)
		}
	}
	// a log line holding a span context is no span
	for _, s := range []string{
		`{"Name": "app", "SpanContext": {"TraceID": "0af7", "SpanID": "1c8a"}}`,
		`{"Name": "app", "SpanContext": {"TraceID": "0af7", "SpanID": "1c8a"}, "SpanKind": 1, "level": "info"}`,
		`{"level": "info", "SpanContext": {"TraceID": "0af7", "SpanID": "1c8a"}, "Parent": {}, "SpanKind": 1, "Status": {"Code": "Unset"}}`,
	} {
		var m map[string]any
		json.Unmarshal([]byte(s), &m)
		if isGoStdoutSpan(m) || detect(m) != "" {
			t.Errorf("%s: told as a stdouttrace span", s)
		}
	}
}

// TestGoStdoutShapes: stdouttrace's output pretty-printed (each call at its
// span's first line) or one span a line, WithoutTimestamps too, gives the
// call the same span in an OTLP export gives — tool, key, response id,
// session, run, status, args, time, duration, parent — and read beside it
// is one call (a telemetry duplicate), as is a span printed twice.
func TestGoStdoutShapes(t *testing.T) {
	type call struct {
		importedCall
		TS     int64
		Parent string
	}
	read := func(t *testing.T, name, data string) ([]call, Stats) {
		d, st := ingestOne(t, name, data, nil)
		var out []call
		for _, c := range importedCalls(t, d) {
			cl := call{importedCall: c}
			if err := d.Conn.QueryRowContext(context.Background(), "SELECT coalesce(ts, 0), coalesce(parent_id, '') FROM calls WHERE line = ? AND pos = ?",
				c.Line, c.Pos).Scan(&cl.TS, &cl.Parent); err != nil {
				t.Fatal(err)
			}
			out = append(out, cl)
		}
		return out, st
	}
	ref, st := read(t, "collector.jsonl", goOTLP)
	if len(ref) != 1 || st.Format != FormatOTLP || ref[0].Key != "chg-1" || ref[0].Resp != "ch_1" || ref[0].Status != "error" ||
		ref[0].Session != "conv-1" || ref[0].Run != "worker-7" || ref[0].Parent != "5fb397be34d26b51" || !ref[0].HasDur {
		t.Fatalf("the OTLP span: %+v", ref)
	}
	root := strings.Replace(goSpan, `"SpanID": "5fb397be34d26b51"`, `"SpanID": "0000000000000000"`, 1)
	line := compactJSON(t, goSpan)
	for _, c := range []struct {
		name, data string
		lines      []int64
		parent     string
		untimed    bool
	}{
		{"pretty", "{\n\t\"Name\": \"chat gpt-4o\",\n\t\"SpanContext\": {\"TraceID\": \"0af7651916cd43dd8448eb211c80319c\", \"SpanID\": \"2d9b5f1a6c3e0b82\"},\n" +
			"\t\"Parent\": {\"TraceID\": \"00000000000000000000000000000000\", \"SpanID\": \"0000000000000000\"},\n\t\"SpanKind\": 3,\n\t\"Status\": {\"Code\": \"Unset\", \"Description\": \"\"}\n}\n" +
			goSpan, []int64{8}, "5fb397be34d26b51", false},
		{"one span a line", "{\"Name\":\"chat\",\"SpanContext\":{\"TraceID\":\"0af7651916cd43dd8448eb211c80319c\",\"SpanID\":\"2d9b5f1a6c3e0b82\"},\"Parent\":{},\"SpanKind\":3,\"Status\":{\"Code\":\"Unset\"}}\n" +
			line + "\n", []int64{2}, "5fb397be34d26b51", false},
		{"printed twice", line + "\n" + line + "\n", []int64{1}, "5fb397be34d26b51", false},
		{"a root span", root, []int64{1}, "", false},
		{"WithoutTimestamps", strings.NewReplacer("2026-03-10T10:14:02.5+01:00", "0001-01-01T00:00:00Z", "2026-03-10T10:14:12.5+01:00", "0001-01-01T00:00:00Z").Replace(goSpan),
			[]int64{1}, "5fb397be34d26b51", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, st := read(t, "spans.log", c.data)
			if len(cs) != len(c.lines) || st.Malformed != 0 || st.Format != FormatOTLP {
				t.Fatalf("%d calls, %d malformed, format %q: %+v", len(cs), st.Malformed, st.Format, cs)
			}
			for i, cl := range cs {
				w := ref[0]
				w.Line, w.Parent = c.lines[i], c.parent
				if c.untimed {
					w.TS, w.HasTS, w.HasDur = 0, false, false
				}
				if !reflect.DeepEqual(cl, w) {
					t.Errorf("call %d: %+v\nwant %+v", i, cl, w)
				}
			}
		})
	}
	t.Run("beside the OTLP export", func(t *testing.T) {
		d := openMem(t)
		dir := t.TempDir()
		for _, f := range []struct{ name, data string }{{"collector.jsonl", goOTLP}, {"stdout.log", goSpan}} {
			if _, err := d.IngestFile(context.Background(), write(t, dir, f.name, []byte(f.data))); err != nil {
				t.Fatal(err)
			}
		}
		var calls, collapsed int
		if err := d.Conn.QueryRowContext(context.Background(), "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM collapsed_calls)").Scan(&calls, &collapsed); err != nil {
			t.Fatal(err)
		}
		if calls != 1 || collapsed != 1 {
			t.Errorf("%d calls, %d collapsed; want the span exported twice one call", calls, collapsed)
		}
	})
}

// TestSniffGoStdout: a stdouttrace span longer than the sniffed bytes is
// told by its name and the span context after it, pretty-printed or not.
func TestSniffGoStdout(t *testing.T) {
	big := strings.Repeat("x", sniffSize)
	pretty := strings.Replace(goSpan, `"Value": "conv-1"`, `"Value": "`+big+`"`, 1)
	for name, c := range map[string]struct {
		data string
		doc  bool
	}{"pretty": {pretty, true}, "compact": {compactJSON(t, pretty) + "\n", false}} {
		if doc, f := sniff([]byte(c.data[:sniffSize])); doc != c.doc || f != FormatOTLP {
			t.Errorf("%s: sniff = %v %q, want %v %q", name, doc, f, c.doc, FormatOTLP)
		}
		if _, st := ingestOne(t, "spans.log", c.data, nil); st.Calls != 1 || st.Malformed != 0 {
			t.Errorf("%s: %+v", name, st)
		}
	}
}

// TestGoStdoutNumericStatus: codes.Code marshals to "Error" through a
// pointer only (MarshalJSON has a pointer receiver): a SpanStub encoded as
// a value (json.Marshal(tracetest.SpanStubFromReadOnlySpan(s)) in a span
// processor of one's own) writes the code as Go numbers it, Error 1 and Ok
// 2 (OTLP's are the other way round). A failed span is failed, an Ok one is not.
func TestGoStdoutNumericStatus(t *testing.T) {
	for code, want := range map[string]string{"1": "error", "2": "ok", "0": "ok"} {
		data := strings.Replace(goSpan, `"Code": "Error"`, `"Code": `+code, 1)
		d, _ := ingestOne(t, "spans.log", data, nil)
		cs := importedCalls(t, d)
		if len(cs) != 1 || cs[0].Status != want {
			t.Errorf("Code %s: %+v, want status %s", code, cs, want)
		}
	}
}

// TestGoStdoutPrettyAfterAJSONLogLine: a Go service's stdout with a JSON
// log line (slog's JSONHandler) before the spans stdouttrace printed
// WithPrettyPrint: the spans are read as documents, each call at its
// span's first line, the log line no call; read as JSON Lines every line of
// every span was malformed and no call was read.
func TestGoStdoutPrettyAfterAJSONLogLine(t *testing.T) {
	slog := `{"time":"2026-03-10T10:14:02.1+01:00","level":"INFO","msg":"billing-agent starting"}` + "\n"
	for name, data := range map[string]string{
		"one log line":   slog + goSpan,
		"two, CRLF":      strings.ReplaceAll(slog+slog+goSpan+slog+goSpan, "\n", "\r\n"),
		"then a comment": slog + "2026/03/10 10:14:02 ready\n" + goSpan,
	} {
		d, st := ingestOne(t, "stdout.log", data, nil)
		cs := importedCalls(t, d)
		if st.Format != FormatOTLP || len(cs) != 1 || cs[0].Status != "error" {
			t.Errorf("%s: %+v, calls %+v, malformed %q", name, st, cs, malformedErrors(t, d))
			continue
		}
		if want := int64(strings.Count(data[:strings.Index(data, `"Name": "execute_tool`)], "\n")); cs[0].Line != want {
			t.Errorf("%s: call at line %d, want %d", name, cs[0].Line, want)
		}
	}
	// JSON Lines of no known format with a line that is "{" alone stay JSON Lines
	if doc, _ := sniff([]byte(slog + "{\n" + slog)); doc {
		t.Error("a broken line of JSON Lines read as documents")
	}
}
