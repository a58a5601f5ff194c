package ingest

import (
	"context"
	"fmt"
	"io"
	"sort"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// scanResult is what pass 1 learnt about a file's content.
type scanResult struct {
	size   int64
	hash   duckdb.UUID
	whole  *known // a segment whose content is exactly this file's
	prefix *known // the longest segment whose complete lines begin this file
}

// scanFile hashes a file's decompressed content, comparing the hash at every
// offset where a known segment's complete lines end. It parses nothing, so
// an unchanged file costs one read.
func scanFile(ctx context.Context, path, abs string, segs []known) (scanResult, error) {
	var res scanResult
	f, closeFn, err := open(path, nil)
	if err != nil {
		return res, &InputError{path, err}
	}
	defer closeFn()
	// the offsets to check, ascending; the empty beginning proves nothing
	var marks []int64
	byOffset := map[int64][]*known{}
	for i := range segs {
		k := &segs[i]
		if k.safeBytes > 0 {
			if byOffset[k.safeBytes] == nil {
				marks = append(marks, k.safeBytes)
			}
			byOffset[k.safeBytes] = append(byOffset[k.safeBytes], k)
		}
	}
	// A segment that holds only an unterminated line (a log caught while its
	// first line was being written) has no complete line to check; its
	// partial line is checked instead, for the same path only (a few bytes
	// of another file's beginning prove nothing).
	tailOnly := map[int64][]*known{}
	for i := range segs {
		k := &segs[i]
		if k.safeBytes == 0 && k.tailLine.Valid && k.endBytes > 0 && k.absPath == abs {
			if byOffset[k.endBytes] == nil && tailOnly[k.endBytes] == nil {
				marks = append(marks, k.endBytes)
			}
			tailOnly[k.endBytes] = append(tailOnly[k.endBytes], k)
		}
	}
	var grownTail *known
	sort.Slice(marks, func(i, j int) bool { return marks[i] < marks[j] })
	c := newCountingReader(f)
	buf := make([]byte, 1<<20)
	for _, m := range marks {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c, m-c.n), buf); err != nil {
			return res, readError(path, c, err)
		}
		if c.n < m {
			break // the file is shorter than this mark
		}
		sum := c.sum()
		for _, k := range tailOnly[m] {
			if k.endHash == sum {
				grownTail = k
			}
		}
		for _, k := range byOffset[m] {
			// longest wins; at equal length the same path, then the latest
			if k.safeHash == sum && (res.prefix == nil || res.prefix.safeBytes < m || k.absPath == abs || res.prefix.absPath != abs) {
				res.prefix = k
			}
		}
	}
	for {
		n, err := io.CopyBuffer(io.Discard, io.LimitReader(c, 64<<20), buf)
		if err != nil {
			return res, readError(path, c, err)
		}
		if n == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	res.size, res.hash = c.n, c.sum()
	if res.prefix == nil && grownTail != nil && grownTail.endBytes < res.size {
		res.prefix = grownTail // read from the start; its partial line is deleted and read again, whole
	}
	for i := range segs {
		k := &segs[i]
		if k.endBytes == res.size && k.endHash == res.hash && (res.size > 0 || k.absPath == abs) {
			if res.whole == nil || k.absPath == abs {
				res.whole = k
			}
		}
	}
	if res.prefix != nil && res.prefix.safeBytes == res.size && res.whole == nil {
		res.whole = res.prefix // nothing after the known lines
	}
	return res, nil
}

// readError says where a source stopped being readable: nothing of it is kept.
func readError(path string, c *countingReader, err error) error {
	return &InputError{path, fmt.Errorf("read failed after %d bytes (line %d): %w; nothing of it was kept", c.n, c.safe.lines+1, err)}
}
