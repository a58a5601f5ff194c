package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/idemaudit/idemaudit/internal/config"
)

// readDocument reads a source that is one JSON document: an array of
// records, an object holding them (an API page: {"data": [...]}; an OTLP
// TracesData), or one record. Each record is located at the line where it
// begins. A syntax error stops the reading there: what came before is
// kept, the error is reported at its line as a malformed line.
func readDocument(ctx context.Context, r io.Reader, cfg *config.Config, keepArgs bool, spec *convSpec, deliver func(batch) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	p := Parser{cfg: cfg, keepArgs: keepArgs, conv: spec.converter()}
	b := batch{}
	lines := int64(bytes.Count(data, []byte{'\n'}))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	b.lines = lines
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		data = data[3:] // a byte order mark is not content; line numbers are unchanged
	}
	var lineOff, lineNo int64 = 0, 1
	lineAt := func(off int64) int64 {
		if off > int64(len(data)) {
			off = int64(len(data))
		}
		if off > lineOff {
			lineNo += int64(bytes.Count(data[lineOff:off], []byte{'\n'}))
			lineOff = off
		}
		return lineNo
	}
	// start of the next value from a decoder offset: past blanks, ',' and ':'
	startAt := func(off int64) int64 {
		for off < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n,:"), data[off]) >= 0 {
			off++
		}
		return off
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	fail := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			off = int64(len(data))
			err = errors.New("the document ends early")
		}
		ln := lineAt(off)
		b.malformed = append(b.malformed, Malformed{ln, fmt.Sprintf("invalid JSON: %v; the rest of the document (from line %d) was not read", err, ln)})
		return nil
	}
	// element decodes the next value, checks its bytes are valid UTF-8
	// (encoding/json would repair them silently) and converts it
	element := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := startAt(dec.InputOffset())
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		ln := lineAt(start)
		if end := dec.InputOffset(); !utf8.Valid(data[start:end]) {
			b.malformed = append(b.malformed, Malformed{ln, fmt.Sprintf("invalid UTF-8 at byte %d of the record", invalidUTF8At(data[start:end]))})
			return nil
		}
		p.importValue(v, ln, &b)
		return nil
	}
	array := func() error { // after its '['
		for dec.More() {
			if err := element(); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	err = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('['):
			if err := array(); err != nil {
				return err
			}
		case json.Delim('{'):
			// members: a list of records under a wrapper key is read record
			// by record; otherwise the object is itself one record
			start := lineAt(dec.InputOffset() - 1)
			obj := map[string]any{}
			wrapped := false
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if wrapperKeys[k] && !wrapped {
					next := startAt(dec.InputOffset())
					if next < int64(len(data)) && data[next] == '[' {
						if _, err := dec.Token(); err != nil {
							return err
						}
						wrapped = true
						if k == "resourceSpans" || k == "resource_spans" {
							// each ResourceSpans is read as a TracesData of its own
							for dec.More() {
								s := startAt(dec.InputOffset())
								var v any
								if err := dec.Decode(&v); err != nil {
									return err
								}
								p.importValue(map[string]any{"resourceSpans": []any{v}}, lineAt(s), &b)
							}
							if _, err := dec.Token(); err != nil {
								return err
							}
							continue
						}
						if err := array(); err != nil {
							return err
						}
						continue
					}
				}
				var v any
				if err := dec.Decode(&v); err != nil {
					return err
				}
				obj[k] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return err
			}
			if !wrapped {
				p.importValue(obj, start, &b)
			}
		default:
			return errors.New("the document is neither an array nor an object")
		}
		if _, err := dec.Token(); err != io.EOF {
			if err == nil {
				err = errors.New("more data after the document")
			}
			return err
		}
		return nil
	}()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fail(err)
	}
	return deliver(b)
}
