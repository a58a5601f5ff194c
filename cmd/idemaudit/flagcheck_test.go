package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idemaudit/idemaudit/internal/ingest"
)

// A --memory-limit DuckDB cannot read is a usage error naming the flag and
// the value, on every command that takes it, before any database is made.
func TestCLIBadMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	log, kept := keptDB(t, dir, high)
	fresh := filepath.Join(dir, "fresh.duckdb")
	for _, args := range [][]string{
		{"audit", log},
		{"explain", "--key", "k", log},
		{"explain", "--key", "k", "--db", kept},
		{"ingest", "--db", fresh, log},
		{"weekly", "--db", fresh, "--out", filepath.Join(dir, "out"), log},
		{"report", "--db", kept},
		{"baseline", "--db", kept},
		{"prune", "--db", kept, "--keep", "26w"},
	} {
		t.Run(strings.Join(args[:1], " "), func(t *testing.T) {
			r := run(t, nil, append([]string{args[0], "--memory-limit", "lots"}, args[1:]...)...)
			if r.code != 2 || !strings.Contains(r.stderr, `--memory-limit: want a size like 4GB`) || !strings.Contains(r.stderr, `got "lots"`) ||
				!strings.Contains(r.stderr, "Run 'idemaudit "+args[0]+" --help'") {
				t.Errorf("exit %d, stderr %q; want 2 and a usage error naming --memory-limit \"lots\"", r.code, r.stderr)
			}
			for _, p := range []string{fresh, filepath.Join(dir, "out")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s was made before the flag was checked", p)
				}
			}
		})
	}
}

// A --memory-limit too small for the input ends in an error that names
// the flag to raise, not DuckDB's advice in SQL settings on one quoted line.
func TestCLIMemoryLimitTooSmall(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "a.jsonl", high)
	for _, m := range []string{"1KB", "16MB"} {
		r := run(t, nil, "audit", "-q", "--memory-limit", m, "-f", "json", "-o", filepath.Join(dir, "r.json"), log)
		if r.code == 0 {
			continue // DuckDB managed: nothing to say
		}
		if r.code != 2 || !strings.Contains(r.stderr, "Out of Memory Error") || !strings.Contains(r.stderr, "raise --memory-limit") ||
			strings.Contains(r.stderr, "SET threads") || strings.Contains(r.stderr, `\n`) {
			t.Errorf("--memory-limit %s: exit %d, stderr %q; want 2, DuckDB's first line and the flag to raise", m, r.code, r.stderr)
		}
	}
	if r := run(t, nil, "audit", "-q", "--memory-limit", "1KB", "-f", "json", log); r.code != 2 {
		t.Errorf("--memory-limit 1KB: exit %d, want 2 (DuckDB cannot open a database in 1KB)", r.code)
	}
}

// A --memory-limit too small to read a kept database's schema version is
// said as such: the database is not blamed ("not an idemaudit database").
func TestCLIMemoryLimitTooSmallForAKeptDatabase(t *testing.T) {
	dir := t.TempDir()
	_, db := keptDB(t, dir, high)
	for _, args := range [][]string{
		{"report", "--db", db},
		{"baseline", "--db", db, "-o", filepath.Join(dir, "b.json")},
		{"explain", "--key", "k", "--db", db},
		{"prune", "--db", db, "--keep", "26w"},
	} {
		r := run(t, nil, append(args, "--memory-limit", "1KB")...)
		if r.code != 2 || !strings.Contains(r.stderr, "raise --memory-limit") || strings.Contains(r.stderr, "not an idemaudit database") {
			t.Errorf("%s --memory-limit 1KB: exit %d, stderr %q; want 2 and the memory limit, not the database, blamed", args[0], r.code, r.stderr)
		}
	}
	if r := run(t, nil, "report", "-q", "--db", db, "-f", "json"); r.code != 0 {
		t.Errorf("the database after: exit %d: %s", r.code, r.stderr)
	}
}

