package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
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
		ORDER BY 1, 2`)
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
			wantDup := ""
			if run == 1 || p == copyA {
				wantDup = a
			}
			if p == empty {
				wantDup = map[bool]string{true: empty}[run == 1]
			}
			if st.DuplicateOf != wantDup {
				t.Errorf("run %d %s: duplicate of %q, want %q", run, filepath.Base(p), st.DuplicateOf, wantDup)
			}
		}
		var calls, sources int
		d.Conn.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM sources)").Scan(&calls, &sources)
		if calls != 3 || sources != 2 {
			t.Errorf("run %d: %d calls in %d sources, want 3 in 2", run, calls, sources)
		}
		d.Close()
	}
}

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
	data := `{"action_type":"first"}` + "\n" + long + "\n" + `{"action_type":"after"}` + "\n"
	d := openMem(t)
	st, err := d.IngestFile(context.Background(), write(t, t.TempDir(), "long.jsonl", []byte(data)))
	if err != nil || st.Lines != 3 || st.Calls != 2 || st.Malformed != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	want := []string{"long.jsonl:1:first", "long.jsonl!2!line", "long.jsonl:3:after"}
	if got := rows(t, d); !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}
