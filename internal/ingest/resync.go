package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
)

// A stream of JSON documents (jq . of a log: pretty-printed records one
// after the other) that holds a syntax error is read on after it: reading
// resumes at the next line where a top-level document plausibly begins.
// Such a line starts, at the indentation of the stream's first document
// (jq writes top-level values at column 0 and indents what they hold),
// with '{' or '['; it is taken only when a whole JSON value begins there
// that ends its line and is followed by something other than ',', ']',
// '}' or ':' (an element or a member of an unclosed value is followed by
// one of them). A candidate '{' value may hold no other such line, a '['
// value no other line opening with '[' (an array may hold its records one
// per line at its own column): a candidate is read no further than the
// next one, which keeps resynchronising linear in the size of the file.

// resyncer finds where reading resumes after a syntax error in data.
type resyncer struct {
	ctx    context.Context
	data   []byte
	indent []byte // what precedes the stream's first value on its line
}

// newResyncer takes the indentation of the stream's first value, at first.
func newResyncer(ctx context.Context, data []byte, first int64) *resyncer {
	ls := bytes.LastIndexByte(data[:first], '\n') + 1
	indent := data[ls:first]
	if len(bytes.Trim(indent, " \t")) > 0 {
		indent = nil // a value after others on its line: its stream's are at column 0
	}
	return &resyncer{ctx: ctx, data: data, indent: indent}
}

// opens reports whether the line beginning at ls opens, at the stream's
// indentation, with one of the bytes of set; at is where its value begins.
func (r *resyncer) opens(ls int, set string) (at int, ok bool) {
	at = ls + len(r.indent)
	if at >= len(r.data) || !bytes.HasPrefix(r.data[ls:], r.indent) {
		return 0, false
	}
	return at, bytes.IndexByte([]byte(set), r.data[at]) >= 0
}

// next returns where the first document reading may resume at begins, at
// or after from, or -1 when none does (or the context is done).
func (r *resyncer) next(from int) int {
	ls := bytes.LastIndexByte(r.data[:from], '\n') + 1
	for ls < len(r.data) && r.ctx.Err() == nil {
		if at, ok := r.opens(ls, "{["); ok && at >= from && r.whole(at) {
			return at
		}
		i := bytes.IndexByte(r.data[ls:], '\n')
		if i < 0 {
			break
		}
		ls += i + 1
	}
	return -1
}

// whole reports whether a document reading may resume at begins at at.
func (r *resyncer) whole(at int) bool {
	stop := "{["
	if r.data[at] == '[' {
		stop = "["
	}
	dec := json.NewDecoder(&upTo{r: r, rest: r.data[at:], stop: stop})
	if dec.Decode(new(skipValue)) != nil {
		return false
	}
	end := at + int(dec.InputOffset())
	for end < len(r.data) && (r.data[end] == ' ' || r.data[end] == '\t' || r.data[end] == '\r') {
		end++
	}
	if end < len(r.data) && r.data[end] != '\n' {
		return false // more on the line where it ends
	}
	for end < len(r.data) && bytes.IndexByte([]byte(" \t\r\n"), r.data[end]) >= 0 {
		end++
	}
	return end == len(r.data) || bytes.IndexByte([]byte(",]}:"), r.data[end]) < 0
}

// upTo reads rest up to the first line that opens, at the stream's
// indentation, with a byte of stop.
type upTo struct {
	r    *resyncer
	rest []byte
	stop string
}

func (u *upTo) Read(p []byte) (int, error) {
	if len(u.rest) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(u.rest))
	for i := 0; i < n; {
		j := bytes.IndexByte(u.rest[i:n], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		if _, ok := u.r.opens(len(u.r.data)-len(u.rest)+i, u.stop); ok {
			n, u.rest = i, u.rest[:i]
			break
		}
	}
	copy(p, u.rest[:n])
	u.rest = u.rest[n:]
	return n, nil
}

// skipValue takes a value the decoder has checked, and keeps nothing of it.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }
