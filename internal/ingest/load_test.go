package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestLoaderColumns: every column of every call the Appender writes is the
// parsed record's: NULLs, numbers, fingerprints (as UUIDs), positions and
// parents included; sessions from trace records are set after the load.
// Telemetry duplicates set aside count too.
func TestLoaderColumns(t *testing.T) {
	dir := t.TempDir()
	edge := write(t, dir, "edge.jsonl", []byte(`{"action_type":"a"}
{"ts":1794821400123,"action_type":"charge","idempotency_key":"k\u0000\"1","response_id":"r","session_id":"s","trace_id":"t","span_id":"sp","run_id":"ru","parent_span_id":"p","status":504,"effect":"created","duration_ms":0.25,"args":{"b":[1,2],"a":"é"}}
{"ts":"2026-11-16T09:30:00Z","action_type":"post","session_id":"s2","status":"ok","status":{"code":"x"}}

not json
{"action_type":"emoji 😀","args":null,"duration_ms":1e300,"status":true}
`))
	files := []string{edge}
	for _, g := range []string{"../../sample-logs/*.jsonl*", "../../sample-logs/traces/*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	ctx := context.Background()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			d := openMem(t)
			if _, err := d.IngestFile(ctx, f); err != nil {
				t.Fatal(err)
			}
			// what the parser makes of the file, without a database
			want := map[[2]int64]string{}
			in, closeFn, err := open(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			var tl tail
			sessions := map[string]string{} // trace → conversation, from trace records: set after the load
			var recs []Record
			var keys [][2]int64
			_, err = readSource(ctx, in, f, 1, &tl, nil, false, nil, "", nil, func(b batch) error {
				for i := range b.records {
					recs = append(recs, b.records[i])
					keys = append(keys, [2]int64{b.lineNos[i], int64(posOf(&b, i))})
				}
				for k, v := range b.sessions {
					sessions[k] = v
				}
				return nil
			})
			for i := range recs {
				if r := &recs[i]; r.Session == "" {
					r.Session = sessions[r.Trace]
				}
				want[keys[i]] = describeRecord(&recs[i])
			}
			if err != nil {
				t.Fatal(err)
			}
			rows, err := d.Conn.QueryContext(ctx, `SELECT line, pos, ts, action_type, idempotency_key, response_id, session_id, trace_id,
				span_id, run_id, status, status_num, effect, duration_ms, fp::VARCHAR, args_fp::VARCHAR, parent_id
				FROM (SELECT * FROM calls UNION ALL SELECT * FROM collapsed_calls)`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			got := 0
			for rows.Next() {
				var line, pos int64
				var ts sql.NullInt64
				var action string
				var key, resp, sess, trace, span, run, status, effect, fp, afp, parent sql.NullString
				var num bool
				var dur sql.NullFloat64
				if err := rows.Scan(&line, &pos, &ts, &action, &key, &resp, &sess, &trace, &span, &run, &status, &num, &effect, &dur, &fp, &afp, &parent); err != nil {
					t.Fatal(err)
				}
				g := fmt.Sprintf("ts=%v/%d action=%q key=%q resp=%q sess=%q trace=%q span=%q run=%q parent=%q status=%q num=%v effect=%q dur=%v/%v fp=%q args_fp=%q",
					ts.Valid, ts.Int64, action, key.String, resp.String, sess.String, trace.String, span.String, run.String, parent.String,
					status.String, num, effect.String, dur.Valid, dur.Float64, fp.String, afp.String)
				k := [2]int64{line, pos}
				if want[k] != g {
					t.Errorf("line %d pos %d:\n got %s\nwant %s", line, pos, g, want[k])
				}
				delete(want, k)
				got++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(want) > 0 || got == 0 {
				t.Errorf("%d calls loaded; %d parsed calls missing", got, len(want))
			}
		})
	}
}

// describeRecord is a record as TestLoaderColumns compares it.
func describeRecord(r *Record) string {
	uuid := func(ok bool, b [16]byte) string {
		if !ok {
			return ""
		}
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	return fmt.Sprintf("ts=%v/%d action=%q key=%q resp=%q sess=%q trace=%q span=%q run=%q parent=%q status=%q num=%v effect=%q dur=%v/%v fp=%q args_fp=%q",
		r.HasTS, r.TS, r.Action, r.Key, r.Response, r.Session, r.Trace, r.Span, r.Run, r.Parent,
		r.Status, r.StatusNum, r.Effect, r.HasDuration, r.Duration, uuid(r.HasFP, r.FP), uuid(r.HasArgs, r.ArgsFP))
}

func posOf(b *batch, i int) int32 {
	if b.pos == nil {
		return 0
	}
	return b.pos[i]
}
