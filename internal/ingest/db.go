// Package ingest reads logs of side-effecting calls into DuckDB, line by
// line, keeping every call's exact source and line and every malformed line.
package ingest

import (
	"context"
	"database/sql"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// schema is the database every other package reads. ts is nanoseconds since
// the epoch (UTC), so window arithmetic is integer arithmetic and sub-
// microsecond stamps keep their order. fp and args_fp are 128-bit hashes.
const schema = `
CREATE TABLE IF NOT EXISTS sources (
	source_id INTEGER NOT NULL,
	path      VARCHAR NOT NULL,
	lines     BIGINT  NOT NULL,
	bytes     BIGINT  NOT NULL,
	calls     BIGINT  NOT NULL,
	malformed BIGINT  NOT NULL,
	content_hash UUID NOT NULL -- xxh3-128 of the decompressed bytes: the same content is ingested once
);
CREATE TABLE IF NOT EXISTS calls (
	source_id       INTEGER NOT NULL,
	line            BIGINT  NOT NULL,
	ts              BIGINT,
	action_type     VARCHAR NOT NULL,
	idempotency_key VARCHAR,
	response_id     VARCHAR,
	session_id      VARCHAR,
	trace_id        VARCHAR,
	span_id         VARCHAR,
	run_id          VARCHAR,
	status          VARCHAR,
	status_num      BOOLEAN NOT NULL,
	effect          VARCHAR,
	duration_ms     DOUBLE,
	fp              UUID,
	args_fp         UUID
);
CREATE TABLE IF NOT EXISTS malformed (
	source_id INTEGER NOT NULL,
	line      BIGINT  NOT NULL,
	error     VARCHAR NOT NULL
);`

// DB is one DuckDB database held through a single connection for the run.
type DB struct {
	db        *sql.DB
	connector *duckdb.Connector
	Conn      *sql.Conn
}

// Options tune DuckDB for the machine.
type Options struct {
	MemoryLimit string // e.g. "2GB"; "" leaves DuckDB's default
	TempDir     string // where DuckDB spills; "" leaves DuckDB's default
	Threads     int    // 0 leaves DuckDB's default
}

// Open opens (or creates) a database; path "" means in memory.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	c, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", displayDB(path), err)
	}
	d := &DB{db: sql.OpenDB(c), connector: c}
	d.db.SetMaxOpenConns(1)
	if d.Conn, err = d.db.Conn(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open database %s: %w", displayDB(path), err)
	}
	settings := []string{}
	if o.MemoryLimit != "" {
		settings = append(settings, fmt.Sprintf("SET memory_limit = %s", quoteLiteral(o.MemoryLimit)))
	}
	if o.TempDir != "" {
		settings = append(settings, fmt.Sprintf("SET temp_directory = %s", quoteLiteral(o.TempDir)))
	}
	if o.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", o.Threads))
	}
	for _, s := range append(settings, schema) {
		if _, err := d.Conn.ExecContext(ctx, s); err != nil {
			d.Close()
			return nil, fmt.Errorf("prepare database %s: %w", displayDB(path), err)
		}
	}
	return d, nil
}

// Close releases the connection and the database.
func (d *DB) Close() error {
	if d.Conn != nil {
		d.Conn.Close()
	}
	err := d.db.Close()
	d.connector.Close()
	return err
}

func displayDB(path string) string {
	if path == "" {
		return "(in memory)"
	}
	return path
}

// quoteLiteral makes a SQL string literal of a user-given value.
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
