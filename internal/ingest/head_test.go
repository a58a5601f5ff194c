package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

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
