// Package ingest reads logs of side-effecting calls into DuckDB, line by
// line, keeping every call's exact source and line and every malformed line.
package ingest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/idemaudit/idemaudit/internal/config"
)

// SchemaVersion is the layout this build reads and writes. Version 1 (the
// first release: sources without segments) is migrated on open; a newer
// version is refused.
const SchemaVersion = 8

// schema is the database every other package reads. ts is nanoseconds since
// the epoch (UTC), so window arithmetic is integer arithmetic and sub-
// microsecond stamps keep their order. fp and args_fp are 128-bit hashes.
//
// A row of sources is one segment: what one ingest read of one source. A
// log that grows gets a segment per ingest; each segment knows where its
// source's complete lines ended (safe_*) and where the content ended (end_*),
// with the hash of everything from the source's first byte to there, so the
// next ingest recognises the known beginning without parsing it.
const schema = `
CREATE TABLE IF NOT EXISTS idemaudit_meta (
	key   VARCHAR PRIMARY KEY,
	value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
	source_id   INTEGER NOT NULL,
	path        VARCHAR NOT NULL, -- as given on the command line
	abs_path    VARCHAR,          -- resolved; NULL for standard input
	first_line  BIGINT  NOT NULL, -- the first line this segment read
	start_bytes BIGINT  NOT NULL, -- where in the decompressed content it started
	lines       BIGINT  NOT NULL,
	calls       BIGINT  NOT NULL,
	malformed   BIGINT  NOT NULL,
	safe_bytes  BIGINT  NOT NULL, -- end of the last complete line
	safe_hash   UUID    NOT NULL, -- xxh3-128 of the content up to safe_bytes
	safe_lines  BIGINT  NOT NULL, -- lines up to safe_bytes
	end_bytes   BIGINT  NOT NULL, -- end of the content read
	end_hash    UUID    NOT NULL,
	tail_line   BIGINT,           -- the last line, when it had no terminator (re-read on growth)
	continues   INTEGER,          -- the segment whose content this one's beginning is
	ingested_at TIMESTAMP,
	format      VARCHAR DEFAULT 'jsonl', -- jsonl, otlp, langfuse, langsmith, openai-agents (see Format)
	collapsed   BIGINT  DEFAULT 0, -- telemetry duplicates dropped: records of a (trace, span) already read
	skipped     BIGINT  DEFAULT 0, -- records of a trace export that are no tool call (LLM spans, reads are kept)
	import_settings VARCHAR,       -- how it was read (--map, --key-path, ...; see Import.Settings); NULL: the defaults
	head_hash   UUID,              -- xxh3-128 of the source's first 64 KiB; NULL when shorter (or ingested before version 6)
	document    BOOLEAN DEFAULT false, -- read as JSON documents (a stream of them resumes after its last complete one)
	reread_lines BIGINT,           -- its first lines were another segment's unterminated tail, read again whole:
	reread_at   TIMESTAMP          -- how many, and when they were first read (their calls' ingest time)
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
	args_fp         UUID,
	pos             INTEGER DEFAULT 0, -- the call's place among the calls of its line (a trace line holds many)
	parent_id       VARCHAR            -- the span holding this call's span (trace exports)
);
-- the records of trace exports set aside as telemetry duplicates (the same
-- span again) or wrappers of their attempts: the same columns as calls
CREATE TABLE IF NOT EXISTS collapsed_calls AS SELECT * FROM calls LIMIT 0;
-- the id-like string values of a compensating call's args, each followed by
-- \x1f (a table of its own: few calls have them, the rules never scan it)
CREATE TABLE IF NOT EXISTS arg_strings (
	source_id INTEGER NOT NULL,
	line      BIGINT  NOT NULL,
	strings   VARCHAR NOT NULL,
	pos       INTEGER DEFAULT 0
);
-- the spans of trace exports that are no tool call (an HTTP span, an LLM
-- generation), with their parents: a tool span may hold another through
-- them (a wrapper, see collapse). Created on opening any database (a binary
-- that does not know it ignores it); sources read before it have none.
CREATE TABLE IF NOT EXISTS span_links (
	source_id INTEGER NOT NULL,
	trace_id  VARCHAR,
	span_id   VARCHAR NOT NULL,
	parent_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS malformed (
	source_id INTEGER NOT NULL,
	line      BIGINT  NOT NULL,
	error     VARCHAR NOT NULL
);`

