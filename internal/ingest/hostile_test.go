package ingest

// Adversarial inputs, each with its defined outcome (see README "Hostile input").

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ingestBytes(t *testing.T, data []byte) (*DB, Stats) {
	t.Helper()
	d := openMem(t)
	st, err := d.IngestFile(context.Background(), write(t, t.TempDir(), "x.jsonl", data))
	if err != nil {
		t.Fatal(err)
	}
	return d, st
}

func malformedErrors(t *testing.T, d *DB) []string {
	t.Helper()
	return queryStrings(t, d, "SELECT line || ': ' || error FROM malformed ORDER BY line")
}

// queryStrings runs a query of one text column and returns its rows.
func queryStrings(t *testing.T, d *DB, query string) []string {
	t.Helper()
	r, err := d.Conn.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHostileFiftyMegabyteLine(t *testing.T) {
	line := `{"action_type":"a","args":{"blob":"` + strings.Repeat("x", 50<<20) + `"}}`
	d, st := ingestBytes(t, []byte(line+"\n"+`{"action_type":"b"}`+"\n"))
	if st.Calls != 2 || st.Malformed != 0 {
		t.Errorf("a 50 MB line is a call like any other: %+v %v", st, malformedErrors(t, d))
	}
}

func TestHostileDeepNesting(t *testing.T) {
	deep := `{"action_type":"a","args":` + strings.Repeat(`{"a":[`, 50000) + strings.Repeat(`]}`, 50000) + `}`
	d, st := ingestBytes(t, []byte(deep+"\n"+`{"action_type":"b"}`+"\n"))
	errs := malformedErrors(t, d)
	if st.Calls != 1 || len(errs) != 1 || !strings.Contains(errs[0], "1: JSON nested deeper than 512") {
		t.Errorf("100,000 levels: %+v %v", st, errs)
	}
}

func TestHostileBytes(t *testing.T) {
	lines := []string{
		"{\"action_type\":\"a\x00\"}",                                                        // 1 raw NUL inside a string
		"\x00{\"action_type\":\"a\"}",                                                        // 2 raw NUL before the object
		`{"action_type":"nul\u0000inside"}`,                                                  // 3 an escaped NUL is a valid character
		"{\"action_type\":\"caf\xc3\"}",                                                      // 4 truncated UTF-8 sequence
		"{\"action_type\":\"\xed\xa0\x80\"}",                                                 // 5 an encoded surrogate is invalid UTF-8
		`{"action_type":"a","action_type":"b"}`,                                              // 6 duplicate member: the last wins
		`{"action_type":"a","ts":1e30}`,                                                      // 7 beyond any date
		`{"action_type":"a","ts":-1e30}`,                                                     // 8
		`{"action_type":"a","ts":17948214001234567890123}`,                                   // 9 beyond int64
		`{"action_type":"a","ts":1794821400.1234567891234}`,                                  // 10 beyond float precision: exact decimal, ns kept
		`{"action_type":"a","ts":"0001-01-01T00:00:00Z"}`,                                    // 11 before 1800
		`{"action_type":"a","ts":"2199-12-31T23:59:59Z"}`,                                    // 12 the last instant accepted
		`{"action_type":"a","ts":"2200-01-01T00:00:00Z"}`,                                    // 13
		`{"action_type":"a","args":{"n":1e400,"m":-0,"big":123456789012345678901234567890}}`, // 14 numbers are text
		"\ufeff{\"action_type\":\"bom\"}",                                                    // 15 a byte order mark is not JSON
	}
	d, st := ingestBytes(t, []byte(strings.Join(lines, "\n")))
	errs := malformedErrors(t, d)
	want := []string{
		"1: invalid JSON: control character 0x00",
		"2: not a JSON object",
		"4: invalid UTF-8 at byte 20",
		"5: invalid UTF-8 at byte 17",
		`7: ts "1e30" is out of range`,
		`8: ts "-1e30" is out of range`,
		`9: ts "17948214001234567890123" is out of range`,
		"11: unparseable ts",
		"13: unparseable ts",
		"15: not a JSON object",
	}
	if len(errs) != len(want) {
		t.Fatalf("malformed %q\nwant %q", errs, want)
	}
	for i := range want {
		if !strings.HasPrefix(errs[i], want[i]) {
			t.Errorf("line %s, want it to start %q", errs[i], want[i])
		}
	}
	if st.Calls != int64(len(lines)-len(want)) {
		t.Errorf("calls %d", st.Calls)
	}
	var action string
	var ts int64
	d.Conn.QueryRowContext(context.Background(), "SELECT action_type FROM calls WHERE line = 6").Scan(&action)
	d.Conn.QueryRowContext(context.Background(), "SELECT ts FROM calls WHERE line = 10").Scan(&ts)
	if action != "b" || ts != 1794821400123456789 {
		t.Errorf("duplicate member gave %q; precise ts gave %d", action, ts)
	}
	d.Conn.QueryRowContext(context.Background(), "SELECT action_type FROM calls WHERE line = 3").Scan(&action)
	if action != "nul\x00inside" {
		t.Errorf("escaped NUL: %q", action)
	}
}

func TestHostileManyActionTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("1M lines")
	}
	var b bytes.Buffer
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(&b, `{"action_type":"tool_%07d","idempotency_key":"k","response_id":"r","effect":"created"}`+"\n", i)
	}
	d, st := ingestBytes(t, b.Bytes())
	var n int
	d.Conn.QueryRowContext(context.Background(), "SELECT count(DISTINCT action_type) FROM calls").Scan(&n)
	if st.Calls != 1_000_000 || n != 1_000_000 {
		t.Errorf("%d calls, %d action types", st.Calls, n)
	}
}

