package main

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/ingest"
)

// ingestAll reads every source into db, each in its own transaction, even
// when another fails: a kept database loses nothing. It returns an error
// naming every source that could not be read. log, when set, gets a line
// per source saying what was done.
// noLogs is the error of paths that hold no log file.
func noLogs(paths []string) error {
	return fmt.Errorf("no log files found in %s (a directory is searched for *.jsonl, *.ndjson, *.log, *.json, their .gz variants, rotated logs like app.log.1, and *.parquet)", safe(strings.Join(paths, ", ")))
}

// inputsReadable fails as ingestAll would when the paths name nothing to
// read, before a database is created for them.
func inputsReadable(paths []string) error {
	sources, _, err := ingest.Expand(paths)
	if err == nil && len(sources) == 0 {
		err = noLogs(paths)
	}
	return err
}

func (e *env) ingestAll(db *ingest.DB, paths []string, warn func(string, ...any), log io.Writer) ([]ingest.Stats, error) {
	sources, skipped, err := ingest.Expand(paths)
	if err != nil {
		return nil, err
	}
	for _, s := range skipped {
		if strings.HasSuffix(s, " (not a regular file)") {
			warn("%s skipped: not a regular file (name a FIFO on the command line to read it)", safe(strings.TrimSuffix(s, " (not a regular file)")))
			continue
		}
		warn("%s is the same file as one named before; read once", safe(s))
	}
	if len(sources) == 0 {
		return nil, noLogs(paths)
	}
	bar := e.progressBar(sources)
	var held []func()
	if bar != nil {
		db.Progress = func(n int64) { bar.Add64(n) }
		// warnings wait until the bar is gone
		direct := warn
		warn = func(format string, a ...any) { held = append(held, func() { direct(format, a...) }) }
	}
	var all []ingest.Stats
	var failed []error
	var done int64
	for _, src := range sources {
		if bar != nil {
			bar.Describe(shorten(safe(src), 40))
		}
		var st ingest.Stats
		if src == "-" {
			st, err = db.IngestReader(e.ctx, src, e.stdin)
		} else {
			st, err = db.IngestFile(e.ctx, src)
		}
		if err != nil {
			if e.ctx.Err() != nil {
				return all, err
			}
			var ie *ingest.InputError
			if !errors.As(err, &ie) {
				return all, err
			}
			failed = append(failed, err)
			if log != nil {
				fmt.Fprintf(log, "%-10s %s: %v\n", "failed", safe(src), ie.Err)
			}
			continue
		}
		all = append(all, st)
		if bar != nil {
			// unchanged files are only hashed: count them as read
			if fi, err := os.Stat(src); err == nil && fi.Mode().IsRegular() {
				done += fi.Size()
				bar.Set64(done)
			}
		}
		if log != nil {
			fmt.Fprintln(log, describe(st))
		} else {
			switch st.Status {
			case ingest.StatusDuplicate:
				warn("%s has the same content as %s, already ingested; not added again", safe(src), safe(st.Of))
			case ingest.StatusUnchanged:
				warn(unchangedWarning, safe(src))
			case ingest.StatusReplaced:
				warn("%s changed from its beginning since it was ingested (replaced or truncated): read as a new source", safe(src))
			case ingest.StatusReread:
				warn("%s was read before with other import settings: read anew with these", safe(src))
			}
			if st.Malformed > 0 {
				warn("%s: %s skipped (%s; all are listed in the report)", safe(src), plural(st.Malformed, "malformed line"), lineList(st))
			}
		}
		if hint := emptyHint(st); hint != "" {
			warn("%s: %s", safe(src), hint)
		}
	}
	if bar != nil {
		bar.Finish()
		db.Progress = nil
		for _, w := range held {
			w()
		}
	}
	if len(failed) > 0 {
		for _, err := range failed[:len(failed)-1] {
			fmt.Fprintf(e.stderr, "idemaudit: %s\n", safe(err.Error()))
		}
		return all, withLine(failed[len(failed)-1],
			fmt.Sprintf("%s could not be read (the others were read in full)", plural(int64(len(failed)), "input")))
	}
	return all, nil
}

// progressBar draws bytes read of the total, rate and time left on stderr
// when it is a terminal (or --progress asks for it), never under --quiet or
// when another line per file is printed.
func (e *env) progressBar(sources []string) *progressbar.ProgressBar {
	if !e.progress {
		return nil
	}
	var total int64
	for _, s := range sources {
		if fi, err := os.Stat(s); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		} else {
			total = -1 // a stream: no total, a spinner
			break
		}
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
}

// shorten keeps the end of a long name, where the file name is.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

// describe is one line of `idemaudit ingest` output.
// unchangedWarning is said of a file ingested before (weekly, where that is
// the norm, leaves it out).
const unchangedWarning = "%s is unchanged since it was ingested; not added again"

// emptyHint says why a source that gave no call may have been misread.
func emptyHint(st ingest.Stats) string {
	if st.Calls > 0 || st.Collapsed > 0 || st.Status == ingest.StatusUnchanged || st.Status == ingest.StatusDuplicate {
		return ""
	}
	switch {
	case st.Format.Imported() && st.Skipped > 0:
		return fmt.Sprintf("no tool call among its %s (read as %s: its LLM, agent and trace records are left out); "+
			"if its tools are logged as plain spans, name them with --tool-spans, or give the format with --from", plural(st.Skipped, "record"), st.Format)
	case st.Malformed > 0 && st.Format == ingest.FormatJSONL:
		return "no call read: if this is a trace export or a log of another shape, see --from and --map"
	}
	return ""
}

