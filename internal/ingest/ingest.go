package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Status says what an ingest did with a source.
type Status string

const (
	StatusNew       Status = "new"       // read in full for the first time
	StatusGrown     Status = "grown"     // its known beginning was skipped, the new lines read
	StatusReplaced  Status = "replaced"  // the path was known, but its beginning changed: read as a new source
	StatusContinues Status = "continues" // a new path whose beginning is content already ingested (a rotated or copied log)
	StatusUnchanged Status = "unchanged" // nothing new
	StatusDuplicate Status = "duplicate" // its whole content is already ingested under another path
	StatusReread    Status = "reread"    // known, but read with other import settings (--from, --map, --key-path...): read anew
)

// Stats is what one source contributed.
type Stats struct {
	Source    string
	Status    Status
	Lines     int64 // lines read this time (blank and malformed included)
	Bytes     int64 // decompressed bytes of the source
	Calls     int64 // calls added
	Malformed int64 // malformed lines added
	FirstLine int64 // the first line read this time (1 unless grown or continued)
	Format    Format
	Collapsed int64 // telemetry duplicates: records of a (trace, span) already read
	Skipped   int64 // records of a trace export that are no tool call
	// TakenOver: calls of another source's unterminated last line that this
	// one holds whole (a copy that grew) and took over: not added, moved
	TakenOver int64

	sessions map[string]string // trace id → conversation, from the source's trace records
	// MalformedAt holds the first malformed lines' numbers (at most 10).
	MalformedAt []int64
	// Of names the source already ingested that holds this one's content
	// (unchanged, duplicate) or its beginning (grown, continues).
	Of string
}