// migrations[v] turns schema version v into v+1.
var migrations = map[int]string{
	1: `
ALTER TABLE sources RENAME COLUMN bytes TO end_bytes;
ALTER TABLE sources RENAME COLUMN content_hash TO end_hash;
ALTER TABLE sources ADD COLUMN abs_path VARCHAR;
ALTER TABLE sources ADD COLUMN first_line BIGINT DEFAULT 1;
ALTER TABLE sources ADD COLUMN start_bytes BIGINT DEFAULT 0;
ALTER TABLE sources ADD COLUMN safe_bytes BIGINT;
ALTER TABLE sources ADD COLUMN safe_hash UUID;
ALTER TABLE sources ADD COLUMN safe_lines BIGINT;
ALTER TABLE sources ADD COLUMN tail_line BIGINT;
ALTER TABLE sources ADD COLUMN continues INTEGER;
ALTER TABLE sources ADD COLUMN ingested_at TIMESTAMP;
-- version 1 kept no line ends: its sources count as complete, so a grown
-- file is read again as a replaced one rather than resumed mid-line
UPDATE sources SET safe_bytes = end_bytes, safe_hash = end_hash, safe_lines = lines;`,
	// version 2 fingerprinted whole args for every action and kept no args
	// strings (the table arg_strings, created empty): its calls compensate
	// nothing (a finding stays at its severity)
	2: `CREATE TABLE IF NOT EXISTS arg_strings (source_id INTEGER NOT NULL, line BIGINT NOT NULL, strings VARCHAR NOT NULL);`,
	// version 4 reads trace exports: a line may hold many calls (pos), a
	// source has a format and counts its collapsed telemetry duplicates
	3: `
ALTER TABLE calls ADD COLUMN pos INTEGER DEFAULT 0;
ALTER TABLE calls ADD COLUMN parent_id VARCHAR;
ALTER TABLE arg_strings ADD COLUMN pos INTEGER DEFAULT 0;
ALTER TABLE sources ADD COLUMN format VARCHAR DEFAULT 'jsonl';
ALTER TABLE sources ADD COLUMN collapsed BIGINT DEFAULT 0;
ALTER TABLE sources ADD COLUMN skipped BIGINT DEFAULT 0;
ALTER TABLE sources ADD COLUMN import_settings VARCHAR;`,
	// versions up to 4 parsed a line whose key, response id, session, span,
	// run, status or effect held an object or array after its args into a
	// wrong args fingerprint (that value's text overwrote the args'): the
	// fingerprints of such calls are cleared (they cannot be recomputed
	// without the file). The calls stay; the rules that compare
	// fingerprints skip them. Ingesting the files into a new database gives
	// them back.
	4: "CREATE TABLE IF NOT EXISTS collapsed_calls AS SELECT * FROM calls LIMIT 0;\n" +
		staleFingerprints("calls") + staleFingerprints("collapsed_calls"),
	// version 6 keeps each segment's head hash, so a new file whose first
	// 64 KiB match no known segment's is read once instead of hashed whole
	// first. Older segments have none: a file as long as one of them is
	// still hashed whole before it is read (slower, never wrong).
	5: "ALTER TABLE sources ADD COLUMN IF NOT EXISTS head_hash UUID;",
	// version 7 resumes a stream of JSON documents that grew. Documents
	// read before were recorded as never resumable (no complete line),
	// so they stay so: false is right for them.
	6: "ALTER TABLE sources ADD COLUMN IF NOT EXISTS document BOOLEAN DEFAULT false;",
	// version 8 keeps when a re-read tail was first read: a period report
	// places a call without ts at its ingest time, which re-reading the
	// line must not move. Older segments have none: theirs move (as
	// before).
	7: "ALTER TABLE sources ADD COLUMN IF NOT EXISTS reread_lines BIGINT; ALTER TABLE sources ADD COLUMN IF NOT EXISTS reread_at TIMESTAMP;",
}