func describe(st ingest.Stats) string {
	src := safe(st.Source)
	line := fmt.Sprintf("%-10s %s", st.Status, src)
	switch st.Status {
	case ingest.StatusUnchanged:
		return line
	case ingest.StatusDuplicate:
		return line + ": the same content as " + safe(st.Of)
	}
	if st.Lines == 0 {
		return line + ": no new lines"
	}
	line += fmt.Sprintf(": %s from %s", plural(st.Calls, "call"), lineRange(st.FirstLine, st.FirstLine+st.Lines-1))
	if st.Format.Imported() {
		line += fmt.Sprintf(" (%s export", st.Format)
		if st.Skipped > 0 {
			line += fmt.Sprintf("; %s skipped", plural(st.Skipped, "non-tool record"))
		}
		if st.Collapsed > 0 {
			line += fmt.Sprintf("; %s collapsed", plural(st.Collapsed, "telemetry duplicate"))
		}
		line += ")"
	}
	if st.Malformed > 0 {
		line += fmt.Sprintf(", %s (%s)", plural(st.Malformed, "malformed line"), lineList(st))
	}
	switch st.Status {
	case ingest.StatusGrown:
		if st.FirstLine > 1 {
			line += "; the lines before were already ingested"
		} else {
			line += "; it was empty when ingested"
		}
	case ingest.StatusContinues:
		line += fmt.Sprintf("; %s already ingested as %s", lineRange(1, st.FirstLine-1), safe(st.Of))
		if st.TakenOver > 0 { // that file's unterminated last line, whole here
			line += fmt.Sprintf(" (line %d, unfinished there, is read here: %s moved)", st.FirstLine, plural(st.TakenOver, "call"))
		}
	case ingest.StatusReplaced:
		line += "; its beginning changed since it was ingested: read as a new source"
	case ingest.StatusReread:
		line += "; read before with other import settings (--from, --map, --key-path, --response-path, --tool-spans): read anew"
	}
	return line
}

// lineRange names the lines from a to b: "line 2", "lines 1–5".
func lineRange(a, b int64) string {
	if a == b {
		return fmt.Sprintf("line %d", a)
	}
	return fmt.Sprintf("lines %d–%d", a, b)
}

func lineList(st ingest.Stats) string {
	var s []string
	for _, l := range st.MalformedAt {
		s = append(s, strconv.FormatInt(l, 10))
	}
	out := "line " + strings.Join(s, ", ")
	if len(s) > 1 {
		out = "lines " + strings.Join(s, ", ")
	}
	if st.Malformed > int64(len(s)) {
		out += ", …"
	}
	return out
}

// safe shows a path or message from the outside world on a terminal:
// quoted when it holds anything that is not plainly printable, a newline
// too (a file name holding one would print a line of its own: a forged
// warning). A message of several lines of the program's own is a
// linesError, its lines made safe one by one.
func safe(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return strconv.Quote(s)
		}
	}
	return s
}

const ingestSynopsis = "idemaudit ingest --db FILE [flags] PATH...\n\n" +
	"Adds logs to a kept database. Idempotent: a file read before adds nothing; a log\n" +
	"that grew adds only its new lines; a renamed or copied file is not read twice."

func (e *env) ingest(args []string) (int, error) {
	fs := pflag.NewFlagSet("ingest", pflag.ContinueOnError)
	var dbf dbFlags
	dbf.add(fs, true)
	dbf.addConfig(fs)
	dbf.addImport(fs)
	quiet := fs.BoolP("quiet", "q", false, "print nothing but errors")
	progress := fs.Bool("progress", false, "draw a progress bar on stderr (it shares the terminal with the per-file lines)")
	nowFlag := fs.String("now", "", "take this `TIME` as the ingest time (RFC 3339), for backfills and tests: a report places a finding made only of calls without ts in the period they were ingested in")
	if help, err := e.parseFlags(fs, args, ingestSynopsis); help || err != nil {
		return exitOK, err
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return exitError, err
	}
	e.progress = *progress && !*quiet
	if dbf.path == "" {
		return exitError, usagef("--db FILE is required")
	}
	if fs.NArg() == 0 {
		return exitError, usagef("no PATH given")
	}
	if _, err := os.Stat(dbf.path); errors.Is(err, iofs.ErrNotExist) {
		// nothing to read: no empty database is left behind
		if err := inputsReadable(fs.Args()); err != nil {
			return exitError, err
		}
	}
	db, err := e.openDB(&dbf)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	db.Now = now
	var log io.Writer = e.stdout
	if *quiet {
		log = io.Discard
	}
	all, err := e.ingestAll(db, fs.Args(), e.warner(*quiet), log)
	counts := map[ingest.Status]int{}
	var calls, bad int64
	for _, st := range all {
		counts[st.Status]++
		calls += st.Calls - st.TakenOver
		bad += st.Malformed
	}
	var parts []string
	for _, s := range []ingest.Status{ingest.StatusNew, ingest.StatusGrown, ingest.StatusContinues, ingest.StatusReplaced, ingest.StatusReread, ingest.StatusUnchanged, ingest.StatusDuplicate} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if !*quiet && len(all) > 0 {
		fmt.Fprintf(e.stdout, "%s read (%s): %s added, %s\n", plural(int64(len(all)), "file"), strings.Join(parts, ", "),
			plural(calls, "call"), plural(bad, "malformed line"))
	}
	if err != nil {
		return exitError, err
	}
	return exitOK, nil
}
