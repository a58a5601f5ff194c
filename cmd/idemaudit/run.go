package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Exit codes. Findings and failures never share a code.
const (
	exitOK        = 0   // ran; nothing at or above --fail-on
	exitFindings  = 1   // findings at or above --fail-on
	exitError     = 2   // usage or input error
	exitInterrupt = 130 // interrupted (Ctrl-C, SIGTERM), after cleanup
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

const usage = `idemaudit finds the duplicate side effects that retries cause in logs of
side-effecting calls made by AI agents.

Usage:
  idemaudit audit [flags] PATH...            audit logs or trace exports (files, directories, - for stdin)
  idemaudit ingest --db FILE PATH...         add logs to a kept database (idempotent, incremental)
  idemaudit report --db FILE [--week W]      report a week (default: the last complete one) with trend
  idemaudit weekly --db FILE --out DIR PATH...   the cron job: ingest, then write last week's reports
  idemaudit baseline --db FILE -o FILE       write the ids of the current findings, to suppress them
  idemaudit prune --db FILE --keep 26w       delete calls older than that
  idemaudit rules [RULE]                     list the rule catalogue, or explain one rule
  idemaudit identity --suggest PATH...       propose per-action identities from the data
  idemaudit explain (--db FILE | PATH...) --key K | --finding ID | --session S | --response R
                                             the timeline of the calls involved, and a verdict
  idemaudit sample [flags] DIR               write a synthetic week of logs with planted anomalies
  idemaudit --version                        print the version

Run 'idemaudit COMMAND --help' for a command's flags.
Exit codes: 0 ran clean, 1 findings at or above --fail-on, 2 usage or input error,
130 interrupted.
`

// env is what a command may touch: no globals, so tests run the real thing.
type env struct {
	progress bool // draw a progress bar on stderr while reading
	ctx      context.Context
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
}

// Run is the whole program; main only adds signals and os.Exit.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	var code int
	var err error
	switch args[0] {
	case "audit":
		code, err = e.audit(args[1:])
	case "rules":
		code, err = e.rules(args[1:])
	case "identity":
		code, err = e.identity(args[1:])
	case "explain":
		code, err = e.explain(args[1:])
	case "sample":
		code, err = e.sample(args[1:])
	case "ingest":
		code, err = e.ingest(args[1:])
	case "report":
		code, err = e.report(args[1:])
	case "weekly":
		code, err = e.weekly(args[1:])
	case "prune":
		code, err = e.prune(args[1:])
	case "baseline":
		code, err = e.baseline(args[1:])
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "idemaudit %s\n", version)
		return exitOK
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "idemaudit: unknown command %q\n\n%s", args[0], usage)
		return exitError
	}
	if err == nil {
		return code
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "idemaudit: interrupted")
		return exitInterrupt
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "idemaudit %s: %s\nRun 'idemaudit %s --help' for usage.\n", args[0], shown(err), args[0])
		return exitError
	}
	fmt.Fprintf(stderr, "idemaudit %s: %s\n", args[0], shown(outOfMemory(err))) // errors may quote log values and arguments
	return exitError
}

// outOfMemory keeps the first line of DuckDB's out-of-memory error (its
// advice, SET threads and the like, names SQL settings, not flags) and says
// which flag to change. Other errors are unchanged.
func outOfMemory(err error) error {
	if le, ok := err.(linesError); ok { // the lines under it stay
		inner := outOfMemory(le.err)
		if inner == le.err {
			return err
		}
		return linesError{le.err, shown(inner) + strings.TrimPrefix(le.text, shown(le.err))}
	}
	msg := err.Error()
	if !strings.Contains(msg, "Out of Memory Error") {
		return err
	}
	first, _, _ := strings.Cut(msg, "\n")
	if strings.Contains(msg, "max_temp_directory_size") {
		// no memory: the disk it spills to is full (its "used" is of
		// that disk), and DuckDB's advice is a PRAGMA
		return withLine(errors.New(first), "DuckDB ran out of room where it spills: free space in --temp-dir or point it to a larger disk "+
			"(a higher --memory-limit spills less)")
	}
	return withLine(errors.New(first), "DuckDB needs more memory than its limit allows: raise --memory-limit "+
		"(default: a quarter of RAM, at most 1GB; beyond it DuckDB spills to --temp-dir)")
}

// linesError is an error of several lines, each made safe for a terminal
// on its own: the newlines between them are the program's, and one inside
// a file name or log value is quoted by safe.
type linesError struct {
	err  error // the first line's error, for errors.Is and errors.As
	text string
}

func (e linesError) Error() string { return e.text }
func (e linesError) Unwrap() error { return e.err }

// withLine adds a line of the program's own under err.
func withLine(err error, line string) error {
	return linesError{err, shown(err) + "\n" + line}
}

// shown is an error's text for a terminal.
func shown(err error) string {
	if le, ok := err.(linesError); ok {
		return le.text
	}
	return safe(err.Error())
}

// usageError is a bad flag or argument.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// parseFlags parses a command's flags; help goes to stdout and ends the command.
func (e *env) parseFlags(fs *pflag.FlagSet, args []string, synopsis string) (help bool, err error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(e.stdout, "Usage:\n  %s\n", synopsis)
			if fs.HasFlags() {
				fmt.Fprintf(e.stdout, "\nFlags:\n%s", fs.FlagUsages())
			}
			return true, nil
		}
		return false, usageError{err}
	}
	return false, nil
}

// isTerminal reports whether w is a character device, for progress output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// plural writes "1 line" / "2 lines".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// joinOr lists choices for messages: "a, b or c".
func joinOr(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