// staleFingerprints is migration 4's statement for one table.
func staleFingerprints(table string) string {
	var cond []string
	for _, c := range []string{"idempotency_key", "response_id", "session_id", "trace_id", "span_id", "run_id", "parent_id", "status", "effect"} {
		cond = append(cond, fmt.Sprintf("left(%s, 1) IN ('{', '[')", c))
	}
	return fmt.Sprintf("UPDATE %s SET fp = NULL, args_fp = NULL WHERE args_fp IS NOT NULL AND (%s);\n", table, strings.Join(cond, " OR "))
}

// DB is one DuckDB database held through a single connection for the run.
type DB struct {
	db        *sql.DB
	connector *duckdb.Connector
	Conn      *sql.Conn
	spill     string // a private temp directory to remove on Close
	threads   int    // DuckDB's threads: the feed's insert runs on them all
	// Progress, when set, is told as bytes of a file are parsed (files
	// already ingested are only hashed and do not report).
	Progress func(n int64)
	// Config decides how calls are fingerprinted (identity, ignore) and
	// whose args strings are kept (compensating actions); nil: defaults.
	// UseConfig checks it against the one the database was built with.
	Config *config.Config
	// Import says how sources are read (--from, --map, key paths); nil: auto.
	Import *Import

	// Timing, when set, is told how long each step of an ingest took (for
	// performance work: IDEMAUDIT_TIMING).
	Timing func(step string, d time.Duration)
	// Now, when set, is the ingest time stored with each source (--now);
	// zero: the clock. A period report places a finding made only of calls
	// without ts at the ingest time of its offending call.
	Now time.Time

	drop   []int32 // segments the ingest under way replaces (read anew with other settings)
	closed bool
}

// Options tune DuckDB for the machine.
type Options struct {
	MemoryLimit string // e.g. "2GB"; "" leaves DuckDB's default
	TempDir     string // where DuckDB spills; "" leaves DuckDB's default
	Threads     int    // 0 leaves DuckDB's default
	// ReadOnly opens an existing database without writing to it (reports):
	// it works on read-only media and never migrates.
	ReadOnly bool
}

// Open opens (or creates) a database; path "" means in memory.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	if err := checkDatabaseFile(path); err != nil {
		return nil, err
	}
	dsn := path
	if o.ReadOnly {
		if path == "" {
			return nil, errors.New("a read-only database needs a file")
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
		dsn += "?access_mode=READ_ONLY"
	}
	c, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, openError(path, err)
	}
	d := &DB{db: sql.OpenDB(c), connector: c}
	d.db.SetMaxOpenConns(1)
	if d.Conn, err = d.db.Conn(ctx); err != nil {
		d.Close()
		return nil, openError(path, err)
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = DefaultMemoryLimit()
	}
	if o.TempDir == "" && path == "" {
		// DuckDB would spill an in-memory database into ./.tmp of whatever
		// directory it runs in; use a private directory, removed on Close.
		if d.spill, err = newSpillDir(); err == nil {
			o.TempDir = d.spill
		}
	}
	settings := []string{fmt.Sprintf("SET memory_limit = %s", quoteLiteral(o.MemoryLimit))}
	if o.TempDir != "" {
		settings = append(settings, fmt.Sprintf("SET temp_directory = %s", quoteLiteral(o.TempDir)))
	}
	if o.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", o.Threads))
	}
	if path == "" {
		// In memory there is no WAL to bound: an automatic checkpoint would
		// only vacuum deleted rows (an audit deletes few: the telemetry
		// duplicates it sets aside) and it costs about a second per million
		// calls (1M audit 8.2 s -> 7.2 s, 10M 77 s -> 67 s, less memory).
		settings = append(settings, "SET checkpoint_threshold = '1TB'")
	}
	for _, s := range settings {
		if _, err := d.Conn.ExecContext(ctx, s); err != nil {
			d.Close()
			return nil, fmt.Errorf("prepare database %s: %w", displayDB(path), err)
		}
	}
	if !o.ReadOnly {
		// the feed runs on as many threads as DuckDB has (a table
		// function asks for them: its default is one)
		if err := d.Conn.QueryRowContext(ctx, "SELECT current_setting('threads')").Scan(&d.threads); err != nil {
			d.Close()
			return nil, fmt.Errorf("prepare database %s: %w", displayDB(path), err)
		}
		if err := registerFeedFunc(d.Conn); err != nil {
			d.Close()
			return nil, fmt.Errorf("prepare database %s: %w", displayDB(path), err)
		}
	}
	if err := registerSessionFPFunc(d.Conn); err != nil {
		d.Close()
		return nil, fmt.Errorf("prepare database %s: %w", displayDB(path), err)
	}
	prepare := d.prepare
	if o.ReadOnly {
		prepare = d.checkVersion
	}
	if err := prepare(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("database %s: %w", displayDB(path), err)
	}
	return d, nil
}

