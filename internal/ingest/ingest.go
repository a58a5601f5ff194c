package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Stats is what one source contributed.
type Stats struct {
	Source    string
	Lines     int64
	Bytes     int64
	Calls     int64
	Malformed int64
	// DuplicateOf names the source already in the database with the same
	// content; when set, nothing of this source was added.
	DuplicateOf string
}

// InputError is a source that could not be read; the CLI reports it as an
// input error (exit 2). Nothing of that source is kept.
type InputError struct {
	Source string
	Err    error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Source, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// IngestFile reads one file into the database in one transaction: on any
// error the database is as it was before. A source whose content is already
// in the database is not added again: its Stats.DuplicateOf names the source
// that holds it.
func (d *DB) IngestFile(ctx context.Context, path string) (Stats, error) {
	f, closeFn, err := open(path)
	if err != nil {
		return Stats{Source: path}, &InputError{path, err}
	}
	defer closeFn()
	return d.finishIngest(d.ingest(ctx, path, f))
}

// IngestReader is IngestFile for a stream (standard input): name is how the
// report shows it.
func (d *DB) IngestReader(ctx context.Context, name string, r io.Reader) (Stats, error) {
	src, err := decompress(r)
	if err != nil {
		return Stats{Source: name}, &InputError{name, err}
	}
	return d.finishIngest(d.ingest(ctx, name, src))
}

func (d *DB) finishIngest(st Stats, err error) (Stats, error) {
	if errors.Is(err, errDuplicate) {
		err = nil
	}
	return st, err
}

func (d *DB) ingest(ctx context.Context, path string, src io.Reader) (st Stats, err error) {
	st.Source = path
	if _, err := d.Conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return st, err
	}
	defer func() {
		if err != nil {
			d.Conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return
		}
		if _, cerr := d.Conn.ExecContext(ctx, "COMMIT"); cerr != nil {
			err = cerr
			d.Conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var id int32
	if err := d.Conn.QueryRowContext(ctx, "SELECT coalesce(max(source_id), 0) + 1 FROM sources").Scan(&id); err != nil {
		return st, err
	}
	counted := newCountingReader(src)
	err = d.appendAll(ctx, id, counted, &st)
	st.Bytes = counted.n
	if err != nil {
		if ctx.Err() == nil && !isDBError(err) {
			return st, &InputError{path, fmt.Errorf("read failed after %d bytes (line %d): %w", counted.n, st.Lines+1, err)}
		}
		return st, err
	}
	sum := counted.sum()
	// The same content twice (a re-run on a kept database, a copied file)
	// would double every call and turn each into a fake retry: keep it once.
	// Empty sources add nothing; they are deduplicated by path only.
	var dup string
	err = d.Conn.QueryRowContext(ctx, `SELECT path FROM sources
		WHERE content_hash = ? AND bytes = ? AND (bytes > 0 OR path = ?)
		ORDER BY source_id LIMIT 1`, &sum, st.Bytes, path).Scan(&dup)
	switch {
	case err == nil:
		st.DuplicateOf = dup
		return st, errDuplicate
	case !errors.Is(err, sql.ErrNoRows):
		return st, err
	}
	_, err = d.Conn.ExecContext(ctx, "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
		id, path, st.Lines, st.Bytes, st.Calls, st.Malformed, &sum)
	return st, err
}

// errDuplicate rolls back a source whose content is already in the database.
var errDuplicate = errors.New("duplicate content")

type dbError struct{ error }

func (e dbError) Unwrap() error { return e.error }

func isDBError(err error) bool {
	var e dbError
	return errors.As(err, &e)
}

func (d *DB) appendAll(ctx context.Context, id int32, src io.Reader, st *Stats) error {
	return d.Conn.Raw(func(raw any) error {
		conn := raw.(driver.Conn)
		calls, err := duckdb.NewAppenderFromConn(conn, "", "calls")
		if err != nil {
			return dbError{err}
		}
		bad, err := duckdb.NewAppenderFromConn(conn, "", "malformed")
		if err != nil {
			calls.Close()
			return dbError{err}
		}
		row := make([]driver.Value, 16)
		err = parseAll(ctx, src, func(b batch) error {
			st.Lines += b.lines
			st.Calls += int64(len(b.records))
			st.Malformed += int64(len(b.malformed))
			for i := range b.records {
				fillRow(row, id, b.lineNos[i], &b.records[i])
				if err := calls.AppendRow(row...); err != nil {
					return dbError{err}
				}
			}
			for _, m := range b.malformed {
				if err := bad.AppendRow(id, m.Line, m.Error); err != nil {
					return dbError{err}
				}
			}
			return nil
		})
		// Close flushes; after a failure the transaction is rolled back anyway.
		cerr1, cerr2 := calls.Close(), bad.Close()
		if err != nil {
			return err
		}
		if cerr1 != nil {
			return dbError{cerr1}
		}
		if cerr2 != nil {
			return dbError{cerr2}
		}
		return nil
	})
}

func fillRow(row []driver.Value, id int32, line int64, r *Record) {
	row[0], row[1] = id, line
	row[2] = nil
	if r.HasTS {
		row[2] = r.TS
	}
	row[3] = r.Action
	row[4] = nullable(r.Key)
	row[5] = nullable(r.Response)
	row[6] = nullable(r.Session)
	row[7] = nullable(r.Trace)
	row[8] = nullable(r.Span)
	row[9] = nullable(r.Run)
	row[10] = nullable(r.Status)
	row[11] = r.StatusNum
	row[12] = nullable(r.Effect)
	row[13] = nil
	if r.HasDuration {
		row[13] = r.Duration
	}
	row[14], row[15] = nil, nil
	if r.HasFP {
		row[14] = duckdb.UUID(r.FP)
	}
	if r.HasArgs {
		row[15] = duckdb.UUID(r.ArgsFP)
	}
}

func nullable(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}
