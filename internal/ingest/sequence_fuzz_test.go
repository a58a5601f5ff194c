package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzIngestSequence plays a sequence of what happens to log files between
// ingests (lines appended, a last line left open then finished, copies,
// gzip copies, rotation by rename, truncation and rewrite) and ingests after
// each step, checking what incremental ingest promises: no line is ever
// stored twice, every complete line of an ingested file is stored, and
// ingesting again changes nothing. Lines are of every length, so files
// cross the 64 KiB head in every way.
func FuzzIngestSequence(f *testing.F) {
	// a byte is an op (low 3 bits: 0 append, 1 append leaving a line open,
	// 2 finish it, 3 copy, 4 rotate, 5 rewrite, 6-7 ingest) and its
	// argument (the rest: which file, how many lines, how long)
	for _, s := range []string{
		"\xf0\x06\xf0\x06\xf0\x06\xf1\x06\x02\x06",             // a log growing past the head, a line left open then finished
		"\xf0\xf0\xf0\x06\x04\xf0\x06\x0e\x06",                 // rotated by rename, a new log started
		"\xf0\xf0\xf0\x06\x1b\xf0\x16\x06",                     // a gzip copy, the log grown after it
		"\xf0\xf0\x06\x05\x06\xf0\xf0\xf0\x06",                 // truncated and rewritten
		"\xf0\xf0\xf1\x06\xf0\x06",                             // an open line across the head
		"\x00\x30\x01\x06\x08\x0e\x03\x0e\x06\x1b\x16\x05\x06", // short files, copies
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 40 {
			return
		}
		ctx := context.Background()
		dir := t.TempDir()
		d := openMem(t)
		paths := []string{filepath.Join(dir, "app.jsonl"), filepath.Join(dir, "app.jsonl.1"), filepath.Join(dir, "app.jsonl.2.gz")}
		content := make([]string, len(paths)) // what each file holds (decompressed)
		known := make([]string, len(paths))   // what it held when last ingested
		next := 0
		line := func(pad int) string {
			next++
			return fmt.Sprintf(`{"action_type":"a","ts":%d,"args":{"id":%d,"pad":%q}}`, 1794821400+next, next, strings.Repeat("p", pad))
		}
		save := func(i int) {
			data := []byte(content[i])
			if strings.HasSuffix(paths[i], ".gz") {
				data = gz(t, data)
			}
			if err := os.WriteFile(paths[i], data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ingest := func(i int) {
			if _, err := os.Stat(paths[i]); err != nil {
				return
			}
			st, err := d.IngestFile(ctx, paths[i])
			if err != nil {
				t.Fatalf("ingest %s: %v", filepath.Base(paths[i]), err)
			}
			known[i] = content[i]
			t.Logf("ingest %s: %s of %s from line %d, %d calls %d malformed (%d bytes)", filepath.Base(paths[i]), st.Status, st.Of, st.FirstLine, st.Calls, st.Malformed, len(content[i]))
			var n, distinct int64
			d.Conn.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT ts) FROM calls").Scan(&n, &distinct)
			if n != distinct {
				t.Fatalf("after %s: %d calls stored, %d distinct lines", filepath.Base(paths[i]), n, distinct)
			}
			// every complete line of the file is stored
			complete := content[i][:strings.LastIndexByte(content[i], '\n')+1]
			for _, l := range strings.Split(strings.TrimSuffix(complete, "\n"), "\n") {
				if l == "" {
					continue
				}
				var ts int64
				fmt.Sscanf(l[strings.Index(l, `"ts":`)+5:], "%d", &ts)
				var found int
				d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM calls WHERE ts = ?", ts*1e9).Scan(&found)
				if found != 1 {
					var e string
					d.Conn.QueryRowContext(ctx, "SELECT string_agg(line || ': ' || error, '; ') FROM malformed").Scan(&e)
					t.Logf("malformed: %s; line: %.200s", e, l)
					t.Fatalf("after %s: line with ts %d stored %d times", filepath.Base(paths[i]), ts, found)
				}
			}
			// again: nothing changes
			st, err = d.IngestFile(ctx, paths[i])
			if err != nil || st.Calls != 0 || st.Malformed != 0 {
				t.Fatalf("ingest %s again: %+v %v", filepath.Base(paths[i]), st, err)
			}
		}
		for k := 0; k < len(ops); k++ {
			op, arg := ops[k]&7, int(ops[k]>>3)
			i := arg % len(paths)
			switch op {
			case 0, 1: // append lines of 50 to ~8000 bytes; op 1 leaves the last one open
				if content[i] != "" && !strings.HasSuffix(content[i], "\n") {
					content[i] += "\n" // the writer finishes its open line first
				}
				for j := 0; j <= arg%4; j++ {
					content[i] += line(arg*250) + "\n"
				}
				if op == 1 {
					content[i] += line(arg * 40)
				}
				save(i)
			case 2: // finish an open last line
				if content[i] != "" && !strings.HasSuffix(content[i], "\n") {
					content[i] += "\n"
					save(i)
				}
			case 3: // copy to another file
				// Only whole lines (an open line copied is a line in two
				// files), and only content ingested as it is: a copy of a
				// beginning no ingest ended at (copied, then the original
				// grew before an ingest) is read as new, its lines counted
				// again (README, "Ingest is idempotent and incremental").
				j := (i + 1 + arg/len(paths)%2) % len(paths)
				if strings.HasSuffix(content[i], "\n") && content[i] == known[i] {
					content[j] = content[i]
					save(j)
				}
			case 4: // rotate: the file moves to the next name, a new one starts
				j := (i + 1) % len(paths)
				if !strings.HasSuffix(paths[i], ".gz") && !strings.HasSuffix(paths[j], ".gz") && strings.HasSuffix(content[i], "\n") {
					if err := os.Rename(paths[i], paths[j]); err == nil {
						content[j], content[i] = content[i], ""
						save(i)
					}
				}
			case 5: // truncated and rewritten
				content[i] = line(arg*100) + "\n"
				save(i)
			default: // ingest
				ingest(i)
			}
		}
		for i := range paths {
			ingest(i)
		}
	})
}
