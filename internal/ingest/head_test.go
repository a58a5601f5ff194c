package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/zeebo/xxh3"
)

// bigLines is n JSONL lines of about 300 bytes each, for action a, ts from t0.
func bigLines(a string, t0, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"action_type":%q,"ts":%d,"args":{"i":%d,"pad":%q}}`+"\n", a, t0+i, i, strings.Repeat("p", 250))
	}
	return b.String()
}

// The head hash is of exactly the first headSize bytes, however the reads fall.
func TestCountingReaderHead(t *testing.T) {
	data := []byte(bigLines("a", 0, 400))
	want := xxh3.Hash128(data[:headSize]).Bytes()
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(data),
		"one byte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
	} {
		c := newCountingReader(r)
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatal(err)
		}
		if !c.hasHead || c.head != want || c.n != int64(len(data)) || c.sum() != xxh3.Hash128(data).Bytes() {
			t.Errorf("%s: head %v %x, want %x", name, c.hasHead, c.head, want)
		}
	}
	c := newCountingReader(bytes.NewReader(data[:headSize-1]))
	io.Copy(io.Discard, c)
	if c.hasHead || c.headHash() != nil {
		t.Error("content shorter than the head has no head hash")
	}
}

// Files longer than the head: a new one is read once (pass 1 stops after
// the head), and growth, rotation, duplicates and a shared head are still
// told apart exactly, with old segments (no head hash) too.
func TestIngestBeyondHead(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openMem(t)
	body := bigLines("a", 1794821400, 300) // ~90 KiB
	more := bigLines("b", 1794821800, 5)
	if len(body) <= headSize {
		t.Fatalf("body is %d bytes, not beyond the head", len(body))
	}
	ingest := func(p string, want Status, first, calls int64) {
		t.Helper()
		st, err := d.IngestFile(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != want || st.FirstLine != first || st.Calls != calls {
			t.Errorf("%s: %s from line %d, %d calls; want %s from %d, %d calls", filepath.Base(p), st.Status, st.FirstLine, st.Calls, want, first, calls)
		}
	}
	partial := func(p string) bool {
		t.Helper()
		segs, err := d.knownSegments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(p)
		res, err := scanFile(ctx, p, abs, segs)
		if err != nil {
			t.Fatal(err)
		}
		return res.partial
	}
	a := write(t, dir, "app.jsonl", []byte(body))
	if !partial(a) {
		t.Error("nothing known: pass 1 should stop after the head")
	}
	ingest(a, StatusNew, 1, 300)
	if partial(a) {
		t.Error("a known file must be hashed whole")
	}
	ingest(a, StatusUnchanged, 1, 0)
	write(t, dir, "app.jsonl", []byte(body+more))
	ingest(a, StatusGrown, 301, 5)
	ingest(write(t, dir, "copy.jsonl", []byte(body+more)), StatusDuplicate, 1, 0)
	rot := write(t, dir, "app.jsonl.1.gz", gz(t, []byte(body+more+bigLines("c", 1794821900, 2))))
	ingest(rot, StatusContinues, 306, 2)
	// the same first 64 KiB, another ending: new, every line read
	other := body[:headSize] + strings.Replace(body[headSize:], `"i":299`, `"i":-1`, 1)
	o := write(t, dir, "other.jsonl", []byte(other))
	if partial(o) {
		t.Error("a shared head must be hashed whole")
	}
	ingest(o, StatusNew, 1, 300)
	// another head: read once
	n := write(t, dir, "new.jsonl", []byte(bigLines("n", 1794822000, 300)))
	if !partial(n) {
		t.Error("a new head should stop pass 1")
	}
	ingest(n, StatusNew, 1, 300)
	// exactly the head's length, then grown by a line
	exact := bigLines("e", 1794823000, 300)[:headSize]
	exact = exact[:strings.LastIndexByte(exact, '\n')+1]
	exact += strings.Repeat(" ", headSize-len(exact)-1) + "\n"
	e := write(t, dir, "exact.jsonl", []byte(exact))
	ingest(e, StatusNew, 1, int64(strings.Count(exact, "\n")-1))
	write(t, dir, "exact.jsonl", []byte(exact+more))
	ingest(e, StatusGrown, int64(strings.Count(exact, "\n")+1), 5)

	// segments from before schema 6 have no head hash: never skipped
	if _, err := d.Conn.ExecContext(ctx, "UPDATE sources SET head_hash = NULL"); err != nil {
		t.Fatal(err)
	}
	n2 := write(t, dir, "new2.jsonl", []byte(bigLines("m", 1794824000, 300)))
	if partial(n2) {
		t.Error("old segments without a head hash must make pass 1 read whole")
	}
	ingest(n2, StatusNew, 1, 300)
	ingest(a, StatusUnchanged, 1, 0)
	ingest(write(t, dir, "copy2.jsonl", []byte(body+more)), StatusDuplicate, 1, 0)

	var calls, want int64
	d.Conn.QueryRowContext(ctx, "SELECT count(*), (SELECT sum(calls) FROM sources) FROM calls").Scan(&calls, &want)
	if calls != 300+5+2+300+300+int64(strings.Count(exact, "\n")-1)+5+300 || calls != want {
		t.Errorf("%d calls stored, sources count %d", calls, want)
	}
}

// noDup checks the calls table holds want calls, no two alike, and the
// sources count as many.
func noDup(t *testing.T, d *DB, want int64) {
	t.Helper()
	var n, distinct, sum int64
	if err := d.Conn.QueryRowContext(context.Background(), `SELECT count(*), count(DISTINCT (action_type, ts)),
		(SELECT coalesce(sum(calls), 0) FROM sources) FROM calls`).Scan(&n, &distinct, &sum); err != nil {
		t.Fatal(err)
	}
	if n != distinct || n != want || sum != want {
		t.Errorf("%d calls stored (%d distinct, sources say %d), want %d", n, distinct, sum, want)
	}
}

func mustIngest(t *testing.T, d *DB, p string, want Status, first, calls int64) {
	t.Helper()
	st, err := d.IngestFile(context.Background(), p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if st.Status != want || st.FirstLine != first || st.Calls != calls {
		t.Errorf("%s: %s from line %d, %d calls; want %s from %d, %d calls", p, st.Status, st.FirstLine, st.Calls, want, first, calls)
	}
}

func longLine(a string, ts, n int) string {
	return fmt.Sprintf(`{"action_type":%q,"ts":%d,"args":{"pad":%q}}`, a, ts, strings.Repeat("q", n))
}

// A file replaced between pass 1 and pass 2 (logs moved by a rotation
// while idemaudit runs): pass 2 reads the file pass 1 opened, never a
// path's new content unjudged, so known lines are not added again.
func TestIngestReplacedBetweenPasses(t *testing.T) {
	dir, d := t.TempDir(), openMem(t)
	known := bigLines("a", 1794821400, 300)
	mustIngest(t, d, write(t, dir, "app.jsonl.1", []byte(known)), StatusNew, 1, 300)
	p := write(t, dir, "app.jsonl", []byte(bigLines("n", 1794822000, 300))) // a new head: pass 1 stops early
	d.Timing = func(step string, _ time.Duration) {
		if step == "ingest: known beginnings" { // between pass 1 and pass 2
			// replaced by a rename, as rotation does (the old file stays open)
			tmp := write(t, dir, "next.jsonl", []byte(known+bigLines("b", 1794821800, 2)))
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustIngest(t, d, p, StatusNew, 1, 300) // what pass 1 judged: the file it opened
	d.Timing = nil
	noDup(t, d, 600)
	mustIngest(t, d, p, StatusContinues, 301, 2) // the new content, judged now
	noDup(t, d, 602)
}

// A file truncated while pass 2 reads it (copytruncate) is refused whole.
func TestIngestTruncatedWhileRead(t *testing.T) {
	dir, d := t.TempDir(), openMem(t)
	p := write(t, dir, "app.jsonl", []byte(bigLines("a", 1794821400, 300)))
	d.Timing = func(step string, _ time.Duration) {
		if step == "ingest: known beginnings" {
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err := d.IngestFile(context.Background(), p)
	d.Timing = nil
	if err == nil || !strings.Contains(err.Error(), "changed while being read") {
		t.Fatalf("want a changed-while-read error, got %v", err)
	}
	noDup(t, d, 0)
}

func TestIngestHeadEdgeCases(t *testing.T) {
	ctx := context.Background()
	t.Run("unterminated last line crossing the head, completed", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		body := bigLines("a", 1794821400, 200) // ~60 KiB
		if len(body) >= headSize {
			t.Fatal(len(body))
		}
		tl := longLine("t", 1794821700, 10000)
		p := write(t, dir, "app.jsonl", []byte(body+tl))
		mustIngest(t, d, p, StatusNew, 1, 201)
		write(t, dir, "app.jsonl", []byte(body+tl+"\n"+bigLines("b", 1794821800, 3)))
		mustIngest(t, d, p, StatusGrown, 201, 4)
		noDup(t, d, 204)
		mustIngest(t, d, p, StatusUnchanged, 1, 0)
	})
	t.Run("unterminated last line crossing the head, rewritten", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		body := bigLines("a", 1794821400, 200)
		p := write(t, dir, "app.jsonl", []byte(body+longLine("t", 1794821700, 10000)))
		mustIngest(t, d, p, StatusNew, 1, 201)
		write(t, dir, "app.jsonl", []byte(body+longLine("u", 1794821701, 9000)+"\n"+bigLines("b", 1794821800, 3)))
		mustIngest(t, d, p, StatusGrown, 201, 4)
		noDup(t, d, 204)
		var stale int
		d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM sources WHERE end_bytes < 65536 AND head_hash IS NOT NULL").Scan(&stale)
		if stale != 0 {
			t.Errorf("%d segments shorter than the head keep a head hash", stale)
		}
	})
	t.Run("tail-only segment longer than the head", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		tl := longLine("t", 1794821700, 70000)
		p := write(t, dir, "app.jsonl", []byte(tl))
		mustIngest(t, d, p, StatusNew, 1, 1)
		write(t, dir, "app.jsonl", []byte(tl+"\n"+bigLines("b", 1794821800, 3)))
		mustIngest(t, d, p, StatusGrown, 1, 4)
		noDup(t, d, 4)
	})
	t.Run("tail-only segment shorter than the head, grown beyond it", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		tl := longLine("t", 1794821700, 100)
		p := write(t, dir, "app.jsonl", []byte(tl))
		mustIngest(t, d, p, StatusNew, 1, 1)
		write(t, dir, "app.jsonl", []byte(tl+"\n"+bigLines("b", 1794821800, 300)))
		mustIngest(t, d, p, StatusGrown, 1, 301)
		noDup(t, d, 301)
	})
	t.Run("short segment continued by a long copy, gzip", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		short := bigLines("a", 1794821400, 20)
		mustIngest(t, d, write(t, dir, "app.jsonl", []byte(short)), StatusNew, 1, 20)
		long := short + bigLines("b", 1794821800, 300)
		mustIngest(t, d, write(t, dir, "app.jsonl.1.gz", gz(t, []byte(long))), StatusContinues, 21, 300)
		mustIngest(t, d, write(t, dir, "copy.jsonl", []byte(long)), StatusDuplicate, 1, 0)
		noDup(t, d, 320)
	})
	t.Run("stdin then the file", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		body := bigLines("a", 1794821400, 300)
		if _, err := d.IngestReader(ctx, "-", strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		mustIngest(t, d, write(t, dir, "app.jsonl", []byte(body)), StatusDuplicate, 1, 0)
		mustIngest(t, d, write(t, dir, "app2.jsonl", []byte(body+bigLines("b", 1794821800, 2))), StatusContinues, 301, 2)
		st, err := d.IngestReader(ctx, "-", strings.NewReader(body))
		if err != nil || st.Status != StatusDuplicate {
			t.Errorf("stdin again: %v %v", st.Status, err)
		}
		noDup(t, d, 302)
	})
	t.Run("exactly the head, unterminated at the boundary", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		body := bigLines("a", 1794821400, 200)
		tl := longLine("t", 1794821700, 0)
		tl = tl[:len(tl)-2] + strings.Repeat(" ", headSize-len(body)-len(tl)) + "}}"
		if len(body+tl) != headSize {
			t.Fatal(len(body + tl))
		}
		p := write(t, dir, "app.jsonl", []byte(body+tl))
		mustIngest(t, d, p, StatusNew, 1, 201)
		mustIngest(t, d, p, StatusUnchanged, 1, 0)
		write(t, dir, "app.jsonl", []byte(body+tl+"\n"+bigLines("b", 1794821800, 3)))
		mustIngest(t, d, p, StatusGrown, 201, 4)
		noDup(t, d, 204)
	})
	t.Run("JSON document beyond the head", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		doc := "[" + strings.ReplaceAll(strings.TrimSuffix(bigLines("a", 1794821400, 300), "\n"), "\n", ",\n") + "]\n"
		p := write(t, dir, "doc.json", []byte(doc))
		mustIngest(t, d, p, StatusNew, 1, 300)
		mustIngest(t, d, p, StatusUnchanged, 1, 0)
		mustIngest(t, d, write(t, dir, "doc2.json", []byte(doc)), StatusDuplicate, 1, 0)
		noDup(t, d, 300)
	})
	t.Run("read again with other settings after growing beyond the head", func(t *testing.T) {
		dir, d := t.TempDir(), openMem(t)
		short := strings.ReplaceAll(bigLines("a", 1794821400, 20), `"action_type"`, `"tool"`)
		p := write(t, dir, "app.jsonl", []byte(short))
		d.Import = &Import{}
		if err := d.Import.AddMap("action_type=tool"); err != nil {
			t.Fatal(err)
		}
		mustIngest(t, d, p, StatusNew, 1, 20)
		write(t, dir, "app.jsonl", []byte(short+strings.ReplaceAll(bigLines("b", 1794821800, 300), `"action_type"`, `"tool"`)))
		d.Import = &Import{}
		if err := d.Import.AddMap("action_type=tool"); err != nil {
			t.Fatal(err)
		}
		if err := d.Import.AddMap("session_id=args.i"); err != nil {
			t.Fatal(err)
		}
		mustIngest(t, d, p, StatusReread, 1, 320)
		noDup(t, d, 320)
	})
}

// A new file that grows between pass 1 and pass 2 (a log being written):
// pass 2 reads it to its end, an open last line included, and the next
// ingest resumes where it stopped.
func TestIngestGrowsBetweenPasses(t *testing.T) {
	dir, d := t.TempDir(), openMem(t)
	body := bigLines("a", 1794821400, 300)
	p := write(t, dir, "app.jsonl", []byte(body))
	more := bigLines("b", 1794821800, 3) + longLine("c", 1794821900, 10)
	d.Timing = func(step string, _ time.Duration) {
		if step == "ingest: known beginnings" {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(more)
			f.Close()
		}
	}
	mustIngest(t, d, p, StatusNew, 1, 304)
	d.Timing = nil
	noDup(t, d, 304)
	mustIngest(t, d, p, StatusUnchanged, 1, 0)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\n" + bigLines("d", 1794822000, 2))
	f.Close()
	mustIngest(t, d, p, StatusGrown, 304, 3) // the open line again, whole, and two more
	noDup(t, d, 306)
}

// Progress is told every byte of a file pass 2 reads, whether pass 1
// handed it over (a new file) or pass 2 opened it again (a grown one).
func TestIngestProgressCountsEveryByte(t *testing.T) {
	dir, d := t.TempDir(), openMem(t)
	var told int64
	d.Progress = func(n int64) { told += n }
	body := bigLines("a", 1794821400, 300)
	p := write(t, dir, "app.jsonl", []byte(body))
	mustIngest(t, d, p, StatusNew, 1, 300)
	if told != int64(len(body)) {
		t.Errorf("new file: progress told %d bytes of %d", told, len(body))
	}
	told = 0
	body += bigLines("b", 1794821800, 3)
	write(t, dir, "app.jsonl", []byte(body))
	mustIngest(t, d, p, StatusGrown, 301, 3)
	if told != int64(len(body)) {
		t.Errorf("grown file: progress told %d bytes of %d", told, len(body))
	}
}

// A log created empty (ingested before its first line) that then grows is
// grown, not replaced: a little, or past the head at once.
func TestIngestEmptyThenGrown(t *testing.T) {
	for _, n := range []int{1, 300} { // 300 lines: past the head in one step
		d := openMem(t)
		dir := t.TempDir()
		p := write(t, dir, "app.jsonl", nil)
		mustIngest(t, d, p, StatusNew, 1, 0)
		write(t, dir, "app.jsonl", []byte(bigLines("a", 1794787200, n)))
		mustIngest(t, d, p, StatusGrown, 1, int64(n))
		mustIngest(t, d, p, StatusUnchanged, 1, 0)
	}
	// what the empty file was read as says nothing: a trace export written
	// into it later is told by its content
	d := openMem(t)
	dir := t.TempDir()
	p := write(t, dir, "spans.jsonl", nil)
	mustIngest(t, d, p, StatusNew, 1, 0)
	otlp, err := os.ReadFile(filepath.Join("..", "..", "sample-logs", "traces", "otlp-collector.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "spans.jsonl", otlp)
	st, err := d.IngestFile(context.Background(), p)
	if err != nil || st.Status != StatusGrown || st.Format != FormatOTLP || st.Calls == 0 || st.Malformed != 0 {
		t.Errorf("a trace export in a file ingested empty: %+v %v", st, err)
	}
}
