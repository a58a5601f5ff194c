package ingest

import (
	"encoding/binary"
	"reflect"
	"runtime"
	"sync"
	"unicode/utf8"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Writing a chunk's strings through duckdb-go costs two cgo calls a value
// (set valid, copy the string into the vector's heap): ten strings a call,
// twenty million cgo calls per million calls, a third of the feed's time.
// The feed writes DuckDB's vectors directly instead: a VARCHAR vector is
// an array of 16-byte string_t, each its length and either the string
// itself (up to 12 bytes) or its first 4 bytes and a pointer; the
// validity mask is a bitmap. Strings longer than 12 bytes are copied into
// an arena of the feed's own, pinned (runtime.Pinner) until the INSERT
// reading the feed has ended: DuckDB copies a chunk's strings into the
// table when the insert consumes it, before asking the same thread for
// its next chunk, so one arena per thread is reused chunk after chunk.
// This also keeps DuckDB's allocator out of the Go callback, where an
// out-of-memory exception (a full temp directory) would abort the process.
//
// duckdb-go keeps a vector's data and validity pointers private: they are
// found by field name with reflect once. If they are not there (another
// duckdb-go), the feed writes through VectorWriter as before.

// vecOffsets locates the pointers inside duckdb.Vector.
var vecOffsets = func() (o struct {
	ok         bool
	v          uintptr // Vector.v, a *vector
	data, mask uintptr // vector.dataPtr, vector.maskPtr
}) {
	vt := reflect.TypeOf(duckdb.Vector{})
	f, ok := vt.FieldByName("v")
	// fields of the structs themselves (Index of length 1), not of an
	// embedded one, whose offsets would be relative to it
	if !ok || len(f.Index) != 1 || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
		return o
	}
	inner := f.Type.Elem()
	d, ok1 := inner.FieldByName("dataPtr")
	m, ok2 := inner.FieldByName("maskPtr")
	up := reflect.TypeOf(unsafe.Pointer(nil))
	if !ok1 || !ok2 || len(d.Index) != 1 || len(m.Index) != 1 || d.Type != up || m.Type != up {
		return o
	}
	o.ok, o.v, o.data, o.mask = true, f.Offset, d.Offset, m.Offset
	return o
}()

// rawVector is a chunk vector's memory.
type rawVector struct {
	data unsafe.Pointer // the values (string_t for VARCHAR)
	mask unsafe.Pointer // validity: bit row of word row/64, 1 = valid
}

// rawOf returns vec's memory, or false when it cannot be found.
func rawOf(vec duckdb.Vector) (rawVector, bool) {
	if !vecOffsets.ok {
		return rawVector{}, false
	}
	inner := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(&vec), vecOffsets.v))
	if inner == nil {
		return rawVector{}, false
	}
	r := rawVector{
		data: *(*unsafe.Pointer)(unsafe.Add(inner, vecOffsets.data)),
		mask: *(*unsafe.Pointer)(unsafe.Add(inner, vecOffsets.mask)),
	}
	return r, r.data != nil && r.mask != nil
}

// setValid marks row valid or NULL.
func (r rawVector) setValid(row int, valid bool) {
	w := (*uint64)(unsafe.Add(r.mask, uintptr(row/64)*8))
	if valid {
		*w |= 1 << (row % 64)
	} else {
		*w &^= 1 << (row % 64)
	}
}

const stringInline = 12 // DuckDB's string_t holds up to 12 bytes itself

// arena holds the long strings of the chunks one DuckDB thread fills.
type arena struct {
	buf []byte // pinned
	n   int    // used by the chunk being filled
}

// setString writes s at row ("" is NULL). It returns false for a string
// that is not UTF-8 (DuckDB's VARCHAR must be): the caller writes it
// through duckdb-go, which decides what DuckDB makes of it.
func (r rawVector) setString(row int, s string, a *arena, pins *pinSet) bool {
	p := (*[16]byte)(unsafe.Add(r.data, uintptr(row)*16))
	if s == "" {
		*p = [16]byte{}
		r.setValid(row, false)
		return true
	}
	if !utf8.ValidString(s) {
		return false
	}
	binary.LittleEndian.PutUint32(p[:4], uint32(len(s)))
	if len(s) <= stringInline {
		// the unused bytes must be zero: DuckDB compares inlined strings whole
		copy(p[4:], s)
		clear(p[4+len(s):])
	} else {
		if a.n+len(s) > len(a.buf) {
			// a new arena; the old one stays pinned, its strings in this chunk
			// still point there
			a.buf, a.n = make([]byte, max(2*len(a.buf), len(s), 64<<10)), 0
			pins.pin(&a.buf[0])
			if arenaGrown != nil {
				arenaGrown(len(a.buf))
			}
		}
		dst := a.buf[a.n : a.n+len(s)]
		copy(dst, s)
		a.n += len(s)
		copy(p[4:8], s[:4])
		// stored as an integer: a pointer store into memory Go does not own
		// would run the GC's write barrier on the garbage it overwrites
		binary.LittleEndian.PutUint64(p[8:], uint64(uintptr(unsafe.Pointer(&dst[0]))))
	}
	r.setValid(row, true)
	return true
}

// arenaGrown, when set (tests), is called after an arena was replaced.
var arenaGrown func(size int)

// pinSet pins the arenas of one feed's INSERT.
type pinSet struct {
	mu sync.Mutex
	p  runtime.Pinner
}

func (s *pinSet) pin(ptr *byte) {
	s.mu.Lock()
	s.p.Pin(ptr)
	s.mu.Unlock()
}

// release unpins every arena: only once DuckDB has finished reading the
// feed (the INSERT has returned).
func (s *pinSet) release() {
	s.mu.Lock()
	s.p.Unpin()
	s.mu.Unlock()
}
