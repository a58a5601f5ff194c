package ingest

import (
	"context"
	"testing"
)

// TestSessionFPFunc: the SQL function gives exactly the fingerprint a call
// without args or tool call id gets from its session, so the rules can tell
// such calls from those fingerprinted by args or a tool call id.
func TestSessionFPFunc(t *testing.T) {
	d, _ := ingestOne(t, "otel.jsonl", otlpLine(otlpToolSpan("1111111111111111", "send_email", "call_1", "conv_9", "", 45),
		otlpToolSpan("2222222222222222", "send_email", "", "conv_9", "", 50),
		otlpToolSpan("3333333333333333", "send_email", "", "conv_9", `{"to":"ana"}`, 55),
		otlpToolSpan("4444444444444444", "send_email", "call_4", "", "", 60)), nil)
	own, _ := ingestOne(t, "own.jsonl", `{"action_type":"charge","session_id":"s\u00e9 1"}`+"\n", nil)
	for _, c := range []struct {
		db   *DB
		want string
	}{{d, "false true false false"}, {own, "true"}} {
		var got string
		if err := c.db.Conn.QueryRowContext(context.Background(), `SELECT string_agg((fp IS NOT DISTINCT FROM `+SessionFPFunc+`(action_type, session_id))::VARCHAR, ' ' ORDER BY line, pos) FROM calls`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("fp is the session's: %s, want %s", got, c.want)
		}
	}
}
