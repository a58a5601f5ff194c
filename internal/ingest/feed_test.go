package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/idemaudit/idemaudit/internal/config"
)

// feedLog is n lines mixing calls, compensating calls (their args strings
// go to arg_strings), malformed and blank lines.
func feedLog(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, "{\"action_type\":\"broken\",\"n\":%d\n", i)
		case 3:
			fmt.Fprintf(&b, "{\"action_type\":\"cancel_booking\",\"idempotency_key\":\"c%d\",\"args\":{\"booking\":\"bk_%d\"}}\n", i, i/2)
		case 5:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "{\"action_type\":\"book\",\"ts\":%d,\"idempotency_key\":\"k%d\",\"response_id\":\"r%d\",\"args\":{\"n\":%d}}\n", 1794821400+i, i%50, i, i%9)
		}
	}
	return b.String()
}

// tables lists every stored call, malformed line and args string.
func tables(t *testing.T, d *DB) []string {
	t.Helper()
	return queryStrings(t, d, `
		SELECT 'call ' || line || ' ' || pos || ' ' || action_type || ' ' || coalesce(idempotency_key, '-') || ' ' ||
			coalesce(response_id, '-') || ' ' || coalesce(CAST(ts AS VARCHAR), '-') || ' ' || coalesce(CAST(args_fp AS VARCHAR), '-') FROM calls
		UNION ALL SELECT 'bad ' || line || ' ' || error FROM malformed
		UNION ALL SELECT 'strings ' || line || ' ' || pos || ' ' || strings FROM arg_strings
		UNION ALL SELECT 'source ' || lines || ' ' || calls || ' ' || malformed FROM sources
		ORDER BY 1`)
}

// Malformed lines and args strings wait while calls are inserted, and a
// few bytes of them end one insert and start another: whatever the number
// of rounds, every row is stored once.
func TestIngestFeedRounds(t *testing.T) {
	path := write(t, t.TempDir(), "log.jsonl", []byte(feedLog(30000)))
	ingest := func(limit int) ([]string, Stats) {
		old := maxPending
		maxPending = limit
		defer func() { maxPending = old }()
		d := openMem(t)
		d.Config = &config.Config{} // the default compensating actions: cancel_* keeps its args strings
		st, err := d.IngestFile(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return tables(t, d), st
	}
	want, st := ingest(1 << 30) // one round
	if st.Calls != 30000-30000/7-(30000+2)/7 || st.Malformed != 30000/7 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(want); n != int(st.Calls+st.Malformed)+(30000+4)/7+1 {
		t.Fatalf("%d rows stored, stats %+v", n, st)
	}
	for _, limit := range []int{1, 500, 64 << 10} {
		got, st2 := ingest(limit)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("maxPending %d: %d rows, want %d", limit, len(got), len(want))
		}
		st2.Status, st.Status = "", ""
		if st2.Calls != st.Calls || st2.Malformed != st.Malformed || !reflect.DeepEqual(st2.MalformedAt, st.MalformedAt) {
			t.Errorf("maxPending %d: stats %+v, want %+v", limit, st2, st)
		}
	}
}

// A cancelled ingest ends (the insert, its feed and the reader all stop)
// and stores nothing of the source.
func TestIngestFeedCancelled(t *testing.T) {
	for i, limit := range []int{1, 1, 1, 8 << 20} {
		old := maxPending
		maxPending = limit
		d := openMem(t)
		pr, pw := io.Pipe()
		go func() {
			log := feedLog(2000)
			for {
				if _, err := io.WriteString(pw, log); err != nil {
					return
				}
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Duration(1+i*150)*time.Millisecond, cancel) // at different points of the rounds
		done := make(chan error, 1)
		go func() { _, err := d.IngestReader(ctx, "-", pr); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("maxPending %d: %v, want context canceled", limit, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("maxPending %d: a cancelled ingest did not end", limit)
		}
		pr.Close()
		maxPending = old
		if got := tables(t, d); len(got) != 0 {
			t.Errorf("maxPending %d: a cancelled ingest stored %d rows: %v", limit, len(got), got[:min(len(got), 5)])
		}
	}
}

// The insert fails mid-way (here a constraint the data violates): the
// ingest ends with that error, stores nothing, and leaves the connection's
// settings as they were (the reset runs after the rollback: an aborted
// transaction would refuse it).
func TestIngestFeedInsertFails(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 300000; i++ {
		if i%5 == 0 {
			fmt.Fprintf(&b, "{\"action_type\":\"broken\",\"n\":%d\n", i)
			continue
		}
		fmt.Fprintf(&b, "{\"action_type\":\"book\",\"ts\":%d,\"idempotency_key\":\"k%d\"}\n", 1794821400+i, i)
	}
	path := write(t, t.TempDir(), "log.jsonl", []byte(b.String()))
	setting := func(d *DB) string {
		var s string
		if err := d.Conn.QueryRowContext(context.Background(), "SELECT current_setting('preserve_insertion_order')::VARCHAR").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, limit := range []int{1 << 30, 64 << 10} {
		old := maxPending
		maxPending = limit
		d := openMem(t)
		if _, err := d.Conn.ExecContext(context.Background(), `ALTER TABLE calls ADD CONSTRAINT no_line CHECK (line <> 250001)`); err != nil {
			// DuckDB cannot add a constraint to a table: make one with it
			if _, err := d.Conn.ExecContext(context.Background(), `CREATE TABLE calls2 AS SELECT * FROM calls LIMIT 0;
				DROP TABLE calls; CREATE TABLE calls (source_id INTEGER NOT NULL, line BIGINT NOT NULL CHECK (line <> 250001), ts BIGINT,
				action_type VARCHAR NOT NULL, idempotency_key VARCHAR, response_id VARCHAR, session_id VARCHAR, trace_id VARCHAR,
				span_id VARCHAR, run_id VARCHAR, status VARCHAR, status_num BOOLEAN NOT NULL, effect VARCHAR, duration_ms DOUBLE,
				fp UUID, args_fp UUID, pos INTEGER DEFAULT 0, parent_id VARCHAR); DROP TABLE calls2`); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() { _, err := d.IngestFile(context.Background(), path); done <- err }()
		select {
		case err := <-done:
			if !isDBError(err) || !strings.Contains(err.Error(), "250001") && !strings.Contains(strings.ToLower(err.Error()), "constraint") {
				t.Errorf("maxPending %d: %v, want the database's constraint error", limit, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("maxPending %d: a failed insert did not end the ingest", limit)
		}
		maxPending = old
		if s := setting(d); s != "true" {
			t.Errorf("maxPending %d: after the failed ingest preserve_insertion_order=%s, want true", limit, s)
		}
		if got := tables(t, d); len(got) != 0 {
			t.Errorf("maxPending %d: a failed ingest stored %d rows: %v", limit, len(got), got[:min(5, len(got))])
		}
	}
}

// DuckDB reuses output chunks: a row written NULL in one chunk and set in
// the next (at the same place) is set, on one thread and on several.
func TestIngestFeedValidity(t *testing.T) {
	const capacity = 2048
	var b strings.Builder
	want := 0
	for blk := 0; blk < 8; blk++ {
		for i := 0; i < capacity; i++ {
			if blk%2 == 0 {
				b.WriteString(`{"action_type":"a"}` + "\n")
			} else {
				want++
				fmt.Fprintf(&b, `{"action_type":"a","ts":%d,"duration_ms":5,"session_id":"s","args":{"x":%d}}`+"\n", 1794821400+i, i)
			}
		}
	}
	path := write(t, t.TempDir(), "log.jsonl", []byte(b.String()))
	for _, threads := range []int{1, 4} {
		d, err := Open(context.Background(), "", Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.IngestFile(context.Background(), path); err != nil {
			t.Fatal(err)
		}
		var ts, dur, fp, afp, sess, n int
		if err := d.Conn.QueryRowContext(context.Background(), "SELECT count(*), count(ts), count(duration_ms), count(fp), count(args_fp), count(session_id) FROM calls").Scan(&n, &ts, &dur, &fp, &afp, &sess); err != nil {
			t.Fatal(err)
		}
		if n != 8*capacity || ts != want || dur != want || afp != want || sess != want || fp != want {
			t.Errorf("threads %d: %d calls: ts %d duration %d fp %d args_fp %d session %d set, want %d calls, %d each", threads, n, ts, dur, fp, afp, sess, 8*capacity, want)
		}
		d.Close()
	}
}

// The feed's insert runs on every DuckDB thread (a table function that
// asks for no number of threads gets one).
func TestIngestFeedParallel(t *testing.T) {
	d, err := Open(context.Background(), "", Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var locals atomic.Int32
	err = duckdb.RegisterTableUDF(d.Conn, "counting_feed", duckdb.ParallelChunkTableFunction{
		Config: duckdb.TableFunctionConfig{Arguments: []duckdb.TypeInfo{mustType(duckdb.TYPE_BIGINT)}},
		BindArguments: func(_ map[string]any, args ...any) (duckdb.ParallelChunkTableSource, error) {
			f, _ := feeds.Load(args[0].(int64))
			fd := f.(*feed)
			return countingSource{feedSource{fd, fd.ch}, &locals}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &feed{ctx: context.Background(), id: 1, ch: make(chan batch, 4), threads: d.threads}
	token, unregister := registerFeed(f)
	defer unregister()
	go func() {
		for i := 0; i < 100; i++ {
			b := batch{}
			for j := 0; j < 5000; j++ {
				b.records = append(b.records, Record{Action: "a"})
				b.lineNos = append(b.lineNos, int64(i*5000+j+1))
			}
			f.ch <- b
		}
		close(f.ch)
	}()
	if _, err := d.Conn.ExecContext(context.Background(), "SET preserve_insertion_order = false"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Conn.ExecContext(context.Background(), fmt.Sprintf("INSERT INTO calls BY NAME SELECT * FROM counting_feed(%d)", token)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.Conn.QueryRowContext(context.Background(), "SELECT count(*) FROM calls").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 500000 || d.threads != 2 || locals.Load() != 2 {
		t.Errorf("%d calls inserted by %d thread states (DuckDB threads %d), want 500000 by 2", n, locals.Load(), d.threads)
	}
}

type countingSource struct {
	feedSource
	locals *atomic.Int32
}

func (c countingSource) NewLocalState() any { c.locals.Add(1); return c.feedSource.NewLocalState() }

// The feed writes DuckDB's vectors directly (vecmem.go): strings of every
// length around the 12 bytes DuckDB keeps inline, multi-byte ones, long
// ones that outgrow a thread's arena within one chunk, and NULLs between
// them, read back exactly, compared and grouped as SQL values, on one
// thread and on several, in memory and in a database file.
func TestIngestFeedStrings(t *testing.T) {
	if !vecOffsets.ok {
		t.Fatal("duckdb-go's vector memory was not found: the feed writes through VectorWriter (slow); update vecmem.go")
	}
	const n = 9000
	value := func(i, col int) string {
		switch {
		case (i+col)%11 == 0:
			return "" // absent: NULL
		case col == 3 && i%2500 == 7:
			return strings.Repeat("long·", 20000+i) // larger than any arena so far
		case col == 2:
			return strings.Repeat("é", (i/3)%20) + fmt.Sprint(i%5)
		}
		return fmt.Sprintf("%0*d", 1+(i+col)%40, i%(200+col))
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"action_type":"a%d"`, i%3)
		for col, name := range []string{"idempotency_key", "session_id", "response_id", "run_id"} {
			if v := value(i, col); v != "" {
				fmt.Fprintf(&b, `,%q:%q`, name, v)
			}
		}
		b.WriteString("}\n")
	}
	path := write(t, t.TempDir(), "log.jsonl", []byte(b.String()))
	// An arena replaced within a chunk is referenced only from DuckDB's
	// memory until the insert has copied the chunk: only its pin keeps it.
	// Collect and reuse freed memory right then.
	var garbage [][]byte
	var mu sync.Mutex // the hook runs on every DuckDB thread filling a chunk
	arenaGrown = func(size int) {
		mu.Lock()
		defer mu.Unlock()
		runtime.GC()
		for i := 0; i < 8; i++ {
			g := make([]byte, size/2)
			for j := range g {
				g[j] = '#'
			}
			garbage = append(garbage, g)
		}
		if len(garbage) > 256 {
			garbage = garbage[:0]
		}
	}
	defer func() { arenaGrown = nil }()
	for _, threads := range []int{1, 4} {
		for _, file := range []bool{false, true} {
			dbPath := ""
			if file {
				dbPath = t.TempDir() + "/t.duckdb"
			}
			d, err := Open(context.Background(), dbPath, Options{Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.IngestFile(context.Background(), path); err != nil {
				t.Fatal(err)
			}
			got := queryStrings(t, d, `SELECT line || '|' || action_type || '|' || coalesce(idempotency_key, '<null>') || '|' || coalesce(session_id, '<null>') || '|' ||
				coalesce(response_id, '<null>') || '|' || coalesce(run_id, '<null>') FROM calls ORDER BY line`)
			if len(got) != n {
				t.Fatalf("threads %d file %v: %d calls, want %d", threads, file, len(got), n)
			}
			for i := 1; i <= n; i++ {
				want := fmt.Sprintf("%d|a%d", i, i%3)
				for col := 0; col < 4; col++ {
					v := value(i, col)
					if v == "" {
						v = "<null>"
					}
					want += "|" + v
				}
				if got[i-1] != want {
					t.Fatalf("threads %d file %v: line %d stored as %.200q, want %.200q", threads, file, i, got[i-1], want)
				}
			}
			// equality and grouping read string_t whole (inline padding, prefix)
			wantEq, wantKeys := 0, map[string]bool{}
			for i := 1; i <= n; i++ {
				if v := value(i, 0); v != "" {
					wantKeys[v] = true
					if v == "00000007" || v == "00000000000013" {
						wantEq++
					}
				}
			}
			if wantEq == 0 {
				t.Fatal("no key to compare: the test's values changed")
			}
			var eq, keys int
			if err := d.Conn.QueryRowContext(context.Background(), `SELECT count(*) FILTER (WHERE idempotency_key IN ('00000007', '00000000000013')),
				count(DISTINCT idempotency_key) FROM calls`).Scan(&eq, &keys); err != nil {
				t.Fatal(err)
			}
			if eq != wantEq || keys != len(wantKeys) {
				t.Errorf("threads %d file %v: %d keys equal to 00000007 or 00000000000013, %d distinct keys; want %d, %d", threads, file, eq, keys, wantEq, len(wantKeys))
			}
			d.Close()
		}
	}
}

// The feed's string pointers live in memory Go does not own, over what
// earlier statements left there: stored as pointers, the garbage
// collector's write barrier inspects the old bytes and, meeting an arena
// it has since freed, kills the process ("found bad pointer in Go heap").
// Several statements with collections between them, collecting often.
func TestIngestFeedGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	var b strings.Builder
	for i := 0; i < 60000; i++ {
		fmt.Fprintf(&b, `{"action_type":"action_%d","idempotency_key":"key_%020d","response_id":"resp_%020d","session_id":"s%d"}`+"\n", i%7, i, i, i%3)
	}
	d, err := Open(context.Background(), "", Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dir := t.TempDir()
	for k := 0; k < 6; k++ {
		path := write(t, dir, fmt.Sprintf("l%d.jsonl", k), []byte(b.String()+fmt.Sprintf(`{"action_type":"x%d"}`+"\n", k)))
		if _, err := d.IngestFile(context.Background(), path); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	var n, keys int
	if err := d.Conn.QueryRowContext(context.Background(), "SELECT count(*), count(DISTINCT idempotency_key) FROM calls").Scan(&n, &keys); err != nil {
		t.Fatal(err)
	}
	if n != 6*60001 || keys != 60000 {
		t.Errorf("%d calls, %d keys; want %d, 60000", n, keys, 6*60001)
	}
}
