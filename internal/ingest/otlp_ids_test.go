package ingest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// tempoID writes a hex id as Grafana Tempo's trace API does: base64.
func tempoID(t *testing.T, h string) string {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestOTLPID: base64 trace and span ids (16 and 8 bytes) become lowercase
// hex; a hex id, or anything else, stays as it is.
func TestOTLPID(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for in, want := range map[string]string{
		"q47/95gDgQPSabYzgT/GDA==":         "ab8efff798038103d269b633813fc60c", // Tempo's trace id
		"ERERERERERE=":                     "1111111111111111",                 // Tempo's span id
		"AAAAAAAAAAA=":                     "0000000000000000",
		"ab8efff798038103d269b633813fc60c": "ab8efff798038103d269b633813fc60c", // hex: the Collector's, untouched
		"AB8EFFF798038103D269B633813FC60C": "AB8EFFF798038103D269B633813FC60C",
		"1111111111111111":                 "1111111111111111",
		"ab8efff798038103d269b633":         "ab8efff798038103d269b633", // 24 hex digits: valid base64 of 18 bytes, no padding
		"ab8efff79803":                     "ab8efff79803",             // 12 hex digits: base64 of 9 bytes
		"abcdefabcdefabcdefabcdef":         "abcdefabcdefabcdefabcdef",
		b64(make([]byte, 17)):              b64(make([]byte, 17)), // 24 characters with padding, but 17 bytes
		b64(make([]byte, 7)):               b64(make([]byte, 7)),
		"q47_95gDgQPSabYzgT_GDA==":         "q47_95gDgQPSabYzgT_GDA==", // URL alphabet: not what Tempo writes
		"q47/95gDgQPSabYzgT/GDB==":         "q47/95gDgQPSabYzgT/GDB==", // stray bits in the padding: not a canonical encoding
		"q47/95gDgQPSabYz gT/GD=":          "q47/95gDgQPSabYz gT/GD=",
		"ERERERERERE":                      "ERERERERERE", // unpadded
		"":                                 "",
		"s1":                               "s1",
	} {
		if got := otlpID(in); got != want {
			t.Errorf("otlpID(%q) = %q, want %q", in, got, want)
		}
	}
	// every 16- and 8-character hex id stays: neither length is a base64 id's
	for _, h := range []string{strings.Repeat("0", 32), strings.Repeat("f", 16), "0123456789abcdef", "00f067aa0ba902b7"} {
		if got := otlpID(h); got != h {
			t.Errorf("hex id %q became %q", h, got)
		}
	}
}

// TestTempoBase64IDs: the same span exported by the Collector (hex ids)
// and fetched from Tempo's trace API (base64 ids, {"batches": [...]}) is
// one call; a wrapper is told through the spans between, whichever form
// each export writes their ids in.
func TestTempoBase64IDs(t *testing.T) {
	const trace = "ab8efff798038103d269b633813fc60c"
	span := func(tr, id, parent, name, attrs string) string {
		s := `{"traceId":"` + tr + `","spanId":"` + id + `"`
		if parent != "" {
			s += `,"parentSpanId":"` + parent + `"`
		}
		return s + `,"name":"` + name + `","startTimeUnixNano":"1763456045000000000","endTimeUnixNano":"1763456046000000000","attributes":[` + attrs + `],"status":{}}`
	}
	tool := `{"key":"gen_ai.tool.name","value":{"stringValue":"send_email"}},{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"to\":\"ana@example.com\"}"}}`
	exec := `{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},` + tool
	collector := func(spans ...string) string {
		return `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}` + "\n"
	}
	tempo := func(spans ...string) string {
		return `{"batches":[{"resource":{},"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}`
	}
	ingest := func(t *testing.T, files map[string]string, order ...string) (calls, collapsed int64) {
		t.Helper()
		d := openMem(t)
		dir := t.TempDir()
		for _, name := range order {
			if _, err := d.IngestFile(context.Background(), write(t, dir, name, []byte(files[name]))); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Conn.QueryRowContext(context.Background(), "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM collapsed_calls)").Scan(&calls, &collapsed); err != nil {
			t.Fatal(err)
		}
		for _, c := range importedCalls(t, d) {
			if c.Trace != trace {
				t.Errorf("call %+v: trace id not in hex", c)
			}
		}
		return calls, collapsed
	}
	t.Run("one span, two exports", func(t *testing.T) {
		files := map[string]string{
			"collector.jsonl": collector(span(trace, "1111111111111111", "", "execute_tool send_email", exec)),
			"tempo.json":      tempo(span(tempoID(t, trace), tempoID(t, "1111111111111111"), "", "execute_tool send_email", exec)),
		}
		for _, order := range [][]string{{"collector.jsonl", "tempo.json"}, {"tempo.json", "collector.jsonl"}} {
			if calls, collapsed := ingest(t, files, order...); calls != 1 || collapsed != 1 {
				t.Errorf("%v: %d calls, %d collapsed; want one call, one telemetry duplicate", order, calls, collapsed)
			}
		}
	})
	t.Run("a wrapper through an HTTP span of the other export", func(t *testing.T) {
		const a, x, b = "a000000000000001", "c000000000000001", "b000000000000001"
		mcp := `{"key":"mcp.method.name","value":{"stringValue":"tools/call"}},` + tool
		http := `{"key":"http.request.method","value":{"stringValue":"POST"}}`
		files := map[string]string{
			// the agent's execute_tool span and the MCP server's, from the Collector
			"tools.jsonl": collector(span(trace, a, "", "execute_tool send_email", exec), span(trace, b, x, "tools/call send_email", mcp)),
			// the HTTP span between them, from Tempo
			"http.json": tempo(span(tempoID(t, trace), tempoID(t, x), tempoID(t, a), "POST /mcp", http)),
			// all three from Tempo
			"all.json": tempo(span(tempoID(t, trace), tempoID(t, a), "", "execute_tool send_email", exec),
				span(tempoID(t, trace), tempoID(t, x), tempoID(t, a), "POST /mcp", http),
				span(tempoID(t, trace), tempoID(t, b), tempoID(t, x), "tools/call send_email", mcp)),
		}
		for _, order := range [][]string{{"tools.jsonl", "http.json"}, {"http.json", "tools.jsonl"}, {"all.json"}} {
			if calls, collapsed := ingest(t, files, order...); calls != 1 || collapsed != 1 {
				t.Errorf("%v: %d calls, %d collapsed; want the attempt alone, the wrapper collapsed", order, calls, collapsed)
			}
		}
	})
}