func TestHostileOneMegabyteKey(t *testing.T) {
	key := strings.Repeat("k", 1<<20)
	data := fmt.Sprintf(`{"action_type":"a","idempotency_key":"%s","response_id":"r1"}`+"\n"+
		`{"action_type":"a","idempotency_key":"%s","response_id":"r2"}`+"\n", key, key)
	d, st := ingestBytes(t, []byte(data))
	var n int
	d.Conn.QueryRowContext(context.Background(), "SELECT count(DISTINCT idempotency_key) FROM calls WHERE length(idempotency_key) = 1048576").Scan(&n)
	if st.Calls != 2 || n != 1 {
		t.Errorf("1 MB key: %+v, %d distinct", st, n)
	}
}

func TestHostileFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.jsonl")
	if err := mkfifo(fifo); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			f.WriteString(`{"action_type":"a"}` + "\n" + `{"action_type":"b"}` + "\n")
			f.Close()
		}
	}()
	d := openMem(t)
	st, err := d.IngestFile(context.Background(), fifo)
	if err != nil || st.Calls != 2 {
		t.Errorf("a FIFO named directly is read as a stream: %+v %v", st, err)
	}
	// in a directory walk it is skipped (opening it could block forever)
	write(t, dir, "real.jsonl", []byte(`{"action_type":"a"}`))
	srcs, skipped, err := Expand([]string{dir})
	if err != nil || len(srcs) != 1 || len(skipped) != 1 || !strings.Contains(skipped[0], "not a regular file") {
		t.Errorf("expand: %q %q %v", srcs, skipped, err)
	}
}

func TestHostileLinks(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "ok.jsonl", []byte(`{"action_type":"a"}`))
	os.Symlink("nowhere.jsonl", filepath.Join(dir, "dangling.jsonl"))
	os.Symlink("loop2.jsonl", filepath.Join(dir, "loop1.jsonl"))
	os.Symlink("loop1.jsonl", filepath.Join(dir, "loop2.jsonl"))
	os.Symlink(".", filepath.Join(dir, "self"))
	srcs, _, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	d := openMem(t)
	var failed []string
	calls := int64(0)
	for _, s := range srcs {
		st, err := d.IngestFile(context.Background(), s)
		if err != nil {
			failed = append(failed, filepath.Base(s))
			continue
		}
		calls += st.Calls
	}
	if calls != 1 || strings.Join(failed, ",") != "dangling.jsonl,loop1.jsonl,loop2.jsonl" {
		t.Errorf("calls %d, failed %v", calls, failed)
	}
}
