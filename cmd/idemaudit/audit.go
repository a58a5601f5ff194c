package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/report"
	"github.com/idemaudit/idemaudit/internal/rules"
)

const auditSynopsis = "idemaudit audit [flags] PATH...\n\n" +
	"PATH is a JSONL file (gzip detected by its magic bytes), a directory (searched\n" +
	"recursively for *.jsonl, *.ndjson, *.log and their .gz variants) or - for stdin."

func (e *env) audit(args []string) (int, error) {
	fs := pflag.NewFlagSet("audit", pflag.ContinueOnError)
	format := fs.StringP("format", "f", "table", "report format: "+joinOr(report.Formats))
	output := fs.StringP("output", "o", "", "write the report to `FILE` instead of stdout")
	window := fs.Duration("window", rules.DefaultWindow, "largest gap between two calls of one retry chain")
	failOn := fs.String("fail-on", "", "exit 1 when a finding is at or above `SEVERITY` (critical, high, medium, low); default: never")
	dbPath := fs.String("db", "", "keep the calls in this DuckDB `FILE` (default: in memory); content already in it is not added twice")
	memLimit := fs.String("memory-limit", "", "DuckDB memory limit, e.g. 2GB (default: DuckDB's, 80% of RAM)")
	tempDir := fs.String("temp-dir", "", "where DuckDB spills when over the memory limit")
	threads := fs.Int("threads", 0, "DuckDB threads (default: one per core)")
	quiet := fs.BoolP("quiet", "q", false, "no warnings on stderr (errors are still printed)")
	if help, err := e.parseFlags(fs, args, auditSynopsis); help || err != nil {
		return exitOK, err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		return exitError, usagef("no PATH given")
	}
	rep, err := report.New(*format)
	if err != nil {
		return exitError, usageError{err}
	}
	if *window <= 0 {
		return exitError, usagef("--window must be positive, got %s", *window)
	}
	var threshold rules.Severity
	if *failOn != "" {
		if threshold, err = rules.ParseSeverity(*failOn); err != nil {
			return exitError, usageError{fmt.Errorf("--fail-on: %w", err)}
		}
	}
	warn := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(e.stderr, "idemaudit: warning: "+format+"\n", a...)
		}
	}
	progress := isTerminal(e.stderr) && !*quiet

	sources, skipped, err := ingest.Expand(paths)
	if err != nil {
		return exitError, err
	}
	for _, s := range skipped {
		warn("%s is the same file as one named before; read once", s)
	}
	if len(sources) == 0 {
		return exitError, fmt.Errorf("no log files found in %s (a directory is searched for *.jsonl, *.ndjson, *.log and .gz variants)", strings.Join(paths, ", "))
	}

	db, err := ingest.Open(e.ctx, *dbPath, ingest.Options{MemoryLimit: *memLimit, TempDir: *tempDir, Threads: *threads})
	if err != nil {
		return exitError, err
	}
	defer db.Close()

	// Every readable source is ingested, each in its own transaction, even
	// when another fails: a kept database loses nothing. But a report that
	// silently misses a file would be wrong, so any failure ends the run
	// with exit 2 and no report.
	var failed []error
	for _, src := range sources {
		if progress {
			fmt.Fprintf(e.stderr, "\rreading %s\x1b[K", src)
		}
		var st ingest.Stats
		if src == "-" {
			st, err = db.IngestReader(e.ctx, src, e.stdin)
		} else {
			st, err = db.IngestFile(e.ctx, src)
		}
		if err != nil {
			if e.ctx.Err() != nil {
				return exitInterrupt, err
			}
			var ie *ingest.InputError
			if !errors.As(err, &ie) {
				return exitError, err
			}
			failed = append(failed, err)
			continue
		}
		switch st.Status {
		case ingest.StatusDuplicate:
			warn("%s has the same content as %s, already ingested; not added again", src, st.Of)
		case ingest.StatusUnchanged:
			warn("%s is unchanged since it was ingested; not added again", src)
		case ingest.StatusReplaced:
			warn("%s changed from its beginning since it was ingested (replaced or truncated): read as a new source", src)
		}
		if st.Malformed > 0 {
			warn("%s: %s skipped (listed in the report)", src, plural(st.Malformed, "malformed line"))
		}
	}
	if progress {
		fmt.Fprint(e.stderr, "\r\x1b[K")
	}
	if len(failed) > 0 {
		for _, err := range failed[:len(failed)-1] {
			fmt.Fprintf(e.stderr, "idemaudit audit: %v\n", err)
		}
		return exitError, fmt.Errorf("%w\nno report: %s could not be read (the others were read in full)",
			failed[len(failed)-1], plural(int64(len(failed)), "input"))
	}

	res, err := rules.Audit(e.ctx, db.Conn, rules.Options{Window: *window})
	if err != nil {
		return exitError, err
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, res); err != nil {
		return exitError, err
	}
	if err := e.writeOutput(*output, buf.Bytes()); err != nil {
		return exitError, err
	}
	if threshold != 0 {
		for _, f := range res.Findings {
			if f.Severity >= threshold {
				return exitFindings, nil
			}
		}
	}
	return exitOK, nil
}

// writeOutput writes the report to stdout, or replaces FILE atomically, so
// a failed run never leaves half a report behind.
func (e *env) writeOutput(path string, b []byte) error {
	if path == "" || path == "-" {
		_, err := e.stdout.Write(b)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
