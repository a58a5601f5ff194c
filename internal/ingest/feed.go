package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Parsed calls reach the calls table through a table function, not an
// Appender: INSERT INTO calls BY NAME SELECT * FROM idemaudit_feed(token).
// DuckDB's own threads then take the parsed batches, write them into the
// chunks the insert consumes and append those to the table, all in
// parallel; an Appender is one goroutine that copies every chunk twice
// (into its buffer, then into the table) and held the whole ingest to
// its pace (10M calls: busy 73% of the 42 s ingest while the parser
// waited on it).

// feedFunc is the name the feed is registered under on each connection.
const feedFunc = "idemaudit_feed"

// A feed carries the batches of one round of one source's ingest to the
// INSERT reading it.
type feed struct {
	ctx     context.Context
	id      int32 // the source id stored with every call
	ch      chan batch
	threads int // how many DuckDB threads fill chunks
}

var (
	feeds     sync.Map // token (int64) → *feed
	feedToken atomic.Int64
)

// registerFeed makes f readable as idemaudit_feed(token) until the
// returned function is called.
func registerFeed(f *feed) (token int64, unregister func()) {
	token = feedToken.Add(1)
	feeds.Store(token, f)
	return token, func() { feeds.Delete(token) }
}

// registerFeedFunc declares the table function on conn.
func registerFeedFunc(conn *sql.Conn) error {
	return duckdb.RegisterTableUDF(conn, feedFunc, duckdb.ParallelChunkTableFunction{
		Config: duckdb.TableFunctionConfig{Arguments: []duckdb.TypeInfo{mustType(duckdb.TYPE_BIGINT)}},
		BindArguments: func(_ map[string]any, args ...any) (duckdb.ParallelChunkTableSource, error) {
			token, _ := args[0].(int64)
			f, ok := feeds.Load(token)
			if !ok {
				return nil, fmt.Errorf("%s: no feed %d", feedFunc, token)
			}
			fd := f.(*feed)
			return feedSource{fd, fd.ch}, nil
		},
	})
}

func mustType(t duckdb.Type) duckdb.TypeInfo {
	ti, err := duckdb.NewTypeInfo(t)
	if err != nil {
		panic(err)
	}
	return ti
}

// feedColumns are the columns of calls, in the order FillChunk writes them.
var feedColumns = func() []duckdb.ColumnInfo {
	str, i32, i64 := mustType(duckdb.TYPE_VARCHAR), mustType(duckdb.TYPE_INTEGER), mustType(duckdb.TYPE_BIGINT)
	boolean, dbl, uuid := mustType(duckdb.TYPE_BOOLEAN), mustType(duckdb.TYPE_DOUBLE), mustType(duckdb.TYPE_UUID)
	return []duckdb.ColumnInfo{
		{Name: "source_id", T: i32}, {Name: "line", T: i64}, {Name: "ts", T: i64},
		{Name: "action_type", T: str}, {Name: "idempotency_key", T: str}, {Name: "response_id", T: str},
		{Name: "session_id", T: str}, {Name: "trace_id", T: str}, {Name: "span_id", T: str},
		{Name: "run_id", T: str}, {Name: "status", T: str}, {Name: "status_num", T: boolean},
		{Name: "effect", T: str}, {Name: "duration_ms", T: dbl}, {Name: "fp", T: uuid},
		{Name: "args_fp", T: uuid}, {Name: "pos", T: i32}, {Name: "parent_id", T: str},
	}
}()

// the string columns of feedColumns
const (
	colAction = 3 + iota
	colKey
	colResponse
	colSession
	colTrace
	colSpan
	colRun
	colStatus
)

const (
	colEffect = 12
	colParent = 17
)

type feedSource struct {
	f  *feed
	ch chan batch // the feed of this insert
}

