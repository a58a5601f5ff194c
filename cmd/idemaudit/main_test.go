package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// binary is the real idemaudit, built once for the end-to-end tests.
var binary string

// repoRoot is where the binary runs, so sources read "sample-logs/...".
var repoRoot, _ = filepath.Abs("../..")

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "idemaudit-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "idemaudit")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes the binary in the repository root.
func run(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = repoRoot
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	high = `{"ts":"2026-11-16T09:00:00Z","action_type":"send_email","args":{"to":"a"},"response_id":"m1"}
{"ts":"2026-11-16T09:00:30Z","action_type":"send_email","args":{"to":"a"},"response_id":"m2"}
`
	clean = `{"ts":"2026-11-16T09:00:00Z","action_type":"charge","idempotency_key":"k","response_id":"c1","effect":"created"}
{"ts":"2026-11-16T09:00:30Z","action_type":"charge","idempotency_key":"k","response_id":"c1","effect":"noop"}
`
)

// jsonReport is the part of the JSON report the CLI tests read.
type jsonReport struct {
	SchemaVersion int `json:"schema_version"`
	Summary       struct {
		Calls              int            `json:"calls"`
		MalformedLines     int            `json:"malformed_lines"`
		FindingsBySeverity map[string]int `json:"findings_by_severity"`
	} `json:"summary"`
	Findings []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Calls    []struct {
			Source string `json:"source"`
			Line   int    `json:"line"`
		} `json:"calls"`
	} `json:"findings"`
	Malformed []struct {
		Source string `json:"source"`
		Line   int    `json:"line"`
		Error  string `json:"error"`
	} `json:"malformed"`
}

func parseReport(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, s)
	}
	return r
}

