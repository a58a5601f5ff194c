package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/report"
	"github.com/idemaudit/idemaudit/internal/rules"
)

const explainSynopsis = "idemaudit explain [--db FILE | PATH...] (--key K | --finding ID | --session S | --response R | --arg V) [flags]\n\n" +
	"The timeline of the calls involved — time, gap since the previous call, action, key,\n" +
	"response id, status, outcome, effect, duration, source:line and span — and a plain\n" +
	"verdict of what the audit found in them. --finding takes an id or its first characters;\n" +
	"--arg finds a customer, an order, an email address in the calls' args (read from the logs)."

func (e *env) explain(args []string) (int, error) {
	fs := pflag.NewFlagSet("explain", pflag.ContinueOnError)
	var dbf dbFlags
	dbf.add(fs, false)
	fs.Lookup("db").Usage = "read the calls of this kept DuckDB `FILE` (read-only) instead of logs"
	dbf.addConfig(fs)
	dbf.addReads(fs)
	dbf.addImport(fs)
	var sel rules.Selector
	fs.StringVar(&sel.Key, "key", "", "the calls with this idempotency key (any action)")
	fs.StringVar(&sel.Finding, "finding", "", "a finding's calls and compensating calls, by its id (or the id's first characters)")
	fs.StringVar(&sel.Session, "session", "", "the calls of this session")
	fs.StringVar(&sel.Response, "response", "", "the findings holding this response id (else the calls that returned it)")
	fs.StringVar(&sel.Arg, "arg", "", "the calls whose args hold this value at any depth: a string equal to it, or a number when it is one (needs the logs, not --db)")
	format := fs.StringP("format", "f", "table", "table, markdown (to paste into an incident doc) or json")
	output := fs.StringP("output", "o", "", "write to `FILE` instead of stdout")
	window := fs.Duration("window", rules.DefaultWindow, "largest gap between two calls of one retry chain")
	quiet := fs.BoolP("quiet", "q", false, "no warnings on stderr")
	if help, err := e.parseFlags(fs, args, explainSynopsis); help || err != nil {
		return exitOK, err
	}
	if n := countSet(sel.Key, sel.Finding, sel.Session, sel.Response, sel.Arg); n != 1 {
		return exitError, usagef("give exactly one of --key, --finding, --session, --response, --arg")
	}
	if *format != "table" && *format != "markdown" && *format != "json" {
		return exitError, usagef("--format: table, markdown or json, not %q", *format)
	}
	if *window <= 0 {
		return exitError, usagef("--window must be positive")
	}
	if (dbf.path == "") == (fs.NArg() == 0) {
		return exitError, usagef("give --db FILE or log PATHs (not both)")
	}
	if sel.Arg != "" {
		// args are not kept in a database: they are read from the logs again
		if dbf.path != "" {
			return exitError, usagef("--arg reads the calls' args from the logs (a kept database holds none): give the log PATHs instead of --db")
		}
		for _, p := range fs.Args() {
			if p == "-" {
				return exitError, usagef("--arg reads the logs twice: standard input (-) cannot be read again; save it to a file")
			}
		}
	}
	if err := checkOutput(*output); err != nil {
		return exitError, err
	}
	// a kept database is only read; logs are read into memory first
	var db *ingest.DB
	var err error
	if dbf.path != "" {
		if _, err := os.Stat(dbf.path); err != nil {
			return exitError, fmt.Errorf("--db: %w", err)
		}
		db, err = e.openDBReadOnly(&dbf)
	} else {
		db, err = e.openDB(&dbf)
	}
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	if dbf.path == "" {
		if _, err := e.ingestAll(db, fs.Args(), e.warner(*quiet), nil); err != nil {
			return exitError, err
		}
	}
	if sel.Arg != "" {
		sources, _, err := ingest.Expand(fs.Args())
		if err != nil {
			return exitError, err
		}
		err = ingest.ReadCalls(e.ctx, sources, nil, db.Import, func(src string, line int64, pos int32, r *ingest.Record) error {
			if r.Args != nil && ingest.ArgsHold(r.Args, sel.Arg) {
				sel.ArgCalls = append(sel.ArgCalls, rules.CallRef{Source: src, Line: line, Pos: pos})
			}
			return nil
		})
		if err != nil {
			return exitError, err
		}
	}
	ex, err := rules.Explain(e.ctx, db.Conn, rules.Options{Window: *window, Config: db.Config}, sel)
	if err != nil {
		return exitError, err
	}
	if err := e.writeOutput(*output, func(w io.Writer) error { return report.Explanation(w, *format, ex) }); err != nil {
		return exitError, err
	}
	return exitOK, nil
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}
