package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/report"
	"github.com/idemaudit/idemaudit/internal/rules"
)

const identitySynopsis = "idemaudit identity --suggest [flags] PATH...\n\n" +
	"Reads the logs and proposes, per action, the args paths that make up an\n" +
	"operation's identity: those that keep their value across the calls of a\n" +
	"chain (the same action in one session within the window: retries, mostly)\n" +
	"but vary across the action's calls. It shows the evidence and prints a\n" +
	"configuration snippet to review; it never changes any configuration."

// maxSuggestCalls bounds what identity --suggest holds in memory: it is
// for a sample of the logs (a day or a week), not for years of them.
const maxSuggestCalls = 5_000_000

func (e *env) identity(args []string) (int, error) {
	fs := pflag.NewFlagSet("identity", pflag.ContinueOnError)
	suggest := fs.Bool("suggest", false, "propose identities from the data (the only mode)")
	format := fs.StringP("format", "f", "table", "table or json")
	window := fs.Duration("window", rules.DefaultWindow, "largest gap between two calls of one chain")
	var dbf dbFlags
	dbf.addImport(fs)
	if help, err := e.parseFlags(fs, args, identitySynopsis); help || err != nil {
		return exitOK, err
	}
	if !*suggest {
		return exitError, usagef("say --suggest (identities are set in the configuration file or with --identity)")
	}
	if fs.NArg() == 0 {
		return exitError, usagef("no PATH given")
	}
	if *format != "table" && *format != "json" {
		return exitError, usagef("--format: table or json, not %q", *format)
	}
	if *window <= 0 {
		return exitError, usagef("--window must be positive")
	}
	sources, _, err := ingest.Expand(fs.Args())
	if err != nil {
		return exitError, err
	}
	if len(sources) == 0 {
		return exitError, fmt.Errorf("no log files found in %s", safe(strings.Join(fs.Args(), ", ")))
	}
	im, err := dbf.imp.build()
	if err != nil {
		return exitError, err
	}
	var calls []rules.SuggestCall
	errTooMany := errors.New("too many calls")
	err = ingest.ReadCalls(e.ctx, sources, e.stdin, im, func(_ string, _ int64, _ int32, r *ingest.Record) error {
		if !r.HasTS || r.Args == nil {
			return nil
		}
		if len(calls) == maxSuggestCalls {
			return errTooMany
		}
		calls = append(calls, rules.SuggestCall{Action: r.Action, Session: r.Session, TS: r.TS, Args: r.Args})
		return nil
	})
	if errors.Is(err, errTooMany) {
		return exitError, fmt.Errorf("more than %d calls: identity --suggest is meant for a sample of the logs (a day or a week); give it fewer files", maxSuggestCalls)
	}
	if err != nil {
		return exitError, err
	}
	return exitOK, e.writeOutput("", func(w io.Writer) error {
		return report.Suggestions(w, *format, *window, rules.SuggestIdentities(calls, *window))
	})
}
