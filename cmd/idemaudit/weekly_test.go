package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/ingest"
)

type weekReport struct {
	Period struct {
		Start, End string
		Label      *string
	}
	Summary struct {
		Calls              int
		NewFindings        int            `json:"new_findings"`
		Suppressed         int            `json:"suppressed"`
		FindingsBySeverity map[string]int `json:"findings_by_severity"`
	}
	Findings []struct {
		ID, Rule, Severity string
		New                bool
	}
	Trend []struct {
		Label string
		Calls int
	}
}

func readWeek(t *testing.T, path string) weekReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r weekReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func sampleWeek(t *testing.T, dir, start, seed, calls string) {
	t.Helper()
	if r := run(t, nil, "sample", "--start", start, "--seed", seed, "--calls", calls, dir); r.code != 0 {
		t.Fatalf("sample: %s", r.stderr)
	}
}

// TestWeeklyCron follows the cron user: a week of logs, the weekly run,
// another week, the weekly run again (twice).
func TestWeeklyCron(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "audit.duckdb"), filepath.Join(dir, "reports")
	w46, w47 := filepath.Join(dir, "logs", "w46"), filepath.Join(dir, "logs", "w47")
	sampleWeek(t, w46, "2026-11-09", "46", "2000")
	sampleWeek(t, w47, "2026-11-16", "47", "2500")
	logs := filepath.Join(dir, "logs")

	r := run(t, nil, "weekly", "--db", db, "--out", out, "--now", "2026-11-16T06:00:00Z", "--fail-on", "critical", "--fail-on-new", w46)
	if r.code != 1 || !strings.Contains(r.stdout, "2026-W46: 2000 calls") {
		t.Fatalf("first weekly: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	first := readWeek(t, filepath.Join(out, "2026-W46.json"))
	if first.Summary.Calls != 2000 || first.Summary.NewFindings == 0 || *first.Period.Label != "2026-W46" {
		t.Errorf("W46 report %+v", first.Summary)
	}

	// next Monday: the whole logs directory again; w46 is unchanged
	r = run(t, nil, "weekly", "--db", db, "--out", out, "--now", "2026-11-23T06:00:00Z", "--fail-on", "critical", "--fail-on-new", logs)
	if r.code != 1 || strings.Contains(r.stderr, "error") {
		t.Fatalf("second weekly: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	md1, _ := os.ReadFile(filepath.Join(out, "2026-W47.md"))
	js1, _ := os.ReadFile(filepath.Join(out, "2026-W47.json"))
	rep := readWeek(t, filepath.Join(out, "2026-W47.json"))
	if rep.Summary.Calls != 2500 || len(rep.Trend) != 9 || rep.Trend[7].Label != "2026-W46" || rep.Trend[7].Calls != 2000 || rep.Trend[8].Calls != 2500 {
		t.Errorf("W47: %+v trend %+v", rep.Summary, rep.Trend)
	}
	recurring := 0
	for _, f := range rep.Findings {
		if !f.New {
			recurring++
			if f.Rule != "missing-key" {
				t.Errorf("only coverage findings recur in this corpus, got %s %s", f.Rule, f.ID)
			}
		}
	}
	if recurring == 0 || rep.Summary.NewFindings == 0 {
		t.Errorf("W47 should have new and recurring findings: %d recurring, %d new", recurring, rep.Summary.NewFindings)
	}

	// the same run again: nothing added, the same bytes
	r = run(t, nil, "weekly", "--db", db, "--out", out, "--now", "2026-11-23T07:00:00Z", logs)
	if r.code != 0 {
		t.Fatalf("third weekly: exit %d %s", r.code, r.stderr)
	}
	md2, _ := os.ReadFile(filepath.Join(out, "2026-W47.md"))
	js2, _ := os.ReadFile(filepath.Join(out, "2026-W47.json"))
	if !bytes.Equal(md1, md2) || !bytes.Equal(js1, js2) {
		t.Error("a second weekly run in the same week changed the reports")
	}

	// a baseline of everything: nothing counts for --fail-on any more
	base := filepath.Join(dir, "baseline.json")
	if r := run(t, nil, "baseline", "--db", db, "-o", base); r.code != 0 {
		t.Fatalf("baseline: %s", r.stderr)
	}
	r = run(t, nil, "report", "--db", db, "--week", "2026-W47", "--baseline", base, "--fail-on", "low", "-f", "json")
	if r.code != 0 {
		t.Errorf("with the baseline: exit %d", r.code)
	}
	var sup weekReport
	json.Unmarshal([]byte(r.stdout), &sup)
	if sup.Summary.Suppressed != len(rep.Findings) || sup.Summary.FindingsBySeverity["critical"] != 0 {
		t.Errorf("baseline: %+v", sup.Summary)
	}
}

func TestIngestCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.duckdb")
	log := writeFile(t, dir, "app.jsonl", high)
	r := run(t, nil, "ingest", "--db", db, log)
	if r.code != 0 || !strings.Contains(r.stdout, "new        "+log+": 2 calls from lines 1–2") {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "ingest", "--db", db, log)
	if !strings.Contains(r.stdout, "unchanged  "+log) || !strings.Contains(r.stdout, "0 calls added") {
		t.Errorf("second ingest: %s", r.stdout)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(clean + "{oops\n")
	f.Close()
	r = run(t, nil, "ingest", "--db", db, log)
	if !strings.Contains(r.stdout, "grown      "+log+": 2 calls from lines 3–5, 1 malformed line (line 5)") {
		t.Errorf("grown: %s", r.stdout)
	}
	r = run(t, nil, "report", "--db", db, "--since", "2026-11-16", "--until", "2026-11-17", "-f", "json")
	if rep := parseReport(t, r.stdout); rep.Summary.Calls != 4 || len(rep.Malformed) != 1 || rep.Malformed[0].Line != 5 {
		t.Errorf("report after growth: %+v", rep)
	}
	// prune: the calls go, the file stays known
	r = run(t, nil, "prune", "--db", db, "--keep", "1d", "--now", "2026-11-30T00:00:00Z")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted 4 calls") {
		t.Errorf("prune: %s%s", r.stdout, r.stderr)
	}
	if r = run(t, nil, "ingest", "--db", db, log); !strings.Contains(r.stdout, "unchanged") {
		t.Errorf("a pruned file was read again: %s", r.stdout)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	sampleWeek(t, logs, "2026-11-16", "5", "150000")
	db := filepath.Join(dir, "a.duckdb")
	first := exec.Command(binary, "ingest", "--db", db, logs)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	// the first ingest holds the database once its file exists
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(db); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	r := run(t, nil, "ingest", "--db", db, logs)
	stillRunning := false
	select {
	case <-done:
	default:
		stillRunning = true
	}
	<-done
	if !stillRunning {
		t.Skip("the first ingest finished before the second started; cannot test the conflict on this machine")
	}
	if r.code != 2 || !strings.Contains(r.stderr, "in use by another idemaudit process") || time.Since(start) > 10*time.Second {
		t.Errorf("second writer: exit %d after %s: %s", r.code, time.Since(start), r.stderr)
	}
}

// TestKilledIngest kills ingests at random points; after a full re-run the
// database holds every call exactly once.
func TestKilledIngest(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	sampleWeek(t, logs, "2026-11-16", "9", "60000")
	db := filepath.Join(dir, "a.duckdb")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		cmd := exec.Command(binary, "ingest", "--db", db, logs)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(30+rng.IntN(700)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	if r := run(t, nil, "ingest", "--db", db, logs); r.code != 0 {
		t.Fatalf("final ingest: exit %d %s", r.code, r.stderr)
	}
	d, err := ingest.Open(context.Background(), db, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var calls, distinct, malformed int
	err = d.Conn.QueryRowContext(context.Background(), `SELECT count(*), count(DISTINCT (s.abs_path, c.line)),
		(SELECT count(*) FROM malformed) FROM calls c JOIN sources s USING (source_id)`).Scan(&calls, &distinct, &malformed)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 60000 || distinct != calls || malformed != 6 {
		t.Errorf("after kills and a re-run: %d calls (%d distinct lines), %d malformed; want 60000 once each and 6", calls, distinct, malformed)
	}
}

func TestReportTimeZone(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.duckdb")
	// Sunday 23:30 UTC is Monday 00:30 in Berlin: W47 in UTC, W48 in Berlin
	log := writeFile(t, dir, "a.jsonl", `{"ts":"2026-11-22T23:30:00Z","action_type":"x","args":{}}`+"\n"+
		`{"ts":"2026-11-18T12:00:00Z","action_type":"x","args":{}}`+"\n")
	if r := run(t, nil, "ingest", "-q", "--db", db, log); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for tz, want := range map[string]int{"UTC": 2, "Europe/Berlin": 1} {
		r := run(t, nil, "report", "--db", db, "--week", "2026-W47", "--tz", tz, "-f", "json")
		var rep weekReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%s: %v %s", tz, err, r.stderr)
		}
		if rep.Summary.Calls != want {
			t.Errorf("--tz %s: %d calls in W47, want %d (period %s–%s)", tz, rep.Summary.Calls, want, rep.Period.Start, rep.Period.End)
		}
	}
}

// oneCallDB is a kept database of one call, on 2026-11-18 (W47).
func oneCallDB(t *testing.T) string {
	t.Helper()
	_, db := keptDB(t, t.TempDir(), `{"ts":"2026-11-18T12:00:00Z","action_type":"x","args":{}}`+"\n")
	return db
}

// keptDB writes content to dir/a.jsonl and ingests it into dir/kept.duckdb.
func keptDB(t *testing.T, dir, content string) (log, db string) {
	t.Helper()
	log = writeFile(t, dir, "a.jsonl", content)
	db = filepath.Join(dir, "kept.duckdb")
	if r := run(t, nil, "ingest", "-q", "--db", db, log); r.code != 0 {
		t.Fatalf("ingest: exit %d: %s", r.code, r.stderr)
	}
	return log, db
}

// --since/--until choose the period instead of a week: a --week or
// --trend given with them was silently ignored (the report covered
// --since to now, with no trend). Both are refused.
func TestReportPeriodFlagsConflict(t *testing.T) {
	db := oneCallDB(t)
	for _, args := range [][]string{
		{"--since", "2026-11-01", "--week", "2026-W47"},
		{"--since", "2026-11-01", "--until", "2026-11-20", "--week", "last"},
		{"--since", "2026-11-01", "--trend", "4"},
	} {
		r := run(t, nil, append([]string{"report", "--db", db}, args...)...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "--since") {
			t.Errorf("report %v: exit %d, stderr %q; want a usage error", args, r.code, r.stderr)
		}
	}
	if r := run(t, nil, "report", "--db", db, "--since", "2026-11-16", "--until", "2026-11-23", "-f", "json"); r.code != 0 {
		t.Errorf("--since with --until: exit %d %s", r.code, r.stderr)
	}
	// --trend 0 asks for no trend, as a --since period has none
	if r := run(t, nil, "report", "--db", db, "--since", "2026-11-16", "--until", "2026-11-23", "--trend", "0", "-f", "json"); r.code != 0 {
		t.Errorf("--since with --trend 0: exit %d %s", r.code, r.stderr)
	}
}

// report takes -q as every other command does (a script passing it to
// each failed with a usage error): the same report, nothing on stderr.
func TestReportQuiet(t *testing.T) {
	db := oneCallDB(t)
	plain := run(t, nil, "report", "--db", db, "--week", "2026-W47", "-f", "json")
	quiet := run(t, nil, "report", "-q", "--db", db, "--week", "2026-W47", "-f", "json")
	if quiet.code != 0 || quiet.stderr != "" || quiet.stdout != plain.stdout || plain.code != 0 {
		t.Errorf("report -q: exit %d, stderr %q, same report %v (without -q: exit %d)", quiet.code, quiet.stderr, quiet.stdout == plain.stdout, plain.code)
	}
}

// TestDiskFull fills a tiny file system during an ingest: a clear error,
// and the database still holds exactly what it held; then the file system
// turns read-only: ingest refuses clearly, reports still read. Needs mount (root).
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "tiny")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system here: %v %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	db := filepath.Join(mnt, "a.duckdb")
	one := writeFile(t, dir, "one.jsonl", `{"action_type":"a","ts":1794821400}`+"\n")
	if r := run(t, nil, "ingest", "--db", db, one); r.code != 0 {
		t.Fatal(r.stderr)
	}
	logs := filepath.Join(dir, "logs")
	sampleWeek(t, logs, "2026-11-16", "3", "40000")
	r := run(t, nil, "ingest", "--db", db, logs)
	if r.code != 2 || !strings.Contains(r.stderr, "No space left on device") {
		t.Errorf("disk full: exit %d, %s", r.code, r.stderr)
	}
	r = run(t, nil, "report", "--db", db, "--since", "2026-01-01", "-f", "json")
	if rep := parseReport(t, r.stdout); r.code != 0 || rep.Summary.Calls != 1 {
		t.Errorf("after the failed ingest: exit %d, %d calls, want 1: %s", r.code, rep.Summary.Calls, r.stderr)
	}
	// read-only: ingest says so, reports still work
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	r = run(t, nil, "ingest", "--db", db, one)
	if r.code != 2 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("read-only ingest: exit %d %s", r.code, r.stderr)
	}
	r = run(t, nil, "report", "--db", db, "--since", "2026-01-01", "-f", "json")
	if rep := parseReport(t, r.stdout); r.code != 0 || rep.Summary.Calls != 1 {
		t.Errorf("read-only report: exit %d, %d calls: %s", r.code, rep.Summary.Calls, r.stderr)
	}
}

// A period report of a log read as it grew is the report of the same log
// read once: its inputs count the file, not the segments that happened to
// hold the period's calls.
func TestPeriodReportIndependentOfIngestHistory(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 9; i++ {
		day := 10 + i // W46: Nov 10-15; W47 from Nov 16
		lines = append(lines, fmt.Sprintf(`{"ts":"2026-11-%02dT09:00:00Z","action_type":"send_email","args":{"to":"x%d"}}`, day, i))
	}
	lines = append(lines[:3], append([]string{"not json"}, lines[3:]...)...)
	grown, once := filepath.Join(dir, "grown"), filepath.Join(dir, "once")
	os.MkdirAll(grown, 0o755)
	os.MkdirAll(once, 0o755)
	gp := writeFile(t, grown, "app.jsonl", strings.Join(lines[:7], "\n")+"\n")
	if r := run(t, nil, "ingest", "-q", "--db", filepath.Join(dir, "g.duckdb"), gp); r.code != 0 {
		t.Fatal(r.stderr)
	}
	writeFile(t, grown, "app.jsonl", strings.Join(lines, "\n")+"\n")
	writeFile(t, once, "app.jsonl", strings.Join(lines, "\n")+"\n")
	for _, c := range []struct{ db, log string }{{"g.duckdb", gp}, {"o.duckdb", filepath.Join(once, "app.jsonl")}} {
		if r := run(t, nil, "ingest", "-q", "--db", filepath.Join(dir, c.db), c.log); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	report := func(db string) string {
		r := run(t, nil, "report", "--db", filepath.Join(dir, db), "--week", "2026-W46", "-f", "json", "--now", "2026-11-30T00:00:00Z")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		var rep struct {
			Inputs    []struct{ Lines, Calls, Malformed int } `json:"inputs"`
			Malformed []struct{ Line int }                    `json:"malformed"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%+v %+v", rep.Inputs, rep.Malformed)
	}
	if g, o := report("g.duckdb"), report("o.duckdb"); g != o {
		t.Errorf("read as it grew: %s\nread once:        %s", g, o)
	}
}

// A baseline suppresses a finding while it is no worse. The reviewer's
// case: a double charge refunded (low, accepted into the baseline), then the
// same key charges a third time: critical again, and --fail-on must see it.
func TestBaselineDoesNotHideAWorseFinding(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.duckdb")
	first := `{"ts":"2026-11-16T10:00:00Z","action_type":"charge_card","idempotency_key":"chg-42","args":{"a":1},"response_id":"ch_1","status":"ok"}
{"ts":"2026-11-16T10:00:30Z","action_type":"charge_card","idempotency_key":"chg-42","args":{"a":1},"response_id":"ch_2","status":"ok"}
{"ts":"2026-11-16T10:05:00Z","action_type":"refund","args":{"charge":"ch_2"},"response_id":"re_1","status":"ok"}
`
	log := writeFile(t, dir, "app.jsonl", first)
	if r := run(t, nil, "ingest", "--db", db, log); r.code != 0 {
		t.Fatalf("ingest: %s", r.stderr)
	}
	base := filepath.Join(dir, "baseline.json")
	if r := run(t, nil, "baseline", "--db", db, "-o", base); r.code != 0 {
		t.Fatalf("baseline: %s", r.stderr)
	}
	b, _ := os.ReadFile(base)
	if !strings.Contains(string(b), `"side_effects": 2`) {
		t.Fatalf("the baseline records no side effects:\n%s", b)
	}
	all := []string{"--since", "2026-11-01", "--until", "2026-12-01"}
	r := run(t, nil, append([]string{"report", "--db", db, "--baseline", base, "--fail-on", "critical", "-f", "json"}, all...)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"suppressed": true`) {
		t.Fatalf("unchanged: exit %d, want 0 and suppressed\n%s", r.code, r.stdout)
	}
	writeFile(t, dir, "app.jsonl", first+`{"ts":"2026-11-16T12:00:00Z","action_type":"charge_card","idempotency_key":"chg-42","args":{"a":1},"response_id":"ch_3","status":"ok"}
`)
	if r := run(t, nil, "ingest", "--db", db, log); r.code != 0 {
		t.Fatalf("ingest: %s", r.stderr)
	}
	r = run(t, nil, append([]string{"report", "--db", db, "--baseline", base, "--fail-on", "critical", "-f", "json"}, all...)...)
	var rep weekReport
	json.Unmarshal([]byte(r.stdout), &rep)
	if r.code != 1 || rep.Summary.Suppressed != 1 || rep.Summary.FindingsBySeverity["critical"] != 1 {
		t.Errorf("a third charge under the baselined key: exit %d, %+v; want 1, the critical counted (only refund's missing key suppressed)", r.code, rep.Summary)
	}
	// a baseline written before side effects were recorded compares
	// severities only: the same severity stays suppressed, a higher one not
	old := strings.ReplaceAll(string(b), `"side_effects": 2`, `"x": 0`)
	os.WriteFile(base, []byte(old), 0o644)
	if r := run(t, nil, append([]string{"report", "--db", db, "--baseline", base, "--fail-on", "critical"}, all...)...); r.code != 0 {
		t.Errorf("old baseline, same severity: exit %d, want 0", r.code)
	}
	os.WriteFile(base, []byte(strings.Replace(old, `"severity": "critical"`, `"severity": "high"`, 1)), 0o644)
	if r := run(t, nil, append([]string{"report", "--db", db, "--baseline", base, "--fail-on", "critical"}, all...)...); r.code != 1 {
		t.Errorf("old baseline, severity rose: exit %d, want 1", r.code)
	}
}

// The same holds for a replay executed again: a key whose calls log no
// response id (effect created twice, accepted into the baseline) that then
// runs a third time is non-noop-replay with more side effects.
func TestBaselineDoesNotHideAReplayThatGrew(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.duckdb")
	line := func(ts string) string {
		return `{"ts":"2026-11-16T` + ts + `Z","action_type":"create_order","idempotency_key":"k9","args":{"a":1},"status":"ok","effect":"created"}` + "\n"
	}
	log := writeFile(t, dir, "app.jsonl", line("10:00:00")+line("10:00:30"))
	if r := run(t, nil, "ingest", "--db", db, log); r.code != 0 {
		t.Fatalf("ingest: %s", r.stderr)
	}
	base := filepath.Join(dir, "baseline.json")
	if r := run(t, nil, "baseline", "--db", db, "-o", base); r.code != 0 {
		t.Fatalf("baseline: %s", r.stderr)
	}
	all := []string{"report", "--db", db, "--baseline", base, "--fail-on", "high", "--since", "2026-11-01", "--until", "2026-12-01"}
	if r := run(t, nil, all...); r.code != 0 {
		t.Fatalf("unchanged: exit %d, want 0\n%s", r.code, r.stdout)
	}
	writeFile(t, dir, "app.jsonl", line("10:00:00")+line("10:00:30")+line("11:00:00"))
	if r := run(t, nil, "ingest", "--db", db, log); r.code != 0 {
		t.Fatalf("ingest: %s", r.stderr)
	}
	if r := run(t, nil, all...); r.code != 1 {
		t.Errorf("a third execution under the baselined key: exit %d, want 1\n%s", r.code, r.stdout)
	}
}

// An ingest with nothing to read fails before it creates the database: a
// typo in a cron line leaves no empty database behind.
func TestIngestNothingToReadCreatesNoDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.duckdb")
	for _, arg := range []string{filepath.Join(dir, "missing.jsonl"), dir} {
		if r := run(t, nil, "ingest", "--db", db, arg); r.code != 2 || r.stderr == "" {
			t.Errorf("%s: exit %d, stderr %q; want 2 and the reason", arg, r.code, r.stderr)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("%s: an empty database was created", arg)
		}
	}
}

// TestWeeklyUntimed is a team that logs only the triple (action, key,
// response id): a key answered twice pages the weekly run of the week the
// calls were ingested in, once, and no other week's.
func TestWeeklyUntimed(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "audit.duckdb"), filepath.Join(dir, "reports")
	logs := filepath.Join(dir, "calls.jsonl")
	if err := os.WriteFile(logs, []byte(`{"action_type":"charge_card","idempotency_key":"k1","response_id":"ch_1"}
{"action_type":"charge_card","idempotency_key":"k1","response_id":"ch_2"}
{"action_type":"charge_card","idempotency_key":"k2","response_id":"ch_3"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "ingest", "--db", db, "--now", "2026-11-18T06:00:00Z", logs); r.code != 0 {
		t.Fatalf("ingest: %d %s", r.code, r.stderr)
	}
	weekly := func(now string, code int) weekReport {
		t.Helper()
		r := run(t, nil, "weekly", "--db", db, "--out", out, "--now", now, "--fail-on", "critical", "--fail-on-new", logs)
		if r.code != code {
			t.Fatalf("weekly --now %s: exit %d, want %d: %s%s", now, r.code, code, r.stdout, r.stderr)
		}
		var label string
		for _, f := range strings.Fields(r.stdout) {
			if strings.HasPrefix(f, "2026-W") {
				label = strings.TrimSuffix(f, ":")
				break
			}
		}
		return readWeek(t, filepath.Join(out, label+".json"))
	}
	w47 := weekly("2026-11-23T06:00:00Z", exitFindings) // reports W47, in which the calls were read
	if len(w47.Findings) != 1 || w47.Findings[0].Rule != "same-key-different-response" || !w47.Findings[0].New {
		t.Errorf("W47: %+v, want the double charge, new", w47.Findings)
	}
	first, err := os.ReadFile(filepath.Join(out, "2026-W47.json"))
	if err != nil {
		t.Fatal(err)
	}
	weekly("2026-11-23T07:00:00Z", exitFindings) // cron runs it again: same report
	if again, _ := os.ReadFile(filepath.Join(out, "2026-W47.json")); !bytes.Equal(first, again) {
		t.Error("a second weekly run of W47 wrote other bytes")
	}
	if w48 := weekly("2026-11-30T06:00:00Z", exitOK); len(w48.Findings) != 0 {
		t.Errorf("W48: %+v, want nothing (the calls were read in W47)", w48.Findings)
	}
}
