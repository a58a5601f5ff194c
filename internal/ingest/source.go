package ingest

import (
	"bytes"
	"context"
	"errors"
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
	// rest, after a partial scan, is the file's content from its first
	// byte, read from the file pass 1 opened (the head it read, then the
	// rest): pass 2 parses the very content pass 1 judged new. The caller
	// closes it; its progress starts counting when pass 2 begins.
	rest   *scanStream
	size   int64
	hash   duckdb.UUID
	whole  *known // a segment whose content is exactly this file's
	prefix *known // the longest segment whose complete lines begin this file
}

// scanFile hashes a file's decompressed content, comparing the hash at every
// offset where a known segment's complete lines end. It parses nothing, so
// an unchanged file costs one read. It stops after the first headSize
// bytes when no segment at least that long has the same head: a new file
// is then read once, by the parse pass, not twice.
func scanFile(ctx context.Context, path, abs string, segs []known) (scanResult, error) {
	var res scanResult
	raw, f, err := openRaw(path, nil) // progress starts with pass 2 (scanStream.start)
	if err != nil {
		return res, &InputError{path, err}
	}
	keep := false // a partial scan hands the open file to pass 2
	defer func() {
		if !keep {
			raw.file.Close()
		}
	}()
	// the head is kept: a partial scan hands it to pass 2 with the rest
	head := make([]byte, headSize)
	nh, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return res, readError(path, &countingReader{n: int64(nh)}, err)
	}
	head = head[:nh]
	f = io.MultiReader(bytes.NewReader(head), f)
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
	// a segment's unterminated last line: is this file's the same, so far?
	tailEnds := map[int64][]*known{}
	tailSame := map[*known]bool{}
	for i := range segs {
		k := &segs[i]
		if k.safeBytes > 0 && k.tailLine.Valid && k.endBytes > k.safeBytes {
			if byOffset[k.endBytes] == nil && tailOnly[k.endBytes] == nil && tailEnds[k.endBytes] == nil {
				marks = append(marks, k.endBytes)
			}
			tailEnds[k.endBytes] = append(tailEnds[k.endBytes], k)
		}
	}
	var grownTail *known
	sort.Slice(marks, func(i, j int) bool { return marks[i] < marks[j] })
	c := newCountingReader(f)
	buf := make([]byte, 1<<20)
	check := func(m int64) {
		sum := c.sum()
		for _, k := range tailEnds[m] {
			tailSame[k] = k.endHash == sum
		}
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
	advance := func(to int64) error {
		if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c, to-c.n), buf); err != nil {
			return readError(path, c, err)
		}
		return nil
	}
	// headDone reads up to the end of the head and reports whether no known
	// segment needs more of the file
	headDone := func() (bool, error) {
		if err := advance(headSize); err != nil {
			return false, err
		}
		return c.hasHead && c.n == headSize && !needsMore(segs, c.head), nil
	}
	for _, m := range marks {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if m > headSize && c.n < headSize {
			if done, err := headDone(); err != nil {
				return res, err
			} else if done {
				keep = true
				r := partialScan(res, grownTail, c.n, raw, head, f)
				r.prefix = withTail(grownFromEmpty(r.prefix, segs, abs, c.n), tailSame)
				return r, nil
			}
		}
		if err := advance(m); err != nil {
			return res, err
		}
		if c.n < m {
			break // the file is shorter than this mark
		}
		check(m)
	}
	if c.n <= headSize {
		if done, err := headDone(); err != nil {
			return res, err
		} else if done {
			keep = true
			r := partialScan(res, grownTail, c.n, raw, head, f)
			r.prefix = withTail(grownFromEmpty(r.prefix, segs, abs, c.n), tailSame)
			return r, nil
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
	res.prefix = grownFromEmpty(res.prefix, segs, abs, res.size)
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
	res.prefix = withTail(res.prefix, tailSame)
	return res, nil
}

// withTail is the known beginning, marked when this file holds its
// unterminated last line too (a copy of it: tailSame says).
func withTail(prefix *known, tailSame map[*known]bool) *known {
	if prefix == nil || !tailSame[prefix] {
		return prefix
	}
	k := *prefix
	k.tailSame = true
	return &k
}

// grownFromEmpty is the known beginning of a file of size bytes: prefix,
// or, when none matched, the path's latest segment when it was empty (a log
// created before its first line was written): it grew from nothing.
func grownFromEmpty(prefix *known, segs []known, abs string, size int64) *known {
	if prefix != nil || size <= 0 || abs == "" {
		return prefix
	}
	var last *known // the path's latest segment: it was empty, not one before
	for i := range segs {
		if k := &segs[i]; k.absPath == abs && (last == nil || k.id > last.id) {
			last = k
		}
	}
	if last != nil && last.endBytes == 0 {
		return last
	}
	return nil
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

// partialScan is the result of a scan that stopped after n bytes, the
// head; f is the content after it (the head was read through a
// MultiReader whose first part is now spent).
func partialScan(res scanResult, grownTail *known, n int64, raw *rawFile, head []byte, f io.Reader) scanResult {
	res.partial, res.size = true, -1
	if res.prefix == nil && grownTail != nil && grownTail.endBytes < n {
		res.prefix = grownTail
	}
	res.rest = &scanStream{raw: raw, r: io.MultiReader(bytes.NewReader(head), f)}
	return res
}

// scanStream is, after a partial scan, the file's whole decompressed
// content for pass 2, from the file pass 1 opened. At its end it checks
// the file was not truncated while being read (copytruncate rotation): a
// file now shorter than what was read changed under the reader, and
// nothing of it is kept.
type scanStream struct {
	raw *rawFile
	r   io.Reader
}

func (s *scanStream) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err == io.EOF {
		if fi, serr := s.raw.file.Stat(); serr == nil && fi.Size() < s.raw.read {
			return n, errors.New("changed while being read (truncated); run again")
		}
	}
	return n, err
}

// start makes the stream report progress from now on, the bytes pass 1
// read included.
func (s *scanStream) start(progress func(int64)) {
	if progress != nil {
		progress(s.raw.read)
		s.raw.progress = progress
	}
}

func (s *scanStream) Close() error { return s.raw.file.Close() }

// readError says where a source stopped being readable: nothing of it is kept.
func readError(path string, c *countingReader, err error) error {
	return &InputError{path, fmt.Errorf("read failed after %d bytes (line %d): %w; nothing of it was kept", c.n, c.safe.lines+1, err)}
}