// closing counts the databases being closed: DuckDB may be writing its
// log into the database file (a checkpoint), which an exit should not cut.
var closing atomic.Int32

// Closing reports whether a database is being closed right now.
func Closing() bool { return closing.Load() > 0 }

// Close releases the connection and the database.
func (d *DB) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	closing.Add(1)
	defer closing.Add(-1)
	if d.Conn != nil {
		d.Conn.Close()
	}
	err := d.db.Close()
	d.connector.Close()
	if d.spill != "" {
		removeSpillDir(d.spill)
	}
	return err
}

// ErrInUse is a database another process holds open for writing.
var ErrInUse = errors.New("database is in use by another idemaudit process")

// openError names the file; DuckDB's lock conflict becomes ErrInUse (it
// fails at once: a second writer neither waits nor corrupts anything).
func openError(path string, err error) error {
	if strings.Contains(err.Error(), "Could not set lock") || strings.Contains(err.Error(), "Conflicting lock") {
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	return fmt.Errorf("open database %s: %w", displayDB(path), err)
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

// prepare creates the schema, or migrates an older one, in one transaction.
func (d *DB) prepare(ctx context.Context) (err error) {
	if _, err := d.Conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.Conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return
		}
		_, err = d.Conn.ExecContext(ctx, "COMMIT")
	}()
	var tables, hasMeta int
	if err := d.Conn.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE table_name = 'idemaudit_meta')
		FROM duckdb_tables() WHERE schema_name = 'main' AND table_name IN ('idemaudit_meta', 'sources')`).Scan(&tables, &hasMeta); err != nil {
		return err
	}
	version := SchemaVersion
	switch {
	case tables == 0: // a new database
	case hasMeta == 0:
		version = 1 // the first release had no meta table
	default:
		var v string
		if err := d.Conn.QueryRowContext(ctx, "SELECT value FROM idemaudit_meta WHERE key = 'schema_version'").Scan(&v); err != nil {
			if outOfMemory(err) {
				return err // the memory limit, not the database
			}
			return fmt.Errorf("no schema version: not an idemaudit database? %w", err)
		}
		if _, err := fmt.Sscan(v, &version); err != nil {
			return fmt.Errorf("bad schema version %q", v)
		}
	}
	if version > SchemaVersion {
		return fmt.Errorf("written by a newer idemaudit (schema version %d; this one knows up to %d): upgrade idemaudit", version, SchemaVersion)
	}
	for ; version < SchemaVersion; version++ {
		// each step commits on its own (DuckDB refuses to alter a table
		// twice in one transaction after updating it) and records its
		// version, so an interrupted migration resumes where it stopped
		if _, err := d.Conn.ExecContext(ctx, migrations[version]); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", version, version+1, err)
		}
		if _, err := d.Conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS idemaudit_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
			INSERT OR REPLACE INTO idemaudit_meta VALUES ('schema_version', ?)`, fmt.Sprint(version+1)); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", version, version+1, err)
		}
		if _, err := d.Conn.ExecContext(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", version, version+1, err)
		}
		if _, err := d.Conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return err
		}
	}
	if _, err := d.Conn.ExecContext(ctx, schema); err != nil {
		return err
	}
	_, err = d.Conn.ExecContext(ctx, `INSERT OR REPLACE INTO idemaudit_meta VALUES ('schema_version', ?)`, fmt.Sprint(SchemaVersion))
	return err
}

