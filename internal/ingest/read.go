package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/zeebo/xxh3"

	"github.com/idemaudit/idemaudit/internal/config"
)

const (
	chunkSize = 1 << 20  // bytes handed to a parse worker at a time
	maxLine   = 64 << 20 // a longer line is reported malformed, not held in memory
)

// chunk is a run of whole lines; first is the 1-based number of its first line.
type chunk struct {
	seq   int
	first int64
	data  []byte
	// tooLong marks a chunk standing for one line over maxLine, whose bytes were dropped.
	tooLong bool
}

// batch is what a worker made of a chunk.
type batch struct {
	seq       int
	lines     int64
	skipped   int64             // records of an export that are no tool call
	imported  bool              // the records come from a trace export
	sessions  map[string]string // trace id → conversation, from trace records
	links     []spanLink        // spans of trace exports that are no tool call, with their parents
	records   []Record
	lineNos   []int64
	pos       []int32 // each record's place among its line's records; nil: all 0 (one call a line)
	malformed []Malformed
}

// Malformed is a line that is not a call.
type Malformed struct {
	Line  int64
	Error string
}

// open returns the decompressed stream of a file; progress, when set, is
// told how many bytes of the file itself were read.
func open(path string, progress func(int64)) (io.Reader, func() error, error) {
	raw, r, err := openRaw(path, progress)
	if err != nil {
		return nil, nil, err
	}
	return r, raw.file.Close, nil
}

// openRaw opens a file and its decompressed stream; progress, when set, is
// told every byte read from the file, the decompressor's first look included.
func openRaw(path string, progress func(int64)) (*rawFile, io.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is a directory", path)
	}
	raw := &rawFile{file: f, progress: progress}
	r, err := decompress(raw)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return raw, r, nil
}

// rawFile is a file as its decompressor reads it: it counts the bytes read
// and tells progress, when set.
type rawFile struct {
	file     *os.File
	read     int64
	progress func(int64)
}

func (r *rawFile) Read(b []byte) (int, error) {
	n, err := r.file.Read(b)
	r.read += int64(n)
	if r.progress != nil {
		r.progress(int64(n))
	}
	return n, err
}

// decompress detects gzip by its magic bytes, so a .gz file, a misnamed one
// and gzip on stdin all work.
func decompress(src io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(src, 1<<20)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// countingReader tracks the decompressed offset, for errors that name where
// a stream broke, and hashes the content, so the same data is ingested
// once. It also remembers where the last complete line ends (with the hash
// up to there), so a log that grows can be resumed from that point.
type countingReader struct {
	r    io.Reader
	n    int64
	h    *xxh3.Hasher128
	safe lineEnd
	// head is the hash of the first headSize bytes, once that many were read
	head    duckdb.UUID
	hasHead bool
}

// headSize is how much of a source's beginning its head hash covers: a new
// file whose head matches no known segment's is read once, not hashed first.
const headSize = 64 << 10

// lineEnd is the end of the last complete line: offset, hash of everything
// before it, and the number of lines it closes.
type lineEnd struct {
	bytes int64
	hash  duckdb.UUID
	lines int64
}

func newCountingReader(r io.Reader) *countingReader {
	c := &countingReader{r: r, h: xxh3.New128()}
	c.safe.hash = c.sum()
	return c
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	b := p[:n]
	if !c.hasHead && c.n+int64(n) >= headSize {
		k := headSize - c.n
		c.write(b[:k])
		c.head, c.hasHead = c.sum(), true
		b = b[k:]
	}
	c.write(b)
	return n, err
}

func (c *countingReader) write(b []byte) {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		c.h.Write(b[:i+1])
		c.safe = lineEnd{c.n + int64(i) + 1, c.sum(), c.safe.lines + int64(bytes.Count(b, []byte{'\n'}))}
		c.h.Write(b[i+1:])
	} else {
		c.h.Write(b)
	}
	c.n += int64(len(b))
}

// headHash is the hash of the first headSize bytes; nil (NULL) when the
// content is shorter.
func (c *countingReader) headHash() any {
	if !c.hasHead {
		return nil
	}
	return &c.head
}

