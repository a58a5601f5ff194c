package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

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
	r, err := d.Conn.QueryContext(context.Background(), `
		SELECT 'call ' || line || ' ' || pos || ' ' || action_type || ' ' || coalesce(idempotency_key, '-') || ' ' ||
			coalesce(response_id, '-') || ' ' || coalesce(CAST(ts AS VARCHAR), '-') || ' ' || coalesce(CAST(args_fp AS VARCHAR), '-') FROM calls
		UNION ALL SELECT 'bad ' || line || ' ' || error FROM malformed
		UNION ALL SELECT 'strings ' || line || ' ' || pos || ' ' || strings FROM arg_strings
		UNION ALL SELECT 'source ' || lines || ' ' || calls || ' ' || malformed FROM sources
		ORDER BY 1`)
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
	return out
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
