package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func openMem(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// rows returns "line:action" for calls and "line!error" for malformed lines, by line.
func rows(t *testing.T, d *DB) []string {
	t.Helper()
	r, err := d.Conn.QueryContext(context.Background(), `
		SELECT s.path, line, action_type AS what, 0 AS bad FROM calls JOIN sources s USING (source_id)
		UNION ALL
		SELECT s.path, line, error, 1 FROM malformed JOIN sources s USING (source_id)
		ORDER BY 1, 2, 4, 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var path, what string
		var line int64
		var bad int
		if err := r.Scan(&path, &line, &what, &bad); err != nil {
			t.Fatal(err)
		}
		sep := ":"
		if bad == 1 {
			sep = "!"
		}
		out = append(out, filepath.Base(path)+sep+itoa(line)+sep+firstWord(what))
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func firstWord(s string) string { w, _, _ := strings.Cut(s, " "); return w }

const lines = "{\"action_type\":\"a\",\"ts\":1794821400}\n" + // 1
	"\n" + // 2 blank
	"{\"action_type\":\"b\",\"args\":{\"x\":\n" + // 3 truncated
	"{\"action_type\":\"c\"}\r\n" + // 4 valid, CRLF
	"   \t \n" + // 5 whitespace only
	"[1]\n" + // 6 not an object
	"{\"action_type\":\"d\",\"x\":\"\xff\"}\n" + // 7 invalid UTF-8
	"{\"action_type\":\"e\"}" // 8 no final newline

func TestIngestLineNumbers(t *testing.T) {
	d := openMem(t)
	p := write(t, t.TempDir(), "x.jsonl", []byte(lines))
	st, err := d.IngestFile(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 8 || st.Calls != 3 || st.Malformed != 3 || st.Bytes != int64(len(lines)) {
		t.Errorf("stats %+v", st)
	}
	want := []string{"x.jsonl:1:a", "x.jsonl!3!truncated", "x.jsonl:4:c", "x.jsonl!6!not", "x.jsonl!7!invalid", "x.jsonl:8:e"}
	if got := rows(t, d); !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n got  %q\n want %q", got, want)
	}
}

func TestIngestGzipAndStdin(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"named.jsonl.gz": gz(t, []byte(lines)),
		"misnamed.jsonl": gz(t, []byte(lines)),
		"plain.jsonl":    []byte(lines),
	} {
		d := openMem(t)
		st, err := d.IngestFile(context.Background(), write(t, dir, name, data))
		if err != nil || st.Calls != 3 || st.Malformed != 3 || st.Lines != 8 {
			t.Errorf("%s: %+v %v", name, st, err)
		}
	}
	d := openMem(t)
	st, err := d.IngestReader(context.Background(), "-", bytes.NewReader(gz(t, []byte(lines))))
	if err != nil || st.Calls != 3 || st.Source != "-" {
		t.Errorf("stdin: %+v %v", st, err)
	}
}

// A new file cut short past the first megabytes: the error names the line
// that was being read, counted over every byte before it.
func TestIngestBrokenGzipNamesItsLine(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 4<<20; i++ {
		fmt.Fprintf(&b, `{"ts":%d,"action_type":"send_%d","args":{"n":%d,"pad":"%x"}}`+"\n", 1794787200+i, i%7, i, i*2654435761)
	}
	full := gz(t, []byte(b.String()))
	cut := full[:len(full)/2]
	zr, err := gzip.NewReader(bytes.NewReader(cut))
	if err != nil {
		t.Fatal(err)
	}
	readable, _ := io.ReadAll(zr) // what can be read before the stream breaks
	line := bytes.Count(readable, []byte{'\n'}) + 1
	if line < 10000 {
		t.Fatalf("only %d lines readable: not past the first chunks", line)
	}
	d := openMem(t)
	_, err = d.IngestFile(context.Background(), write(t, t.TempDir(), "cut.jsonl.gz", cut))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("(line %d)", line)) {
		t.Errorf("want the error to name line %d, got %v", line, err)
	}
}

func TestIngestBrokenGzipKeepsTheDatabase(t *testing.T) {
	dir := t.TempDir()
	d := openMem(t)
	ctx := context.Background()
	if _, err := d.IngestFile(ctx, write(t, dir, "good.jsonl", []byte(lines))); err != nil {
		t.Fatal(err)
	}
	before := rows(t, d)
	full := gz(t, bytes.Repeat([]byte(lines+"\n"), 2000))
	_, err := d.IngestFile(ctx, write(t, dir, "cut.jsonl.gz", full[:len(full)/2]))
	var ie *InputError
	if !errors.As(err, &ie) || ie.Source != filepath.Join(dir, "cut.jsonl.gz") || !strings.Contains(err.Error(), "read failed after") {
		t.Fatalf("want an input error naming the file, got %v", err)
	}
	if got := rows(t, d); !reflect.DeepEqual(got, before) {
		t.Errorf("a failed source changed the database: %d rows, want %d", len(got), len(before))
	}
	var n int
	d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM sources").Scan(&n)
	if n != 1 {
		t.Errorf("sources = %d, want 1", n)
	}
	// the database still works after the rollback
	if _, err := d.IngestFile(ctx, write(t, dir, "next.jsonl", []byte(`{"action_type":"z"}`))); err != nil {
		t.Fatal(err)
	}
}

func TestIngestSameContentOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	dbPath := filepath.Join(dir, "audit.duckdb")
	a := write(t, dir, "a.jsonl", []byte(lines))
	copyA := write(t, dir, "copy.jsonl.gz", gz(t, []byte(lines)))
	empty := write(t, dir, "empty.jsonl", nil)
	for run := 0; run < 2; run++ {
		d, err := Open(ctx, dbPath, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{a, copyA, empty} {
			st, err := d.IngestFile(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Status{a: StatusNew, copyA: StatusDuplicate, empty: StatusNew}[p]
			if run == 1 {
				want = map[string]Status{a: StatusUnchanged, copyA: StatusDuplicate, empty: StatusUnchanged}[p]
			}
			if st.Status != want {
				t.Errorf("run %d %s: %s, want %s", run, filepath.Base(p), st.Status, want)
			}
		}
		var calls, sources int
		d.Conn.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM sources)").Scan(&calls, &sources)
		if calls != 3 || sources != 2 {
			t.Errorf("run %d: %d calls in %d sources, want 3 in 2", run, calls, sources)
		}
		d.Close()
	}
	// standard input: the same content once
	d, _ := Open(ctx, dbPath, Options{})
	defer d.Close()
	st, err := d.IngestReader(ctx, "-", bytes.NewReader([]byte(lines)))
	if err != nil || st.Status != StatusDuplicate || st.Of != a {
		t.Errorf("stdin: %+v %v", st, err)
	}
}

const (
	l1 = `{"action_type":"a","ts":1794821400}`
	l2 = `{"action_type":"b","ts":1794821401}`
	l3 = `{"action_type":"c","ts":1794821402}`
	l4 = `{"action_type":"d","ts":1794821403}`
)

// growStep writes content to p, ingests it and checks the status, the
// first line read, the counts and every stored row.
func growStep(t *testing.T, d *DB, p string) func(content string, want Status, first, calls, malformed int64, rowsWant ...string) {
	return func(content string, want Status, first, calls, malformed int64, rowsWant ...string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := d.IngestFile(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != want || st.FirstLine != first || st.Calls != calls || st.Malformed != malformed {
			t.Errorf("%s: got %+v, want %s from line %d, %d calls, %d malformed", want, st, want, first, calls, malformed)
		}
		if got := rows(t, d); !reflect.DeepEqual(got, rowsWant) {
			t.Errorf("%s: rows\n got  %q\n want %q", want, got, rowsWant)
		}
	}
}

func TestIngestGrowingLog(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openMem(t)
	p := filepath.Join(dir, "app.jsonl")
	step := growStep(t, d, p)
	step(l1+"\n"+l2+"\n", StatusNew, 1, 2, 0, "app.jsonl:1:a", "app.jsonl:2:b")
	step(l1+"\n"+l2+"\n", StatusUnchanged, 1, 0, 0, "app.jsonl:1:a", "app.jsonl:2:b")
	// a line being written when the ingest ran: malformed for now
	step(l1+"\n"+l2+"\n"+l3[:10], StatusGrown, 3, 0, 1, "app.jsonl:1:a", "app.jsonl:2:b", "app.jsonl!3!truncated")
	// finished: the line is read again, whole, and counted once
	step(l1+"\n"+l2+"\n"+l3+"\n"+l4, StatusGrown, 3, 2, 0, "app.jsonl:1:a", "app.jsonl:2:b", "app.jsonl:3:c", "app.jsonl:4:d")
	step(l1+"\n"+l2+"\n"+l3+"\n"+l4+"\n", StatusGrown, 4, 1, 0, "app.jsonl:1:a", "app.jsonl:2:b", "app.jsonl:3:c", "app.jsonl:4:d")
	// truncated and rewritten: a new source, the old calls stay
	step(l4+"\n", StatusReplaced, 1, 1, 0, "app.jsonl:1:a", "app.jsonl:1:d", "app.jsonl:2:b", "app.jsonl:3:c", "app.jsonl:4:d")
	var lines, calls int64
	d.Conn.QueryRowContext(ctx, "SELECT sum(lines), sum(calls) FROM sources").Scan(&lines, &calls)
	if lines != 5 || calls != 5 {
		t.Errorf("sources count %d lines, %d calls; want 5 and 5", lines, calls)
	}
}

func TestIngestRotatedCopy(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openMem(t)
	a := write(t, dir, "app.jsonl", []byte(l1+"\n"+l2+"\n"))
	if _, err := d.IngestFile(ctx, a); err != nil {
		t.Fatal(err)
	}
	// rotated (and compressed) after two more lines were written
	rot := write(t, dir, "app.jsonl.1.gz", gz(t, []byte(l1+"\n"+l2+"\n"+l3+"\n"+l4+"\n")))
	st, err := d.IngestFile(ctx, rot)
	if err != nil || st.Status != StatusContinues || st.Of != a || st.FirstLine != 3 || st.Calls != 2 {
		t.Fatalf("%+v %v", st, err)
	}
	want := []string{"app.jsonl:1:a", "app.jsonl:2:b", "app.jsonl.1.gz:3:c", "app.jsonl.1.gz:4:d"}
	if got := rows(t, d); !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}

// A file whose last line has no terminator, continued by another (its
// copy that grew): the line is read once, by the continuation, and the
// first file, unchanged, stays unchanged on every later run.
func TestIngestContinuedUnterminatedLine(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openMem(t)
	a := write(t, dir, "a.jsonl", []byte(l1+"\n"+l2))
	b := write(t, dir, "b.jsonl", []byte(l1+"\n"+l2+"\n"+l3+"\n"))
	want := []string{"a.jsonl:1:a", "b.jsonl:2:b", "b.jsonl:3:c"}
	for run := 1; run <= 3; run++ {
		for _, p := range []string{a, b} {
			st, err := d.IngestFile(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if run > 1 && st.Status != StatusUnchanged {
				t.Errorf("run %d: %s is %s, want unchanged", run, p, st.Status)
			}
		}
		if got := rows(t, d); !reflect.DeepEqual(got, want) {
			t.Errorf("run %d: rows %q, want %q", run, got, want)
		}
	}
}

// A copy that continues a file's complete lines but holds another line
// where the file's unterminated one is: each file keeps its own line.
func TestIngestContinuedOtherLine(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openMem(t)
	a := write(t, dir, "a.jsonl", []byte(l1+"\n"+l2))
	b := write(t, dir, "b.jsonl", []byte(l1+"\n"+l3+"\n"))
	want := []string{"a.jsonl:1:a", "a.jsonl:2:b", "b.jsonl:2:c"}
	for run := 1; run <= 2; run++ {
		for _, p := range []string{a, b} {
			if _, err := d.IngestFile(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if got := rows(t, d); !reflect.DeepEqual(got, want) {
			t.Errorf("run %d: rows %q, want %q", run, got, want)
		}
	}
}

func TestSchemaMigrationAndVersion(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "v1.duckdb")
	// a database as the first release wrote it (schema version 1)
	raw, err := Open(ctx, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = raw.Conn.ExecContext(ctx, "ATTACH "+quoteLiteral(path)+" AS v1; USE v1;"+v1Schema+`
		INSERT INTO sources VALUES (1, 'old.jsonl', 2, 70, 2, 0, '00000000-0000-0000-0000-000000000001');
		INSERT INTO calls (source_id, line, action_type, status_num) VALUES (1, 1, 'a', false), (1, 2, 'b', false);
		USE memory; DETACH v1;`)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var v string
	var n int
	d.Conn.QueryRowContext(ctx, "SELECT value FROM idemaudit_meta WHERE key = 'schema_version'").Scan(&v)
	d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM calls JOIN sources USING (source_id) WHERE safe_lines = 2 AND first_line = 1 AND NOT EXISTS (SELECT 1 FROM arg_strings)").Scan(&n)
	if v != fmt.Sprint(SchemaVersion) || n != 2 {
		t.Errorf("after migration: version %q, %d calls joined", v, n)
	}
	if _, err := d.IngestFile(ctx, write(t, dir, "new.jsonl", []byte(l1+"\n"))); err != nil {
		t.Errorf("ingest after migration: %v", err)
	}
	d.Conn.ExecContext(ctx, "UPDATE idemaudit_meta SET value = '99' WHERE key = 'schema_version'")
	d.Close()
	if _, err := Open(ctx, path, Options{}); err == nil || !strings.Contains(err.Error(), "newer idemaudit (schema version 99") {
		t.Errorf("a newer database must be refused, got %v", err)
	}
}

// v1Schema is the sources table of schema version 1, for the migration test.
const v1Schema = `
CREATE TABLE sources (source_id INTEGER NOT NULL, path VARCHAR NOT NULL, lines BIGINT NOT NULL, bytes BIGINT NOT NULL,
	calls BIGINT NOT NULL, malformed BIGINT NOT NULL, content_hash UUID NOT NULL);
CREATE TABLE calls (source_id INTEGER NOT NULL, line BIGINT NOT NULL, ts BIGINT, action_type VARCHAR NOT NULL,
	idempotency_key VARCHAR, response_id VARCHAR, session_id VARCHAR, trace_id VARCHAR, span_id VARCHAR, run_id VARCHAR,
	status VARCHAR, status_num BOOLEAN NOT NULL, effect VARCHAR, duration_ms DOUBLE, fp UUID, args_fp UUID);
CREATE TABLE malformed (source_id INTEGER NOT NULL, line BIGINT NOT NULL, error VARCHAR NOT NULL);`

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b/2.jsonl", "b/1.ndjson.gz", "a.log", "notes.txt", "c/deep/x.JSONL", "b/.hidden.jsonl"} {
		write(t, dir, n, []byte(`{"action_type":"a"}`))
	}
	if err := os.Symlink(filepath.Join(dir, "b"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got, skipped, err := Expand([]string{dir, filepath.Join(dir, "a.log"), "-"})
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, p := range got {
		r, _ := filepath.Rel(dir, p)
		rel = append(rel, r)
	}
	// the link to b/ is not followed; a.log, named again, is read once; - stays -
	want := []string{"a.log", "b/.hidden.jsonl", "b/1.ndjson.gz", "b/2.jsonl", "c/deep/x.JSONL"}
	if len(got) != 6 || got[5] != "-" || !reflect.DeepEqual(rel[:5], want) {
		t.Errorf("expand = %q, want %q then -", got, want)
	}
	if len(skipped) != 1 || filepath.Base(skipped[0]) != "a.log" {
		t.Errorf("skipped %q, want a.log", skipped)
	}
	if _, _, err := Expand([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing path must be an error")
	}
}

func TestIngestOverlongLine(t *testing.T) {
	long := `{"action_type":"a","args":"` + strings.Repeat("x", maxLine) + `"}`
	prefix := `{"action_type":"b","args":"`
	longest := prefix + strings.Repeat("y", maxLine-len(prefix)-2) + `"}` // maxLine bytes: the longest kept
	data := `{"action_type":"first"}` + "\n" + long + "\n" + `{"action_type":"after"}` + "\n" + longest + "\n"
	d := openMem(t)
	st, err := d.IngestFile(context.Background(), write(t, t.TempDir(), "long.jsonl", []byte(data)))
	if err != nil || st.Lines != 4 || st.Calls != 3 || st.Malformed != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	want := []string{"long.jsonl:1:first", "long.jsonl!2!line", "long.jsonl:3:after", "long.jsonl:4:b"}
	if got := rows(t, d); !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}

func TestIngestByteOrderMark(t *testing.T) {
	d, st := ingestBytes(t, []byte("\xef\xbb\xbf"+`{"action_type":"a"}`+"\n"+"\xef\xbb\xbf"+`{"action_type":"b"}`+"\n"))
	if st.Calls != 1 || st.Malformed != 1 {
		t.Errorf("a BOM opening the file is skipped, one later is not: %+v %v", st, malformedErrors(t, d))
	}
	if e := malformedErrors(t, d); len(e) != 1 || !strings.Contains(e[0], "byte order mark at byte 1") {
		t.Errorf("the error %q does not say what and where", e)
	}
}

// Versions up to 4 let an object or array after args overwrite the args'
// canonical bytes: migrating such a database clears the fingerprints of
// the calls that may be wrong, and only theirs.
func TestMigrationClearsStaleFingerprints(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "v4.duckdb")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.IngestFile(ctx, write(t, dir, "a.jsonl", []byte(`{"action_type":"a","args":{"x":1},"status":{"code":"ok"}}
{"action_type":"a","args":{"x":2},"effect":"created"}
{"action_type":"a","args":{"x":3},"idempotency_key":"[k]"}
{"action_type":"a","session_id":"{s}"}
`))); err != nil {
		t.Fatal(err)
	}
	d.Conn.ExecContext(ctx, "UPDATE idemaudit_meta SET value = '4' WHERE key = 'schema_version'")
	d.Close()
	if d, err = Open(ctx, path, Options{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer d.Close()
	r, err := d.Conn.QueryContext(ctx, "SELECT line, fp IS NOT NULL, args_fp IS NOT NULL FROM calls ORDER BY line")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for r.Next() {
		var line int
		var fp, args bool
		r.Scan(&line, &fp, &args)
		got = append(got, fmt.Sprintf("%d:%v/%v", line, fp, args))
	}
	// lines 1 and 3 may hold a wrong args fingerprint; 4 is a session fingerprint (no args)
	if want := []string{"1:false/false", "2:true/true", "3:false/false", "4:true/false"}; !reflect.DeepEqual(got, want) {
		t.Errorf("fingerprints after migration %v, want %v", got, want)
	}
}

// A file name need not be UTF-8: it is kept quoted, read, and known again.
func TestIngestFileNameNotUTF8(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a\xffb.jsonl")
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Skipf("this file system refuses the name: %v", err)
	}
	d := openMem(t)
	st, err := d.IngestFile(context.Background(), p)
	if err != nil || st.Status != StatusNew || st.Calls != 3 {
		t.Fatalf("%+v %v", st, err)
	}
	if st, err := d.IngestFile(context.Background(), p); err != nil || st.Status != StatusUnchanged {
		t.Errorf("again: %+v %v", st, err)
	}
	var path string
	if err := d.Conn.QueryRowContext(context.Background(), "SELECT path FROM sources").Scan(&path); err != nil || path != strconv.Quote(p) {
		t.Errorf("kept as %q (%v), want %q", path, err, strconv.Quote(p))
	}
}

// A stream of JSON documents that grows (jq . of a log, pretty-printed
// records appended) is resumed after the line where its last complete
// value ends, like a log after its last complete line: its records are
// counted once, a value being written is read again whole, and re-running
// changes nothing. Before, the grown file was read whole as a new source
// and every earlier record counted twice (keyless ones as a false repeat).
func TestIngestGrowingDocumentStream(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openMem(t)
	p := filepath.Join(dir, "calls.json")
	rec := func(a string, ts int) string {
		return fmt.Sprintf("{\n  \"action_type\": %q,\n  \"ts\": %d,\n  \"args\": {\"n\": %d}\n}\n", a, 1794821400+ts, ts)
	}
	step := growStep(t, d, p)
	a, b, c, e := rec("a", 1), rec("b", 2), rec("c", 3), rec("e", 4)
	step(a+b, StatusNew, 1, 2, 0, "calls.json:1:a", "calls.json:6:b")
	step(a+b, StatusUnchanged, 1, 0, 0, "calls.json:1:a", "calls.json:6:b")
	step(a+b+c, StatusGrown, 11, 1, 0, "calls.json:1:a", "calls.json:6:b", "calls.json:11:c")
	// a value being written: malformed for now, then read again whole
	step(a+b+c+e[:20], StatusGrown, 16, 0, 1, "calls.json:1:a", "calls.json:6:b", "calls.json:11:c", "calls.json!17!truncated")
	step(a+b+c+e, StatusGrown, 16, 1, 0, "calls.json:1:a", "calls.json:6:b", "calls.json:11:c", "calls.json:16:e")
	// a value that does not end its line is read again too
	step(a+b+c+e+strings.TrimSuffix(a, "\n"), StatusGrown, 21, 1, 0, "calls.json:1:a", "calls.json:6:b", "calls.json:11:c", "calls.json:16:e", "calls.json:21:a")
	step(a+b+c+e+a+b, StatusGrown, 21, 2, 0, "calls.json:1:a", "calls.json:6:b", "calls.json:11:c", "calls.json:16:e", "calls.json:21:a", "calls.json:26:b")
	step(a+b+c+e+a+b, StatusUnchanged, 1, 0, 0, "calls.json:1:a", "calls.json:6:b", "calls.json:11:c", "calls.json:16:e", "calls.json:21:a", "calls.json:26:b")
	var lines, calls int64
	d.Conn.QueryRowContext(ctx, "SELECT sum(lines), sum(calls) FROM sources").Scan(&lines, &calls)
	if lines != 30 || calls != 6 {
		t.Errorf("sources count %d lines, %d calls; want 30 and 6", lines, calls)
	}

	// a document whose first value was cut short is read again from its start
	q := filepath.Join(dir, "first.json")
	x, y := rec("x", 5), rec("y", 6)
	os.WriteFile(q, []byte(x[:15]), 0o644)
	mustIngest(t, d, q, StatusNew, 1, 0)
	os.WriteFile(q, []byte(x+y), 0o644)
	mustIngest(t, d, q, StatusGrown, 1, 2)
	var n int64
	d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM calls JOIN sources USING (source_id) WHERE path = ?", q).Scan(&n)
	if n != 2 {
		t.Errorf("first.json holds %d calls; want 2", n)
	}
	// a line that is no JSON after complete documents is reported at its
	// own line, read whole or resumed (it was the line of an earlier value)
	for i, parts := range [][]string{{"g1", "g2"}, {"h1", "h2"}} {
		u, v := rec(parts[0], 10+i), rec(parts[1], 20+i)
		parts = []string{u + v + "garbage\n" + a}
		if i == 1 {
			parts = []string{u + v, u + v + "garbage\n" + a}
		}
		g := filepath.Join(dir, fmt.Sprintf("garbage%d.json", i))
		for _, content := range parts {
			os.WriteFile(g, []byte(content), 0o644)
			if _, err := d.IngestFile(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		var line int64
		d.Conn.QueryRowContext(ctx, "SELECT line FROM malformed JOIN sources USING (source_id) WHERE path = ?", g).Scan(&line)
		if line != 11 {
			t.Errorf("%s: garbage reported at line %d, want 11", filepath.Base(g), line)
		}
	}
	// an array that grows is rewritten, not appended to: a new source, as before
	r := filepath.Join(dir, "array.json")
	os.WriteFile(r, []byte("[\n"+strings.TrimSuffix(x, "\n")+"\n]\n"), 0o644)
	mustIngest(t, d, r, StatusNew, 1, 1)
	os.WriteFile(r, []byte("[\n"+strings.TrimSuffix(x, "\n")+",\n"+strings.TrimSuffix(y, "\n")+"\n]\n"), 0o644)
	mustIngest(t, d, r, StatusReplaced, 1, 2)
}

// A directory walk picks up rotated logs (logrotate's numbers and dates):
// the cron line passes a directory, and a log's lines appended before its
// rotation are only in app.log.1.
func TestIsLogNameRotated(t *testing.T) {
	for name, want := range map[string]bool{
		"app.log": true, "app.log.1": true, "app.log.2.gz": true, "app.jsonl.10": true, "calls.ndjson.3.gz": true,
		"app.log-20261123": true, "app.log-20261123.gz": true, "app.log.2026-11-23": true, "2026-11-23.jsonl.1": true,
		"idemaudit.json": false, "idemaudit.json.1": false, "idemaudit.json-20261123": false, "notes.txt": false, "notes.txt.1": false, "app.log.old": false, "app.log.1.bak": false,
		"data.parquet.1": false, "app.gz.1": false, "app.log.": false, "app.log.x1": false,
	} {
		if got := IsLogName(name); got != want {
			t.Errorf("IsLogName(%q) = %v, want %v", name, got, want)
		}
	}
}

// A syntax error inside a document read member by member is reported at
// its own line (the decoder's offset leaves out what Token calls read: it
// was reported lines early), and the document after it is read.
func TestDocumentSyntaxErrorLine(t *testing.T) {
	d := openMem(t)
	rec := "{\n  \"action_type\": \"a\",\n  \"ts\": 1794821400,\n  \"args\": {\"n\": 1}\n}\n"
	doc := strings.Repeat(rec, 400) + "{\n  \"action_type\": \"b\",\n  \"ts\": 1794821401,\n  \"args\": {\"a\": 1,, \"b\": 2}\n}\n" + rec
	p := write(t, t.TempDir(), "s.json", []byte(doc))
	if _, err := d.IngestFile(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got := rows(t, d)
	var want []string
	for i := 0; i < 400; i++ {
		want = append(want, fmt.Sprintf("s.json:%d:a", 1+5*i))
	}
	want = append(want, "s.json!2004!invalid", "s.json:2006:a")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}