// sum is the content hash of everything read so far.
// hashState is a countingReader's position and hash, kept so the hash of
// a longer prefix can be computed later from the bytes that follow it.
type hashState struct {
	h     xxh3.Hasher128
	n     int64
	lines int64
}

// state is where the reader stands; it must be at a line end (c.safe).
func (c *countingReader) state() hashState {
	return hashState{*c.h, c.n, c.safe.lines}
}

// extend is the line end after b, which must follow the state's position
// and end with a line terminator (or be empty).
func (s hashState) extend(b []byte) lineEnd {
	h := s.h
	h.Write(b)
	return lineEnd{s.n + int64(len(b)), duckdb.UUID(h.Sum128().Bytes()), s.lines + int64(bytes.Count(b, []byte{'\n'}))}
}

func (c *countingReader) sum() duckdb.UUID {
	return duckdb.UUID(c.h.Sum128().Bytes())
}

// tail describes how a stream ended: whether its last line had no line
// terminator (a log still being written, or a file without a final
// newline), and that line's number.
type tail struct {
	open bool
	line int64
}

// split cuts a stream into chunks of whole lines and sends them in order;
// first is the number of the stream's first line.
func split(ctx context.Context, src io.Reader, first int64, out chan<- chunk, t *tail) error {
	defer close(out)
	r := bufio.NewReaderSize(src, 64<<10)
	seq, line := 0, first
	buf := getChunk()
	eof := false
	send := func(c chunk) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for !eof || len(buf) > 0 {
		for !eof && len(buf) < cap(buf) {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return err
			}
		}
		cut := bytes.LastIndexByte(buf, '\n') + 1
		if eof && cut < len(buf) {
			cut = len(buf) // the last line has no terminator
			t.open, t.line = true, line+int64(bytes.Count(buf[:cut], []byte{'\n'}))
		}
		if cut == 0 { // one line fills the buffer
			if cap(buf) <= maxLine { // room for a line of maxLine bytes and its newline
				grown := make([]byte, len(buf), min(2*cap(buf), maxLine+1))
				copy(grown, buf)
				buf = grown
				continue
			}
			if err := discardLine(r); err != nil && err != io.EOF {
				return err
			} else if err == io.EOF {
				eof = true
				t.open, t.line = true, line
			}
			if !send(chunk{seq: seq, first: line, tooLong: true}) {
				return ctx.Err()
			}
			seq, line, buf = seq+1, line+1, getChunk()
			continue
		}
		var next []byte
		if rest := len(buf) - cut; rest <= chunkSize {
			next = getChunk()[:rest]
		} else {
			next = make([]byte, rest, rest)
		}
		copy(next, buf[cut:])
		c := chunk{seq: seq, first: line, data: buf[:cut]}
		line += int64(bytes.Count(c.data, []byte{'\n'}))
		if !send(c) {
			return ctx.Err()
		}
		seq, buf = seq+1, next
	}
	return nil
}

// discardLine reads up to and including the next newline.
func discardLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

func parseChunk(c chunk, p *Parser) batch {
	b := batch{seq: c.seq}
	b.records, b.lineNos = getRecords()
	if c.tooLong {
		b.lines = 1
		b.malformed = append(b.malformed, Malformed{c.first, fmt.Sprintf("line longer than %d MiB", maxLine>>20)})
		return b
	}
	data := c.data
	if c.seq == 0 && c.first == 1 {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a byte order mark opening the file is not content
	}
	ln := c.first
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		var line []byte
		if end < 0 {
			line, data = data, nil
		} else {
			line, data = data[:end], data[end+1:]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if !blank(line) && p.conv != nil {
			p.importLine(line, ln, &b)
		} else if !blank(line) {
			b.records = append(b.records, Record{}) // parsed in place: a record is some 300 bytes
			if err := p.Parse(line, &b.records[len(b.records)-1]); err != nil {
				b.records = b.records[:len(b.records)-1]
				b.malformed = append(b.malformed, Malformed{ln, err.Error()})
			} else {
				b.lineNos = append(b.lineNos, ln)
			}
		}
		ln++
	}
	b.lines = ln - c.first
	return b
}

