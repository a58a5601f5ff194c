package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// An in-memory database spills into a private directory under the system
// temp directory, removed on Close. A run that never reaches Close (killed,
// or interrupted while blocked on a read) would leave it behind, with up to
// gigabytes of spilled data in it. So each directory holds a lock file that
// its process keeps locked while it lives; the next run removes every spill
// directory whose lock it can take (its owner is gone: the kernel drops a
// dead process's locks, whatever PID namespace it ran in). A directory
// without a lock file (one being created, or left by an older version) is
// left alone.

const (
	spillPrefix = "idemaudit-spill-"
	spillLock   = "owner.lock"
)

var spills = struct {
	sync.Mutex
	dirs map[string]*os.File // directory -> its held lock file
}{dirs: map[string]*os.File{}}

// newSpillDir creates and locks a spill directory, after removing those of
// dead runs.
func newSpillDir() (string, error) {
	sweepSpillDirs(os.TempDir())
	dir, err := os.MkdirTemp("", spillPrefix)
	if err != nil {
		return "", err
	}
	// the lock file is locked before it gets its name: another run's sweep
	// never finds it unlocked (a lock follows the file through the rename)
	tmp := filepath.Join(dir, spillLock+".new")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		if ok, lerr := tryLock(f); lerr != nil || !ok || os.Rename(tmp, filepath.Join(dir, spillLock)) != nil {
			f.Close()
			f = nil
		}
	} else {
		f = nil
	}
	spills.Lock()
	spills.dirs[dir] = f
	spills.Unlock()
	return dir, nil
}

// removeSpillDir removes a spill directory of this run.
func removeSpillDir(dir string) {
	spills.Lock()
	f, ok := spills.dirs[dir]
	delete(spills.dirs, dir)
	spills.Unlock()
	if ok && f != nil {
		f.Close()
	}
	os.RemoveAll(dir)
}

// RemoveSpillDirs removes every spill directory this run still has. The
// CLI calls it when it exits without closing its database (an interrupt
// that a blocked read did not answer in time).
func RemoveSpillDirs() {
	spills.Lock()
	dirs := make([]string, 0, len(spills.dirs))
	for d := range spills.dirs {
		dirs = append(dirs, d)
	}
	spills.Unlock()
	for _, d := range dirs {
		removeSpillDir(d)
	}
}

// sweepSpillDirs removes the spill directories under tmp whose owner has
// died. Errors are ignored: this is housekeeping, never a reason to fail.
func sweepSpillDirs(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), spillPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		spills.Lock()
		_, ours := spills.dirs[dir]
		spills.Unlock()
		if ours {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, spillLock), os.O_RDWR, 0)
		if err != nil {
			continue // no lock file: not ours to judge
		}
		if ok, err := tryLock(f); err == nil && ok {
			os.RemoveAll(dir) // removed while we hold its lock
		}
		f.Close()
	}
}
