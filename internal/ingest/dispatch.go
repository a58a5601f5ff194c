package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/idemaudit/idemaudit/internal/config"
)

// convSpec says how the records of a source are converted to calls; nil:
// idemaudit's own JSON Lines, parsed directly (the fast path).
type convSpec struct {
	format Format
	im     *Import
}

func (s *convSpec) converter() *converter {
	if s == nil {
		return nil
	}
	return &converter{format: s.format, im: s.im}
}

// importLine reads one line of a converted source: a record (or a page of
// records) giving zero or more calls, numbered by their place in the line.
func (p *Parser) importLine(line []byte, ln int64, b *batch) {
	v, err := decodeJSON(line)
	if err != nil {
		b.malformed = append(b.malformed, Malformed{ln, "invalid JSON: " + err.Error()})
		return
	}
	p.importValue(v, ln, b)
}

// importValue converts one decoded record and parses the calls it gives.
func (p *Parser) importValue(v any, ln int64, b *batch) {
	var pos int32 // after the calls of this line already read (a document holds several records on a line)
	for i := len(b.lineNos) - 1; i >= 0 && b.lineNos[i] == ln; i-- {
		pos++
	}
	var bad []recordError
	skipped, convBad := p.conv.convert(v, func(n *nativeCall) {
		if err := n.encode(&p.convBuf); err != nil {
			bad = append(bad, recordError{n.reference, err})
			return
		}
		var r Record
		if err := p.Parse(p.convBuf.Bytes(), &r); err != nil {
			bad = append(bad, recordError{n.reference, err})
			return
		}
		b.records = append(b.records, r)
		b.lineNos = append(b.lineNos, ln)
		b.pos = append(b.pos, pos)
		pos++
	})
	b.skipped += int64(skipped)
	b.imported = p.conv.format.Imported()
	p.flushSessions(b)
	b.links = append(b.links, p.conv.links...)
	p.conv.links = p.conv.links[:0]
	bad = append(convBad, bad...)
	if len(bad) > 0 {
		msg := bad[0].err.Error()
		if bad[0].ref != "" {
			msg = bad[0].ref + ": " + msg
		}
		if len(bad) > 1 {
			msg += fmt.Sprintf(" (and %d more records of this line)", len(bad)-1)
		}
		b.malformed = append(b.malformed, Malformed{ln, msg})
	}
}

// flushSessions hands the conversations of the trace records read so far
// to the batch.
func (p *Parser) flushSessions(b *batch) {
	if len(p.conv.sessions) == 0 {
		return
	}
	if b.sessions == nil {
		b.sessions = map[string]string{}
	}
	for k, v := range p.conv.sessions {
		b.sessions[k] = v
	}
	clear(p.conv.sessions)
}

// emptyPageAt reports whether a source opens with an empty page of records.
func emptyPageAt(head []byte) bool {
	first, _, _ := bytes.Cut(bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf"), []byte{'\n'})
	v, err := decodeJSON(bytes.TrimSpace(first))
	m, ok := v.(map[string]any)
	return err == nil && ok && m["action_type"] == nil && emptyPage(m)
}

// sniffSize is how much of a source is looked at to tell its format.
const sniffSize = 1 << 20

// layout is how a source was read.
type layout struct {
	format    Format
	lineBased bool // JSON Lines: a grown file can be resumed after its last complete line
	document  bool // JSON documents (see docRead)
}

// docRead carries what resuming a stream of JSON documents needs. A
// stream of documents (jq . output: pretty-printed records one after the
// other) that grows is resumed after the line where its last complete
// top-level value ends, like a log after its last complete line. In: the
// earlier segment was read as documents (resume says so; its lines are
// read as documents again, from first) and the hash state where this
// reading starts. Out: that line end (safe), and whether anything follows
// it (open: a value being written, or one that does not end its line, is
// read again, whole, when the file grows).
type docRead struct {
	resume bool
	base   hashState
	safe   lineEnd
	open   bool
}

// readSource reads one source whatever its format: JSON Lines (of any
// format), one JSON document (an array, or an object holding records), or
// Parquet (path names the file; DuckDB reads it). known is the format of
// the source's earlier segment, when a grown source is resumed; doc, when
// not nil, how documents are resumed (see docRead).
func readSource(ctx context.Context, r io.Reader, path string, first int64, tl *tail, cfg *config.Config, keepArgs bool,
	im *Import, known Format, doc *docRead, deliver func(batch) error) (layout, error) {
	if im == nil {
		im = &Import{}
	}
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return layout{}, err
	}
	if bytes.HasPrefix(head, []byte("PAR1")) && first == 1 {
		if path == "" {
			return layout{}, errors.New("a Parquet file cannot be read from a stream; name the file")
		}
		// the bytes are hashed like any source's; DuckDB reads the file
		if _, err := io.Copy(io.Discard, br); err != nil {
			return layout{}, err
		}
		f, err := readParquet(ctx, path, cfg, keepArgs, im, deliver)
		return layout{format: f}, err
	}
	isDoc, sniffed := sniff(head)
	f := im.From
	if f == "" || f == FormatAuto {
		f = known
		if f == "" {
			f = sniffed
		}
		if f == "" {
			f = FormatJSONL
		}
	}
	var spec *convSpec
	if f == FormatJSONL && sniffed == "" && emptyPageAt(head) {
		spec = &convSpec{f, im} // an empty page of an export: the converter knows it holds nothing
	}
	if spec != nil || f != FormatJSONL || len(im.Map) > 0 || bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf"), []byte{'['}) {
		spec = &convSpec{f, im} // the native parser reads objects only: arrays of calls go through the converter
	}
	if (isDoc && first == 1) || (doc != nil && doc.resume) {
		if spec == nil {
			spec = &convSpec{f, im}
		}
		if doc == nil {
			doc = &docRead{}
		}
		return layout{format: f, document: true}, readDocument(ctx, br, first, cfg, keepArgs, spec, doc, deliver)
	}
	return layout{format: f, lineBased: true}, parseAll(ctx, br, first, tl, cfg, keepArgs, spec, deliver)
}