// InputError is a source that could not be read; the CLI reports it as an
// input error (exit 2). Nothing of that source is kept.
type InputError struct {
	Source string
	Err    error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Source, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// known is one ingested segment, as the prefix scan needs it.
type known struct {
	id        int32
	path      string
	absPath   string
	safeBytes int64 // end of its last complete line, from the source's first byte
	safeHash  duckdb.UUID
	safeLines int64
	endBytes  int64
	endHash   duckdb.UUID
	tailLine  sql.NullInt64 // its last line had no terminator: that line is re-read on growth
	format    Format
	settings  string
	head      *duckdb.UUID  // the source's first headSize bytes; nil: shorter, or not known
	continues sql.NullInt32 // the segment whose content this one's beginning is
	document  bool          // read as JSON documents: resumed as documents (see docRead)
	// tailSame (found by a scan, not kept): the file read continues this
	// segment's unterminated last line too, byte for byte
	tailSame bool
}

func (d *DB) knownSegments(ctx context.Context) ([]known, error) {
	rows, err := d.Conn.QueryContext(ctx, `SELECT source_id, path, coalesce(abs_path, ''), safe_bytes, safe_hash,
		safe_lines, end_bytes, end_hash, tail_line, coalesce(format, 'jsonl'), coalesce(import_settings, ''), head_hash, continues,
		coalesce(document, false) FROM sources ORDER BY source_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []known
	for rows.Next() {
		var k known
		var head sql.Null[duckdb.UUID]
		if err := rows.Scan(&k.id, &k.path, &k.absPath, &k.safeBytes, &k.safeHash, &k.safeLines,
			&k.endBytes, &k.endHash, &k.tailLine, &k.format, &k.settings, &head, &k.continues, &k.document); err != nil {
			return nil, err
		}
		if head.Valid {
			k.head = &head.V
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// dbText is a file name as the database keeps it: a VARCHAR holds only
// UTF-8, and a file name may be any bytes. A name that is not UTF-8 is kept
// Go-quoted ("a\xffb.jsonl"): the same name always maps to the same text,
// and no UTF-8 name starts with a quote and reads as valid Go quoting of
// non-UTF-8 bytes.
func dbText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strconv.Quote(s)
}

// IngestFile reads one file into the database, in one transaction: on any
// error the database is as it was before. It is idempotent: content already
// in the database is never added again. A file whose beginning is already
// ingested (an append-only log that grew, or a rotated copy) contributes
// only its new lines, numbered as lines of this file.
func (d *DB) IngestFile(ctx context.Context, path string) (Stats, error) {
	st := Stats{Source: path, FirstLine: 1}
	if IsStream(path) {
		f, err := os.Open(path)
		if err != nil {
			return st, &InputError{path, err}
		}
		defer f.Close()
		return d.IngestReader(ctx, path, f)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return st, &InputError{path, err}
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	key := dbText(abs) // the file as the database names it (abs opens it)
	segs, err := d.knownSegments(ctx)
	if err != nil {
		return st, err
	}
	// Pass 1: hash the content, looking for the longest known beginning.
	t0 := time.Now()
	scan, err := scanFile(ctx, path, key, segs)
	d.timed("ingest: known beginnings", t0)
	if err != nil {
		return st, err
	}
	if scan.rest != nil {
		defer scan.rest.Close()
	}
	st.Bytes = max(scan.size, 0) // -1 after a partial scan: the parse pass counts
	// this path read before with other import settings: read it anew. What
	// goes is the reading of this content: the matched segment and those it
	// continues of this path; earlier contents of the path (replaced,
	// truncated: no longer on disk) stay, as they would without the flags.
	var drop []int32
	for _, k := range []*known{scan.whole, scan.prefix} {
		if k != nil && k.absPath == key && d.readOtherwise(k) {
			byID := map[int32]*known{}
			for i := range segs {
				byID[segs[i].id] = &segs[i]
			}
			for s := byID[k.id]; s != nil && s.absPath == key; {
				drop = append(drop, s.id)
				if !s.continues.Valid {
					break
				}
				s = byID[s.continues.Int32]
			}
			scan.whole, scan.prefix = nil, nil
			st.Status, st.Of = StatusReread, k.path
			break
		}
	}
	if k := scan.whole; k != nil {
		st.Status, st.Of = StatusDuplicate, k.path
		if k.absPath == key {
			st.Status = StatusUnchanged
		}
		return st, nil
	}
	var from *known
	if k := scan.prefix; k != nil {
		from = k
		st.Of = k.path
		st.FirstLine = k.safeLines + 1
		st.Status = StatusContinues
		if k.absPath == key {
			st.Status = StatusGrown
		}
	} else if st.Status != StatusReread {
		st.Status = StatusNew
		for _, k := range segs {
			if k.absPath == key {
				st.Status = StatusReplaced
				st.Of = k.path
			}
		}
	}
	d.drop = drop
	defer func() { d.drop = nil }()
	if scan.partial {
		// Pass 1 read only the head, which no known segment shares: the
		// content is new whatever follows. Pass 2 reads it to its end from
		// the file pass 1 opened, so it parses what pass 1 judged (no
		// duplicate either: the stream check in ingest finds none).
		scan.rest.start(d.Progress)
		return finishStream(d.ingest(ctx, st, abs, scan.rest, from, nil))
	}
	// Pass 2: read again, parsing only what is new, and check the content
	// is the one pass 1 saw (a log being written is read up to that size).
	f, closeFn, err := open(path, d.Progress)
	if err != nil {
		return st, &InputError{path, err}
	}
	defer closeFn()
	return d.ingest(ctx, st, abs, io.LimitReader(f, scan.size), from, &scan.hash)
}

// readOtherwise reports whether a known segment was read with other import
// settings than this run's: another --from, --map, key or response paths.
func (d *DB) readOtherwise(k *known) bool {
	if !d.Import.relevant(k.format) {
		// a run without import flags (cron) keeps how each source was
		// read, and so does a run whose flags are for other formats
		// (--key-path says nothing of a JSON Lines log's --map)
		return false
	}
	f := k.format
	if d.Import != nil && d.Import.From != "" && d.Import.From != FormatAuto {
		if d.Import.From != k.format {
			return true
		}
		f = d.Import.From
	}
	return d.Import.Settings(f) != k.settings
}

// IngestReader is IngestFile for a stream (standard input), read once:
// its content is deduplicated as a whole; name is how reports show it.
func (d *DB) IngestReader(ctx context.Context, name string, r io.Reader) (Stats, error) {
	st := Stats{Source: name, FirstLine: 1, Status: StatusNew}
	src, err := decompress(r)
	if err != nil {
		return st, &InputError{name, err}
	}
	return finishStream(d.ingest(ctx, st, "", src, nil, nil))
}

// ingest parses src from the end of from's complete lines (or from the
// start) in one transaction. want, when set, is the content hash pass 1 saw.
func (d *DB) ingest(ctx context.Context, st Stats, abs string, src io.Reader, from *known, want *duckdb.UUID) (_ Stats, err error) {
	path := st.Source
	// a statement interrupted by the caller's cancellation says so
	cancelled := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	// the feed's insert runs on DuckDB's threads in any order (the calls
	// table keeps none: every query orders by line); set outside the
	// transaction, so the reset runs after COMMIT or ROLLBACK (an aborted
	// transaction refuses it)
	if _, err := d.Conn.ExecContext(ctx, "SET preserve_insertion_order = false"); err != nil {
		return st, cancelled(err)
	}
	defer d.Conn.ExecContext(context.WithoutCancel(ctx), "RESET preserve_insertion_order")
	if _, err := d.Conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return st, cancelled(err)
	}
	defer func() {
		if err != nil {
			err = cancelled(err)
			d.Conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return
		}
		t0 := time.Now()
		defer d.timed("ingest: commit", t0)
		// past the point of no return: an interrupted COMMIT may have committed
		if _, cerr := d.Conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); cerr != nil {
			err = cancelled(cerr)
			d.Conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	for _, old := range d.drop { // read anew: what the earlier reading kept goes, in this transaction
		for _, t := range []string{"calls", "collapsed_calls", "malformed", "arg_strings", "span_links", "sources"} {
			if _, err := d.Conn.ExecContext(ctx, "DELETE FROM "+t+" WHERE source_id = ?", old); err != nil {
				return st, err
			}
		}
	}
	// the copies other sources gave up for the one read anew come back; the
	// collapse below decides again over every trace export
	restored := false
	if len(d.drop) > 0 {
		var n int64
		if err := d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM collapsed_calls").Scan(&n); err != nil {
			return st, err
		}
		if n > 0 {
			if _, err := d.Conn.ExecContext(ctx, "INSERT INTO calls SELECT * FROM collapsed_calls; DELETE FROM collapsed_calls"); err != nil {
				return st, err
			}
			restored = true
		}
	}
	var id int32
	if err := d.Conn.QueryRowContext(ctx, "SELECT coalesce(max(source_id), 0) + 1 FROM sources").Scan(&id); err != nil {
		return st, err
	}
	counted := newCountingReader(src)
	var start int64
	rereadTail := false       // another reading's unterminated last line is read again here
	var rereadTo int64        // the last line of it (a document's tail may have many)
	var rereadAt sql.NullTime // when those lines were first read (see reread_at)
	if from != nil {
		// The known beginning is hashed, not parsed.
		start = from.safeBytes
		if _, err := io.CopyN(io.Discard, counted, start); err != nil {
			return st, &InputError{path, fmt.Errorf("changed while being read (shorter than a moment ago): %w", err)}
		}
		// A last line that had no terminator is read again, whole this
		// time: its records go, and the segment ends before it (for JSON
		// documents: every line after the last complete value). When this
		// file continues another one (a copy of its beginning), that file
		// is left as it is on disk: if this one holds the line byte for
		// byte, only the line's records move to this reading (so the other
		// file, unchanged, stays unchanged for the next run); if it holds
		// another line there, each file keeps its own.
		if other := from.absPath != dbText(abs); from.tailLine.Valid && (!other || from.tailSame) {
			rereadTail = true
			// (the line's first reading: this one's, or, when that was a
			// re-reading too, the one before)
			if err := d.Conn.QueryRowContext(ctx, `SELECT first_line + lines - 1,
				CASE WHEN ? < first_line + coalesce(reread_lines, 0) THEN reread_at ELSE ingested_at END
				FROM sources WHERE source_id = ?`, st.FirstLine, from.id).Scan(&rereadTo, &rereadAt); err != nil {
				return st, err
			}
			if other {
				if err := d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM calls WHERE source_id = ? AND line >= ?", from.id, from.tailLine.Int64).Scan(&st.TakenOver); err != nil {
					return st, err
				}
			}
			for _, t := range []string{"calls", "collapsed_calls", "malformed", "arg_strings"} {
				if _, err := d.Conn.ExecContext(ctx, "DELETE FROM "+t+" WHERE source_id = ? AND line >= ?", from.id, from.tailLine.Int64); err != nil {
					return st, err
				}
			}
			ends := `tail_line = NULL, end_bytes = safe_bytes, end_hash = safe_hash,
				head_hash = CASE WHEN safe_bytes >= ` + fmt.Sprint(headSize) + ` THEN head_hash END, lines = safe_lines - first_line + 1, `
			if other {
				ends = ""
			}
			if _, err := d.Conn.ExecContext(ctx, `UPDATE sources SET `+ends+`calls = (SELECT count(*) FROM calls WHERE source_id = ?),
				malformed = (SELECT count(*) FROM malformed WHERE source_id = ?) WHERE source_id = ?`, from.id, from.id, from.id); err != nil {
				return st, err
			}
		}
	}
	doc := &docRead{resume: from != nil && from.document, base: counted.state()}
	var tl tail
	var knownFormat Format
	if from != nil && from.endBytes > 0 { // an empty file said nothing of its format
		knownFormat = from.format
		// its new lines are read the way its beginning was, unless this
		// run gives settings for its format
		if from.settings != "" && !d.Import.relevant(from.format) {
			if im := parseSettings(from.format, from.settings); im != nil {
				saved := d.Import
				d.Import = im
				defer func() { d.Import = saved }()
			}
		}
	}
	t0 := time.Now()
	lay, err := d.appendAll(ctx, id, counted, abs, st.FirstLine, knownFormat, doc, &tl, &st)
	d.timed("ingest: parse and append", t0)
	t0 = time.Now()
	defer d.timed("ingest: collapse, sources", t0)
	st.Bytes = counted.n
	st.Format = lay.format
	if err == nil && !lay.lineBased {
		// Parquet is read whole, never resumed; JSON documents after the
		// line where their last complete value ends
		counted.safe, tl = lineEnd{hash: emptyHash}, tail{}
		if lay.document {
			counted.safe, tl = doc.safe, tail{open: doc.open, line: doc.safe.lines + 1}
		}
	}
	if err == nil && len(d.drop) > 0 {
		err = d.keepPruned(ctx, id, &st, 0, 0)
	} else if err == nil && rereadTail && st.Lines > 0 {
		// the unterminated last line read again, whole: what a prune
		// deleted of it stays deleted
		err = d.keepPruned(ctx, id, &st, st.FirstLine, rereadTo)
	}
	if err == nil && len(st.sessions) > 0 {
		err = d.traceSessions(ctx, id, st.sessions)
	}
	if err == nil && (lay.format.Imported() || restored) {
		err = d.collapse(ctx, id, &st, restored)
	}
	if err == nil {
		err = d.loggedTwice(ctx, id, lay.format.Imported(), restored, &st)
	}
	if err != nil {
		if ctx.Err() == nil && !isDBError(err) {
			// the line that was being read: the counting reader saw every
			// byte from the source's start, the known beginning included
			return st, &InputError{path, fmt.Errorf("read failed after %d bytes (line %d): %w; nothing of this reading was kept", counted.n, counted.safe.lines+1, err)}
		}
		return st, err
	}
	sum := counted.sum()
	if want != nil && sum != *want {
		return st, &InputError{path, errors.New("changed while being read; run again")}
	}
	if want == nil {
		// A stream is read once: whole content already ingested → roll back.
		var dup string
		err = d.Conn.QueryRowContext(ctx, `SELECT path FROM sources WHERE end_hash = ? AND end_bytes = ? AND end_bytes > 0
			ORDER BY source_id LIMIT 1`, &sum, st.Bytes).Scan(&dup)
		switch {
		case err == nil:
			st.Status, st.Of, st.Lines, st.Calls, st.Malformed = StatusDuplicate, dup, 0, 0, 0
			return st, errDuplicate
		case !errors.Is(err, sql.ErrNoRows):
			return st, err
		}
	}
	var absPath any
	if abs != "" {
		absPath = dbText(abs)
	}
	var tailLine any
	if tl.open {
		tailLine = tl.line
	}
	var continues any
	if from != nil {
		continues = from.id
	}
	var rereadLines, rereadTime any
	if rereadTail && rereadAt.Valid {
		rereadLines, rereadTime = rereadTo-st.FirstLine+1, rereadAt.Time.UTC()
	}
	safe := counted.safe
	_, err = d.Conn.ExecContext(ctx, `INSERT INTO sources (source_id, path, abs_path, first_line, start_bytes,
		lines, calls, malformed, safe_bytes, safe_hash, safe_lines, end_bytes, end_hash, tail_line, continues, ingested_at,
		format, collapsed, skipped, import_settings, head_hash, document, reread_lines, reread_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, dbText(path), absPath, st.FirstLine, start, st.Lines, st.Calls, st.Malformed,
		safe.bytes, &safe.hash, safe.lines, st.Bytes, &sum, tailLine, continues, d.ingestedAt(),
		string(st.Format), st.Collapsed, st.Skipped, nullable(d.Import.Settings(st.Format)), counted.headHash(), lay.document,
		rereadLines, rereadTime)
	return st, err
}

// errDuplicate rolls back a stream whose content is already in the database.
var errDuplicate = errors.New("duplicate content")

// finishStream turns the duplicate rollback into a status.
func finishStream(st Stats, err error) (Stats, error) {
	if errors.Is(err, errDuplicate) {
		err = nil
	}
	return st, err
}

type dbError struct{ error }

func (e dbError) Unwrap() error { return e.error }

func isDBError(err error) bool {
	var e dbError
	return errors.As(err, &e)
}

// appendAll reads src and stores its calls (through the feed, see feed.go),
// malformed lines and args strings as source id, updating st.
func (d *DB) appendAll(parent context.Context, id int32, src io.Reader, path string, first int64, known Format, doc *docRead, tl *tail, st *Stats) (lay layout, _ error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	f := &feed{ctx: ctx, id: id, ch: make(chan batch, 4), threads: d.threads}
	token, unregister := registerFeed(f)
	defer unregister()
	// Malformed lines and args strings wait in pend for their own tables,
	// written between inserts: at most maxPending bytes of them end one.
	var pend pending
	paused := make(chan bool)       // the feed closed: true when the source is read
	resume := make(chan chan batch) // the next insert's feed
	var perr error
	go func() {
		cur := f.ch
		var err error
		lay, err = readSource(ctx, src, path, first, tl, d.Config, false, d.Import, known, doc, func(b batch) error {
			st.Lines += b.lines
			st.Skipped += b.skipped
			for k, v := range b.sessions {
				if st.sessions == nil {
					st.sessions = map[string]string{}
				}
				st.sessions[k] = v
			}
			st.Calls += int64(len(b.records))
			st.Malformed += int64(len(b.malformed))
			for i := range b.records {
				if s := b.records[i].ArgStrings; s != "" {
					pos := int32(0)
					if b.pos != nil {
						pos = b.pos[i]
					}
					pend.strs = append(pend.strs, argStrings{b.lineNos[i], s, pos})
					pend.bytes += len(s) + 32
				}
			}
			for _, l := range b.links {
				pend.links = append(pend.links, l)
				pend.bytes += len(l.trace) + len(l.span) + len(l.parent) + 32
			}
			for _, m := range b.malformed {
				if len(st.MalformedAt) < 10 {
					st.MalformedAt = append(st.MalformedAt, m.Line)
				}
				pend.bad = append(pend.bad, m)
				pend.bytes += len(m.Error) + 32
			}
			if len(b.records) > 0 {
				select {
				case cur <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if pend.bytes >= maxPending {
				close(cur)
				paused <- false
				select {
				case cur = <-resume:
				case <-ctx.Done():
					cur = nil
					return ctx.Err()
				}
			}
			return nil
		})
		perr = err
		if cur != nil {
			close(cur)
		}
		paused <- true
	}()
	// stop ends the reader, waiting is over: err, or the caller's
	// cancellation, is the outcome
	stop := func(done bool, err error) (layout, error) {
		cancel()
		for !done {
			done = <-paused
		}
		if parent.Err() != nil {
			return lay, parent.Err()
		}
		return lay, err
	}
	insert := fmt.Sprintf("INSERT INTO calls BY NAME SELECT * FROM %s(%d)", feedFunc, token)
	for {
		_, err := d.Conn.ExecContext(ctx, insert)
		// DuckDB has read the feed's arenas: the INSERT has returned
		f.pins.release()
		if err != nil {
			return stop(false, dbError{err})
		}
		done := <-paused
		// the reader waits: pend is ours
		if err := d.appendPending(id, &pend); err != nil {
			return stop(done, dbError{err})
		}
		if done {
			return lay, perr
		}
		f.ch = make(chan batch, 4)
		select {
		case resume <- f.ch:
		case <-ctx.Done():
			return stop(false, ctx.Err())
		}
	}
}

// maxPending bounds the malformed lines and args strings held back while
// calls are inserted (a file of garbage is millions of malformed lines).
var maxPending = 8 << 20

type pending struct {
	bad   []Malformed
	strs  []argStrings
	links []spanLink
	bytes int
}

type argStrings struct {
	line    int64
	strings string
	pos     int32
}

// appendPending writes the malformed lines and args strings held back
// and empties p.
func (d *DB) appendPending(id int32, p *pending) error {
	if len(p.bad) == 0 && len(p.strs) == 0 && len(p.links) == 0 {
		return nil
	}
	err := d.Conn.Raw(func(raw any) error {
		conn := raw.(driver.Conn)
		err := appendRows(conn, "malformed", len(p.bad), func(i int) []driver.Value {
			return []driver.Value{id, p.bad[i].Line, p.bad[i].Error}
		})
		if err == nil {
			err = appendRows(conn, "arg_strings", len(p.strs), func(i int) []driver.Value {
				return []driver.Value{id, p.strs[i].line, p.strs[i].strings, p.strs[i].pos}
			})
		}
		if err == nil {
			err = appendRows(conn, "span_links", len(p.links), func(i int) []driver.Value {
				l := p.links[i]
				var trace driver.Value
				if l.trace != "" {
					trace = l.trace
				}
				return []driver.Value{id, trace, l.span, l.parent}
			})
		}
		return err
	})
	*p = pending{bad: p.bad[:0], strs: p.strs[:0], links: p.links[:0]}
	return err
}

// appendRows appends n rows to table with an Appender.
func appendRows(conn driver.Conn, table string, n int, row func(i int) []driver.Value) error {
	if n == 0 {
		return nil
	}
	a, err := duckdb.NewAppenderFromConn(conn, "", table)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := a.AppendRow(row(i)...); err != nil {
			a.Close()
			return err
		}
	}
	return a.Close()
}

func nullable(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

// emptyHash is the content hash of nothing: a segment read whole (a JSON
// document, Parquet) records it as its last complete line's, so it is
// never resumed half-way.
var emptyHash = newCountingReader(nil).safe.hash

// collapse sets aside the records of one call that trace exports hold
// twice: the same (trace id, span id) exported again (exporters retry, OTLP
// allows resends, export windows overlap), here or in an imported source
// read before; and a tool span holding tool spans of the same tool in the
// same trace (an MCP client's span over its server's, the agent's
// execute_tool span over its MCP client span, a span over the attempts of a
// client that retried): the innermost spans are the attempts and stay, the
// wrapper goes — whichever export brings which — and gives its attempts
// what they lack of it (see inherit). Of two copies the most complete stays
// (an ended span with its result over the same span caught running), else
// the first read. Set-aside records move to collapsed_calls, so a source
// read anew gives back the copies it had won. JSON Lines logs are never
// collapsed (their retries may reuse a span id). all: decide over every
// trace export, not only the traces of source id. The sources' counts are
// brought up to date.
func (d *DB) collapse(ctx context.Context, id int32, st *Stats, all bool) error {
	imported := func(a string) string { return ofSource(a, true) }
	mine := `SELECT DISTINCT coalesce(trace_id, '') AS t, span_id AS s FROM calls WHERE source_id = $1 AND span_id IS NOT NULL`
	// only the traces this source has a call or link in can hold a pair
	// that involves it: the others are not walked
	ownTraces := func(a string) string {
		return `AND coalesce(` + a + `.trace_id, '') IN (SELECT coalesce(trace_id, '') FROM calls WHERE source_id = $1
			UNION SELECT coalesce(trace_id, '') FROM span_links WHERE source_id = $1)`
	}
	if all {
		mine = `SELECT DISTINCT coalesce(trace_id, '') AS t, span_id AS s FROM calls c WHERE span_id IS NOT NULL AND ` + imported("c")
		ownTraces = func(string) string { return "" }
	}
	// wrap_pairs: each tool span (child) and a tool span of the same tool
	// holding it (wrapper) in the same trace: its parent, or the first tool
	// span up through spans that are no tool call (span_links; at most 32
	// of them). The tool spans are the calls of trace exports and the
	// wrappers set aside before (a set-aside span no call holds a copy of:
	// not a telemetry duplicate of a kept span), so that a wrapper read
	// after its attempt's wrapper, or an attempt read after its wrapper
	// went, still finds its place in the chain (p_aside: the wrapper was
	// set aside before). A span is never its own wrapper.
	if _, err := d.Conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE wrap_pairs AS
		WITH RECURSIVE spans AS MATERIALIZED (
			SELECT c.source_id, c.line, c.pos, coalesce(c.trace_id, '') AS t, c.span_id, c.parent_id, c.action_type, false AS aside
			FROM calls c WHERE `+imported("c")+` `+ownTraces("c")+`
			UNION ALL
			SELECT k.source_id, k.line, k.pos, coalesce(k.trace_id, ''), k.span_id, k.parent_id, k.action_type, true
			FROM collapsed_calls k WHERE k.span_id IS NOT NULL AND `+imported("k")+` `+ownTraces("k")+`
				AND NOT EXISTS (SELECT 1 FROM calls c WHERE coalesce(c.trace_id, '') = coalesce(k.trace_id, '') AND c.span_id = k.span_id)
		), up(t, source_id, line, pos, span_id, action_type, anc, depth) AS (
			SELECT t, source_id, line, pos, span_id, action_type, parent_id, 0 FROM spans WHERE parent_id IS NOT NULL
			UNION ALL
			SELECT up.t, up.source_id, up.line, up.pos, up.span_id, up.action_type, l.parent_id, up.depth + 1
			FROM up JOIN span_links l ON coalesce(l.trace_id, '') = up.t AND l.span_id = up.anc
			WHERE up.depth < 32
		)
		SELECT DISTINCT c.source_id, c.line, c.pos, p.source_id AS p_source_id, p.line AS p_line, p.pos AS p_pos, p.aside AS p_aside
		FROM up c JOIN spans p ON p.t = c.t AND p.span_id = c.anc AND p.action_type = c.action_type
		WHERE c.span_id IS NULL OR p.span_id <> c.span_id`, id); err != nil {
		return dbError{err}
	}
	defer d.Conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS wrap_pairs")
	if _, err := d.Conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE collapse_rows AS
		WITH mine AS (`+mine+`
		), copies AS (
			SELECT c.source_id, c.line, c.pos,
				row_number() OVER (PARTITION BY coalesce(c.trace_id, ''), c.span_id ORDER BY
					c.duration_ms IS NULL, c.response_id IS NULL,
					c.status IS NULL OR lower(c.status) IN ('pending', 'running', 'in_progress', 'started'),
					c.source_id, c.line, c.pos) AS rn
			FROM calls c JOIN mine ON coalesce(c.trace_id, '') = mine.t AND c.span_id = mine.s
			WHERE `+imported("c")+`
		), nested AS ( -- a tool span holding spans of the same tool, still among the calls
			SELECT DISTINCT p_source_id AS source_id, p_line AS line, p_pos AS pos FROM wrap_pairs WHERE NOT p_aside
		)
		SELECT source_id, line, pos FROM copies WHERE rn > 1
		UNION SELECT * FROM nested`, id); err != nil {
		return dbError{err}
	}
	if err := d.inherit(ctx); err != nil {
		return err
	}
	// every export's counts: a re-read may have given rows back to any
	return d.setAside(ctx, id, "collapse_rows", "coalesce(format, 'jsonl') <> 'jsonl'", st)
}

// inherit gives the attempts under wrappers what they lack of them, before
// the wrappers go (wrap_pairs and collapse_rows as collapse made them). An
// attempt is a call that stays; its wrappers are the spans up its chain of
// wrap_pairs (a wrapper's wrapper too, set aside now or before: each export
// of a chain passes on what it knows), the nearest first, per column:
//
//   - what the tool call sent, the same for every attempt of it: the
//     idempotency key, the conversation (session), the run, the args
//     fingerprints (fp, args_fp and the args strings a compensation is
//     matched by) when the attempt has no args of its own; else, when the
//     attempt has no identity of its own (no fingerprint, or only its
//     session's: neither args nor a tool call id), a wrapper's fingerprint
//     that is one (not its session's, told by SessionFP: a tool call id;
//     compared, never rebuilt, whatever its payload), so two tool calls
//     through one MCP session stay two operations and the attempts of one
//     tool call are one; else a wrapper's session fingerprint when the
//     attempt ends up in that session;
//   - what the tool call returned: the response id, status and effect go to
//     the wrapper's last attempt (the one started last: a client that
//     retried returns what its last attempt got) and to no other, unless an
//     attempt under it holds that response id already (it came from there;
//     an attempt read after its wrapper went does not take it again: the
//     wrapper gave it when it went; a wrapper set aside before without a
//     response id gives none of them). Given to every attempt, one response
//     id would make a timed-out attempt that went through look like the same
//     side effect as the retry (a double hidden); given to none, it would be
//     lost, and with it a second charge under the same key (a double hidden).
//
// Nothing an attempt holds of its own is replaced: the finding shows the
// attempt's span and line, with the wrapper's key, args or result where the
// attempt had none.
func (d *DB) inherit(ctx context.Context) error {
	var n int64
	if err := d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM wrap_pairs LIMIT 1)").Scan(&n); err != nil {
		return dbError{err}
	}
	if n == 0 {
		return nil
	}
	const loc = `%[1]s.source_id = %[2]s.source_id AND %[1]s.line = %[2]s.line AND %[1]s.pos = %[2]s.pos`
	on := func(a, b string) string { return fmt.Sprintf(loc, a, b) }
	onP := func(a, b string) string {
		return a + `.source_id = ` + b + `.p_source_id AND ` + a + `.line = ` + b + `.p_line AND ` + a + `.pos = ` + b + `.p_pos`
	}
	for _, q := range []string{
		// the wrappers' rows, whether still calls or set aside before
		`CREATE OR REPLACE TEMP TABLE wrap_rows AS
		WITH w AS (SELECT DISTINCT p_source_id, p_line, p_pos FROM wrap_pairs)
		SELECT c.* FROM calls c JOIN w ON ` + onP("c", "w") + `
		UNION ALL SELECT k.* FROM collapsed_calls k JOIN w ON ` + onP("k", "w"),
		// each attempt (a call that stays) with every wrapper up its chain,
		// the nearest first (a row per copy of a wrapper exported twice; a
		// cycle of spans ends at depth 64), its start and response id
		`CREATE OR REPLACE TEMP TABLE wrap_fill AS
		WITH RECURSIVE anc(source_id, line, pos, ts, held, p_source_id, p_line, p_pos, p_aside, depth) AS (
			SELECT k.source_id, k.line, k.pos, c.ts, c.response_id, k.p_source_id, k.p_line, k.p_pos, k.p_aside, 1
			FROM wrap_pairs k JOIN calls c ON ` + on("c", "k") + `
			WHERE NOT EXISTS (SELECT 1 FROM collapse_rows r WHERE ` + on("r", "k") + `)
			UNION
			SELECT a.source_id, a.line, a.pos, a.ts, a.held, k.p_source_id, k.p_line, k.p_pos, k.p_aside, a.depth + 1
			FROM anc a JOIN wrap_pairs k ON k.source_id = a.p_source_id AND k.line = a.p_line AND k.pos = a.p_pos
			WHERE a.depth < 64
		), chain AS (
			SELECT source_id, line, pos, ts, held, p_source_id, p_line, p_pos, p_aside, min(depth) AS depth FROM anc GROUP BY ALL
		), ranked AS (
			SELECT *, row_number() OVER (PARTITION BY p_source_id, p_line, p_pos
				ORDER BY ts DESC NULLS LAST, source_id DESC, line DESC, pos DESC) = 1 AS last
			FROM chain
		), joined AS (
			-- gives: the wrapper's result goes to this attempt, its last,
			-- unless an attempt under it holds its response id already;
			-- a wrapper set aside before gave it then, when it had one
			SELECT a.source_id, a.line, a.pos, a.depth, w.source_id AS w_source_id, w.line AS w_line, w.pos AS w_pos,
				w.idempotency_key, w.session_id, w.run_id, w.fp, w.args_fp, w.response_id, w.status, w.status_num, w.effect,
				w.fp IS DISTINCT FROM ` + SessionFPFunc + `(w.action_type, w.session_id) AS identity,
				a.last AND (NOT a.p_aside OR w.response_id IS NOT NULL)
					AND NOT coalesce(bool_or(a.held = w.response_id) OVER (PARTITION BY w.source_id, w.line, w.pos), false) AS gives,
				row_number() OVER (PARTITION BY a.source_id, a.line, a.pos ORDER BY a.depth, w.source_id, w.line, w.pos) AS rk
			FROM ranked a JOIN wrap_rows w ON ` + onP("w", "a") + `
		)
		SELECT source_id, line, pos,
			arg_min(idempotency_key, rk) FILTER (WHERE idempotency_key IS NOT NULL) AS idempotency_key,
			arg_min(session_id, rk) FILTER (WHERE session_id IS NOT NULL) AS session_id,
			arg_min(run_id, rk) FILTER (WHERE run_id IS NOT NULL) AS run_id,
			arg_min(fp, rk) FILTER (WHERE args_fp IS NOT NULL) AS args_fp_fp,
			arg_min(args_fp, rk) FILTER (WHERE args_fp IS NOT NULL) AS args_fp,
			arg_min({'source_id': w_source_id, 'line': w_line, 'pos': w_pos}, rk) FILTER (WHERE args_fp IS NOT NULL) AS args_of,
			arg_min(fp, rk) FILTER (WHERE fp IS NOT NULL AND identity) AS identity_fp,
			arg_min(fp, rk) FILTER (WHERE args_fp IS NULL AND fp IS NOT NULL AND session_id IS NOT NULL) AS session_fp,
			arg_min(session_id, rk) FILTER (WHERE args_fp IS NULL AND fp IS NOT NULL AND session_id IS NOT NULL) AS session_fp_of,
			arg_min(response_id, rk) FILTER (WHERE gives AND response_id IS NOT NULL) AS response_id,
			arg_min({'status': status, 'num': status_num}, rk) FILTER (WHERE gives AND status IS NOT NULL) AS status,
			arg_min(effect, rk) FILTER (WHERE gives AND effect IS NOT NULL) AS effect
		FROM joined
		GROUP BY source_id, line, pos`,
		// the args strings of the wrapper whose args an attempt takes
		`INSERT INTO arg_strings (source_id, line, strings, pos)
		SELECT DISTINCT f.source_id, f.line, s.strings, f.pos FROM wrap_fill f
		JOIN calls c ON ` + on("c", "f") + `
		JOIN arg_strings s ON s.source_id = f.args_of.source_id AND s.line = f.args_of.line AND s.pos = f.args_of.pos
		WHERE c.args_fp IS NULL AND f.args_fp IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM arg_strings x WHERE ` + on("x", "f") + `)`,
		`UPDATE calls SET
			idempotency_key = coalesce(calls.idempotency_key, f.idempotency_key),
			session_id = coalesce(calls.session_id, f.session_id),
			run_id = coalesce(calls.run_id, f.run_id),
			fp = CASE WHEN calls.args_fp IS NULL AND f.args_fp IS NOT NULL THEN f.args_fp_fp
				WHEN calls.args_fp IS NULL AND f.identity_fp IS NOT NULL
					AND (calls.fp IS NULL OR calls.fp = ` + SessionFPFunc + `(calls.action_type, calls.session_id)) THEN f.identity_fp
				WHEN calls.args_fp IS NULL AND calls.fp IS NULL AND f.session_fp_of = coalesce(calls.session_id, f.session_id) THEN f.session_fp
				ELSE calls.fp END,
			args_fp = coalesce(calls.args_fp, f.args_fp),
			response_id = coalesce(calls.response_id, f.response_id),
			status_num = CASE WHEN calls.status IS NULL AND f.status IS NOT NULL THEN f.status.num ELSE calls.status_num END,
			status = coalesce(calls.status, f.status.status),
			effect = coalesce(calls.effect, f.effect)
		FROM wrap_fill f WHERE ` + on("calls", "f"),
		"DROP TABLE wrap_rows",
		"DROP TABLE wrap_fill",
	} {
		if _, err := d.Conn.ExecContext(ctx, q); err != nil {
			return dbError{err}
		}
	}
	return nil
}

// ofSource is the SQL condition that alias a's call belongs to the source
// being ingested ($1) or to one of the trace exports (imported) or
// idemaudit logs (not imported) read before.
func ofSource(a string, imported bool) string {
	op := "="
	if imported {
		op = "<>"
	}
	return `(` + a + `.source_id = $1 OR ` + a + `.source_id IN (SELECT source_id FROM sources WHERE coalesce(format, 'jsonl') ` + op + ` 'jsonl'))`
}

// setAside moves the calls listed in the temp table rows (source_id, line,
// pos) to collapsed_calls, drops the table, and brings up to date the
// counts of the sources matching where and of the source being ingested.
func (d *DB) setAside(ctx context.Context, id int32, rows, where string, st *Stats) error {
	if _, err := d.Conn.ExecContext(ctx, `INSERT INTO collapsed_calls SELECT c.* FROM calls c JOIN `+rows+` r USING (source_id, line, pos);
		DELETE FROM calls USING `+rows+` r WHERE calls.source_id = r.source_id AND calls.line = r.line AND calls.pos = r.pos`); err != nil {
		return dbError{err}
	}
	if _, err := d.Conn.ExecContext(ctx, `UPDATE sources SET calls = (SELECT count(*) FROM calls c WHERE c.source_id = sources.source_id),
		collapsed = (SELECT count(*) FROM collapsed_calls c WHERE c.source_id = sources.source_id)
		WHERE `+where); err != nil {
		return dbError{err}
	}
	if err := d.Conn.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM calls WHERE source_id = $1), (SELECT count(*) FROM collapsed_calls WHERE source_id = $1)`,
		id).Scan(&st.Calls, &st.Collapsed); err != nil {
		return dbError{err}
	}
	_, err := d.Conn.ExecContext(ctx, "DROP TABLE "+rows)
	return err
}

// loggedTwice sets aside the trace-export records of calls that an
// idemaudit log also holds: the same trace id, span id and action, started
// within a second. One call logged twice is not a repeat; the log line
// stays (it carries what the team chose to log: keys, effects). It looks
// at the pairs this source takes part in; nothing when the database holds
// no trace export.
func (d *DB) loggedTwice(ctx context.Context, id int32, imported, all bool, st *Stats) error {
	var exports, logged int64
	if err := d.Conn.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE coalesce(format, 'jsonl') <> 'jsonl'),
		count(*) FILTER (WHERE coalesce(format, 'jsonl') = 'jsonl') FROM sources`).Scan(&exports, &logged); err != nil {
		return dbError{err}
	}
	if imported {
		exports++
	} else {
		logged++
	}
	if exports == 0 || logged == 0 {
		return nil
	}
	side := `l.source_id = $1`
	switch {
	case all: // after a source was read anew, every pair
		side = `true`
	case imported:
		side = `c.source_id = $1`
	}
	if _, err := d.Conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE twice_rows AS
		SELECT DISTINCT c.source_id, c.line, c.pos
		FROM calls c JOIN calls l ON l.trace_id = c.trace_id AND l.span_id = c.span_id AND l.action_type = c.action_type
		WHERE `+side+` AND c.span_id IS NOT NULL AND c.ts IS NOT NULL AND l.ts IS NOT NULL AND abs(l.ts - c.ts) <= 1000000000
			AND `+ofSource("c", true)+` AND c.source_id <> l.source_id AND `+ofSource("l", false), id); err != nil {
		return dbError{err}
	}
	return d.setAside(ctx, id, "twice_rows", "source_id IN (SELECT DISTINCT source_id FROM twice_rows)", st)
}

// keepPruned deletes, from a source read anew (or its lines line to last,
// when line is not 0: the lines of another reading read again), the calls older than what an earlier
// prune deleted: they were pruned once and stay so.
func (d *DB) keepPruned(ctx context.Context, id int32, st *Stats, line, last int64) error {
	var cutoff sql.NullInt64
	if err := d.Conn.QueryRowContext(ctx, "SELECT max(value::BIGINT) FROM idemaudit_meta WHERE key = 'pruned_before'").Scan(&cutoff); err != nil {
		return dbError{err}
	}
	if !cutoff.Valid {
		return nil
	}
	if _, err := d.Conn.ExecContext(ctx, `DELETE FROM arg_strings a WHERE a.source_id = ? AND (? = 0 OR a.line BETWEEN ? AND ?) AND EXISTS
		(SELECT 1 FROM calls c WHERE c.source_id = a.source_id AND c.line = a.line AND c.pos = a.pos AND c.ts < ?)`, id, line, line, last, cutoff.Int64); err != nil {
		return dbError{err}
	}
	r, err := d.Conn.ExecContext(ctx, "DELETE FROM calls WHERE source_id = ? AND (? = 0 OR line BETWEEN ? AND ?) AND ts < ?", id, line, line, last, cutoff.Int64)
	if err != nil {
		return dbError{err}
	}
	n, err := r.RowsAffected()
	st.Calls -= n
	return err
}

// traceSessions gives the calls of a source without a session the
// conversation of their trace, as the source's trace records name it.
func (d *DB) traceSessions(ctx context.Context, id int32, sessions map[string]string) error {
	if _, err := d.Conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE trace_sessions (trace_id VARCHAR, session_id VARCHAR)"); err != nil {
		return dbError{err}
	}
	var vals []any
	var ph []string
	flush := func() error {
		if len(ph) == 0 {
			return nil
		}
		_, err := d.Conn.ExecContext(ctx, "INSERT INTO trace_sessions VALUES "+strings.Join(ph, ", "), vals...)
		vals, ph = vals[:0], ph[:0]
		return err
	}
	for t, s := range sessions {
		vals = append(vals, t, s)
		ph = append(ph, "(?, ?)")
		if len(ph) == 500 {
			if err := flush(); err != nil {
				return dbError{err}
			}
		}
	}
	if err := flush(); err != nil {
		return dbError{err}
	}
	if _, err := d.Conn.ExecContext(ctx, `UPDATE calls SET session_id = t.session_id FROM trace_sessions t
		WHERE calls.source_id = ? AND calls.trace_id = t.trace_id AND calls.session_id IS NULL`, id); err != nil {
		return dbError{err}
	}
	_, err := d.Conn.ExecContext(ctx, "DROP TABLE trace_sessions")
	return err
}

// ingestedAt is the time stored with a new segment: Now, or the clock.
func (d *DB) ingestedAt() time.Time {
	if !d.Now.IsZero() {
		return d.Now.UTC()
	}
	return time.Now().UTC()
}
