package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/report"
	"github.com/idemaudit/idemaudit/internal/rules"
)

const reportSynopsis = "idemaudit report --db FILE [flags]\n\n" +
	"Reports one period of a kept database: by default the last complete ISO week\n" +
	"(Monday 00:00 to Monday 00:00 in --tz), with the trend of the weeks before it."

func (e *env) report(args []string) (int, error) {
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	var rf reportFlags
	var dbf dbFlags
	var pf periodFlags
	rf.add(fs, true)
	pf.add(fs, true)
	dbf.add(fs, true)
	dbf.addConfig(fs)
	dbf.addReads(fs)
	// report writes no warning; -q is taken, as by every other command, so
	// a script can pass it to each of them
	fs.BoolP("quiet", "q", false, "no warnings on stderr (report prints none; errors are still printed)")
	if help, err := e.parseFlags(fs, args, reportSynopsis); help || err != nil {
		return exitOK, err
	}
	if dbf.path == "" {
		return exitError, usagef("--db FILE is required")
	}
	if fs.NArg() > 0 {
		return exitError, usagef("report takes no PATH (ingest adds logs; audit reads them directly)")
	}
	if err := rf.check(); err != nil {
		return exitError, err
	}
	if pf.since != "" || pf.until != "" {
		// a period of --since/--until is no week and has no trend: a
		// --week or --trend beside them would be silently ignored
		if fs.Changed("week") {
			return exitError, usagef("--week and --since/--until both choose the period: give one")
		}
		if fs.Changed("trend") && pf.trend != 0 {
			return exitError, usagef("--trend shows the weeks before a --week: a --since/--until period has none")
		}
	}
	span, trend, err := pf.span()
	if err != nil {
		return exitError, err
	}
	if _, err := os.Stat(dbf.path); err != nil {
		return exitError, fmt.Errorf("--db: %w", err)
	}
	db, err := e.openDBReadOnly(&dbf)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	res, err := e.analyse(&rf, db, rules.Options{Period: &span, Trend: trend})
	if err != nil {
		return exitError, err
	}
	if err := e.render(&rf, rf.output, res); err != nil {
		return exitError, err
	}
	return rf.exitCode(res), nil
}

const weeklySynopsis = "idemaudit weekly --db FILE --out DIR [flags] PATH...\n\n" +
	"The cron command: ingests PATH... into FILE, then writes DIR/<week>.md and\n" +
	"DIR/<week>.json for the last complete ISO week. Running it twice in a week\n" +
	"rewrites the same bytes."

func (e *env) weekly(args []string) (int, error) {
	fs := pflag.NewFlagSet("weekly", pflag.ContinueOnError)
	var rf reportFlags
	var dbf dbFlags
	var pf periodFlags
	rf.add(fs, false)
	fs.MarkHidden("format") // weekly writes both Markdown and JSON
	pf.add(fs, false)
	dbf.add(fs, true)
	dbf.addConfig(fs)
	dbf.addReads(fs)
	dbf.addImport(fs)
	out := fs.String("out", "", "the `DIR` the weekly reports go to (created if missing)")
	quiet := fs.BoolP("quiet", "q", false, "print nothing but errors")
	progress := fs.Bool("progress", false, "draw a progress bar on stderr even when it is not a terminal")
	if help, err := e.parseFlags(fs, args, weeklySynopsis); help || err != nil {
		return exitOK, err
	}
	e.progress = !*quiet && (*progress || isTerminal(e.stderr)) // --quiet wins
	if dbf.path == "" || *out == "" {
		return exitError, usagef("--db FILE and --out DIR are required")
	}
	rf.format = "json"
	if err := rf.check(); err != nil {
		return exitError, err
	}
	span, trend, err := pf.span()
	if err != nil {
		return exitError, err
	}
	if fi, err := os.Stat(*out); err == nil && fi.IsDir() {
		// the reports it will write, checked before the run as -o is
		for _, ext := range []string{".md", ".json"} {
			if err := checkOutput(filepath.Join(*out, span.Label+ext)); err != nil {
				return exitError, err
			}
		}
	}
	db, err := e.openDB(&dbf)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	db.Now, _ = parseNow(pf.now) // checked by span: the sources read now are stamped with it
	if fs.NArg() > 0 {
		warn := e.warner(*quiet)
		quieter := func(format string, a ...any) {
			if format != unchangedWarning { // unchanged files are the norm of a weekly run: cron mails only news
				warn(format, a...)
			}
		}
		if _, err := e.ingestAll(db, fs.Args(), quieter, nil); err != nil {
			return exitError, withLine(err, "no report written")
		}
	}
	res, err := e.analyse(&rf, db, rules.Options{Period: &span, Trend: trend})
	if err != nil {
		return exitError, err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return exitError, err
	}
	var written []string
	for _, format := range []string{"markdown", "json"} {
		rf.format = format
		if err := rf.check(); err != nil {
			return exitError, err
		}
		path := filepath.Join(*out, span.Label+map[string]string{"markdown": ".md", "json": ".json"}[format])
		if err := e.render(&rf, path, res); err != nil {
			return exitError, err
		}
		written = append(written, path)
	}
	if !*quiet {
		fmt.Fprintf(e.stdout, "%s: %d %s, findings: %d critical, %d high, %d medium, %d low (%d new); wrote %s and %s\n",
			span.Label, res.Summary.Calls, map[bool]string{true: "call", false: "calls"}[res.Summary.Calls == 1], res.Summary.FindingsBySeverity[rules.Critical], res.Summary.FindingsBySeverity[rules.High],
			res.Summary.FindingsBySeverity[rules.Medium], res.Summary.FindingsBySeverity[rules.Low], res.Summary.NewFindings,
			safe(written[0]), safe(written[1]))
	}
	return rf.exitCode(res), nil
}

