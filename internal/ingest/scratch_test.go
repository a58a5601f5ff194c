package ingest

import (
	"context"
	"os"
	"testing"
)

func TestScratch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(dir+"/a.jsonl", []byte("{\"ts\":\"2026-11-16T09:30:00Z\",\"action_type\":\"a\",\"args\":{\"x\":1}}\n\n{\"action_type\":\"a\",\"ts\":1\n{\"ts\":1763285400,\"action_type\":\"b\",\"idempotency_key\":\"k\",\"status\":504}\r\n   \n{\"action_type\":\"c\"}"), 0o644)
	d, err := Open(ctx, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, err := d.IngestFile(ctx, dir+"/a.jsonl")
	t.Logf("%+v %v", st, err)
	rows, _ := d.Conn.QueryContext(ctx, "SELECT line, action_type, ts, idempotency_key, status, status_num, fp::VARCHAR FROM calls")
	for rows.Next() {
		var l int64
		var a string
		var ts *int64
		var k, s, fp *string
		var n bool
		rows.Scan(&l, &a, &ts, &k, &s, &n, &fp)
		t.Log(l, a, ts, k, s, n, fp)
	}
	rows, _ = d.Conn.QueryContext(ctx, "SELECT line, error FROM malformed")
	for rows.Next() {
		var l int64
		var e string
		rows.Scan(&l, &e)
		t.Log(l, e)
	}
}