// validMemoryLimit takes what DuckDB takes, and DuckDB takes what it takes.
func TestValidMemoryLimitAgreesWithDuckDB(t *testing.T) {
	for _, v := range []string{"", "4GB", "1 gb", " 512MiB ", "1.5GiB", "2e3MB", ".5GB", "1.GB", "1T", "3gigabytes", "2048 megabytes", "none", "-1"} {
		if !validMemoryLimit(v) {
			t.Errorf("%q refused", v)
			continue
		}
		db, err := ingest.Open(context.Background(), "", ingest.Options{MemoryLimit: v})
		if err != nil {
			t.Errorf("%q: DuckDB refuses it: %v", v, err)
			continue
		}
		db.Close()
	}
	for _, v := range []string{"lots", "4", "NONE", "Null", "+2GB", "2e+3MB", "1..5GB", "8gibibytes", "1PB", "2,5GB", "0x10GB"} {
		if validMemoryLimit(v) {
			t.Errorf("%q taken", v)
		}
		if db, err := ingest.Open(context.Background(), "", ingest.Options{MemoryLimit: v}); err == nil {
			db.Close()
			t.Errorf("%q refused here but DuckDB takes it", v)
		}
	}
	if validMemoryLimit("4 GB extra") { // DuckDB ignores what follows the unit
		t.Errorf(`"4 GB extra" taken`)
	}
}

// An -o FILE that cannot be written is said before anything is read: the
// inputs here are missing too, and the output is what the run names. The
// error is the one the end of the run gave.
func TestCLIOutputCheckedBeforeTheRun(t *testing.T) {
	dir := t.TempDir()
	missingLog := filepath.Join(dir, "nope.jsonl")
	missingDB := filepath.Join(dir, "nope.duckdb")
	notDir := writeFile(t, dir, "a.jsonl", high)
	for _, out := range []struct{ path, err string }{
		{filepath.Join(dir, "missing-dir", "r.md"), "no such file or directory"},
		{filepath.Join(notDir, "r.md"), "not a directory"},
	} {
		for _, args := range [][]string{
			{"audit", missingLog},
			{"explain", "--key", "k", missingLog},
			{"explain", "--key", "k", "--db", missingDB},
			{"report", "--db", missingDB},
			{"baseline", "--db", missingDB},
		} {
			t.Run(args[0]+" "+out.err, func(t *testing.T) {
				r := run(t, nil, append([]string{args[0], "-o", out.path}, args[1:]...)...)
				want := "idemaudit " + args[0] + ": write " + out.path + ": " + out.err + "\n"
				if r.code != 2 || r.stderr != want {
					t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
				}
			})
		}
	}
	// a directory that is not writable (root writes anywhere)
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		out := filepath.Join(ro, "r.md")
		r := run(t, nil, "audit", "-o", out, missingLog)
		if want := "idemaudit audit: write " + out + ": permission denied\n"; r.code != 2 || r.stderr != want {
			t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
		}
	}
	// the check leaves nothing behind
	good := filepath.Join(dir, "out")
	os.Mkdir(good, 0o755)
	if r := run(t, nil, "audit", "-o", filepath.Join(good, "r.md"), notDir); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(good); len(ents) != 1 || ents[0].Name() != "r.md" {
		t.Errorf("%s holds %v, want r.md alone", good, ents)
	}
}

// -o through a symlink writes the file it points to: /dev/stdout (here
// /proc/self/fd/1, where it points) redirected to a file, or a link a user
// keeps to a shared report. Neither the link nor the directory it sits in
// is replaced or written (run as root, -o /dev/stdout replaced /dev/stdout
// with the report and the redirect got nothing).
func TestCLIOutputThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "a.jsonl", high)
	outFile, err := os.Create(filepath.Join(dir, "stdout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd := exec.Command(binary, "audit", "-f", "json", "-o", "/proc/self/fd/1", log)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = outFile, &stderr
	if err := cmd.Run(); err != nil && stderr.Len() > 0 {
		t.Errorf("-o /proc/self/fd/1: %v %s", err, stderr.String())
	}
	if b, _ := os.ReadFile(outFile.Name()); !strings.Contains(string(b), `"findings"`) {
		t.Errorf("the redirect holds %q", b)
	}

	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o755)
	target := writeFile(t, shared, "report.md", "old")
	link := filepath.Join(dir, "report.md")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "audit", "-f", "markdown", "-o", link, log); r.code == 2 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink: %v", link, err)
	}
	if b, _ := os.ReadFile(target); !strings.Contains(string(b), "send_email") {
		t.Errorf("%s holds %q", target, b)
	}
}

