package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// importedCall is what the import tests read back of a call.
type importedCall struct {
	Line    int64
	Pos     int32
	Action  string
	Key     string
	Resp    string
	Span    string
	Trace   string
	Session string
	Status  string
	Run     string
	FP      string
	HasTS   bool
	HasDur  bool
}

func importedCalls(t *testing.T, d *DB) []importedCall {
	t.Helper()
	r, err := d.Conn.QueryContext(context.Background(), `SELECT line, pos, action_type, coalesce(idempotency_key, ''),
		coalesce(response_id, ''), coalesce(span_id, ''), coalesce(trace_id, ''), coalesce(session_id, ''), coalesce(status, ''),
		coalesce(run_id, ''), coalesce(fp::VARCHAR, ''), ts IS NOT NULL, duration_ms IS NOT NULL
		FROM calls ORDER BY source_id, line, pos`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []importedCall
	for r.Next() {
		var c importedCall
		if err := r.Scan(&c.Line, &c.Pos, &c.Action, &c.Key, &c.Resp, &c.Span, &c.Trace, &c.Session, &c.Status, &c.Run, &c.FP, &c.HasTS, &c.HasDur); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func byAction(cs []importedCall, action string) []importedCall {
	var out []importedCall
	for _, c := range cs {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

const samples = "../../sample-logs/traces/"

// TestImportSamples reads each sample export, its format told from its
// content, and checks the calls against what the sample holds (see
// scripts/trace-samples.py): tool calls only, one telemetry duplicate
// collapsed, keys, response ids, spans, and fingerprints that make the
// planted repeats one operation.
func TestImportSamples(t *testing.T) {
	type want struct {
		format    Format
		calls     int64
		collapsed int64
		skipped   int64
		same      string // an action whose calls share one fingerprint
		check     func(t *testing.T, cs []importedCall)
	}
	cases := map[string]want{
		"otlp-collector.jsonl": {FormatOTLP, 7, 1, 1, "charge_card", func(t *testing.T, cs []importedCall) {
			ch := byAction(cs, "charge_card")
			if ch[0].Status != "timeout" || ch[0].Resp != "" || ch[1].Resp != "ch_3Pq2Lk" || ch[1].Status != "ok" ||
				ch[0].Span != "a2fb4a1d1a96d312" || ch[0].Session != "conv-7f2c" || !ch[0].HasDur || !ch[0].HasTS {
				t.Errorf("charge_card calls %+v", ch)
			}
			inv := byAction(cs, "create_invoice")
			if len(inv) != 2 || inv[0].Line != inv[1].Line || inv[0].Pos != 0 || inv[1].Pos != 1 || inv[0].Key != "inv-2026-1118-cus_Q42" ||
				inv[1].Resp != "in_1Nv9" || inv[0].Run != "" {
				t.Errorf("create_invoice calls (one line, two spans) %+v", inv)
			}
			sms := byAction(cs, "send_sms")
			if len(sms) != 2 || sms[0].Key != "sms-1001-shipped" || sms[0].Session != "mcp-3c1d" || sms[0].FP != sms[1].FP {
				t.Errorf("MCP send_sms calls %+v", sms)
			}
		}},
		"langfuse-observations.json": {FormatLangfuse, 5, 1, 1, "book_meeting", func(t *testing.T, cs []importedCall) {
			inv := byAction(cs, "send_invite")
			if len(inv) != 2 || inv[0].Status != "422" || inv[1].Resp != "inv_55" {
				t.Errorf("send_invite calls %+v", inv)
			}
			bm := byAction(cs, "book_meeting")
			if bm[0].Resp != "evt_81" || bm[1].Resp != "evt_82" || bm[0].Span != "2f1c0d8e-tool-2" {
				t.Errorf("book_meeting calls %+v", bm)
			}
		}},
		"langsmith-runs.jsonl": {FormatLangSmith, 5, 1, 3, "send_email", func(t *testing.T, cs []importedCall) {
			em := byAction(cs, "send_email")
			if em[0].Key != "email-7f3a" || em[1].Key != "email-91bc" || em[0].Resp != "msg_01HZ" || em[0].Session != "thread-ana-1001" ||
				em[0].Run != "" || em[0].Trace == em[1].Trace {
				t.Errorf("send_email calls (keys from a Python repr, left out of the fingerprint) %+v", em)
			}
		}},
		"openai-agents-spans.jsonl": {FormatOpenAIAgents, 4, 1, 2, "refund_order", func(t *testing.T, cs []importedCall) {
			re := byAction(cs, "refund_order")
			if len(re) != 3 || re[0].Status != "504" || re[2].Status != "ok" || re[2].Resp != "re_3QxT" || re[0].Session != "conv_77" {
				t.Errorf("refund_order calls %+v", re)
			}
		}},
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			d := openMem(t)
			st, err := d.IngestFile(context.Background(), samples+name)
			if err != nil {
				t.Fatal(err)
			}
			if st.Format != w.format || st.Calls != w.calls || st.Collapsed != w.collapsed || st.Skipped != w.skipped || st.Malformed != 0 {
				t.Fatalf("stats %+v, want format %s, %d calls, %d collapsed, %d skipped", st, w.format, w.calls, w.collapsed, w.skipped)
			}
			cs := importedCalls(t, d)
			same := byAction(cs, w.same)
			for _, c := range same {
				if c.FP != same[0].FP || c.FP == "" || c.Span == "" {
					t.Errorf("%s: the calls of one operation must share a fingerprint and carry spans: %+v", w.same, same)
					break
				}
			}
			w.check(t, cs)
			// ingesting again changes nothing
			again, err := d.IngestFile(context.Background(), samples+name)
			if err != nil || again.Status != StatusUnchanged {
				t.Errorf("again: %+v %v", again, err)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	cases := []struct {
		head string
		doc  bool
		f    Format
	}{
		{`{"ts":1,"action_type":"a"}` + "\n", false, FormatJSONL},
		{"\n\nnot json\n" + `{"resourceSpans":[]}` + "\n", false, FormatOTLP},
		{"{\n  \"data\": [\n    {\"id\": \"o1\", \"type\": \"TOOL\", \"traceId\": \"t\", \"startTime\": \"2026-11-18T10:00:00Z\"}\n  ]\n}\n", true, FormatLangfuse},
		{`[{"run_type":"tool","name":"x"}]`, true, FormatLangSmith},
		{`{"object":"trace.span","span_data":{"type":"function"}}` + "\n", false, FormatOpenAIAgents},
		{`{"something":"else"}` + "\n", false, ""},
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"` + strings.Repeat("x", 100) + ``, false, FormatOTLP},                                     // cut short
		{`{"id":"o1","traceId":"t","type":"GENERATION","startTime":"2026-11-18T10:00:00Z","input":"` + strings.Repeat("x", 100), false, FormatLangfuse}, // cut short
		// one array per line whose first line was cut short: still JSON Lines
		{`[{"ts":1,"action_type":"a"},{"ts":` + "\n" + `[{"ts":2,"action_type":"b"}]` + "\n", false, FormatJSONL},
		// one array over several lines: a document
		{"[\n  {\"ts\": 1, \"action_type\": \"a\"},\n  {\"ts\": 2, \"action_type\": \"b\"}\n]\n", true, FormatJSONL},
		// a call record whose other members look like a trace export's: unknown fields are ignored
		{`{"ts":1,"action_type":"a","batches":2}` + "\n", false, FormatJSONL},
		{`{"ts":1,"run_type":"scheduled","action_type":"a"}` + "\n", false, FormatJSONL},
		{`{"ts":1,"action_type":"a","object":"trace","span_data":{}}` + "\n", false, FormatJSONL},
		{`{"ts":1,"args":{"run_type":"nightly","x":"` + strings.Repeat("x", 100), false, FormatLangSmith},                                          // cut short: only run_type seen
		{`{"ts":1,"action_type":"a","args":{"run_type":"nightly","x":"` + strings.Repeat("x", 100), false, FormatJSONL},                            // cut short: action_type first
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"action_type","value":"` + strings.Repeat("x", 100), false, FormatOTLP}, // cut short
		// a first line of JSON Lines with something after its object: a broken line, not a document
		{`{"ts":1,"action_type":"a"},` + "\n" + `{"ts":2,"action_type":"a"}` + "\n", false, FormatJSONL},
		{`{"ts":1,"action_type":"a"} x` + "\n" + `{"ts":2,"action_type":"a"}` + "\n", false, FormatJSONL},
		{"\n" + `{"ts":1,"action_type":"a"}{"ts":2,"action_type":"a"}` + "\n" + `{"ts":3,"action_type":"a"}` + "\n", false, FormatJSONL},
		{`"s",` + "\n" + `{"ts":2,"action_type":"a"}` + "\n", false, FormatJSONL},
		// a lone '[' before lines of objects without commas: a broken first line of JSON Lines
		{"[\n" + `{"ts":1,"action_type":"a"}` + "\n" + `{"ts":2,"action_type":"a"}` + "\n", false, FormatJSONL},
		// an array of one element, or of elements spread over lines: a document
		{"[\n" + `{"ts":1,"action_type":"a"}` + "\n]\n", true, FormatJSONL},
		{"[\n  {\n    \"ts\": 1,\n    \"action_type\": \"a\"\n  }\n]\n", true, FormatJSONL},
		// an array written comma-first: its elements are separated by commas opening the next line
		{"[\n" + `{"ts":1,"action_type":"a"}` + "\n," + `{"ts":2,"action_type":"a"}` + "\n]\n", true, FormatJSONL},
		{"[\n" + `{"ts":1,"action_type":"a"}` + "\n,\n" + `{"ts":2,"action_type":"a"}` + "\n]\n", true, FormatJSONL},
		// an object whose first line is complete but whose value goes on: a document
		{"{\"data\": [\n  {\"ts\": 1, \"action_type\": \"a\"}\n]}\n", true, FormatJSONL},
		// a pretty-printed first document with a syntax error: a document
		// (reading resumes after it); '{' alone before a record: JSON Lines
		{"{\n  \"ts\": 1,\n  \"action_type\": \"a\",\n}\n{\n  \"ts\": 2,\n  \"action_type\": \"a\"\n}\n", true, FormatJSONL},
		{"{\n" + `{"ts":1,"action_type":"a"}` + "\n" + `{"ts":2,"action_type":"a"}` + "\n", false, FormatJSONL},
		// a ConsoleSpanExporter span, whole or cut short, told by its
		// context and kind; a log line holding such a context is none
		{"{\n    \"name\": \"charge\",\n    \"context\": {\n        \"trace_id\": \"0x4bf9\",\n        \"span_id\": \"0x6e0c\",\n        \"trace_state\": \"[]\"\n    },\n    \"kind\": \"SpanKind.INTERNAL\"\n}\n", true, FormatOTLP},
		{`{"name": "charge", "context": {"trace_id": "0x4bf9", "span_id": "0x6e0c", "trace_state": "['{key=k, value=v}']"}, "kind": "SpanKind.INTERNAL", "attributes": {"x": "` + strings.Repeat("x", 100), false, FormatOTLP}, // cut short
		{`{"name":"app","context":{"trace_id":"4bf9","span_id":"6e0c"},"start_time":"2026-03-10T09:00:00Z"}` + "\n", false, ""},
		{`{"ts":1,"context":{"trace_id":"4bf9","span_id":"6e0c"},"args":{"x":"` + strings.Repeat("x", 100), false, ""}, // cut short, before its action_type
		// text a program printed before its first console span: documents
		// follow; text before lines of JSON: JSON Lines
		{"Starting agent...\n{\n    \"name\": \"charge\",\n    \"context\": {\n        \"trace_id\": \"0x4bf9\",\n        \"span_id\": \"0x6e0c\",\n        \"trace_state\": \"[]\"\n    },\n    \"kind\": \"SpanKind.INTERNAL\"\n}\n", true, FormatOTLP},
		{"agent v2 starting\n" + `{"ts":1,"action_type":"a"}` + "\n" + `{"ts":2,"action_type":"a"}` + "\n", false, FormatJSONL},
	}
	for _, c := range cases {
		doc, f := sniff([]byte(c.head))
		if doc != c.doc || f != c.f {
			t.Errorf("sniff(%.40q) = %v %q, want %v %q", c.head, doc, f, c.doc, c.f)
		}
	}
}

func TestImportMap(t *testing.T) {
	d := openMem(t)
	im := &Import{}
	for _, m := range []string{"ts=@timestamp", "action_type=tool.name", "idempotency_key=tool.input.idempotency_key",
		"args=tool.input", "response_id=result.id", "session_id=labels.conversation"} {
		if err := im.AddMap(m); err != nil {
			t.Fatal(err)
		}
	}
	d.Import = im
	dir := t.TempDir()
	log := `{"@timestamp":"2026-11-18T10:00:00Z","tool":{"name":"refund","input":{"charge":"ch_1","amount":2000,"idempotency_key":"rf-1"}},"result":{"id":"re_1"},"labels":{"conversation":"c1"}}
{"@timestamp":"2026-11-18T10:01:00Z","tool":{"name":"refund","input":{"amount":2000,"charge":"ch_1","idempotency_key":"rf-2"}},"result":{"id":"re_2"},"labels":{"conversation":"c1"}}
{"@timestamp":"2026-11-18T10:02:00Z","tool":{"input":{}}}
`
	st, err := d.IngestFile(context.Background(), write(t, dir, "other.jsonl", []byte(log)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Calls != 2 || st.Malformed != 1 || st.Format != FormatJSONL {
		t.Fatalf("%+v", st)
	}
	cs := importedCalls(t, d)
	if cs[0].Key != "rf-1" || cs[1].Key != "rf-2" || cs[0].Resp != "re_1" || cs[0].Session != "c1" || !cs[0].HasTS || cs[0].FP != cs[1].FP {
		t.Errorf("mapped calls %+v (the key is left out of the args fingerprint)", cs)
	}
	if got := malformedErrors(t, d); len(got) != 1 || !strings.Contains(got[0], "no action type at tool.name") {
		t.Errorf("malformed %q", got)
	}
	for _, bad := range []string{"nofield", "colour=x", "ts=", "=x"} {
		if err := (&Import{}).AddMap(bad); err == nil {
			t.Errorf("--map %q must be refused", bad)
		}
	}
}

func TestStringArgs(t *testing.T) {
	object := parseWith(t, nil, `{"action_type":"a","args":{"b":1,"a":[1,2]}}`)
	str := parseWith(t, nil, `{"action_type":"a","args":" {\"a\": [1, 2], \"b\": 1.0} "}`)
	plain := parseWith(t, nil, `{"action_type":"a","args":"send the report"}`)
	notJSON := parseWith(t, nil, `{"action_type":"a","args":"{not json"}`)
	if object.FP != str.FP {
		t.Error("args held in a JSON string must fingerprint as the value it holds")
	}
	if plain.FP == object.FP || !plain.HasArgs || !notJSON.HasArgs || notJSON.FP == plain.FP {
		t.Error("other strings are args as they are")
	}
}

func TestPyLiteral(t *testing.T) {
	cases := map[string]string{
		`{'to': 'ana@example.com', 'n': 2, 'ok': True, 'x': None, 'f': 1.5, "q": "it's"}`: `{"f":1.5,"n":2,"ok":true,"q":"it's","to":"ana@example.com","x":null}`,
		`['a', ('b', -3), {}]`: `["a",["b",-3],{}]`,
		`{'s': 'a\'b\n\x41'}`:  `{"s":"a'b\nA"}`,
		`{1: 'one'}`:           `{"1":"one"}`,
		`{'unterminated': 'x}`: ``,
		`{'a': b}`:             ``,
		`['a',] trailing`:      ``,
	}
	for in, want := range cases {
		v, ok := pyLiteral(in)
		if want == "" {
			if ok {
				t.Errorf("pyLiteral(%q) = %v, want a failure", in, v)
			}
			continue
		}
		b, _ := json.Marshal(v)
		if !ok || string(b) != want {
			t.Errorf("pyLiteral(%q) = %s %v, want %s", in, b, ok, want)
		}
	}
}

// TestImportDocument reads one JSON document: records located at the line
// they begin, several on one line, and a syntax error keeping what came
// before it.
func TestImportDocument(t *testing.T) {
	d := openMem(t)
	dir := t.TempDir()
	doc := `[
  {"run_type": "tool", "name": "charge", "id": "r1", "trace_id": "t1", "start_time": "2026-11-18T10:00:00",
   "inputs": {"input": "{\"amount\": 5}"}, "outputs": {"output": {"id": "ch_1"}}},
  {"run_type": "tool", "name": "charge", "id": "r2", "trace_id": "t1", "start_time": "2026-11-18T10:00:05", "inputs": {"input": "{\"amount\": 5}"}}, {"run_type": "llm", "name": "m", "id": "r3"}, {"run_type": "tool", "name": "charge", "id": "r4", "trace_id": "t1", "start_time": "2026-11-18T10:00:09"},
  {"run_type": "tool", "name": "charge", "id": "r5", "trace_id": "t1", "start_time": "2026-11-18T10:00:12"} oops
]
`
	st, err := d.IngestFile(context.Background(), write(t, dir, "runs.json", []byte(doc)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != FormatLangSmith || st.Calls != 4 || st.Skipped != 1 || st.Malformed != 1 || st.Lines != 6 {
		t.Fatalf("%+v", st)
	}
	got := rows(t, d)
	want := []string{"runs.json:2:charge", "runs.json:4:charge", "runs.json:4:charge", "runs.json:5:charge", "runs.json!5!invalid"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	cs := importedCalls(t, d)
	if cs[1].Pos != 0 || cs[2].Pos != 1 || cs[0].FP != cs[1].FP || cs[0].Resp != "ch_1" {
		t.Errorf("calls %+v", cs)
	}
	if e := malformedErrors(t, d); !strings.HasSuffix(e[0], "lines 5–6 not read: no later line begins a whole document") {
		t.Errorf("error %q", e[0])
	}
	// a document is read whole: unchanged, it is not read again
	again, err := d.IngestFile(context.Background(), filepath.Join(dir, "runs.json"))
	if err != nil || again.Status != StatusUnchanged {
		t.Errorf("again %+v %v", again, err)
	}
}

// TestTelemetryDuplicates: a span exported again in another file is one
// call; a JSON Lines log reusing a span id for its retries is not collapsed.
func TestTelemetryDuplicates(t *testing.T) {
	d := openMem(t)
	dir := t.TempDir()
	data, err := os.ReadFile(samples + "openai-agents-spans.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.IngestFile(context.Background(), write(t, dir, "a.jsonl", data)); err != nil {
		t.Fatal(err)
	}
	// the exporter sent the last spans again, after a new one
	lines := strings.SplitAfter(string(data), "\n")
	extra := `{"object":"trace.span","id":"span_f1","trace_id":"trace_x","started_at":"2026-11-18T16:00:00Z","span_data":{"type":"function","name":"refund_order","input":"{}"},"error":null}` + "\n"
	st, err := d.IngestFile(context.Background(), write(t, dir, "b.jsonl", []byte(extra+strings.Join(lines[4:], ""))))
	if err != nil {
		t.Fatal(err)
	}
	if st.Calls != 1 || st.Collapsed != 3 {
		t.Errorf("a re-sent export: %+v, want 1 new call and 3 collapsed", st)
	}
	own := `{"ts":"2026-11-18T10:00:00Z","action_type":"charge","span_id":"s1","trace_id":"t1","args":{"a":1}}
{"ts":"2026-11-18T10:00:30Z","action_type":"charge","span_id":"s1","trace_id":"t1","args":{"a":1}}
`
	st, err = d.IngestFile(context.Background(), write(t, dir, "own.jsonl", []byte(own)))
	if err != nil || st.Calls != 2 || st.Collapsed != 0 {
		t.Errorf("JSON Lines retries reusing a span id must stay: %+v %v", st, err)
	}
}

// writeParquet writes the JSON records of src as the Parquet file pq, with DuckDB.
func writeParquet(t *testing.T, d *DB, src, pq string) {
	t.Helper()
	if _, err := d.Conn.ExecContext(context.Background(), "COPY (SELECT * FROM read_json_auto("+quoteLiteral(src)+")) TO "+
		quoteLiteral(pq)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
}

// TestImportParquet writes a LangSmith export as Parquet with DuckDB and
// reads it back: the same calls as from JSON Lines, located by row.
func TestImportParquet(t *testing.T) {
	dir := t.TempDir()
	src, _ := filepath.Abs(samples + "langsmith-runs.jsonl")
	pq := filepath.Join(dir, "runs.parquet")
	d := openMem(t)
	writeParquet(t, d, src, pq)
	st, err := d.IngestFile(context.Background(), pq)
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != FormatLangSmith || st.Calls != 5 || st.Collapsed != 1 || st.Lines != 9 {
		t.Fatalf("%+v", st)
	}
	fromParquet := importedCalls(t, d)
	j := openMem(t)
	if _, err := j.IngestFile(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	fromJSON := importedCalls(t, j)
	for i := range fromJSON {
		a, b := fromJSON[i], fromParquet[i]
		if a.Line != b.Line || a.Key != b.Key || a.Resp != b.Resp || a.Span != b.Span || a.FP != b.FP || a.Session != b.Session {
			t.Errorf("row %d: JSON Lines %+v, Parquet %+v", i, a, b)
		}
	}
	if files, _, err := Expand([]string{dir}); err != nil || len(files) != 1 {
		t.Errorf("a directory's .parquet files are read: %v %v", files, err)
	}
}

// A Langfuse Parquet export whose first row has no trace id is still told
// Langfuse by its columns.
func TestImportParquetFirstRowWithoutTrace(t *testing.T) {
	dir := t.TempDir()
	rows := `{"id":"o0","type":"GENERATION","trace_id":null,"start_time":"2026-11-18T10:00:00Z","end_time":"2026-11-18T10:00:01Z","name":"llm","input":null,"output":null}
{"id":"o1","type":"TOOL","trace_id":"t1","start_time":"2026-11-18T10:00:02Z","end_time":"2026-11-18T10:00:03Z","name":"charge_card","input":"{\"idempotency_key\":\"k1\",\"amount\":5}","output":"{\"id\":\"r1\"}"}
{"id":"o2","type":"TOOL","trace_id":"t1","start_time":"2026-11-18T10:00:32Z","end_time":"2026-11-18T10:00:33Z","name":"charge_card","input":"{\"idempotency_key\":\"k1\",\"amount\":5}","output":"{\"id\":\"r2\"}"}
`
	src := write(t, dir, "obs.jsonl", []byte(rows))
	pq := filepath.Join(dir, "obs.parquet")
	d := openMem(t)
	writeParquet(t, d, src, pq)
	st, err := d.IngestFile(context.Background(), pq)
	if err != nil || st.Format != FormatLangfuse || st.Calls != 2 || st.Malformed != 0 {
		t.Fatalf("%+v %v", st, err)
	}
}

// TestOTLPConventions: tool spans of the other instrumentations found in
// OpenTelemetry exports are read too; other spans are not.
func TestOTLPConventions(t *testing.T) {
	sv := func(k, v string) string { return `{"key":"` + k + `","value":{"stringValue":` + strconvQuote(v) + `}}` }
	span := func(id, name string, attrs ...string) string {
		return `{"traceId":"t1","spanId":"` + id + `","name":"` + name + `","startTimeUnixNano":"1794820000000000000","endTimeUnixNano":"1794820001500000000","attributes":[` +
			strings.Join(attrs, ",") + `],"status":{"code":"STATUS_CODE_ERROR"}}`
	}
	line := `{"resourceSpans":[{"resource":{"attributes":[` + sv("gen_ai.conversation.id", "c9") + `]},"scopeSpans":[{"spans":[` + strings.Join([]string{
		span("s1", "book", sv("openinference.span.kind", "TOOL"), sv("tool.name", "book"), sv("input.value", `{"room":"A"}`), sv("output.value", `{"id":"b1"}`)),
		span("s2", "ai.toolCall", sv("ai.toolCall.name", "pay"), sv("ai.toolCall.args", `{"amount":3}`), sv("ai.toolCall.result", `{"id":"p1"}`),
			`{"key":"http.response.status_code","value":{"intValue":"502"}}`),
		span("s3", "chat", sv("openinference.span.kind", "LLM"), sv("input.value", "hello")),
		span("s4", "execute_tool", sv("gen_ai.operation.name", "execute_tool")),
	}, ",") + `]}]}]}` + "\n"
	d := openMem(t)
	st, err := d.IngestFile(context.Background(), write(t, t.TempDir(), "otel.jsonl", []byte(line)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != FormatOTLP || st.Calls != 2 || st.Skipped != 1 || st.Malformed != 1 {
		t.Fatalf("%+v", st)
	}
	cs := importedCalls(t, d)
	if cs[0].Action != "book" || cs[0].Resp != "b1" || cs[0].Status != "error" || cs[0].Session != "c9" || cs[0].Pos != 0 ||
		cs[1].Action != "pay" || cs[1].Status != "502" || cs[1].Resp != "p1" || cs[1].Pos != 1 || !cs[1].HasDur {
		t.Errorf("calls %+v", cs)
	}
	if e := malformedErrors(t, d); len(e) != 1 || !strings.Contains(e[0], "span s4: a tool span without gen_ai.tool.name") {
		t.Errorf("malformed %q", e)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestToolMessageResult: a LangChain ToolMessage as the result gives the
// response id of its content, never the message's own id.
func TestToolMessageResult(t *testing.T) {
	runs := `{"id":"r1","trace_id":"t1","run_type":"tool","name":"charge","start_time":"2026-11-18T10:00:00","end_time":"2026-11-18T10:00:01","inputs":{"input":"{'amount': 5, 'idempotency_key': 'k1'}"},"outputs":{"output":{"content":"{\"id\": \"ch_1\"}","type":"tool","id":"msg-a","tool_call_id":"call_1","status":"success"}},"status":"success"}
{"id":"r2","trace_id":"t1","run_type":"tool","name":"charge","start_time":"2026-11-18T10:00:05","end_time":"2026-11-18T10:00:06","inputs":{"input":"{'amount': 5, 'idempotency_key': 'k1'}"},"outputs":{"output":{"content":"{\"id\": \"ch_1\"}","type":"tool","id":"msg-b","tool_call_id":"call_2","status":"success"}},"status":"success"}
{"id":"r3","trace_id":"t1","run_type":"tool","name":"charge","start_time":"2026-11-18T10:00:09","end_time":"2026-11-18T10:00:10","inputs":{"input":"{'amount': 6}"},"outputs":{"output":{"content":"Error: card declined","type":"tool","id":"msg-c","tool_call_id":"call_3","status":"error"}},"status":"success"}
`
	d := openMem(t)
	if _, err := d.IngestFile(context.Background(), write(t, t.TempDir(), "runs.jsonl", []byte(runs))); err != nil {
		t.Fatal(err)
	}
	cs := importedCalls(t, d)
	if len(cs) != 3 || cs[0].Resp != "ch_1" || cs[1].Resp != "ch_1" || cs[0].Key != "k1" || cs[2].Resp != "" || cs[2].Status != "error" {
		t.Errorf("calls %+v", cs)
	}
}

// ingestOne ingests data as one file named name into a fresh database.
func ingestOne(t *testing.T, name, data string, im *Import) (*DB, Stats) {
	t.Helper()
	d := openMem(t)
	d.Import = im
	st, err := d.IngestFile(context.Background(), write(t, t.TempDir(), name, []byte(data)))
	if err != nil {
		t.Fatal(err)
	}
	return d, st
}

// TestImportEdges: shapes real exporters and scripts produce.
func TestImportEdges(t *testing.T) {
	t.Run("pretty OTLP document: each span at its own line", func(t *testing.T) {
		doc := `{
  "resourceSpans": [
    {
      "resource": {"attributes": []},
      "scopeSpans": [
        {
          "scope": {"name": "x"},
          "spans": [
            {"traceId": "t", "spanId": "s1", "startTimeUnixNano": "1794820000000000000",
             "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}}, {"key": "gen_ai.tool.name", "value": {"stringValue": "pay"}}]},
            {"traceId": "t", "spanId": "s2", "startTimeUnixNano": "1794820001000000000",
             "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}}, {"key": "gen_ai.tool.name", "value": {"stringValue": "pay"}}]}
          ]
        }
      ]
    }
  ]
}
`
		d, st := ingestOne(t, "otel.json", doc, nil)
		cs := importedCalls(t, d)
		if st.Format != FormatOTLP || len(cs) != 2 || cs[0].Line != 9 || cs[1].Line != 11 {
			t.Errorf("%+v %+v", st, cs)
		}
	})
	t.Run("pretty OTLP documents in an array: each span at its own line", func(t *testing.T) {
		// jq -s . of a Collector export; Tempo's {"batches": ...} too
		span := func(id string) string {
			return `{"traceId": "t", "spanId": "` + id + `", "startTimeUnixNano": "1794820000000000000",
                "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}}, {"key": "gen_ai.tool.name", "value": {"stringValue": "pay"}}]}`
		}
		doc := `[
  {
    "resourceSpans": [
      {
        "resource": {"attributes": []},
        "scopeSpans": [
          {
            "scope": {"name": "x"},
            "spans": [
              ` + span("s1") + `,
              ` + span("s2") + `
            ]
          }
        ]
      }
    ]
  },
  {
    "batches": [
      {
        "scopeSpans": [{"spans": [
              ` + span("s3") + `
        ]}]
      }
    ]
  },
  {"resourceSpans": [{"scopeSpans": [{"spans": [` + span("s4") + `]}]}]}
]
`
		d, st := ingestOne(t, "otel.json", doc, nil)
		cs := importedCalls(t, d)
		if st.Format != FormatOTLP || len(cs) != 4 || cs[0].Line != 10 || cs[0].Span != "s1" || cs[1].Line != 12 || cs[1].Span != "s2" ||
			cs[2].Line != 24 || cs[2].Span != "s3" || cs[3].Line != 30 || cs[3].Span != "s4" {
			t.Errorf("%+v %+v", st, cs)
		}
	})
	t.Run("invalid UTF-8 in a one-record document", func(t *testing.T) {
		_, st := ingestOne(t, "run.json", "{\n \"run_type\":\"tool\",\"name\":\"pay\",\"id\":\"r1\",\n \"inputs\":{\"to\":\"\xff\"}\n}\n", nil)
		if st.Calls != 0 || st.Malformed != 1 {
			t.Errorf("%+v", st)
		}
	})
	t.Run("one array per line is JSON Lines", func(t *testing.T) {
		_, st := ingestOne(t, "pages.jsonl", `[{"run_type":"tool","name":"a","id":"r1"}]`+"\n"+`[{"run_type":"tool","name":"b","id":"r2"}]`+"\n", nil)
		if st.Calls != 2 || st.Malformed != 0 {
			t.Errorf("%+v", st)
		}
		_, st = ingestOne(t, "calls.json", `[{"action_type":"a"},{"action_type":"b"}]`, nil)
		if st.Calls != 2 || st.Malformed != 0 {
			t.Errorf("one line holding an array of calls: %+v", st)
		}
	})
	t.Run("a mapped call with a list member is one call", func(t *testing.T) {
		im := &Import{}
		im.AddMap("action_type=tool.name")
		d, st := ingestOne(t, "m.jsonl", `{"tool":{"name":"pay"},"items":[{"sku":"a"}],"args":"{'x': 1}"}`+"\n", im)
		if st.Calls != 1 || st.Malformed != 0 {
			t.Fatalf("%+v", st)
		}
		// args are read as JSON only, as in the own format: the Python literal stays a string
		plain := parseWith(t, nil, `{"action_type":"pay","args":"{'x': 1}"}`)
		if cs := importedCalls(t, d); cs[0].FP != duckUUID(plain.FP) {
			t.Errorf("fingerprint %s, own format %s", cs[0].FP, duckUUID(plain.FP))
		}
	})
	t.Run("OpenAI Agents spans get their trace's group_id", func(t *testing.T) {
		d, _ := ingestOne(t, "a.jsonl", `{"object":"trace.span","id":"s1","trace_id":"tr","started_at":"2026-11-18T10:00:00Z","ended_at":"2026-11-18T10:00:01Z","span_data":{"type":"function","name":"pay","input":"{}"}}
{"object":"trace","id":"tr","workflow_name":"w","group_id":"conv_9"}
{"object":"trace.span","id":"s2","trace_id":"tr","started_at":"2026-11-18T10:01:00Z","span_data":{"type":"function","name":"pay","input":"{}"}}
`, nil)
		cs := importedCalls(t, d)
		if len(cs) != 2 || cs[0].Session != "conv_9" || cs[1].Session != "conv_9" || cs[0].Status != "ok" || cs[1].Status != "" {
			t.Errorf("%+v (a span that never ended has no status)", cs)
		}
	})
	t.Run("a Langfuse observation that never ended has no status", func(t *testing.T) {
		d, _ := ingestOne(t, "o.jsonl", `{"id":"o1","traceId":"t","type":"TOOL","name":"charge","startTime":"2026-11-18T10:00:00Z","endTime":null,"level":"DEFAULT","input":{"a":1}}`+"\n", nil)
		if cs := importedCalls(t, d); len(cs) != 1 || cs[0].Status != "" {
			t.Errorf("%+v", cs)
		}
	})
	t.Run("MCP client and server spans of one call are one call, the attempts of a retry are not", func(t *testing.T) {
		attrs := `"attributes":[{"key":"mcp.method.name","value":{"stringValue":"tools/call"}},{"key":"gen_ai.tool.name","value":{"stringValue":"send_sms"}},{"key":"mcp.request.argument.amount","value":{"doubleValue":"Infinity"}}]`
		line := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"t","spanId":"c1","kind":3,"startTimeUnixNano":"1794820000000000000",` + attrs + `}]}]},` +
			`{"scopeSpans":[{"spans":[{"traceId":"t","spanId":"s1","parentSpanId":"c1","kind":2,"startTimeUnixNano":"1794820000100000000",` + attrs + `}]}]}]}` + "\n"
		d, st := ingestOne(t, "mcp.jsonl", line, nil)
		if cs := importedCalls(t, d); len(cs) != 1 || cs[0].Span != "s1" || st.Collapsed != 1 || st.Malformed != 0 {
			t.Errorf("%+v %+v (a double written as \"Infinity\" keeps the call)", st, cs)
		}
		// the server's batch on a line (a file) of its own, read first
		parts := strings.SplitN(line, `]},{"scopeSpans"`, 2)
		client, server := parts[0]+"]}]}\n", `{"resourceSpans":[{"scopeSpans"`+parts[1]
		d = openMem(t)
		dir := t.TempDir()
		for _, f := range []struct{ name, data string }{{"server.jsonl", server}, {"client.jsonl", client}} {
			if _, err := d.IngestFile(context.Background(), write(t, dir, f.name, []byte(f.data))); err != nil {
				t.Fatal(err)
			}
		}
		if cs := importedCalls(t, d); len(cs) != 1 || cs[0].Span != "s1" {
			t.Errorf("client and server spans in two exports: %+v", cs)
		}
		// a client that retried: two attempts under one tool span are two calls
		attempt := func(id, status string) string {
			return `{"traceId":"t","spanId":"` + id + `","parentSpanId":"p","startTimeUnixNano":"1794820000000000000","status":{"code":` + status + `},` + attrs + `}`
		}
		retried := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"t","spanId":"p","startTimeUnixNano":"1794820000000000000",` + attrs + `},` +
			attempt("a1", "2") + `,` + attempt("a2", "1") + `]}]}]}` + "\n"
		d, st = ingestOne(t, "retry.jsonl", retried, nil)
		if cs := importedCalls(t, d); len(cs) != 2 || cs[0].Span != "a1" || cs[0].Status != "error" || cs[1].Span != "a2" || st.Collapsed != 1 {
			t.Errorf("attempts under one span: %+v %+v", st, cs)
		}
	})
	t.Run("a key in the args wins over one in the attributes, and leaves the fingerprint", func(t *testing.T) {
		span := func(id, key string) string {
			return `{"traceId":"t","spanId":"` + id + `","startTimeUnixNano":"1794820000000000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},` +
				`{"key":"gen_ai.tool.name","value":{"stringValue":"pay"}},{"key":"idempotency_key","value":{"stringValue":"attr-k"}},` +
				`{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"amount\":5,\"Idempotency-Key\":\"` + key + `\"}"}}]}`
		}
		d, _ := ingestOne(t, "k.jsonl", `{"resourceSpans":[{"scopeSpans":[{"spans":[`+span("a", "k1")+`,`+span("b", "k2")+`]}]}]}`+"\n", nil)
		cs := importedCalls(t, d)
		if len(cs) != 2 || cs[0].Key != "k1" || cs[1].Key != "k2" || cs[0].FP != cs[1].FP {
			t.Errorf("%+v", cs)
		}
	})
	t.Run("a Parquet file name with glob characters", func(t *testing.T) {
		dir := t.TempDir()
		d := openMem(t)
		for _, name := range []string{"runs[1].parquet", "runs1.parquet"} {
			n := "2"
			if name == "runs1.parquet" {
				n = "5"
			}
			if _, err := d.Conn.ExecContext(context.Background(), "COPY (SELECT 'tool' AS run_type, 'pay' AS name, 'r' || range AS id FROM range("+n+")) TO "+
				quoteLiteral(filepath.Join(dir, name))+" (FORMAT parquet)"); err != nil {
				t.Fatal(err)
			}
		}
		st, err := d.IngestFile(context.Background(), filepath.Join(dir, "runs[1].parquet"))
		if err != nil || st.Calls != 2 || st.Lines != 2 {
			t.Errorf("%+v %v", st, err)
		}
	})
}

func duckUUID(b [16]byte) string {
	const hex = "0123456789abcdef"
	var out []byte
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

func TestPyObjects(t *testing.T) {
	for in, want := range map[string]string{
		`Voucher(id='vch_1', status='issued', amount=5)`: `{"amount":5,"id":"vch_1","status":"issued"}`,
		`id='vch_1' status='issued'`:                     `{"id":"vch_1","status":"issued"}`,
		`Outer(inner=Inner(x=None), tags=['a'])`:         `{"inner":{"x":null},"tags":["a"]}`,
		// values JSON has no form for are kept as their text, so the
		// object holding them (and its id) is read all the same
		`{'id': 'ch_1', 'amount': Decimal('49.99'), 'created': datetime.datetime(2026, 3, 10, 14, 0, tzinfo=datetime.timezone.utc)}`: `{"amount":"Decimal('49.99')","created":"datetime.datetime(2026, 3, 10, 14, 0, tzinfo=datetime.timezone.utc)","id":"ch_1"}`,
		`{'id': 'ch_1', 'status': <ChargeStatus.PAID: 'paid>'>, 'tags': {'vip'}, 'raw': b'\x00', 'limit': inf}`:                      `{"id":"ch_1","limit":"inf","raw":"b'\\x00'","status":"\u003cChargeStatus.PAID: 'paid\u003e'\u003e","tags":["vip"]}`,
		`Charge(id='ch_1', customer=UUID('5f0c6a4e-2d3b-4c1a-9e8f-0a1b2c3d4e5f'), on=datetime.date(2026, 3, 10))`:                    `{"customer":"UUID('5f0c6a4e-2d3b-4c1a-9e8f-0a1b2c3d4e5f')","id":"ch_1","on":"datetime.date(2026, 3, 10)"}`,
		`id='ch_1' amount=Decimal('49.99')`: `{"amount":"Decimal('49.99')","id":"ch_1"}`,
		`{1, 2}`:                            `[1,2]`,
	} {
		v, ok := pyLiteral(in)
		b, _ := json.Marshal(v)
		if !ok || string(b) != want {
			t.Errorf("pyLiteral(%q) = %s %v, want %s", in, b, ok, want)
		}
	}
	for _, bad := range []string{`id=`, `Voucher(id='x'`, `hello world`, `ok`, `a=b`, `{'a': Decimal('1'}`, `{'s': <Status.PAID: 'paid'}`,
		`{'a': datetime.}`, `{'a': b'x}`, `{1, 2: 3}`, `{'a', }x`} {
		if v, ok := pyLiteral(bad); ok {
			t.Errorf("pyLiteral(%q) = %v, want a failure", bad, v)
		}
	}
}

func TestToolResultEnvelopes(t *testing.T) {
	cases := []struct {
		in     string
		want   string
		failed bool
	}{
		{`{"content":[{"type":"text","text":"{\"id\": \"TCK-1\"}"}],"isError":false}`, `{"id":"TCK-1"}`, false},
		{`{"content":[{"type":"text","text":"boom"}],"structuredContent":{"id":"s1"},"isError":true}`, `{"id":"s1"}`, true},
		{`{"lc":1,"type":"constructor","id":["langchain","schema","messages","ToolMessage"],"kwargs":{"content":"{\"id\": \"x1\"}","tool_call_id":"call_9","status":"success"}}`, `{"id":"x1"}`, false},
		{`{"type":"text","text":"{\"id\": \"t1\"}"}`, `{"id":"t1"}`, false},
		{`{"id":"post_1","content":"hello"}`, `{"content":"hello","id":"post_1"}`, false},
	}
	for _, c := range cases {
		v, _ := decodeJSON([]byte(c.in))
		got, failed := toolResult(v)
		b, _ := json.Marshal(got)
		if string(b) != c.want || failed != c.failed {
			t.Errorf("toolResult(%s) = %s %v, want %s %v", c.in, b, failed, c.want, c.failed)
		}
	}
}

// TestCollapseKeepsTheFinishedCopy: of a call exported while it ran and
// again once it ended, the finished copy stays, whichever is read first.
func TestCollapseKeepsTheFinishedCopy(t *testing.T) {
	pending := `{"id":"r1","trace_id":"t","run_type":"tool","name":"ship","start_time":"2026-11-18T09:00:00","end_time":null,"status":"pending","inputs":{"input":"{}"},"outputs":null}` + "\n"
	done := `{"id":"r1","trace_id":"t","run_type":"tool","name":"ship","start_time":"2026-11-18T09:00:00","end_time":"2026-11-18T09:00:02","status":"success","inputs":{"input":"{}"},"outputs":{"output":"{\"id\": \"shp_A2\"}"}}` + "\n"
	for _, order := range [][2]string{{pending, done}, {done, pending}} {
		d := openMem(t)
		dir := t.TempDir()
		for i, data := range order {
			if _, err := d.IngestFile(context.Background(), write(t, dir, fmt.Sprintf("export-%d.jsonl", i), []byte(data))); err != nil {
				t.Fatal(err)
			}
		}
		cs := importedCalls(t, d)
		var n int64
		d.Conn.QueryRowContext(context.Background(), "SELECT sum(calls) FROM sources").Scan(&n)
		if len(cs) != 1 || cs[0].Resp != "shp_A2" || cs[0].Status != "success" || n != 1 {
			t.Errorf("%+v, sources count %d calls", cs, n)
		}
	}
}

func TestDocumentShapes(t *testing.T) {
	t.Run("documents in a row (jq . of JSON Lines)", func(t *testing.T) {
		doc := "{\n  \"run_type\": \"tool\", \"name\": \"a\", \"id\": \"r1\"\n}\n{\n  \"run_type\": \"tool\", \"name\": \"b\", \"id\": \"r2\"\n}\n[\n {\"run_type\": \"tool\", \"name\": \"c\", \"id\": \"r3\"}\n]\n"
		d, st := ingestOne(t, "runs.json", doc, nil)
		if got := rows(t, d); st.Calls != 3 || strings.Join(got, " ") != "runs.json:1:a runs.json:4:b runs.json:8:c" {
			t.Errorf("%+v %q", st, got)
		}
	})
	t.Run("a Langfuse trace with its observations gives them its session", func(t *testing.T) {
		doc := `{"id": "tr1", "name": "agent", "sessionId": "sess-42", "observations": [
  {"id": "o1", "traceId": "tr1", "type": "TOOL", "name": "pay", "startTime": "2026-11-18T10:00:00Z", "endTime": "2026-11-18T10:00:01Z", "input": {"a": 1}}
]}
`
		d, _ := ingestOne(t, "trace.json", doc, &Import{From: FormatLangfuse})
		if cs := importedCalls(t, d); len(cs) != 1 || cs[0].Session != "sess-42" || cs[0].Line != 2 {
			t.Errorf("%+v", cs)
		}
	})
	t.Run("an empty page is no error", func(t *testing.T) {
		_, st := ingestOne(t, "page.json", "{\n  \"data\": [],\n  \"meta\": {\"page\": 3, \"totalPages\": 2}\n}\n", nil)
		if st.Calls != 0 || st.Malformed != 0 {
			t.Errorf("%+v", st)
		}
	})
}

// TestRereadGivesBackCopies: a source read anew (here, wrongly, as another
// format) gives back the copies of its spans other sources had set aside.
func TestRereadGivesBackCopies(t *testing.T) {
	pending := `{"id":"r1","trace_id":"t","run_type":"tool","name":"ship","start_time":"2026-11-18T09:00:00","end_time":null,"status":"pending","inputs":{"input":"{}"}}` + "\n"
	done := `{"id":"r1","trace_id":"t","run_type":"tool","name":"ship","start_time":"2026-11-18T09:00:00","end_time":"2026-11-18T09:00:02","status":"success","inputs":{"input":"{}"},"outputs":{"output":"{\"id\": \"shp_A2\"}"}}` + "\n"
	d := openMem(t)
	dir := t.TempDir()
	a, b := write(t, dir, "a.jsonl", []byte(pending)), write(t, dir, "b.jsonl", []byte(done))
	for _, f := range []string{a, b} {
		if _, err := d.IngestFile(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	if cs := importedCalls(t, d); len(cs) != 1 || cs[0].Resp != "shp_A2" {
		t.Fatalf("%+v", cs)
	}
	d.Import = &Import{From: FormatOpenAIAgents}
	st, err := d.IngestFile(context.Background(), b)
	if err != nil || st.Status != StatusReread || st.Calls != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	cs := importedCalls(t, d)
	var calls, collapsed int64
	d.Conn.QueryRowContext(context.Background(), "SELECT sum(calls), sum(collapsed) FROM sources").Scan(&calls, &collapsed)
	if len(cs) != 1 || cs[0].Status != "pending" || calls != 1 || collapsed != 0 {
		t.Errorf("after b was read as something else: %+v; sources count %d calls, %d collapsed", cs, calls, collapsed)
	}
}

// TestLoggedTwice: one call in an idemaudit log and in a trace export is one
// call (the log line stays), whichever is read first; a log's own retries
// sharing a span id stay two.
func TestLoggedTwice(t *testing.T) {
	log := `{"ts":"2026-11-18T10:00:00.000Z","action_type":"send_email","trace_id":"t1","span_id":"s1","status":"timeout","args":{"to":"a"}}
{"ts":"2026-11-18T10:00:40.000Z","action_type":"send_email","trace_id":"t1","span_id":"s1","status":"ok","response_id":"m2","args":{"to":"a"}}
`
	export := `{"object":"trace.span","id":"s1","trace_id":"t1","started_at":"2026-11-18T10:00:00.050Z","ended_at":"2026-11-18T10:00:30Z","span_data":{"type":"function","name":"send_email","input":"{\"to\": \"a\"}"},"error":{"message":"timeout"}}
`
	for _, order := range [][2]string{{"log", "export"}, {"export", "log"}} {
		d := openMem(t)
		dir := t.TempDir()
		files := map[string]string{"log": write(t, dir, "agent.jsonl", []byte(log)), "export": write(t, dir, "trace.jsonl", []byte(export))}
		for _, name := range order {
			if _, err := d.IngestFile(context.Background(), files[name]); err != nil {
				t.Fatal(err)
			}
		}
		var calls, fromLog int64
		d.Conn.QueryRowContext(context.Background(), `SELECT count(*), count(*) FILTER (WHERE s.format = 'jsonl') FROM calls JOIN sources s USING (source_id)`).Scan(&calls, &fromLog)
		if calls != 2 || fromLog != 2 {
			t.Errorf("order %v: %d calls, %d from the log; want the log's 2", order, calls, fromLog)
		}
	}
}

// A record of an export followed by a stray '}' or ']' is malformed, as a
// log line with trailing data is (found by FuzzImport).
func TestImportTrailingData(t *testing.T) {
	for _, tail := range []string{"}", "]", " x", "{}"} {
		p := Parser{conv: (&convSpec{FormatLangSmith, &Import{}}).converter()}
		var b batch
		p.importLine([]byte(`{"run_type":"tool","name":"refund","inputs":{"a":1}}`+tail), 3, &b)
		if len(b.records) != 0 || len(b.malformed) != 1 || !strings.Contains(b.malformed[0].Error, "trailing data") {
			t.Errorf("tail %q: %d calls, malformed %+v", tail, len(b.records), b.malformed)
		}
	}
}

// A wrapper span exported twice with two conversations: the attempts under
// it take the conversation of the copy read first, whatever order the
// calls table holds them in.
func TestImportWrapperCopiesGiveTheFirstSession(t *testing.T) {
	span := func(id, parent, session string) string {
		s := `{"traceId":"t","spanId":"` + id + `","startTimeUnixNano":"1794820000000000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"send_sms"}}`
		if session != "" {
			s += `,{"key":"gen_ai.conversation.id","value":{"stringValue":"` + session + `"}}`
		}
		s += `]`
		if parent != "" {
			s += `,"parentSpanId":"` + parent + `"`
		}
		return s + `}`
	}
	export := func(spans ...string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}` + "\n"
	}
	for _, first := range []string{"sess-A", "sess-B"} {
		second := map[string]string{"sess-A": "sess-B", "sess-B": "sess-A"}[first]
		for i := 0; i < 3; i++ {
			d, _ := ingestOne(t, "w.jsonl", export(span("p", "", first))+export(span("p", "", second))+
				export(span("a1", "p", ""), span("a2", "p", "")), nil)
			cs := importedCalls(t, d)
			if len(cs) != 2 || cs[0].Session != first || cs[1].Session != first {
				t.Fatalf("wrapper copies with %s then %s: %+v, want the attempts in %s", first, second, cs, first)
			}
		}
	}
}

// TestOpenLLMetryToolSpans: OpenLLMetry (Traceloop) writes a tool's input
// and output in envelopes. Its LangChain callback handler: {"input_str",
// "tags", "metadata", "inputs", "kwargs"} and {"output": ToolMessage,
// "kwargs"}; its @tool decorator: {"args": [...], "kwargs": {...}} and the
// return value as JSON. The args are the tool's own (never LangGraph's
// per-step metadata), so one operation has one fingerprint however it was
// traced, and the key and response id are found inside.
func TestOpenLLMetryToolSpans(t *testing.T) {
	sv := func(k, v string) string { return `{"key":"` + k + `","value":{"stringValue":` + strconvQuote(v) + `}}` }
	span := func(id, tool string, sec int, attrs ...string) string {
		return `{"traceId":"db8efff798038103d269b633813fc60c","spanId":"` + id + `","name":"` + tool + `.tool","startTimeUnixNano":"17948200` +
			fmt.Sprintf("%02d", sec) + `000000000","endTimeUnixNano":"17948200` + fmt.Sprintf("%02d", sec+1) + `000000000","attributes":[` +
			sv("traceloop.span.kind", "tool") + "," + sv("traceloop.entity.name", tool) + "," + strings.Join(attrs, ",") + `],"status":{}}`
	}
	lcIn := func(step int, inputs, inputStr string) string {
		in := `{"input_str": ` + strconvQuote(inputStr) + `, "tags": ["seq:step:1"], "metadata": {"thread_id": "thr_1", "langgraph_step": ` +
			fmt.Sprint(step) + `, "langgraph_node": "tools", "checkpoint_ns": "tools:` + fmt.Sprint(step) + `"}`
		if inputs != "" {
			in += `, "inputs": ` + inputs
		}
		return sv("traceloop.entity.input", in+`, "kwargs": {"color": "green", "name": "charge_card"}}`)
	}
	toolMessage := func(content, call string) string {
		return sv("traceloop.entity.output", `{"output": {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "ToolMessage"], "kwargs": {"content": `+
			strconvQuote(content)+`, "type": "tool", "name": "charge_card", "tool_call_id": "`+call+`", "status": "success"}}, "kwargs": {"color": "green", "name": "charge_card"}}`)
	}
	charge := `{"customer": "cus_9", "amount": 2000, "idempotency_key": "chg-42"}`
	pyCharge := `{'customer': 'cus_9', 'amount': 2000, 'idempotency_key': 'chg-42'}`
	spans := []string{
		// LangChain (LangGraph's ToolNode), two steps of one thread
		span("e000000000000001", "charge_card", 0, lcIn(1, charge, pyCharge), toolMessage(`{"id": "ch_1"}`, "call_1")),
		span("e000000000000002", "charge_card", 10, lcIn(2, charge, pyCharge), toolMessage(`{"id": "ch_2"}`, "call_2")),
		// an older handler: no inputs, the input string a Python repr; a plain string output
		span("e000000000000003", "charge_card", 20, lcIn(3, "", pyCharge),
			sv("traceloop.entity.output", `{"output": "{'id': 'ch_3'}", "kwargs": {"color": "green", "name": "charge_card"}}`)),
		// the @tool decorator: keyword arguments; one object passed positionally, a JSON string returned
		span("e000000000000004", "charge_card", 30, sv("traceloop.entity.input", `{"args": [], "kwargs": `+charge+`}`),
			sv("traceloop.entity.output", `{"id": "ch_4"}`)),
		span("e000000000000005", "charge_card", 40, sv("traceloop.entity.input", `{"args": [`+charge+`], "kwargs": {}}`),
			sv("traceloop.entity.output", strconvQuote(`{"id": "ch_5"}`))),
		// positional arguments and the key as a keyword one
		span("e000000000000006", "create_invoice", 50, sv("traceloop.entity.input", `{"args": ["cus_9", 4200], "kwargs": {"idempotency_key": "inv-7"}}`),
			sv("traceloop.entity.output", `{"id": "in_1"}`)),
		span("e000000000000007", "create_invoice", 55, sv("traceloop.entity.input", `{"args": ["cus_9", 4200], "kwargs": {"idempotency_key": "inv-8"}}`),
			sv("traceloop.entity.output", `{"id": "in_2"}`)),
	}
	// the same charge as the GenAI conventions write it: the fingerprint to match
	ref := `{"traceId":"db8efff798038103d269b633813fc60c","spanId":"e000000000000009","name":"execute_tool charge_card","startTimeUnixNano":"1794820090000000000","attributes":[` +
		sv("gen_ai.operation.name", "execute_tool") + "," + sv("gen_ai.tool.name", "charge_card") + "," +
		sv("gen_ai.tool.call.arguments", `{"customer":"cus_9","amount":2000,"idempotency_key":"other"}`) + `]}`
	line := `{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"spans":[` + strings.Join(append(spans, ref), ",") + `]}]}]}` + "\n"
	d, st := ingestOne(t, "openllmetry.jsonl", line, nil)
	if st.Calls != 8 || st.Malformed != 0 {
		t.Fatalf("%+v", st)
	}
	cs := importedCalls(t, d)
	ch := byAction(cs, "charge_card")
	for i, c := range ch[:5] {
		if want := fmt.Sprintf("ch_%d", i+1); c.Key != "chg-42" || c.Resp != want {
			t.Errorf("charge %d: key %q response %q, want chg-42 %s", i+1, c.Key, c.Resp, want)
		}
	}
	for _, c := range ch {
		if c.FP != ch[5].FP {
			t.Errorf("span %s: fingerprint %s, the GenAI span's %s (args other than the tool's own)", c.Span, c.FP, ch[5].FP)
		}
	}
	inv := byAction(cs, "create_invoice")
	if len(inv) != 2 || inv[0].Key != "inv-7" || inv[1].Key != "inv-8" || inv[0].Resp != "in_1" || inv[1].Resp != "in_2" || inv[0].FP != inv[1].FP {
		t.Errorf("invoices %+v", inv)
	}
}

// More OTLP shapes from the tools' own code: the Vercel AI SDK's v5 line
// names a tool call's args and result ai.toolCall.input / .output (v4:
// .args / .result); OpenInference's OpenAI Agents processor marks
// handoffs with the TOOL span kind, though they are no tool call.
func TestOTLPVercelInputOutputAndHandoffs(t *testing.T) {
	span := func(id, name string, attrs ...string) string {
		a := ""
		for i := 0; i+1 < len(attrs); i += 2 {
			if a != "" {
				a += ","
			}
			a += `{"key":` + strconvQuote(attrs[i]) + `,"value":{"stringValue":` + strconvQuote(attrs[i+1]) + `}}`
		}
		return `{"traceId":"8b8efff798038103d269b633813fc60c","spanId":"` + id + `","name":` + strconvQuote(name) +
			`,"startTimeUnixNano":"1763456000000000000","endTimeUnixNano":"1763456000500000000","attributes":[` + a + `],"status":{}}`
	}
	d, st := ingestOne(t, "otel.jsonl", otlpLine(
		span("1111111111111111", "ai.toolCall", "ai.toolCall.name", "charge_card", "ai.toolCall.id", "call_1",
			"ai.toolCall.input", `{"amount":5,"idempotencyKey":"k1"}`, "ai.toolCall.output", `{"id":"ch_1"}`),
		span("2222222222222222", "handoff to Refunds", "openinference.span.kind", "TOOL", "session.id", "sess-9"),
		span("3333333333333333", "handoff to Refunds", "openinference.span.kind", "TOOL", "session.id", "sess-9")), nil)
	cs := importedCalls(t, d)
	if len(cs) != 1 || cs[0].Action != "charge_card" || cs[0].Key != "k1" || cs[0].Resp != "ch_1" {
		t.Errorf("calls %+v; want only charge_card with key k1 and response ch_1", cs)
	}
	if st.Skipped != 2 {
		t.Errorf("%d records skipped as no tool call; want the 2 handoffs", st.Skipped)
	}
}

// A line holding an array of calls goes through the converter; its calls
// are held to the line parser's rules: an action_type that is no string
// is malformed there as on a line of its own.
func TestArrayLineActionTypeMustBeString(t *testing.T) {
	d := openMem(t)
	path := write(t, t.TempDir(), "log.jsonl", []byte(`[{"ts":"2026-11-16T09:00:00Z","action_type":"a"},{"ts":"2026-11-16T09:00:00Z","action_type":42}]`+"\n"+
		`[{"ts":"2026-11-16T09:01:00Z","action_type":true}]`+"\n"))
	st, err := d.IngestFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	got := queryStrings(t, d, "SELECT line || ' ' || error FROM malformed ORDER BY line")
	if st.Calls != 1 || len(got) != 2 || !strings.Contains(got[0], "action_type must be a string") || !strings.HasPrefix(got[1], "2 ") {
		t.Errorf("%d calls, malformed %q; want 1 call, lines 1 and 2 malformed (action_type must be a string)", st.Calls, got)
	}
}
