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
// DuckDB's threads take the parsed batches off a channel, write them
// straight into the chunks the insert consumes and append those to the
// table, in parallel. An Appender is one goroutine that copies every
// chunk twice (into its buffer, then into the table): on more cores than
// two it would be the bottleneck (3M rows: 4.2 s on one core, the feed
// 1.95 s on two), and into a database file the feed's threads also write
// and compress the row groups (10M calls: ingest --db 40.2 -> 33.4 s).

// feedFunc is the name the feed is registered under on each connection.
const feedFunc = "idemaudit_feed"

// A feed carries the batches of one round of one source's ingest to the
// INSERT reading it.
type feed struct {
	ctx     context.Context
	id      int32 // the source id stored with every call
	ch      chan batch
	threads int    // how many DuckDB threads fill chunks
	pins    pinSet // the arenas of the INSERT reading the feed (see vecmem.go)
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

// feedColumns are the columns of calls the feed writes, at their col*
// index.
var feedColumns = func() []duckdb.ColumnInfo {
	str, i32, i64 := mustType(duckdb.TYPE_VARCHAR), mustType(duckdb.TYPE_INTEGER), mustType(duckdb.TYPE_BIGINT)
	boolean, dbl, uuid := mustType(duckdb.TYPE_BOOLEAN), mustType(duckdb.TYPE_DOUBLE), mustType(duckdb.TYPE_UUID)
	cols := make([]duckdb.ColumnInfo, nFeedColumns)
	for c, info := range map[int]duckdb.ColumnInfo{
		colSource: {Name: "source_id", T: i32}, colLine: {Name: "line", T: i64}, colTS: {Name: "ts", T: i64},
		colAction: {Name: "action_type", T: str}, colKey: {Name: "idempotency_key", T: str}, colResponse: {Name: "response_id", T: str},
		colSession: {Name: "session_id", T: str}, colTrace: {Name: "trace_id", T: str}, colSpan: {Name: "span_id", T: str},
		colRun: {Name: "run_id", T: str}, colStatus: {Name: "status", T: str}, colStatusNum: {Name: "status_num", T: boolean},
		colEffect: {Name: "effect", T: str}, colDuration: {Name: "duration_ms", T: dbl}, colFP: {Name: "fp", T: uuid},
		colArgsFP: {Name: "args_fp", T: uuid}, colPos: {Name: "pos", T: i32}, colParent: {Name: "parent_id", T: str},
	} {
		cols[c] = info
	}
	return cols
}()

// the columns of feedColumns, in order
const (
	colSource = iota
	colLine
	colTS
	colAction
	colKey
	colResponse
	colSession
	colTrace
	colSpan
	colRun
	colStatus
	colStatusNum
	colEffect
	colDuration
	colFP
	colArgsFP
	colPos
	colParent
	nFeedColumns
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
	b     batch
	next  int // the first record of b not yet written
	arena arena
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
	var w [nFeedColumns]duckdb.VectorWriter[string]
	var raw [nFeedColumns]rawVector
	direct := true // every vector written has its memory found
	for _, c := range []int{colAction, colKey, colResponse, colSession, colTrace, colSpan, colRun, colStatus, colEffect, colParent, colTS, colDuration, colFP, colArgsFP} {
		vec, err := ch.GetVector(c)
		if err != nil {
			return err
		}
		if c != colTS && c != colDuration && c != colFP && c != colArgsFP {
			if w[c], err = duckdb.GetVectorWriter[string](vec); err != nil {
				return err
			}
		}
		var ok bool
		raw[c], ok = rawOf(vec)
		direct = direct && ok
	}
	// the previous chunk's strings are in the table now
	st.arena.n = 0
	var err error
	str := func(c, row int, v string) {
		if err != nil {
			return
		}
		if direct && raw[c].setString(row, v, &st.arena, &s.f.pins) {
			return
		}
		if v == "" {
			err = w[c].SetNull(row)
		} else {
			err = w[c].Set(row, v)
		}
	}
	null := func(c, row int) {
		if direct {
			raw[c].setValid(row, false)
		} else if err == nil {
			err = ch.SetValue(c, row, nil)
		}
	}
	// a non-NULL value written through duckdb-go over a row of an earlier
	// chunk is valid only if its bit says so
	valid := func(c, row int) {
		if direct {
			raw[c].setValid(row, true)
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
			if err = duckdb.SetChunkValue(ch, colSource, n, s.f.id); err == nil {
				err = duckdb.SetChunkValue(ch, colLine, n, st.b.lineNos[st.next])
			}
			if err == nil && st.b.pos != nil {
				err = duckdb.SetChunkValue(ch, colPos, n, st.b.pos[st.next])
			} else if err == nil {
				err = duckdb.SetChunkValue(ch, colPos, n, int32(0))
			}
			if !r.HasTS {
				null(colTS, n)
			} else if err == nil {
				valid(colTS, n)
				err = duckdb.SetChunkValue(ch, colTS, n, r.TS)
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
				err = duckdb.SetChunkValue(ch, colStatusNum, n, r.StatusNum)
			}
			if !r.HasDuration {
				null(colDuration, n)
			} else if err == nil {
				valid(colDuration, n)
				err = duckdb.SetChunkValue(ch, colDuration, n, r.Duration)
			}
			if !r.HasFP {
				null(colFP, n)
			} else if err == nil {
				valid(colFP, n)
				err = duckdb.SetChunkValue(ch, colFP, n, duckdb.UUID(r.FP))
			}
			if !r.HasArgs {
				null(colArgsFP, n)
			} else if err == nil {
				valid(colArgsFP, n)
				err = duckdb.SetChunkValue(ch, colArgsFP, n, duckdb.UUID(r.ArgsFP))
			}
			if err != nil {
				return err
			}
		}
		if st.next == len(st.b.records) {
			putRecords(&st.b) // copied into the chunk: the records can serve again
			st.b = batch{}
			st.next = 0
		}
	}
	return ch.SetSize(n)
}