// Prune deletes the calls made before cutoff, in one transaction. Sources
// stay, with their content hashes, so a pruned file is not ingested again;
// calls without a ts stay (no age). It returns how many calls were deleted.
func (d *DB) Prune(ctx context.Context, cutoff int64) (n int64, err error) {
	if _, err := d.Conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			d.Conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return
		}
		_, err = d.Conn.ExecContext(ctx, "COMMIT")
	}()
	if _, err := d.Conn.ExecContext(ctx, `DELETE FROM arg_strings a WHERE EXISTS
		(SELECT 1 FROM calls c WHERE c.source_id = a.source_id AND c.line = a.line AND c.pos = a.pos AND c.ts < ?)`, cutoff); err != nil {
		return 0, err
	}
	if _, err := d.Conn.ExecContext(ctx, "DELETE FROM collapsed_calls WHERE ts < ?", cutoff); err != nil {
		return 0, err
	}
	r, err := d.Conn.ExecContext(ctx, "DELETE FROM calls WHERE ts < ?", cutoff)
	if err != nil {
		return 0, err
	}
	if n, err = r.RowsAffected(); err != nil {
		return 0, err
	}
	if _, err = d.Conn.ExecContext(ctx, `UPDATE sources SET calls = (SELECT count(*) FROM calls c WHERE c.source_id = sources.source_id)`); err != nil {
		return 0, err
	}
	// a source read anew later keeps its calls from before the cutoff pruned
	_, err = d.Conn.ExecContext(ctx, `INSERT OR REPLACE INTO idemaudit_meta
		SELECT 'pruned_before', greatest(?, coalesce(max(value::BIGINT), ?))::VARCHAR FROM idemaudit_meta WHERE key = 'pruned_before'`, cutoff, cutoff)
	return n, err
}

// Salt is a secret derived from the database's content (the hashes of
// every source), for redaction: the same data gives the same salt, so a
// re-run rewrites the same report; nobody without the logs can compute it.
func (d *DB) Salt(ctx context.Context) ([]byte, error) {
	var s string
	err := d.Conn.QueryRowContext(ctx, `SELECT coalesce(string_agg(end_hash::VARCHAR, ',' ORDER BY source_id), '') FROM sources`).Scan(&s)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte("idemaudit redaction salt\x00" + s))
	return h[:], nil
}

// checkDatabaseFile refuses an existing file that is not a DuckDB database
// (a log given as --db by mistake): DuckDB would not keep anything in it.
func checkDatabaseFile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // created on open
	} else if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	if fi.IsDir() || !fi.Mode().IsRegular() {
		return fmt.Errorf("database %s is not a regular file", path)
	}
	if fi.Size() == 0 {
		return nil
	}
	head := make([]byte, 12)
	if _, err := io.ReadFull(f, head); err != nil || string(head[8:12]) != "DUCK" {
		return fmt.Errorf("%s is not a DuckDB database: refusing to use it (logs are PATH arguments; --db names the database file)", path)
	}
	return nil
}

