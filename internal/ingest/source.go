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
	// partial: only the file's beginning was read, since its head matches
	// no known segment long enough to need more (size and hash are unknown:
	// the parse pass reads to the end and hashes)
	partial bool
	size    int64
	hash    duckdb.UUID
	whole   *known // a segment whose content is exactly this file's
	prefix  *known // the longest segment whose complete lines begin this file
}

// scanFile hashes a file's decompressed content, comparing the hash at every
// offset where a known segment's complete lines end. It parses nothing, so
// an unchanged file costs one read. It stops after the first headSize
// bytes when no segment at least that long has the same head: a new file
// is then read once, by the parse pass, not twice.
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
	check := func(m int64) {
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
	for _, m := range marks {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if m > headSize && c.n < headSize {
			if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c, headSize-c.n), buf); err != nil {
				return res, readError(path, c, err)
			}
			if c.hasHead && !needsMore(segs, c.head) {
				return partialScan(res, grownTail, c.n), nil
			}
		}
		if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c, m-c.n), buf); err != nil {
			return res, readError(path, c, err)
		}
		if c.n < m {
			break // the file is shorter than this mark
		}
		check(m)
	}
	if c.n < headSize {
		if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c, headSize-c.n), buf); err != nil {
			return res, readError(path, c, err)
		}
	}
	if c.hasHead && c.n == headSize && !needsMore(segs, c.head) {
		return partialScan(res, grownTail, c.n), nil
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

// needsMore reports whether a known segment could still be this file's
// beginning or its whole content after its head matched: one as long as the
// head with the same head hash, or without one (ingested before schema 6).
// Shorter segments were checked exactly within the head.
func needsMore(segs []known, head duckdb.UUID) bool {
	for i := range segs {
		k := &segs[i]
		if k.endBytes >= headSize && (k.head == nil || *k.head == head) {
			return true
		}
	}
	return false
}

// partialScan is the result of a scan that stopped after n bytes, the head.
func partialScan(res scanResult, grownTail *known, n int64) scanResult {
	res.partial, res.size = true, -1
	if res.prefix == nil && grownTail != nil && grownTail.endBytes < n {
		res.prefix = grownTail
	}
	return res
}

// readError says where a source stopped being readable: nothing of it is kept.
func readError(path string, c *countingReader, err error) error {
	return &InputError{path, fmt.Errorf("read failed after %d bytes (line %d): %w; nothing of it was kept", c.n, c.safe.lines+1, err)}
}