// -o through a dangling symlink (a link kept to a report not written yet,
// relative as ln -s makes it) creates the file it points to, as the
// shell's > does: the link was replaced by the report.
func TestCLIOutputThroughDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "a.jsonl", high)
	if err := os.Mkdir(filepath.Join(dir, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "latest.md")
	if err := os.Symlink(filepath.Join("reports", "w49.md"), link); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "audit", "-f", "markdown", "-o", link, log); r.code == 2 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink: %v", link, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "reports", "w49.md")); !strings.Contains(string(b), "send_email") {
		t.Errorf("reports/w49.md holds %q", b)
	}
}

// -o through a symlink loop is an error before the run, as the shell's >
// says it (too many levels of symbolic links): the loop was replaced by the
// report.
func TestCLIOutputThroughSymlinkLoop(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "a.jsonl", high)
	a, b := filepath.Join(dir, "a.md"), filepath.Join(dir, "b.md")
	if err := os.Symlink("b.md", a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.md", b); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "audit", "-f", "markdown", "-o", a, log)
	if r.code != 2 || !strings.Contains(r.stderr, a) || !strings.Contains(r.stderr, "symbolic links") {
		t.Errorf("exit %d, stderr %q: want exit 2 naming %s and the link loop", r.code, r.stderr, a)
	}
	if fi, err := os.Lstat(a); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink: %v", a, err)
	}
}

// weekly writes its reports in --out DIR: a report file there that is a
// symlink loop is an error too, never replaced by the report (checkOutput
// does not see those files before the run; writeOutput must not replace
// the loop).
func TestCLIWeeklyReportThroughSymlinkLoop(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "a.jsonl", high)
	out := filepath.Join(dir, "reports")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(out, "2026-W47.md"), filepath.Join(out, "other.md")
	if err := os.Symlink("other.md", a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("2026-W47.md", b); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "weekly", "--db", filepath.Join(dir, "audit.duckdb"), "--out", out, "--now", "2026-11-23T06:00:00Z", log)
	if r.code != 2 || !strings.Contains(r.stderr, "symbolic links") {
		t.Errorf("exit %d, stderr %q: want exit 2 naming the link loop", r.code, r.stderr)
	}
	if fi, err := os.Lstat(a); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink: %v", a, err)
	}
}

// An out-of-memory error of a full --temp-dir (DuckDB's
// TemporaryFileManager: the disk it spills to, not the memory limit) says
// so: raising --memory-limit is not the fix. Seen for real with --temp-dir
// on a 2 MB tmpfs.
func TestOutOfMemoryOfTheTempDir(t *testing.T) {
	spill := errors.New("Out of Memory Error: failed to offload data block of size 256.0 KiB (1.7 MiB/1.7 MiB used).\n" +
		"This limit was set by the 'max_temp_directory_size' setting.\n" +
		"By default, this setting utilizes the available disk space on the drive where the 'temp_directory' is located.\n" +
		"You can adjust this setting, by using (for example) PRAGMA max_temp_directory_size='10GiB'")
	got := shown(outOfMemory(withLine(spill, "no report written")))
	if !strings.Contains(got, "--temp-dir") || strings.Contains(got, "raise --memory-limit") || strings.Contains(got, "PRAGMA") ||
		!strings.HasSuffix(got, "\nno report written") || !strings.HasPrefix(got, "Out of Memory Error: failed to offload") {
		t.Errorf("got %q: want DuckDB's first line, the full --temp-dir named, no advice to raise --memory-limit", got)
	}
	mem := errors.New("Out of Memory Error: could not allocate block of size 256.0 KiB (15.0 MiB/15.2 MiB used)\n\nPossible solutions:\n* Reducing the number of threads (SET threads=X)")
	if got := shown(outOfMemory(mem)); !strings.Contains(got, "raise --memory-limit") {
		t.Errorf("got %q: want --memory-limit named", got)
	}
}
