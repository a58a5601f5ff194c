//go:build !unix

package ingest

import (
	"errors"
	"os"
)

// tryLock is not available here: no spill directory is ever judged dead.
func tryLock(*os.File) (bool, error) { return false, errors.New("no file locks") }
