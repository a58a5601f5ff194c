package ingest

import (
	"strings"
	"testing"
)

// TestNumericIDs: an idempotency key, response id or session logged as a
// JSON number is kept in the canonical number form the args use, so that
// 100, 1e2 and 100.0 are one id; a string is kept as written ("1e2" stays
// "1e2"), and the number 42 and the string "42" are one id.
func TestNumericIDs(t *testing.T) {
	own := []string{
		`{"ts":"2026-11-18T10:00:00Z","action_type":"charge","idempotency_key":42,"response_id":100,"session_id":7}`,
		`{"ts":"2026-11-18T10:00:01Z","action_type":"charge","idempotency_key":4.2e1,"response_id":1e2,"session_id":7.0}`,
		`{"ts":"2026-11-18T10:00:02Z","action_type":"charge","idempotency_key":"42","response_id":100.0,"session_id":"7"}`,
		`{"ts":"2026-11-18T10:00:03Z","action_type":"charge","idempotency_key":"4.2e1","response_id":"1e2","session_id":"7.0"}`,
		`{"ts":"2026-11-18T10:00:04Z","action_type":"charge","idempotency_key":-0,"response_id":0.50,"session_id":1E+2}`,
		`{"ts":"2026-11-18T10:00:05Z","action_type":"charge","idempotency_key":12345678901234567890123,"response_id":1e400,"session_id":-1.5e-3}`,
	}
	want := [][3]string{ // key, response, session
		{"42", "100", "7"},
		{"42", "100", "7"},
		{"42", "100", "7"},
		{"4.2e1", "1e2", "7.0"},
		{"0", "0.5", "100"},
		{"12345678901234567890123", "1e400", "-0.0015"},
	}
	check := func(t *testing.T, cs []importedCall) {
		t.Helper()
		if len(cs) != len(want) {
			t.Fatalf("%d calls, want %d", len(cs), len(want))
		}
		for i, c := range cs {
			if got := [3]string{c.Key, c.Resp, c.Session}; got != want[i] {
				t.Errorf("call %d: key, response, session %q, want %q", i+1, got, want[i])
			}
		}
	}
	t.Run("JSON Lines", func(t *testing.T) {
		d, _ := ingestOne(t, "own.jsonl", strings.Join(own, "\n")+"\n", nil)
		check(t, importedCalls(t, d))
	})
	t.Run("an array of calls (the converter)", func(t *testing.T) {
		d, _ := ingestOne(t, "own.json", "["+strings.Join(own, ",")+"]\n", nil)
		check(t, importedCalls(t, d))
	})
	t.Run("OTLP: the response id in a tool's result", func(t *testing.T) {
		span := func(id, result string, start int) string {
			return `{"traceId":"8b8efff798038103d269b633813fc60c","spanId":"` + id + `","name":"execute_tool charge",` +
				`"startTimeUnixNano":"17634560` + string(rune('0'+start)) + `0000000000",` +
				`"attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},` +
				`{"key":"gen_ai.tool.name","value":{"stringValue":"charge"}},` +
				`{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"amount\":5,\"idempotency_key\":4.2e1}"}},` +
				`{"key":"gen_ai.tool.call.result","value":{"stringValue":` + strconvQuote(result) + `}}],"status":{}}`
		}
		d, _ := ingestOne(t, "otel.jsonl", otlpLine(span("1111111111111111", `{"id":100}`, 1),
			span("2222222222222222", `{"id":1e2}`, 2), span("3333333333333333", `{"id":100.0}`, 3),
			span("4444444444444444", `{"id":"1e2"}`, 4)), nil)
		cs := importedCalls(t, d)
		var got []string
		for _, c := range cs {
			got = append(got, c.Key+"/"+c.Resp)
		}
		if strings.Join(got, " ") != "42/100 42/100 42/100 42/1e2" {
			t.Errorf("key/response of the four spans: %q, want 42/100 three times, then 42/1e2 (a string as written)", got)
		}
	})
}
