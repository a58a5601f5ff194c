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
// TracesData), or one record — or several in a row. Each record is located
// at the line where it begins. A syntax error is reported at its line as a
// malformed line, with the lines it made unreadable: what came before is
// kept, and reading resumes at the next line where a document begins (see
// resync.go). firstLine is the number of r's first line (after the known
// beginning of a stream of documents that grew); doc gets the line end to
// resume after.
func readDocument(ctx context.Context, r io.Reader, firstLine int64, cfg *config.Config, keepArgs bool, spec *convSpec, doc *docRead, deliver func(batch) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	whole := data
	p := Parser{cfg: cfg, keepArgs: keepArgs, conv: spec.converter()}
	b := batch{}
	lines := int64(bytes.Count(data, []byte{'\n'}))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	b.lines = lines
	bom := 0
	if firstLine == 1 && bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		data, bom = data[3:], 3 // a byte order mark is not content; line numbers are unchanged
	}
	lineOff, lineNo := int64(0), firstLine
	lineAt := func(off int64) int64 { // forward, or back over what a syntax error skipped
		off = min(off, int64(len(data)))
		if off > lineOff {
			lineNo += int64(bytes.Count(data[lineOff:off], []byte{'\n'}))
		} else {
			lineNo -= int64(bytes.Count(data[off:lineOff], []byte{'\n'}))
		}
		lineOff = off
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
	base := int64(0)                                        // where dec's input begins: after a syntax error, where reading resumed
	pos := func() int64 { return base + dec.InputOffset() } // dec's offset in data
	top := int64(0)                                         // where the top-level value being read begins
	readTo := int64(0)                                      // where the last record read (or reported) ends
	var rs *resyncer
	// resync reports the syntax error err and returns where reading
	// resumes, or -1 (the error ends the reading)
	resync := func(err error) int64 {
		off := pos()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// the decoder's offset leaves out what Token calls consumed:
			// decoding the top-level value again, whole, from its start
			// finds the error's place (and says what was expected there,
			// which Token does not always)
			again := json.NewDecoder(bytes.NewReader(data[top:]))
			if errors.As(again.Decode(new(skipValue)), &se) {
				off, err = top+se.Offset, se
			} else {
				off = max(base+se.Offset, off)
			}
		}
		truncated := errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
		if truncated {
			off = int64(len(data))
		}
		last := firstLine - 1 + lines
		ln := lineAt(off)
		if ln > last && lines > 0 {
			ln = last // the end of a document with a final newline is its last line
		}
		// what was not read: from the first value after the last record
		// read (a record cut by the error is skipped whole)
		from := lineAt(min(startAt(readTo), off))
		if truncated {
			// every byte up to the end is a valid beginning of this one
			// value: nothing in it shows where another would begin (a
			// document being written is read again, whole, when it grows)
			b.malformed = append(b.malformed, Malformed{ln, fmt.Sprintf("truncated JSON: the document ends inside a value; %s not read (the records before them were)", lineSpan(from, max(ln, from)))})
			return -1
		}
		at := int64(rs.next(int(max(startAt(readTo), top+1))))
		if at < 0 {
			b.malformed = append(b.malformed, Malformed{ln, fmt.Sprintf("invalid JSON: %v; %s not read: no later line begins a whole document", err, lineSpan(from, max(last, ln, from)))})
			return -1
		}
		resumed := lineAt(at)
		switch {
		case ln < resumed:
			b.malformed = append(b.malformed, Malformed{ln, fmt.Sprintf("invalid JSON: %v; %s skipped, reading resumed at line %d", err, lineSpan(from, resumed-1), resumed)})
		default:
			// the error lies after the line where a document begins: the
			// one before it was never closed
			msg := fmt.Sprintf("invalid JSON: the document from line %d is not closed before line %d, where the next one begins", lineAt(top), resumed)
			if from < resumed {
				msg += fmt.Sprintf("; %s skipped", lineSpan(from, resumed-1))
			}
			b.malformed = append(b.malformed, Malformed{max(resumed-1, lineAt(top)), msg})
		}
		return at
	}
	// decode reads the next value, with the line it begins on; ok is false
	// (and a malformed line recorded) when its bytes are not valid UTF-8,
	// which encoding/json would repair silently
	decode := func() (v any, ln int64, ok bool, err error) {
		if err := ctx.Err(); err != nil {
			return nil, 0, false, err
		}
		start := startAt(pos())
		if err := dec.Decode(&v); err != nil {
			return nil, 0, false, err
		}
		ln = lineAt(start)
		if end := pos(); !utf8.Valid(data[start:end]) {
			b.malformed = append(b.malformed, Malformed{ln, fmt.Sprintf("invalid UTF-8 at byte %d of the record", invalidUTF8At(data[start:end]))})
			return nil, ln, false, nil
		}
		return v, ln, true, nil
	}
	// next is the first byte of the next value
	next := func() byte {
		if off := startAt(pos()); off < int64(len(data)) {
			return data[off]
		}
		return 0
	}
	expect := func(d json.Delim) error {
		tok, err := dec.Token()
		if err == nil && tok != d {
			err = fmt.Errorf("want %q", d)
		}
		return err
	}
	var object func() error
	inObject := 0           // the objects being read member by member
	array := func() error { // records, after the array's '['
		for dec.More() {
			if spec.format == FormatOTLP && inObject == 0 && next() == '{' {
				// a TracesData (or Tempo's {"batches": ...}) in the
				// top-level array is read span by span as well, each span
				// at its line (only there: nesting stays bounded)
				if err := object(); err != nil {
					return err
				}
				continue
			}
			v, ln, ok, err := decode()
			if err != nil {
				return err
			}
			if ok {
				p.importValue(v, ln, &b)
			}
			readTo = pos()
		}
		return expect(']')
	}
	// members reads an object member by member; a value member does not
	// consume is decoded into keep (when valid UTF-8)
	members := func(member func(k string) (bool, error), keep map[string]any) error {
		if err := expect('{'); err != nil {
			return err
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			done, err := member(k)
			if err != nil {
				return err
			}
			if done {
				continue
			}
			v, _, ok, err := decode()
			if err != nil {
				return err
			}
			if ok {
				keep[k] = v
			}
		}
		return expect('}')
	}
	// each runs fn on the elements of an array that are objects, after
	// decoding away the others
	each := func(fn func() error) error {
		if err := expect('['); err != nil {
			return err
		}
		for dec.More() {
			var err error
			if next() == '{' {
				err = fn()
			} else {
				_, _, _, err = decode()
			}
			if err != nil {
				return err
			}
		}
		return expect(']')
	}
	// values decodes the values of an array one by one, each to fn with
	// the line it begins at (one that is not valid UTF-8 is left out, as
	// decode says)
	values := func(fn func(v any, ln int64)) error {
		if err := expect('['); err != nil {
			return err
		}
		for dec.More() {
			v, ln, ok, err := decode()
			if err != nil {
				return err
			}
			if ok {
				fn(v, ln)
			}
		}
		return expect(']')
	}
	// resourceSpans reads the ResourceSpans of an OTLP document span by
	// span, each located at the line it begins, as a TracesData of its own
	resourceSpans := func() error { // at the array's '['
		return each(func() error {
			res := map[string]any{}
			type located struct {
				scope map[string]any
				span  any
				line  int64
			}
			var spans []located
			err := members(func(k string) (bool, error) {
				if (k != "scopeSpans" && k != "scope_spans" && k != "instrumentationLibrarySpans") || next() != '[' {
					return false, nil
				}
				return true, each(func() error {
					scope := map[string]any{}
					first := len(spans)
					err := members(func(sk string) (bool, error) {
						if sk != "spans" || next() != '[' {
							return false, nil
						}
						return true, values(func(v any, ln int64) { spans = append(spans, located{span: v, line: ln}) })
					}, scope)
					for i := first; i < len(spans); i++ {
						spans[i].scope = scope
					}
					return err
				})
			}, res)
			if err != nil {
				return err
			}
			for _, l := range spans {
				p.importValue(map[string]any{"resourceSpans": []any{map[string]any{"resource": res["resource"], "scopeSpans": []any{
					map[string]any{"scope": l.scope["scope"], "spans": []any{l.span}}}}}}, l.line, &b)
			}
			readTo = pos()
			return nil
		})
	}
	// value reads one top-level value: an array of records, an object
	// holding them, or one record
	value := func() error {
		switch next() {
		case '[':
			if err := expect('['); err != nil {
				return err
			}
			if err := array(); err != nil {
				return err
			}
		case '{':
			if err := object(); err != nil {
				return err
			}
		default:
			if _, err := dec.Token(); err != nil {
				return err
			}
			return errors.New("the document is neither an array nor an object")
		}
		return nil
	}
	// object reads an object member by member: a list of records under a
	// wrapper key is read record by record (not for idemaudit's own calls:
	// a call may hold any member); otherwise the object is itself one record
	object = func() error {
		inObject++
		defer func() { inObject-- }()
		start := startAt(pos())
		if err := expect('{'); err != nil {
			return err
		}
		obj := map[string]any{}
		wrapped, valid := false, true
		type located struct {
			span any
			line int64
		}
		var jaegerSpans []located // a Jaeger Trace's, read once its processes are known
		var mlflowSpans []located // an MLflow trace's, read once its info is known
		var badMember *Malformed  // the first member decoded whole here that is not valid UTF-8
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			// Jaeger's classic JSON: {"data": [Trace...]} (the query API,
			// Jaeger UI's downloads), or one Trace {"traceID", "spans":
			// [...], "processes": {...}}: span by span too, each read
			// with the processes that follow the spans
			if spec.format == FormatOTLP && !wrapped && inObject == 1 && k == "data" && next() == '[' {
				wrapped = true
				if err := each(object); err != nil {
					return err
				}
				continue
			}
			if spec.format == FormatOTLP && !wrapped && inObject <= 2 && k == "spans" && next() == '[' {
				wrapped = true
				if err := values(func(v any, ln int64) { jaegerSpans = append(jaegerSpans, located{v, ln}) }); err != nil {
					return err
				}
				continue
			}
			// MLflow's trace JSON: {"info": {...}, "data": {"spans":
			// [...]}} (Trace.to_json(pretty=True)), alone or in an array:
			// span by span too, each read with the info, before or after
			// them (jq -S puts data first)
			if spec.format == FormatOTLP && !wrapped && inObject == 1 && k == "data" && next() == '{' {
				data := map[string]any{}
				var spans []located
				found := false
				if err := members(func(dk string) (bool, error) {
					if dk != "spans" || found || next() != '[' {
						return false, nil
					}
					found = true
					return true, values(func(v any, ln int64) { spans = append(spans, located{v, ln}) })
				}, data); err != nil {
					return err
				}
				if found {
					mlflowSpans = spans
					all := make([]any, len(spans))
					for i, l := range spans {
						all[i] = l.span
					}
					data["spans"] = all
				}
				obj[k] = data
				continue
			}
			// Grafana Tempo: {"batches": [ResourceSpans...]}, or
			// {"trace": {"resourceSpans": [...]}}; Jaeger's api_v3:
			// {"result": {"resourceSpans": [...]}}: span by span too
			if spec.format == FormatOTLP && !wrapped && k == "batches" && next() == '[' {
				wrapped = true
				if err := resourceSpans(); err != nil {
					return err
				}
				continue
			}
			if spec.format == FormatOTLP && !wrapped && (k == "trace" || k == "result") && next() == '{' {
				wrapped = true
				if err := members(func(ik string) (bool, error) {
					if (ik == "resourceSpans" || ik == "resource_spans" || ik == "batches") && next() == '[' {
						return true, resourceSpans()
					}
					return false, nil
				}, map[string]any{}); err != nil {
					return err
				}
				continue
			}
			if wrapperKeys[k] && !wrapped && spec.format != FormatJSONL && next() == '[' {
				wrapped = true
				if k == "resourceSpans" || k == "resource_spans" {
					if err := resourceSpans(); err != nil {
						return err
					}
					continue
				}
				if err := expect('['); err != nil {
					return err
				}
				if err := array(); err != nil {
					return err
				}
				continue
			}
			if spec.format == FormatOTLP && k == "processes" {
				// a Jaeger Trace's, checked as its spans are (one not
				// valid UTF-8 is reported; the spans are read without it)
				v, _, ok, err := decode()
				if err != nil {
					return err
				}
				if ok {
					obj[k] = v
				}
				continue
			}
			var v any
			at := startAt(pos())
			if err := dec.Decode(&v); err != nil {
				return err
			}
			if end := pos(); spec.format == FormatOTLP && badMember == nil && !utf8.Valid(data[at:end]) {
				// encoding/json repairs it silently; a record read whole
				// is checked whole below, a trace read span by span is not
				badMember = &Malformed{lineAt(at), fmt.Sprintf("invalid UTF-8 at byte %d of the %q member", invalidUTF8At(data[at:end]), k)}
			}
			obj[k] = v
		}
		if err := expect('}'); err != nil {
			return err
		}
		for _, l := range jaegerSpans {
			p.importValue(map[string]any{"traceID": obj["traceID"], "spans": []any{l.span}, "processes": obj["processes"]}, l.line, &b)
		}
		if mlflowSpans != nil && isMLflowTrace(obj) && badMember != nil {
			// its info (the session, the trace id) repaired would join
			// traces that differ, as read from JSON Lines it is malformed
			wrapped = true
			badMember.Error += fmt.Sprintf(" of an MLflow trace; its %d spans not read", len(mlflowSpans))
			b.malformed = append(b.malformed, *badMember)
		} else if mlflowSpans != nil && isMLflowTrace(obj) {
			wrapped = true
			for _, l := range mlflowSpans {
				p.importValue(map[string]any{"info": obj["info"], "data": map[string]any{"spans": []any{l.span}}}, l.line, &b)
			}
		}
		if wrapped && spec.format == FormatLangfuse {
			// a trace with its observations (GET /api/public/traces/{id})
			p.conv.traceSession(scalar(obj["id"]), scalar(first(obj, "sessionId", "session_id")))
		}
		readTo = pos()
		if !wrapped {
			ln := lineAt(start)
			if end := pos(); !utf8.Valid(data[start:end]) {
				b.malformed = append(b.malformed, Malformed{ln, fmt.Sprintf("invalid UTF-8 at byte %d of the record", invalidUTF8At(data[start:end]))})
				valid = false
			}
			if valid {
				p.importValue(obj, ln, &b)
			}
		}
		return nil
	}
	// one document, or several in a row (jq . of JSON Lines writes them so);
	// a value that ends its line ends a part that is never read again
	safe := 0
	for {
		err = func() error {
			for next() != 0 {
				top = startAt(pos())
				if rs == nil {
					rs = newResyncer(ctx, data, top)
				}
				if err := value(); err != nil {
					return err
				}
				end := int(pos())
				readTo = int64(end)
				if i := bytes.IndexByte(data[end:], '\n'); i >= 0 && len(bytes.Trim(data[end:end+i], " \t\r")) == 0 {
					safe = end + i + 1
				}
			}
			return nil
		}()
		if err == nil || ctx.Err() != nil {
			break
		}
		at := resync(err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if at < 0 {
			err = nil
			break
		}
		dec, base = json.NewDecoder(bytes.NewReader(data[at:])), at
		dec.UseNumber()
	}
	doc.safe = doc.base.extend(nil)
	if safe > 0 {
		doc.safe = doc.base.extend(whole[:bom+safe])
	}
	doc.open = len(whole) > int(doc.safe.bytes-doc.base.n)
	if err != nil {
		return ctx.Err() // interrupted
	}
	p.flushSessions(&b) // trace records after the last call
	return deliver(b)
}

// lineSpan names the lines from a to b: "line 7", "lines 6–10".
func lineSpan(a, b int64) string {
	if a == b {
		return fmt.Sprintf("line %d", a)
	}
	return fmt.Sprintf("lines %d–%d", a, b)
}
