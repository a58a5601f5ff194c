package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/sample"
)

func (e *env) sample(args []string) (int, error) {
	d := sample.DefaultOptions()
	fs := pflag.NewFlagSet("sample", pflag.ContinueOnError)
	calls := fs.Int("calls", d.Calls, "number of calls (valid lines) to write")
	seed := fs.Int64("seed", d.Seed, "random seed; the same options write the same bytes")
	files := fs.Int("files", d.Files, "number of files")
	gz := fs.Bool("gzip", false, "gzip every file (default: only the last one)")
	malformed := fs.Int("malformed", d.Malformed, "malformed lines to plant")
	rate := fs.Float64("anomaly-rate", d.AnomalyRate, "fraction of operations with a planted anomaly")
	if help, err := e.parseFlags(fs, args, "idemaudit sample [flags] DIR\n\nWrites a synthetic week of agent logs with planted anomalies and legitimate repeats."); help || err != nil {
		return exitOK, err
	}
	if fs.NArg() != 1 {
		return exitError, usagef("want exactly one DIR")
	}
	if *calls < 0 || *files < 1 || *malformed < 0 || *rate < 0 || *rate > 1 {
		return exitError, usagef("--calls and --malformed must be ≥ 0, --files ≥ 1, --anomaly-rate in [0, 1]")
	}
	o := d
	o.Calls, o.Seed, o.Files, o.Malformed, o.AnomalyRate = *calls, *seed, *files, *malformed, *rate
	if *gz {
		o.Gzip, o.GzipOne = true, false
	}
	paths, err := sample.Write(fs.Arg(0), o)
	if err != nil {
		return exitError, err
	}
	for _, p := range paths {
		fmt.Fprintln(e.stdout, p)
	}
	return exitOK, nil
}
