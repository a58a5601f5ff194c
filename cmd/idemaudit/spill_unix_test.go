//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// A run killed outright leaves its spill directory (possibly gigabytes);
// the next run removes it, and only it: a living run's directory and one
// without a lock file stay.
func TestCLISweepsDeadRunsSpillDirs(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string, lock bool) string {
		dir := filepath.Join(tmp, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "duckdb_temp_storage.tmp"), []byte("spilled"), 0o600)
		if lock {
			os.WriteFile(filepath.Join(dir, "owner.lock"), nil, 0o600)
		}
		return dir
	}
	dead := mk("idemaudit-spill-1", true)
	live := mk("idemaudit-spill-2", true)
	unknown := mk("idemaudit-spill-3", false)
	other := mk("other-spill-4", true)
	f, err := os.OpenFile(filepath.Join(live, "owner.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "audit", "-f", "json", "sample-logs")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() > 1 {
		t.Fatalf("%v: %s", err, out)
	}
	for dir, want := range map[string]bool{dead: false, live: true, unknown: true, other: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
	if left := spillDirs(t, tmp); len(left) != 2 {
		t.Errorf("spill directories left: %v; want the living run's and the unknown one", left)
	}
}