// checkVersion accepts a database of this schema version only (read-only
// opens cannot migrate).
func (d *DB) checkVersion(ctx context.Context) error {
	var v string
	if err := d.Conn.QueryRowContext(ctx, "SELECT value FROM idemaudit_meta WHERE key = 'schema_version'").Scan(&v); err != nil {
		if outOfMemory(err) {
			return err // the memory limit, not the database
		}
		return fmt.Errorf("not an idemaudit database of schema version %d (an older one is migrated by idemaudit ingest): %w", SchemaVersion, err)
	}
	if v != fmt.Sprint(SchemaVersion) {
		return fmt.Errorf("schema version %s, this idemaudit reads %d (ingest migrates an older database; a newer one needs a newer idemaudit)", v, SchemaVersion)
	}
	return nil
}

// outOfMemory reports DuckDB's out-of-memory error (a --memory-limit too
// small for the query), which says nothing of the database read.
func outOfMemory(err error) bool {
	var de *duckdb.Error
	return errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory
}

// DefaultMemoryLimit is DuckDB's memory limit unless --memory-limit says
// otherwise: a quarter of the RAM, at most 1 GB. DuckDB spills beyond it,
// so ten million calls audit in under 2 GB of resident memory (Go's part
// included); a bigger limit buys some speed.
func DefaultMemoryLimit() string {
	const max = 1 << 30
	limit := int64(max)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, line := range strings.Split(string(b), "\n") {
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				limit = min(limit, kb*1024/4)
				break
			}
		}
	}
	return fmt.Sprintf("%dMB", limit>>20)
}

// ConfigMismatchError is a database built with other fingerprint settings.
type ConfigMismatchError struct {
	Path string
	Was  string // the settings it was built with, in words
	Now  string
}

func (e *ConfigMismatchError) Error() string {
	return fmt.Sprintf("%s was built with other fingerprint settings (identity, ignore or compensating actions): its calls were fingerprinted with %q, this run asks for %q. "+
		"Fingerprints are computed while reading, so the two cannot mix: run with the configuration the database was built with, or ingest the logs into a new database",
		displayDB(e.Path), e.Was, e.Now)
}

// UseConfig sets the configuration for this run. The settings that shape
// what ingest stores must be those the database was built with; a database
// without calls takes the new ones (when writable).
func (d *DB) UseConfig(ctx context.Context, c *config.Config, path string, readOnly bool) error {
	if c == nil {
		c = &config.Config{}
	}
	d.Config = c
	digest, words := c.FingerprintDigest(), c.DescribeFingerprints()
	var was, wasWords sql.NullString
	err := d.Conn.QueryRowContext(ctx, `SELECT max(value) FILTER (WHERE key = 'fingerprint_digest'),
		max(value) FILTER (WHERE key = 'fingerprint_settings') FROM idemaudit_meta`).Scan(&was, &wasWords)
	if err != nil {
		return err
	}
	var calls int64
	if err := d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM calls LIMIT 1)").Scan(&calls); err != nil {
		return err
	}
	if !was.Valid {
		// built before fingerprint settings were recorded: whole args, the default
		was.String = (&config.Config{}).FingerprintDigest()
		wasWords.String = (&config.Config{}).DescribeFingerprints()
	}
	if was.String == digest {
		if !readOnly && !was.Valid {
			return d.recordConfig(ctx, digest, words)
		}
		return nil
	}
	if calls == 0 && !readOnly {
		return d.recordConfig(ctx, digest, words)
	}
	if calls == 0 {
		return nil
	}
	return &ConfigMismatchError{Path: path, Was: wasWords.String, Now: words}
}

func (d *DB) recordConfig(ctx context.Context, digest, words string) error {
	_, err := d.Conn.ExecContext(ctx, `INSERT OR REPLACE INTO idemaudit_meta VALUES ('fingerprint_digest', ?), ('fingerprint_settings', ?)`, digest, words)
	return err
}

// timed reports the time since start as step, when timing is on.
func (d *DB) timed(step string, start time.Time) {
	if d.Timing != nil {
		d.Timing(step, time.Since(start))
	}
}
