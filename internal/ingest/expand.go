package ingest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// logSuffixes are the names a directory walk picks up; a file named on the
// command line is read whatever its name.
var logSuffixes = []string{".jsonl", ".ndjson", ".log", ".jsonl.gz", ".ndjson.gz", ".log.gz", ".json", ".json.gz", ".parquet"}

// IsLogName reports whether a directory walk would pick up this file name
// (idemaudit.json, the configuration, is not a log).
func IsLogName(name string) bool {
	name = strings.ToLower(name)
	if name == "idemaudit.json" {
		return false
	}
	for _, s := range logSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	// a rotated log: app.log.1, app.jsonl.2.gz, app.log-20261123(.gz)
	if m := rotated.FindStringSubmatch(name); m != nil && m[1] != "idemaudit.json" { // nor a copy of the configuration
		for _, s := range logSuffixes {
			if s != ".parquet" && !strings.HasSuffix(s, ".gz") && strings.HasSuffix(m[1], s) {
				return true
			}
		}
	}
	return false
}

// rotated is a log name with logrotate's number or date after it.
var rotated = regexp.MustCompile(`^(.+?)[.-][0-9][0-9_-]*(\.gz)?$`)

// Expand turns command-line paths into the sources to read, in a stable
// order: each argument in turn, a directory's files in lexical order. A file
// reached twice (named twice, or by two routes) is read once, since reading
// it twice would double every call and invent duplicates.
//
// In a directory, symbolic links to directories are not followed (a link
// loop cannot trap the walk), and special files (FIFOs, devices, sockets)
// are skipped: opening one could block forever. Named on the command line,
// a FIFO or device is read once as a stream (process substitution,
// <(zcat log.gz), works). An entry that cannot even be examined (a dangling
// link, a link loop) is kept, so the read fails and names it.
func Expand(paths []string) (sources []string, skipped []string, err error) {
	var seen []os.FileInfo
	dup := func(fi os.FileInfo) bool {
		for _, s := range seen {
			if os.SameFile(s, fi) {
				return true
			}
		}
		seen = append(seen, fi)
		return false
	}
	stdin := false
	for _, p := range paths {
		if p == "-" {
			if stdin {
				return nil, nil, fmt.Errorf("standard input (-) is named twice")
			}
			stdin = true
			sources = append(sources, p)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if !fi.IsDir() {
			if dup(fi) {
				skipped = append(skipped, p)
				continue
			}
			sources = append(sources, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("cannot list %s: %w", path, err)
			}
			if de.IsDir() || !IsLogName(de.Name()) || isReport(path) {
				return nil
			}
			fi, err := os.Stat(path)
			if err != nil {
				sources = append(sources, path) // unreadable: the read reports it
				return nil
			}
			switch {
			case fi.IsDir():
				return nil // a link to a directory: not followed
			case !fi.Mode().IsRegular():
				skipped = append(skipped, path+" (not a regular file)")
				return nil
			case dup(fi):
				skipped = append(skipped, path)
				return nil
			}
			sources = append(sources, path)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return sources, skipped, nil
}

// isReport reports whether a .json file is one of idemaudit's own outputs
// (a JSON report, a baseline), kept beside the logs by a weekly job: a
// directory walk leaves it out.
func isReport(path string) bool {
	if !strings.HasSuffix(strings.ToLower(path), ".json") {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	return bytes.Contains(head, []byte(`"schema_version"`)) && !bytes.Contains(head, []byte(`"action_type"`))
}

// IsStream reports whether a named source can only be read once (a FIFO,
// a device, a socket): it is read like standard input.
func IsStream(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && !fi.Mode().IsRegular()
}