func (e *env) prune(args []string) (int, error) {
	fs := pflag.NewFlagSet("prune", pflag.ContinueOnError)
	var dbf dbFlags
	dbf.add(fs, true)
	keep := fs.String("keep", "", "keep the calls of this `AGE`: 26w, 180d, 720h")
	now := fs.String("now", "", "take this `TIME` as now (RFC 3339)")
	if help, err := e.parseFlags(fs, args, "idemaudit prune --db FILE --keep AGE\n\nDeletes the calls older than AGE. Ingested files stay known: a pruned file is not read again."); help || err != nil {
		return exitOK, err
	}
	if dbf.path == "" || *keep == "" {
		return exitError, usagef("--db FILE and --keep AGE are required")
	}
	age, err := parseAge(*keep)
	if err != nil {
		return exitError, usagef("--keep: %v", err)
	}
	t := time.Now()
	if *now != "" {
		if t, err = time.Parse(time.RFC3339Nano, *now); err != nil {
			return exitError, usagef("--now: want RFC 3339, got %q", *now)
		}
	}
	if _, err := os.Stat(dbf.path); err != nil {
		return exitError, fmt.Errorf("--db: %w", err)
	}
	db, err := e.openDB(&dbf)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	cutoff := t.Add(-age)
	n, err := db.Prune(e.ctx, cutoff.UnixNano())
	if err != nil {
		return exitError, err
	}
	fmt.Fprintf(e.stdout, "deleted %s made before %s\n", plural(n, "call"), cutoff.UTC().Format(time.RFC3339))
	return exitOK, nil
}

// parseAge reads 26w, 180d or any Go duration.
func parseAge(s string) (time.Duration, error) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(s, "%d%s", &n, &unit); err == nil && n > 0 {
		switch unit {
		case "w":
			return time.Duration(n) * 7 * 24 * time.Hour, nil
		case "d":
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want an age like 26w, 180d or 720h, got %q", s)
	}
	return d, nil
}

func (e *env) baseline(args []string) (int, error) {
	fs := pflag.NewFlagSet("baseline", pflag.ContinueOnError)
	var dbf dbFlags
	dbf.add(fs, true)
	dbf.addConfig(fs)
	dbf.addReads(fs)
	output := fs.StringP("output", "o", "", "write the baseline to `FILE` (default: stdout)")
	window := fs.Duration("window", rules.DefaultWindow, "largest gap between two calls of one retry chain")
	if help, err := e.parseFlags(fs, args, "idemaudit baseline --db FILE -o FILE\n\nWrites the ids of every finding in the database; --baseline FILE then reports\nthem as suppressed (listed, not counted for --fail-on)."); help || err != nil {
		return exitOK, err
	}
	if dbf.path == "" {
		return exitError, usagef("--db FILE is required")
	}
	if err := checkOutput(*output); err != nil {
		return exitError, err
	}
	if _, err := os.Stat(dbf.path); err != nil {
		return exitError, fmt.Errorf("--db: %w", err)
	}
	db, err := e.openDBReadOnly(&dbf)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	res, err := rules.Audit(e.ctx, db.Conn, rules.Options{Window: *window, Config: db.Config})
	if err != nil {
		return exitError, err
	}
	f := baselineFile{SchemaVersion: 1, Findings: []baselineFinding{}}
	seen := map[string]bool{}
	for _, x := range res.Findings {
		if !seen[x.ID] {
			seen[x.ID] = true
			var n *int // not for coverage findings: their count measures no damage
			if rules.ComparesSideEffects(x.Rule) {
				n = &x.Stats.SideEffects
			}
			f.Findings = append(f.Findings, baselineFinding{x.ID, x.Rule, x.Severity.String(), x.ActionType, x.Key, n})
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return exitError, err
	}
	return exitOK, e.writeOutput(*output, func(w io.Writer) error {
		_, err := w.Write(append(report.EscapeHiddenJSON(b), '\n')) // on a terminal too: a key's C1 controls escaped
		return err
	})
}
