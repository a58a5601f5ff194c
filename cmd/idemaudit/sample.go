package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

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
	start := fs.String("start", d.Start.Format("2006-01-02"), "the first day (UTC) of the logs")
	days := fs.Int("days", d.Days, "how many days the logs cover")
	truth := fs.String("truth", "", "also write the planted operations, with the findings each must cause, as JSON lines to `FILE`")
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
	o.Calls, o.Seed, o.Files, o.Malformed, o.AnomalyRate, o.Days = *calls, *seed, *files, *malformed, *rate, *days
	var err error
	if o.Start, err = time.Parse("2006-01-02", *start); err != nil {
		return exitError, usagef("--start: want a date like 2026-11-16, got %q", *start)
	}
	if *days < 1 {
		return exitError, usagef("--days must be ≥ 1")
	}
	if *gz {
		o.Gzip, o.GzipOne = true, false
	}
	var planted []sample.Planted
	if *truth != "" {
		o.Planted = func(p sample.Planted) { planted = append(planted, p) }
	}
	paths, err := sample.Write(fs.Arg(0), o)
	if err != nil {
		return exitError, err
	}
	// the configuration the planted near-duplicates need (ExpectConfigured)
	if err := os.WriteFile(filepath.Join(fs.Arg(0), "idemaudit.toml"), []byte(sample.SampleConfig), 0o644); err != nil {
		return exitError, err
	}
	if *truth != "" {
		if err := writeTruth(*truth, paths, planted); err != nil {
			return exitError, err
		}
	}
	for _, p := range paths {
		fmt.Fprintln(e.stdout, p)
	}
	return exitOK, nil
}

// writeTruth writes one JSON object per planted operation.
func writeTruth(path string, files []string, planted []sample.Planted) error {
	type ref struct {
		Source string `json:"source"`
		Line   int64  `json:"line"`
	}
	type expect struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, p := range planted {
		rec := struct {
			Kind   string   `json:"kind"`
			Action string   `json:"action_type"`
			Expect []expect `json:"expect"`
			// with the sample's idemaudit.toml (written beside the logs)
			ExpectConfigured []expect `json:"expect_configured"`
			Calls            []ref    `json:"calls"`
		}{Kind: p.Kind, Action: p.Action, Expect: []expect{}, ExpectConfigured: []expect{}}
		for _, e := range p.Expect {
			rec.Expect = append(rec.Expect, expect{e.Rule, e.Severity})
		}
		conf := p.Expect
		if p.ExpectConfigured != nil {
			conf = p.ExpectConfigured
		}
		for _, e := range conf {
			rec.ExpectConfigured = append(rec.ExpectConfigured, expect{e.Rule, e.Severity})
		}
		for _, c := range p.Calls {
			rec.Calls = append(rec.Calls, ref{files[c.File], c.Line})
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