func (s feedSource) ColumnInfos() []duckdb.ColumnInfo     { return feedColumns }
func (s feedSource) Cardinality() *duckdb.CardinalityInfo { return nil }
func (s feedSource) Init() duckdb.ParallelTableSourceInfo {
	// MaxThreads 0 would be one thread, not DuckDB's default
	return duckdb.ParallelTableSourceInfo{MaxThreads: max(s.f.threads, 1)}
}

// feedState is one DuckDB thread's batch in progress.
type feedState struct {
	b    batch
	next int // the first record of b not yet written
}

func (s feedSource) NewLocalState() any { return &feedState{} }

var errFeedType = errors.New("feed: unexpected local state")

// FillChunk writes up to a chunk's capacity of calls, taking batches off
// the feed as it goes; an empty chunk ends the scan.
func (s feedSource) FillChunk(local any, ch duckdb.DataChunk) error {
	st, ok := local.(*feedState)
	if !ok {
		return errFeedType
	}
	capacity := duckdb.GetDataChunkCapacity()
	// Vectors have the chunk's size: set it to the capacity while writing.
	if err := ch.SetSize(capacity); err != nil {
		return err
	}
	var w [18]duckdb.VectorWriter[string]
	for _, c := range []int{colAction, colKey, colResponse, colSession, colTrace, colSpan, colRun, colStatus, colEffect, colParent} {
		vec, err := ch.GetVector(c)
		if err != nil {
			return err
		}
		if w[c], err = duckdb.GetVectorWriter[string](vec); err != nil {
			return err
		}
	}
	var err error
	str := func(c, row int, v string) {
		if err != nil {
			return
		}
		if v == "" {
			err = w[c].SetNull(row)
		} else {
			err = w[c].Set(row, v)
		}
	}
	null := func(c, row int) {
		if err == nil {
			err = ch.SetValue(c, row, nil)
		}
	}
	n := 0
	for n < capacity {
		if st.next == len(st.b.records) {
			select {
			case b, open := <-s.ch:
				if !open {
					return ch.SetSize(n)
				}
				st.b, st.next = b, 0
				continue
			case <-s.f.ctx.Done():
				return s.f.ctx.Err()
			}
		}
		for ; st.next < len(st.b.records) && n < capacity; st.next, n = st.next+1, n+1 {
			r := &st.b.records[st.next]
			if err = duckdb.SetChunkValue(ch, 0, n, s.f.id); err == nil {
				err = duckdb.SetChunkValue(ch, 1, n, st.b.lineNos[st.next])
			}
			if err == nil && st.b.pos != nil {
				err = duckdb.SetChunkValue(ch, 16, n, st.b.pos[st.next])
			} else if err == nil {
				err = duckdb.SetChunkValue(ch, 16, n, int32(0))
			}
			if !r.HasTS {
				null(2, n)
			} else if err == nil {
				err = duckdb.SetChunkValue(ch, 2, n, r.TS)
			}
			str(colAction, n, r.Action)
			str(colKey, n, r.Key)
			str(colResponse, n, r.Response)
			str(colSession, n, r.Session)
			str(colTrace, n, r.Trace)
			str(colSpan, n, r.Span)
			str(colRun, n, r.Run)
			str(colStatus, n, r.Status)
			str(colEffect, n, r.Effect)
			str(colParent, n, r.Parent)
			if err == nil {
				err = duckdb.SetChunkValue(ch, 11, n, r.StatusNum)
			}
			if !r.HasDuration {
				null(13, n)
			} else if err == nil {
				err = duckdb.SetChunkValue(ch, 13, n, r.Duration)
			}
			if !r.HasFP {
				null(14, n)
			} else if err == nil {
				err = duckdb.SetChunkValue(ch, 14, n, duckdb.UUID(r.FP))
			}
			if !r.HasArgs {
				null(15, n)
			} else if err == nil {
				err = duckdb.SetChunkValue(ch, 15, n, duckdb.UUID(r.ArgsFP))
			}
			if err != nil {
				return err
			}
		}
		if st.next == len(st.b.records) {
			st.b = batch{} // the records can go
			st.next = 0
		}
	}
	return ch.SetSize(n)
}