func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	highLog := writeFile(t, dir, "high.jsonl", high)
	cleanLog := writeFile(t, dir, "clean.jsonl", clean)
	emptyDir := filepath.Join(dir, "empty")
	os.Mkdir(emptyDir, 0o755)
	cases := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"no arguments", nil, 2, "", "Usage:"},
		{"version", []string{"--version"}, 0, "idemaudit ", ""},
		{"help", []string{"--help"}, 0, "idemaudit audit", ""},
		{"help says audit reads trace exports", []string{"--help"}, 0, "audit logs or trace exports (files", ""},
		{"usage says audit reads trace exports", nil, 2, "", "audit logs or trace exports (files"},
		{"audit help", []string{"audit", "--help"}, 0, "--fail-on", ""},
		{"unknown command", []string{"audiit"}, 2, "", `unknown command "audiit"`},
		{"no path", []string{"audit"}, 2, "", "no PATH given"},
		{"unknown format", []string{"audit", "-f", "xml", cleanLog}, 2, "", "table, markdown, json"},
		{"bad flag", []string{"audit", "--nope", cleanLog}, 2, "", "unknown flag: --nope"},
		{"bad window", []string{"audit", "--window", "0s", cleanLog}, 2, "", "--window must be positive"},
		{"bad threads", []string{"audit", "--threads", "-2", cleanLog}, 2, "", "--threads"},
		{"bad severity", []string{"audit", "--fail-on", "urgent", cleanLog}, 2, "", "unknown severity"},
		{"missing file", []string{"audit", filepath.Join(dir, "nope.jsonl")}, 2, "", "nope.jsonl"},
		{"no log files", []string{"audit", emptyDir}, 2, "", "no log files found"},
		{"findings without --fail-on", []string{"audit", highLog}, 0, "repeat-without-key", ""},
		{"findings at --fail-on", []string{"audit", "--fail-on", "high", highLog}, 1, "repeat-without-key", ""},
		{"findings above --fail-on", []string{"audit", "--fail-on", "LOW", highLog}, 1, "", ""},
		{"findings below --fail-on", []string{"audit", "--fail-on", "critical", highLog}, 0, "", ""},
		{"clean at --fail-on low", []string{"audit", "--fail-on", "low", cleanLog}, 0, "", ""},
		{"rules", []string{"rules"}, 0, "same-key-different-response (critical)", ""},
		{"one rule", []string{"rules", "unstable-key"}, 0, "Fix:", ""},
		{"unknown rule", []string{"rules", "nope"}, 2, "", `unknown rule "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.inStdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.inStdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tc.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.inStderr, r.stderr)
			}
			if tc.code == 2 && r.stdout != "" && tc.inStdout == "" {
				t.Errorf("an error run printed a report:\n%s", r.stdout)
			}
		})
	}
}

func TestCLIStdinAndOutputFile(t *testing.T) {
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	zw.Write([]byte(high + "{broken\n"))
	zw.Close()
	out := filepath.Join(t.TempDir(), "report.json")
	r := run(t, gzBuf.Bytes(), "audit", "--format", "json", "-o", out, "-")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "-: 1 malformed line skipped") {
		t.Errorf("stderr should warn about the malformed line: %s", r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep := parseReport(t, string(b))
	if rep.SchemaVersion != 1 || rep.Summary.Calls != 2 || len(rep.Malformed) != 1 || rep.Malformed[0].Line != 3 || rep.Malformed[0].Source != "-" {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Findings) == 0 || rep.Findings[0].Calls[0].Source != "-" || rep.Findings[0].Calls[1].Line != 2 {
		t.Errorf("findings %+v", rep.Findings)
	}
}

// An output FILE that cannot be created is named as the user gave it, not
// as the hidden temporary file the report is first written to.
func TestCLIOutputFileThatCannotBeCreated(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "a.jsonl", high)
	out := filepath.Join(dir, "missing-dir", "report.md")
	r := run(t, nil, "audit", "-o", out, log)
	if r.code != 2 || !strings.Contains(r.stderr, out+":") || strings.Contains(r.stderr, ".report.md.") {
		t.Errorf("exit %d, stderr %q; want 2 and an error naming %s", r.code, r.stderr, out)
	}
}

func TestCLIUnreadableInputGivesNoReport(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "a.jsonl", high)
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	zw.Write(bytes.Repeat([]byte(clean), 5000))
	zw.Close()
	cut := writeFile(t, dir, "b.jsonl.gz", gzBuf.String()[:gzBuf.Len()/2])
	db := filepath.Join(dir, "keep.duckdb")
	r := run(t, nil, "audit", "--db", db, "-f", "json", good, cut)
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, cut) || !strings.Contains(r.stderr, "no report") {
		t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	// the readable file was kept; a second run with the good file alone reports it once
	r = run(t, nil, "audit", "--db", db, "-f", "json", good)
	if r.code != 0 || !strings.Contains(r.stderr, "not added again") {
		t.Fatalf("exit %d stderr %s", r.code, r.stderr)
	}
	if rep := parseReport(t, r.stdout); rep.Summary.Calls != 2 {
		t.Errorf("calls = %d, want 2", rep.Summary.Calls)
	}
}

func TestCLIRerunOnKeptDatabaseChangesNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keep.duckdb")
	first := run(t, nil, "audit", "--db", db, "-f", "json", "sample-logs")
	second := run(t, nil, "audit", "--db", db, "-f", "json", "sample-logs")
	if first.code != 0 || second.code != 0 {
		t.Fatalf("exits %d %d: %s %s", first.code, second.code, first.stderr, second.stderr)
	}
	if first.stdout != second.stdout {
		t.Error("a second run on the same input changed the report")
	}
}

// spillDirs lists the spill directories under a temp directory.
func spillDirs(t *testing.T, tmp string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(tmp, "idemaudit-spill-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCLIInterrupt(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(binary, "audit", "-")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdin, err := cmd.StdinPipe() // held open: the run blocks reading
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte(high))
	time.Sleep(time.Second) // let it start and block on the pipe
	if n := len(spillDirs(t, tmp)); n != 1 {
		t.Errorf("%d spill directories while the run reads; want its own", n)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("an interrupted run did not exit")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q; want 130 and a note", code, errb.String())
	}
	// the read never returned, so the run exited without closing its
	// database: its spill directory must still be gone
	if left := spillDirs(t, tmp); len(left) != 0 {
		t.Errorf("an interrupted run left %v", left)
	}
}

// TestGoldenSampleReports renders the checked-in sample week in every format.
// After an intended change: go test ./cmd/idemaudit -run Golden -update
func TestGoldenSampleReports(t *testing.T) {
	for format, file := range map[string]string{"json": "sample.json", "markdown": "sample.md", "table": "sample.txt"} {
		t.Run(format, func(t *testing.T) {
			r := run(t, nil, "audit", "--config", "sample-logs/idemaudit.toml", "--format", format, "sample-logs/")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			golden := filepath.Join("testdata", file)
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(golden, []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if r.stdout != string(want) {
				t.Errorf("%s is stale or the report changed; review the diff and run with -update\n%s", golden, firstDiff(string(want), r.stdout))
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n want %q\n got  %q", i+1, a, b)
		}
	}
	return ""
}

// TestRedact renders redacted reports of sample-logs and looks for every
// raw key, response id, session, trace, span and run id of the logs in them.
func TestRedact(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "sample-logs", "*.jsonl*"))
	secrets := map[string]bool{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(zr)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			for _, k := range []string{"idempotency_key", "response_id", "session_id", "trace_id", "span_id", "run_id"} {
				if s, ok := m[k].(string); ok && s != "" {
					secrets[s] = true
				}
			}
		}
	}
	if len(secrets) < 1000 {
		t.Fatalf("only %d values to look for", len(secrets))
	}
	outs := map[string]string{}
	for _, format := range []string{"json", "markdown", "table"} {
		r := run(t, nil, "audit", "--redact", "-f", format, "sample-logs/")
		if r.code != 0 {
			t.Fatalf("%s: %s", format, r.stderr)
		}
		outs[format] = r.stdout
		for s := range secrets {
			if strings.Contains(r.stdout, s) {
				t.Errorf("%s report shows %q", format, s)
			}
		}
	}
	// evidence still reads: a failed dedupe shows one key token, two response tokens
	var rep struct {
		Findings []struct {
			Rule  string
			Calls []struct {
				Key  *string `json:"idempotency_key"`
				Resp *string `json:"response_id"`
			}
		}
	}
	json.Unmarshal([]byte(outs["json"]), &rep)
	checked := 0
	for _, f := range rep.Findings {
		if f.Rule != "same-key-different-response" {
			continue
		}
		checked++
		keys, resps := map[string]bool{}, map[string]bool{}
		for _, c := range f.Calls {
			keys[*c.Key] = true
			resps[*c.Resp] = true
		}
		if len(keys) != 1 || len(resps) < 2 {
			t.Errorf("redacted evidence no longer reads: %d keys, %d responses", len(keys), len(resps))
		}
	}
	if checked == 0 {
		t.Error("no finding to check the tokens on")
	}
	// the same input, the same redacted bytes
	if again := run(t, nil, "audit", "--redact", "-f", "json", "sample-logs/"); again.stdout != outs["json"] {
		t.Error("redaction is not deterministic")
	}
}

// A trace record's error names its span, observation or run id: redacted
// like the calls' span ids.
// --redact's help names everything it replaces, as the README does: a
// consultant reading only --help must not think span and run ids, or the
// finding ids, go out as they are in the logs.
func TestRedactHelpNamesWhatItReplaces(t *testing.T) {
	for _, cmd := range []string{"audit", "report", "weekly"} {
		r := run(t, nil, cmd, "--help")
		line := ""
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Contains(l, "--redact") {
				line = l
			}
		}
		for _, what := range []string{"keys", "response ids", "session", "span", "run ids", "finding ids"} {
			if !strings.Contains(line, what) {
				t.Errorf("%s --help: --redact does not name %s: %q", cmd, what, line)
			}
		}
	}
}

func TestRedactMalformedTraceRecords(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "spans.jsonl", `{"object":"trace.span","id":"span_SECRETX","trace_id":"t","started_at":"2026-11-18T15:14:05Z","ended_at":"2026-11-18T15:14:35Z","span_data":{"type":"function","name":"","input":"{}"},"error":null}
{"object":"trace.span","id":"span_SECRETY","trace_id":"t","started_at":"not a time","ended_at":"2026-11-18T15:14:35Z","span_data":{"type":"function","name":"refund","input":"{}"},"error":null}
`)
	for _, format := range []string{"json", "markdown", "table"} {
		plain := run(t, nil, "audit", "-q", "-f", format, p).stdout
		if !strings.Contains(plain, "span_SECRETX") || !strings.Contains(plain, "span_SECRETY") {
			t.Fatalf("%s: the errors do not name the spans, nothing to redact:\n%s", format, plain)
		}
		r := run(t, nil, "audit", "-q", "--redact", "-f", format, p)
		if strings.Contains(r.stdout, "SECRET") || !strings.Contains(r.stdout, "span span-") {
			t.Errorf("%s: a span id shows, or no token stands for it:\n%s", format, r.stdout)
		}
	}
}

func TestCLIHostileArguments(t *testing.T) {
	dir := t.TempDir()
	// a path full of SQL: it is a parameter, never SQL text
	odd := writeFile(t, dir, `it's"; DROP TABLE calls; --.jsonl`, high)
	r := run(t, nil, "audit", "-f", "json", odd)
	if r.code != 0 || parseReport(t, r.stdout).Findings[0].Calls[0].Source != odd {
		t.Errorf("odd path: exit %d %s", r.code, r.stderr)
	}
	// a log given as --db by mistake is refused and left as it was
	logPath := writeFile(t, dir, "precious.jsonl", high)
	r = run(t, nil, "ingest", "--db", logPath, odd)
	if b, _ := os.ReadFile(logPath); r.code != 2 || string(b) != high {
		t.Errorf("--db on a log: exit %d, file changed: %v\n%s", r.code, string(b) != high, r.stderr)
	}
	for _, args := range [][]string{
		{"audit", "--memory-limit", "1GB'; DROP TABLE calls; --", odd},
		{"audit", "--temp-dir", "x'); --", "--memory-limit", "nonsense", odd},
		{"audit", "--db", filepath.Join(dir, "missing", "dir", "a.duckdb"), odd},
		{"audit", "-o", "/dev/full", odd},
		{"report", "--db", filepath.Join(dir, "none.duckdb")},
	} {
		r := run(t, nil, args...)
		if r.code != 2 || r.stderr == "" || strings.Contains(r.stderr, "panic") {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if args[1] == "-o" && strings.Count(r.stderr, "/dev/full") != 1 {
			t.Errorf("the output is named once: %q", r.stderr)
		}
	}
}

func TestProgress(t *testing.T) {
	plain := run(t, nil, "audit", "-f", "json", "sample-logs/")
	bar := run(t, nil, "audit", "--progress", "-f", "json", "sample-logs/")
	if bar.stdout != plain.stdout {
		t.Error("--progress changed the report")
	}
	if !strings.Contains(bar.stderr, "%") || strings.Contains(plain.stderr, "%") {
		t.Errorf("a bar only when asked (stderr is not a terminal here):\n%q\n%q", bar.stderr, plain.stderr)
	}
	if i, j := strings.LastIndex(bar.stderr, "%"), strings.Index(bar.stderr, "warning"); j < i {
		t.Error("warnings must wait until the bar is gone")
	}
	// --quiet wins over --progress, as the README says
	for _, args := range [][]string{{"audit", "-q", "--progress", "-f", "json", "sample-logs/"},
		{"ingest", "-q", "--progress", "--db", filepath.Join(t.TempDir(), "a.duckdb"), "sample-logs/"}} {
		if r := run(t, nil, args...); r.stderr != "" {
			t.Errorf("%s -q --progress wrote to stderr: %q", args[0], r.stderr)
		}
	}
}

// A runaway loop is one finding whose evidence lists its first
// --max-evidence calls while its stats count them all.
func TestCLIMaxEvidence(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&b, `{"ts":%d,"action_type":"send_email","args":{"to":"a"},"response_id":"m%d"}`+"\n", 1794787200+i, i)
	}
	p := writeFile(t, dir, "loop.jsonl", b.String())
	type finding struct {
		Rule       string `json:"rule"`
		Message    string `json:"message"`
		CallsTotal int    `json:"calls_total"`
		Sampled    bool   `json:"sampled"`
		Calls      []struct {
			Line int `json:"line"`
		} `json:"calls"`
	}
	for _, tc := range []struct {
		args   []string
		listed int
	}{{nil, 1000}, {[]string{"--max-evidence", "10"}, 10}, {[]string{"--max-evidence", "0"}, 2500}} {
		r := run(t, nil, append([]string{"audit", "-q", "-f", "json", p}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		var rep struct{ Findings []finding }
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		var f *finding
		for i := range rep.Findings {
			if rep.Findings[i].Rule == "repeat-without-key" {
				f = &rep.Findings[i]
			}
		}
		if f == nil {
			t.Fatalf("%v: no repeat-without-key finding: %s", tc.args, r.stdout)
		}
		if f.CallsTotal != 2500 || len(f.Calls) != tc.listed || f.Sampled != (tc.listed < 2500) {
			t.Errorf("%v: %d calls in all, %d listed (sampled %v), want 2500, %d", tc.args, f.CallsTotal, len(f.Calls), f.Sampled, tc.listed)
		}
		for i, c := range f.Calls {
			if c.Line != i+1 {
				t.Fatalf("%v: listed call %d is line %d: not the first calls", tc.args, i, c.Line)
			}
		}
		if !strings.Contains(f.Message, "called 2500 times") || !strings.Contains(f.Message, "2500 possible side effects") {
			t.Errorf("%v: message %q does not count every call", tc.args, f.Message)
		}
	}
	for _, bad := range []string{"-1", "1000000"} { // DuckDB's top-N takes fewer than a million
		if r := run(t, nil, "audit", "--max-evidence", bad, p); r.code != 2 || !strings.Contains(r.stderr, "--max-evidence") {
			t.Errorf("--max-evidence %s: exit %d, %q; want a usage error", bad, r.code, r.stderr)
		}
	}
	if r := run(t, nil, "audit", "-q", "--max-evidence", "999999", p); r.code != 0 {
		t.Errorf("--max-evidence 999999: exit %d, %q", r.code, r.stderr)
	}
	md := run(t, nil, "audit", "-q", "-f", "markdown", "--max-evidence", "10", p)
	if !strings.Contains(md.stdout, "2490 more calls, not listed (the report lists the first 10)") {
		t.Errorf("the Markdown report does not say what it leaves out:\n%s", md.stdout)
	}
}

// A capped finding is compensated, explained and counted from every call:
// the refund of a charge it does not list still undoes it, and explain
// --response finds it by a response id it does not list.
func TestCLIMaxEvidenceCountsUnlistedCalls(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	const n = 10003
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"ts":%d,"action_type":"charge","args":{"order":"o1"},"status":"ok","response_id":"c%d"}`+"\n", 1794787200+i, i)
	}
	for i := 1; i < n; i++ { // every extra charge refunded, an hour later
		fmt.Fprintf(&b, `{"ts":%d,"action_type":"refund_charge","args":{"charge":"c%d"},"status":"ok","response_id":"rf%d"}`+"\n", 1794790800+i, i, i)
	}
	p := writeFile(t, dir, "charges.jsonl", b.String())
	type finding struct {
		Rule        string  `json:"rule"`
		Severity    string  `json:"severity"`
		Compensated bool    `json:"compensated"`
		Before      *string `json:"severity_before_compensation"`
		Message     string  `json:"message"`
		Calls       []json.RawMessage
		Comps       []struct {
			Compensates string `json:"compensates"`
			Line        int    `json:"line"`
		} `json:"compensations"`
		CompsTotal int `json:"compensations_total"`
	}
	message := ""
	for _, max := range []string{"1000", "0", "5"} {
		r := run(t, nil, "audit", "-q", "-f", "json", "--max-evidence", max, p)
		var rep struct{ Findings []finding }
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: %s", err, r.stderr)
		}
		var f *finding
		for i := range rep.Findings {
			if rep.Findings[i].Rule == "repeat-without-key" {
				f = &rep.Findings[i]
			}
		}
		if f == nil || !f.Compensated || f.Severity != "low" || f.Before == nil || *f.Before != "high" ||
			!strings.Contains(f.Message, "no extra side effect remains") {
			t.Fatalf("--max-evidence %s: %+v, want the chain compensated (low, was high)", max, f)
		}
		// every compensation is counted, the first ones (by time) listed
		listed := map[string]int{"1000": 1000, "0": n - 1, "5": 5}[max]
		if f.CompsTotal != n-1 || len(f.Comps) != listed || f.Comps[0].Compensates != "c1" || f.Comps[0].Line != n+1 ||
			f.Comps[listed-1].Compensates != fmt.Sprintf("c%d", listed) {
			t.Errorf("--max-evidence %s: %d compensations in all, %d listed (first %+v), want %d of %d from c1 at line %d",
				max, f.CompsTotal, len(f.Comps), f.Comps[:min(len(f.Comps), 1)], listed, n-1, n+1)
		}
		if message == "" {
			message = f.Message
		} else if f.Message != message {
			t.Errorf("--max-evidence %s: message %q, with 1000 %q", max, f.Message, message)
		}
	}
	md := run(t, nil, "audit", "-q", "-f", "markdown", "--max-evidence", "5", p).stdout
	if want := fmt.Sprintf("…and %d more compensating calls, not listed (the report lists the first 5).", n-1-5); !strings.Contains(md, want) {
		t.Errorf("Markdown at --max-evidence 5 does not say %q", want)
	}
	v := strings.Join(explainJSONOut(t, "--response", "c10002", p).Verdict, "\n")
	if !strings.Contains(v, "repeat-without-key") || !strings.Contains(v, "10003 side effects") {
		t.Errorf("explain --response c10002: verdict %q does not name the chain it belongs to", v)
	}
}

// Standard input read twice into one database makes two sources with the
// same path, "-". A compensating call of the second must not pass for a call
// of a finding of the first because it sits at the same path, line and pos.
func TestCLICompensationFromAnotherSourceOfTheSamePath(t *testing.T) {
	db := filepath.Join(t.TempDir(), "d.duckdb")
	// a keyless chain of cancellations whose args name r2, one of its own
	// response ids; its third call (line 3) names r2 after r2 happened, and
	// is its own, so it compensates nothing
	first := `{"ts":"2026-11-16T09:00:00Z","action_type":"cancel_order","args":{"order":"o1","note":"r2"},"response_id":"r1"}
{"ts":"2026-11-16T09:00:30Z","action_type":"cancel_order","args":{"order":"o1","note":"r2"},"response_id":"r2"}
{"ts":"2026-11-16T09:01:00Z","action_type":"cancel_order","args":{"order":"o1","note":"r2"},"response_id":"r1"}
`
	// the second input's line 3 voids r2: the chain's extra side effect
	second := `{"ts":"2026-11-16T09:05:00Z","action_type":"send_email","args":{"to":"x"},"response_id":"m1"}
{"ts":"2026-11-16T09:05:30Z","action_type":"send_email","args":{"to":"y"},"response_id":"m2"}
{"ts":"2026-11-16T09:06:00Z","action_type":"void_order","args":{"ref":"r2"},"response_id":"v1"}
`
	for _, in := range []string{first, second} {
		if r := run(t, []byte(in), "ingest", "--db", db, "-"); r.code != 0 {
			t.Fatalf("ingest: exit %d: %s", r.code, r.stderr)
		}
	}
	r := run(t, nil, "report", "--db", db, "--week", "2026-W47", "--format", "json")
	if r.code != 0 {
		t.Fatalf("report: exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Findings []struct {
			Rule          string `json:"rule"`
			Severity      string `json:"severity"`
			Compensated   bool   `json:"compensated"`
			Compensations []struct {
				ActionType string `json:"action_type"`
				Line       int    `json:"line"`
			} `json:"compensations"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, f := range rep.Findings {
		if f.Rule != "repeat-without-key" {
			continue
		}
		seen = true
		if !f.Compensated || f.Severity != "low" || len(f.Compensations) != 1 ||
			f.Compensations[0].ActionType != "void_order" || f.Compensations[0].Line != 3 {
			t.Errorf("the chain is not compensated by the void_order of the second input: %+v", f)
		}
	}
	if !seen {
		t.Fatalf("no repeat-without-key finding:\n%s", r.stdout)
	}
}

