package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/rules"
)

const auditSynopsis = "idemaudit audit [flags] PATH...\n\n" +
	"PATH is a log or a trace export (JSON Lines, one JSON document or Parquet;\n" +
	"gzip detected by its magic bytes; the format told from the content, see\n" +
	"--from), a directory (searched recursively for *.jsonl, *.ndjson, *.log,\n" +
	"*.json, their .gz variants and *.parquet) or - for stdin."

func (e *env) audit(args []string) (int, error) {
	fs := pflag.NewFlagSet("audit", pflag.ContinueOnError)
	var rf reportFlags
	var dbf dbFlags
	rf.add(fs, true)
	dbf.add(fs, false)
	dbf.addConfig(fs)
	dbf.addReads(fs)
	dbf.addImport(fs)
	quiet := fs.BoolP("quiet", "q", false, "no warnings on stderr (errors are still printed)")
	progress := fs.Bool("progress", false, "draw a progress bar on stderr even when it is not a terminal")
	fs.MarkHidden("fail-on-new") // an ad-hoc audit has no period: nothing is new
	if help, err := e.parseFlags(fs, args, auditSynopsis); help || err != nil {
		return exitOK, err
	}
	if fs.NArg() == 0 {
		return exitError, usagef("no PATH given")
	}
	if rf.failOnNew {
		return exitError, usagef("--fail-on-new is for period reports (report, weekly)")
	}
	if err := rf.check(); err != nil {
		return exitError, err
	}
	e.progress = !*quiet && (*progress || isTerminal(e.stderr)) // --quiet wins
	db, err := e.openDB(&dbf)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	// A report that silently misses a file would be wrong: any unreadable
	// input ends the run with exit 2 and no report.
	if _, err := e.ingestAll(db, fs.Args(), e.warner(*quiet), nil); err != nil {
		return exitError, withLine(err, "no report written")
	}
	res, err := e.analyse(&rf, db, rules.Options{})
	if err != nil {
		return exitError, err
	}
	// the report is in res: DuckDB's memory goes before the report's
	// output is built (the peak of a large audit was the two together)
	if err := db.Close(); err != nil {
		return exitError, fmt.Errorf("close database: %w", err)
	}
	t0 := time.Now()
	if err := e.render(&rf, rf.output, res); err != nil {
		return exitError, err
	}
	e.timed("render", t0)
	return rf.exitCode(res), nil
}

// warner prints warnings on stderr unless quiet.
func (e *env) warner(quiet bool) func(string, ...any) {
	return func(format string, a ...any) {
		if !quiet {
			fmt.Fprintf(e.stderr, "idemaudit: warning: "+format+"\n", a...)
		}
	}
}

// render writes the report to a file (atomically) or stdout, streaming:
// a report with a million evidence calls is never held whole in memory.
func (e *env) render(rf *reportFlags, output string, res *rules.Result) error {
	return e.writeOutput(output, func(w io.Writer) error { return rf.rep.Write(w, res) })
}

// writeOutput writes to stdout, or replaces FILE atomically (a temporary
// file in the same directory, synced, then renamed), so a failed run never
// leaves half a file behind. A FILE that is not a regular file (a device, a
// FIFO) is written in place, never replaced.
func (e *env) writeOutput(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		bw := bufio.NewWriterSize(e.stdout, 1<<16)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	name := path // errors name the output as given
	path = followLink(path)
	fi, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return writeError(name, err) // a symlink loop made during the run, or never checked (weekly's files): not replaced
	}
	if err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", name)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<16)
		if err := write(bw); err != nil {
			f.Close()
			return writeError(path, err)
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return writeError(path, err)
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return writeError(name, err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<16)
	for _, step := range []func() error{func() error { return write(bw) }, bw.Flush, func() error { return tmp.Chmod(0o644) }, tmp.Sync} {
		if err := step(); err != nil {
			tmp.Close()
			return writeError(name, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// checkOutput fails at once, before a long run, when writeOutput could not
// write FILE at its end: its directory is missing, not a directory or not
// writable (tried with the temporary file writeOutput makes), or FILE is a
// directory. The error is the one writeOutput would give.
func checkOutput(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	name := path
	path = followLink(path)
	fi, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return writeError(name, err) // a symlink loop: replacing it would lose the link
	}
	if err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", name)
		}
		return nil // a device, a FIFO: written in place
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return writeError(name, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// followLink is the file a symlink at path points to, which the report
// replaces (the link stays): /dev/stdout redirected to a file names that
// file, not /dev. A link whose end is missing names the file it would
// point to, which the report creates (as the shell's > does). A path that
// is no symlink is path.
func followLink(path string) string {
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return path
	}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return path // not dangling (/proc/self/fd/1 on a pipe): written in place
	}
	for p, hops := path, 0; hops < 40; hops++ {
		t, err := os.Readlink(p)
		if err != nil {
			return path
		}
		if !filepath.IsAbs(t) {
			dir, err := filepath.EvalSymlinks(filepath.Dir(p))
			if err != nil {
				return path
			}
			t = filepath.Join(dir, t)
		}
		fi, err := os.Lstat(t)
		if errors.Is(err, fs.ErrNotExist) {
			return t
		}
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path
		}
		p = t
	}
	return path
}

// writeError names the output once: the system's error already names the
// file it wrote (the device, or the temporary file renamed into place).
func writeError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("write %s: %w", path, err)
}