func blank(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r', '\v', '\f':
		default:
			return false
		}
	}
	return true
}

// parseAll runs the workers and delivers batches in chunk order to deliver;
// first is the number of the stream's first line.
func parseAll(ctx context.Context, r io.Reader, first int64, t *tail, cfg *config.Config, keepArgs bool, spec *convSpec, deliver func(batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 4)
	results := make(chan batch, 4)
	splitErr := make(chan error, 1)
	go func() { splitErr <- split(ctx, r, first, chunks, t) }()
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := Parser{cfg: cfg, keepArgs: keepArgs, conv: spec.converter()}
			for c := range chunks {
				b := parseChunk(c, &p)
				putChunk(c.data) // records hold copies: the bytes can serve again
				select {
				case results <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	pending := map[int]batch{}
	next := 0
	var err error
	for b := range results {
		if err != nil {
			continue // drain so the workers can finish
		}
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err = deliver(nb); err != nil {
				cancel()
				break
			}
		}
	}
	if err != nil {
		return err
	}
	return <-splitErr
}

// chunkPool recycles chunk buffers: a file is read through a few of them
// instead of one fresh megabyte per chunk.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

func getChunk() []byte { return (*chunkPool.Get().(*[]byte))[:0] }

func putChunk(b []byte) {
	if cap(b) == chunkSize {
		b = b[:0]
		chunkPool.Put(&b)
	}
}

// recordPool recycles the records of a chunk's batch, once the feed has
// copied them into DuckDB: a fresh slice grown record by record was a
// megabyte allocated and cleared per chunk.
var recordPool sync.Pool

func getRecords() ([]Record, []int64) {
	if v, ok := recordPool.Get().(*pooledRecords); ok {
		return v.records[:0], v.lineNos[:0]
	}
	return make([]Record, 0, 1024), make([]int64, 0, 1024)
}

type pooledRecords struct {
	records []Record
	lineNos []int64
}

// putRecords gives a batch's records back (nothing may use them after).
// The strings they hold stay referenced until the slots are written again:
// at most a few batches' worth.
func putRecords(b *batch) {
	if cap(b.records) >= 1024 && cap(b.records) <= 1<<16 && cap(b.lineNos) >= 1024 {
		recordPool.Put(&pooledRecords{b.records, b.lineNos})
	}
	b.records, b.lineNos = nil, nil
}

// ReadCalls parses the sources (files, or - for stdin) without a database
// and hands each call, with its canonical args, to fn in file and line
// order. Malformed lines are skipped. For tools that need the args
// themselves (identity --suggest, explain --arg), which the database does
// not keep; pos is the call's place among its line's calls, as ingest
// stores it.
func ReadCalls(ctx context.Context, sources []string, stdin io.Reader, im *Import, fn func(source string, line int64, pos int32, r *Record) error) error {
	spans := map[[2]string]bool{}
	for _, src := range sources {
		var in io.Reader
		closeFn := func() error { return nil }
		if src == "-" {
			d, err := decompress(stdin)
			if err != nil {
				return &InputError{src, err}
			}
			in = d
		} else {
			f, c, err := open(src, nil)
			if err != nil {
				return &InputError{src, err}
			}
			in, closeFn = f, c
		}
		var tl tail
		path := src
		if src == "-" {
			path = ""
		}
		_, err := readSource(ctx, in, path, 1, &tl, nil, true, im, "", nil, func(b batch) error {
			for i := range b.records {
				r := &b.records[i]
				if b.imported && r.Span != "" {
					// a telemetry duplicate: one call (as ingest collapses it)
					k := [2]string{r.Trace, r.Span}
					if spans[k] {
						continue
					}
					spans[k] = true
				}
				pos := int32(0) // the call's place among its line's calls, as ingest stores it
				if b.pos != nil {
					pos = b.pos[i]
				}
				if err := fn(src, b.lineNos[i], pos, r); err != nil {
					return err
				}
			}
			return nil
		})
		closeFn()
		if err != nil {
			if ctx.Err() == nil {
				return &InputError{src, err}
			}
			return err
		}
	}
	return nil
}