// A copy that grew takes over the unfinished last line of the file it
// continues: the summary counts the calls the database gained.
func TestCLIContinuedTailCountsOnce(t *testing.T) {
	dir := t.TempDir()
	l1 := `{"ts":"2026-11-16T09:30:00Z","action_type":"send_email","args":{"to":"a"}}`
	l2 := `{"ts":"2026-11-16T09:31:00Z","action_type":"send_email","args":{"to":"b"}}`
	l3 := `{"ts":"2026-11-16T09:40:00Z","action_type":"send_email","args":{"to":"c"}}`
	writeFile(t, dir, "a.jsonl", l1+"\n"+l2)
	writeFile(t, dir, "b.jsonl", l1+"\n"+l2+"\n"+l3+"\n")
	db := filepath.Join(dir, "t.duckdb")
	r := run(t, nil, "ingest", "--db", db, filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"))
	if r.code != 0 || !strings.Contains(r.stdout, "3 calls added") || !strings.Contains(r.stdout, "1 call moved") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A range of one line is said as one line: "from line 2", not "from lines 2–2".
func TestCLIIngestNamesOneLine(t *testing.T) {
	dir := t.TempDir()
	l1 := `{"ts":"2026-11-16T09:30:00Z","action_type":"send_email","args":{"to":"a"}}`
	l2 := `{"ts":"2026-11-16T09:31:00Z","action_type":"send_email","args":{"to":"b"}}`
	a := writeFile(t, dir, "a.jsonl", l1+"\n")
	b := writeFile(t, dir, "b.jsonl", l1+"\n"+l2+"\n")
	r := run(t, nil, "ingest", "--db", filepath.Join(dir, "t.duckdb"), a, b)
	for _, want := range []string{a + ": 1 call from line 1\n", b + ": 1 call from line 2; line 1 already ingested as " + a + "\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("exit %d, stdout lacks %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
}

// The executive summary and explain's verdict say what the findings say: a
// refunded double charge whose key was also executed again keeps its high
// replay in the summary; a summary whose only duplicate was compensated
// does not call it evident there was none; a replay is no "no duplicate".
func TestSummaryAndVerdictWithCompensatedDuplicates(t *testing.T) {
	dir := t.TempDir()
	charges := `{"ts":"2026-11-16T10:00:00Z","action_type":"charge_card","idempotency_key":"chg-42","response_id":"ch_1","args":{"amount":2000},"status":"ok","effect":"created"}
{"ts":"2026-11-16T10:00:31Z","action_type":"charge_card","idempotency_key":"chg-42","response_id":"ch_2","args":{"amount":2000},"status":"ok","effect":"created"}
{"ts":"2026-11-16T10:05:00Z","action_type":"refund_charge","response_id":"re_1","args":{"charge":"ch_2"},"status":"ok"}
`
	md := run(t, nil, "audit", "-q", "-f", "markdown", writeFile(t, dir, "replayed.jsonl", charges)).stdout
	if !strings.Contains(md, "replayed and executed again") {
		t.Errorf("the high replay is not in the summary:\n%s", md)
	}
	md = run(t, nil, "audit", "-q", "-f", "markdown", writeFile(t, dir, "refunded.jsonl", strings.ReplaceAll(charges, `,"effect":"created"`, ""))).stdout
	if !strings.Contains(md, "No duplicate side effect remains: every one found was compensated") || strings.Contains(md, "is evident") {
		t.Errorf("the summary misstates a compensated duplicate:\n%s", md)
	}
	v := strings.Join(explainJSONOut(t, "--key", "chg-42", filepath.Join(dir, "replayed.jsonl")).Verdict, "\n")
	tickets := writeFile(t, dir, "tickets.jsonl", `{"ts":"2026-11-16T10:00:00Z","action_type":"create_ticket","idempotency_key":"tk-9","response_id":"t1","effect":"created"}
{"ts":"2026-11-16T10:01:00Z","action_type":"create_ticket","idempotency_key":"tk-9","response_id":"t1","effect":"created"}
`)
	v += "\n" + strings.Join(explainJSONOut(t, "--key", "tk-9", tickets).Verdict, "\n")
	if strings.Contains(v, "No duplicate side effect") {
		t.Errorf("a verdict says no duplicate next to a key executed again:\n%s", v)
	}
}

// A first line of JSON Lines with something after its object (a trailing
// comma, a second object) is one malformed line: the file was read as a
// JSON document and every line after it was lost without a word.
func TestBrokenFirstLineLosesNothing(t *testing.T) {
	dir := t.TempDir()
	call := func(minute int, resp string) string {
		return fmt.Sprintf(`{"ts":"2026-11-16T10:%02d:00Z","action_type":"charge_card","idempotency_key":"k1","response_id":%q}`, minute, resp)
	}
	for _, first := range []string{call(0, "ch_1") + ",", call(0, "ch_1") + " x", call(0, "ch_1") + call(0, "ch_9"), `"s",`, "\n" + call(0, "ch_1") + "]"} {
		path := writeFile(t, dir, "log.jsonl", first+"\n"+call(1, "ch_2")+"\n"+call(2, "ch_3")+"\n")
		r := run(t, nil, "audit", "-q", "-f", "json", "--config", os.DevNull, path)
		var rep struct {
			Summary struct {
				Calls int `json:"calls"`
			} `json:"summary"`
			Findings []struct {
				Rule  string `json:"rule"`
				Calls []struct {
					Line int `json:"line"`
				} `json:"calls"`
			} `json:"findings"`
			Malformed []struct {
				Line int `json:"line"`
			} `json:"malformed"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%q: exit %d, %v: %s", first, r.code, err, r.stderr)
		}
		var got []string
		for _, f := range rep.Findings {
			var lines []string
			for _, c := range f.Calls {
				lines = append(lines, strconv.Itoa(c.Line))
			}
			got = append(got, f.Rule+" "+strings.Join(lines, ","))
		}
		badLine := 1 + strings.Count(first, "\n")
		if rep.Summary.Calls != 2 || len(rep.Malformed) != 1 || rep.Malformed[0].Line != badLine ||
			strings.Join(got, "; ") != fmt.Sprintf("same-key-different-response %d,%d", badLine+1, badLine+2) {
			t.Errorf("first line %q: %d calls, malformed %v, findings %q; want 2 calls, line %d malformed, a critical over lines %d and %d",
				first, rep.Summary.Calls, rep.Malformed, got, badLine, badLine+1, badLine+2)
		}
	}
}

// A syntax error in one document of a stream (jq . of a log) used to end
// the reading: the double charge on k2 after it was missed, exit 0. The
// broken document is reported with the lines it skipped; every document
// after it is read, from a file, from gzip on stdin, and into a kept
// database that the same file, ingested again, does not grow.
func TestBrokenDocumentInStreamLosesNothing(t *testing.T) {
	doc := func(key, resp, end string) string {
		return fmt.Sprintf("{\n  \"action_type\": \"charge_card\",\n  \"idempotency_key\": %q,\n  \"response_id\": %q%s\n}\n", key, resp, end)
	}
	stream := doc("k1", "ch_1", "") + doc("k1", "ch_2", ",") + doc("k2", "ch_3", "") + doc("k2", "ch_4", "")
	dir := t.TempDir()
	path := writeFile(t, dir, "calls.json", stream)
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	zw.Write([]byte(stream))
	zw.Close()
	db := filepath.Join(dir, "kept.duckdb")
	check := func(name string, r result, source string) {
		t.Helper()
		rep := parseReport(t, r.stdout)
		var got []string
		for _, f := range rep.Findings {
			var lines []string
			for _, c := range f.Calls {
				lines = append(lines, fmt.Sprintf("%s:%d", filepath.Base(c.Source), c.Line))
			}
			got = append(got, f.Rule+" "+f.Severity+" "+strings.Join(lines, ","))
		}
		want := fmt.Sprintf("same-key-different-response critical %s:11,%s:16", source, source)
		if r.code != 1 || rep.Summary.Calls != 3 || strings.Join(got, "; ") != want {
			t.Errorf("%s: exit %d, %d calls, findings %q; want exit 1, 3 calls, %q\nstderr: %s", name, r.code, rep.Summary.Calls, got, want, r.stderr)
		}
		if len(rep.Malformed) != 1 || rep.Malformed[0].Line != 10 ||
			!strings.HasSuffix(rep.Malformed[0].Error, "lines 6–10 skipped, reading resumed at line 11") {
			t.Errorf("%s: malformed %+v; want line 10, lines 6–10 skipped", name, rep.Malformed)
		}
	}
	r := run(t, nil, "audit", "-f", "json", "--config", os.DevNull, "--fail-on", "critical", path)
	check("file", r, "calls.json")
	if !strings.Contains(r.stderr, "calls.json: 1 malformed line skipped (line 10") {
		t.Errorf("stderr: %s", r.stderr)
	}
	check("gzip on stdin", run(t, gzBuf.Bytes(), "audit", "-q", "-f", "json", "--config", os.DevNull, "--fail-on", "critical", "-"), "-")
	for i := 0; i < 2; i++ {
		check(fmt.Sprintf("kept database, run %d", i+1), run(t, nil, "audit", "-q", "-f", "json", "--config", os.DevNull, "--fail-on", "critical", "--db", db, path), "calls.json")
	}
	// grown by a document holding k1's second charge: the earlier
	// documents, the broken one included, are not read again
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(doc("k1", "ch_5", ""))
	f.Close()
	r = run(t, nil, "ingest", "--config", os.DevNull, "--db", db, path)
	if r.code != 0 || !strings.Contains(r.stdout, "grown      "+path+": 1 call from lines 21–25") {
		t.Errorf("grown: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := parseReport(t, run(t, nil, "audit", "-q", "-f", "json", "--config", os.DevNull, "--db", db, path).stdout)
	if rep.Summary.Calls != 4 || len(rep.Findings) != 2 || len(rep.Malformed) != 1 {
		t.Errorf("after growing: %d calls, %d findings, malformed %+v; want 4, 2 and one", rep.Summary.Calls, len(rep.Findings), rep.Malformed)
	}
}
