package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// Format is the shape of a source's records: idemaudit's own JSON Lines, or
// a trace export whose tool-call spans are read as calls.
type Format string

const (
	FormatAuto         Format = "auto"
	FormatJSONL        Format = "jsonl"
	FormatOTLP         Format = "otlp"
	FormatLangfuse     Format = "langfuse"
	FormatLangSmith    Format = "langsmith"
	FormatOpenAIAgents Format = "openai-agents"
)

// Formats are the values --from accepts.
var Formats = []Format{FormatAuto, FormatJSONL, FormatOTLP, FormatLangfuse, FormatLangSmith, FormatOpenAIAgents}

// ParseFormat reads a --from value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("--from %q: want one of %s", s, strings.Join(names, ", "))
}

// Imported reports whether a format is a trace export (its calls are spans,
// collapsed on (trace id, span id) when exported twice).
func (f Format) Imported() bool { return f != FormatJSONL && f != FormatAuto && f != "" }

// Fields are the fields of a call, as --map names them.
var Fields = []string{"ts", "action_type", "idempotency_key", "response_id", "session_id", "trace_id",
	"span_id", "run_id", "args", "status", "effect", "duration_ms"}

// DefaultKeyPaths are where a trace import looks for the idempotency key:
// in the args, then in the span's attributes (OTLP), metadata (Langfuse,
// LangSmith). Never the tool-call id: it is the model's, not sent
// downstream, and new whenever the agent calls the tool again.
var DefaultKeyPaths = []string{"idempotency_key", "Idempotency-Key", "idempotency.key", "idempotencyKey", "headers.Idempotency-Key"}

// DefaultResponsePaths are where a trace import looks for the response id:
// in the tool's result.
var DefaultResponsePaths = []string{"id", "response_id"}

// Import says how sources are read.
type Import struct {
	From Format // auto (detect per source) when empty
	// Map gives, for a JSON Lines log of another shape, the dotted path of
	// each field in its records (--map field=path); unmapped fields keep
	// their own names.
	Map map[string]string
	// KeyPaths and ResponsePaths replace the defaults for trace imports:
	// dotted paths into args, result, attributes (metadata), with an
	// optional root ("args.", "result.", "attributes.", "metadata.").
	KeyPaths      []string
	ResponsePaths []string
	// ToolSpans are globs of span (observation) names read as tool calls
	// besides the ones the format marks as such.
	ToolSpans []string
}

// Settings says in words the settings that shaped how a source of format
// f was read ("" for the defaults): a source read again with other settings
// is read anew.
func (im *Import) Settings(f Format) string {
	if im == nil {
		return ""
	}
	var parts []string
	if f == FormatJSONL || f == "" {
		if len(im.Map) > 0 {
			parts = append(parts, "map "+im.describeMap())
		}
	} else {
		if im.KeyPaths != nil {
			parts = append(parts, "key-path "+strings.Join(im.KeyPaths, ","))
		}
		if im.ResponsePaths != nil {
			parts = append(parts, "response-path "+strings.Join(im.ResponsePaths, ","))
		}
		if len(im.ToolSpans) > 0 {
			parts = append(parts, "tool-spans "+strings.Join(im.ToolSpans, ","))
		}
	}
	return strings.Join(parts, "; ")
}

// relevant reports whether a setting was given that bears on how a source
// of format f is read: --from, or one of f's own (--map for JSON Lines;
// --key-path, --response-path, --tool-spans for trace exports).
func (im *Import) relevant(f Format) bool {
	return im != nil && ((im.From != "" && im.From != FormatAuto) || im.Settings(f) != "")
}

// parseSettings is the Import that Settings described (for format f): how
// a source was read, so its new lines are read the same way.
func parseSettings(f Format, s string) *Import {
	im := &Import{}
	for _, part := range strings.Split(s, "; ") {
		name, v, _ := strings.Cut(part, " ")
		switch name {
		case "map":
			for _, m := range strings.Split(v, ", ") {
				if field, path, ok := strings.Cut(m, "="); ok {
					if im.Map == nil {
						im.Map = map[string]string{}
					}
					im.Map[field] = path
				}
			}
		case "key-path":
			im.KeyPaths = strings.Split(v, ",")
		case "response-path":
			im.ResponsePaths = strings.Split(v, ",")
		case "tool-spans":
			im.ToolSpans = strings.Split(v, ",")
		}
	}
	if im.Settings(f) != s {
		return nil // not a description this version writes: read with the defaults
	}
	return im
}

// Given reports whether any import setting was given (not all defaults).
func (im *Import) Given() bool {
	return im != nil && ((im.From != "" && im.From != FormatAuto) || len(im.Map) > 0 || im.KeyPaths != nil ||
		im.ResponsePaths != nil || len(im.ToolSpans) > 0)
}

// AddMap adds a --map field=path entry.
func (im *Import) AddMap(spec string) error {
	f, path, ok := strings.Cut(spec, "=")
	f, path = strings.TrimSpace(f), strings.TrimSpace(path)
	if !ok || f == "" || path == "" {
		return fmt.Errorf("--map %q: want FIELD=PATH, e.g. --map action_type=tool.name", spec)
	}
	known := false
	for _, k := range Fields {
		known = known || k == f
	}
	if !known {
		return fmt.Errorf("--map %q: unknown field %q (fields: %s)", spec, f, strings.Join(Fields, ", "))
	}
	if im.Map == nil {
		im.Map = map[string]string{}
	}
	if _, dup := im.Map[f]; dup {
		return fmt.Errorf("--map %q: field %s is mapped twice", spec, f)
	}
	im.Map[f] = path
	return nil
}

// Describe says in words how a format's calls are read, for help and errors.
func (im *Import) describeMap() string {
	var parts []string
	for f, p := range im.Map {
		parts = append(parts, f+"="+p)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// wrapperKeys name the members of an object that hold a list of records
// (API pages: {"data": [...]}, {"runs": [...]}); resourceSpans is the list
// of an OTLP TracesData.
var wrapperKeys = map[string]bool{"data": true, "runs": true, "observations": true, "items": true, "spans": true,
	"records": true, "resourceSpans": true, "resource_spans": true}

// has reports whether m has the member k, null or not.
func has(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// detect tells the format of one decoded record; "" when it has no mark of any.
func detect(v any) Format {
	m, ok := v.(map[string]any)
	if !ok {
		if a, ok := v.([]any); ok && len(a) > 0 {
			return detect(a[0])
		}
		return ""
	}
	_, batches := m["batches"].([]any)
	_, spanData := m["span_data"].(map[string]any)
	switch {
	// a call record first: its other members may be named anything
	// (unknown fields are ignored), "run_type" or "batches" included
	case m["action_type"] != nil:
		return FormatJSONL
	case m["resourceSpans"] != nil || m["resource_spans"] != nil:
		return FormatOTLP
	case batches || asObject(m["trace"])["resourceSpans"] != nil: // Grafana Tempo
		return FormatOTLP
	case asObject(m["result"])["resourceSpans"] != nil: // Jaeger's api_v3
		return FormatOTLP
	case isJaegerTrace(m): // Jaeger's classic JSON: a Trace, or {"data": [Trace...]} (below)
		return FormatOTLP
	case isConsoleSpan(m): // Python's ConsoleSpanExporter: a span as to_json writes it
		return FormatOTLP
	case isGoStdoutSpan(m): // Go's stdouttrace exporter: a span as its SpanStub marshals
		return FormatOTLP
	case isJaegerError(m): // Jaeger's query API answering with an error, no trace
		return FormatOTLP
	case isMLflowTrace(m): // MLflow's trace JSON: {"info", "data": {"spans": [...]}}
		return FormatOTLP
	case m["object"] == "trace.span" || m["object"] == "trace" || spanData:
		return FormatOpenAIAgents
	case m["run_type"] != nil:
		return FormatLangSmith
	case m["type"] != nil && (has(m, "traceId") || has(m, "trace_id")) && (m["startTime"] != nil || m["start_time"] != nil):
		return FormatLangfuse // (a trace id column may be null in a row: its presence tells)
	}
	for k := range wrapperKeys {
		if a, ok := m[k].([]any); ok && len(a) > 0 {
			if f := detect(a[0]); f != "" {
				return f
			}
		}
	}
	return ""
}

// The member names that mark a format in a record too long to decode from
// the sniffed bytes.
var (
	markJSONL     = regexp.MustCompile(`"action_type"\s*:`)
	markOTLP      = regexp.MustCompile(`"resourceSpans"\s*:`)
	markJaeger    = regexp.MustCompile(`"spans"\s*:\s*\[\s*\{\s*"(?:traceID|duration)"\s*:`) // a Jaeger Trace's first span (keys sorted: jq -S)
	markAgents    = regexp.MustCompile(`"object"\s*:\s*"trace\.span"|"span_data"\s*:\s*\{`)
	markLangSmith = regexp.MustCompile(`"run_type"\s*:`)
	// the span attributes Langfuse keeps in an observation made of an
	// OpenTelemetry span
	markLangfuseAttrs = regexp.MustCompile(`"metadata"\s*:\s*\{\s*"attributes"\s*:\s*\{`)
)

// nextLine takes the next line that is not blank off *rest, trimmed
// (nil when there is none).
func nextLine(rest *[]byte) []byte {
	for len(*rest) > 0 {
		var line []byte
		line, *rest, _ = bytes.Cut(*rest, []byte{'\n'})
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line
		}
	}
	return nil
}

// openingLine is the offset of the first line of b that is '{' alone at
// its left margin (a document printed over several lines opens so), -1
// if none.
func openingLine(b []byte) int {
	for at := 0; at < len(b); {
		line, _, found := bytes.Cut(b[at:], []byte{'\n'})
		if t := bytes.TrimRight(line, " \t\r"); len(t) == 1 && t[0] == '{' { // at the left margin: not one nested in a document
			return at
		}
		if !found {
			break
		}
		at += len(line) + 1
	}
	return -1
}

// sniff guesses the format of a stream from its first bytes: whether it
// is one JSON document (an array, or a pretty-printed object) rather than
// JSON Lines, and the format of its first recognisable record.
func sniff(head []byte) (doc bool, f Format) {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) == 0 {
		return false, ""
	}
	if trimmed[0] == '[' {
		// one array over several lines; a file of one array per line is JSON
		// Lines, even when its first line is broken (cut short): the next
		// line is an array of its own
		first, rest, _ := bytes.Cut(trimmed, []byte{'\n'})
		doc = !json.Valid(first) || len(bytes.TrimSpace(rest)) == 0
		if doc && !json.Valid(first) {
			// the next line decides: an array of its own (JSON Lines of
			// arrays), or a whole value not followed by a comma, nor by the
			// closing bracket (the elements of an array are separated by
			// commas: a broken first line of JSON Lines of objects). The
			// comma may open the line after the value: an array written
			// comma-first (",{…}", or "," alone) is a document.
			next := nextLine(&rest)
			switch {
			case len(next) > 0 && next[0] == '[' && json.Valid(next):
				doc = false
			case len(next) > 0 && json.Valid(next):
				after := nextLine(&rest)
				doc = len(after) == 0 || after[0] == ']' || after[0] == ','
			}
		}
	} else if first, rest, _ := bytes.Cut(trimmed, []byte{'\n'}); !json.Valid(first) {
		// an object over several lines (pretty-printed, or a page whose
		// records sit on lines of their own) — not a broken first line of
		// JSON Lines: the first value must decode whole across lines, or,
		// cut short (by the sniff, or by its writer: a document being
		// written, read again whole when it grows), open with '{' alone on
		// its line. So does a first document with a syntax error, whose
		// next line is no JSON value of its own (a member: "key": value,);
		// it is reported, and reading resumes after it.
		// A first value that ends on the first line, with more after it
		// there ({…},  {…} x,  {…}{…}), is a broken line of JSON Lines: read
		// as a document, the rest of the file would be lost after it.
		var v any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if err := dec.Decode(&v); err == nil {
			doc = dec.InputOffset() > int64(len(first))
		} else if len(bytes.TrimSpace(first)) == 1 {
			// cut short; or broken, with a member next ("key": value,).
			// A next line opening with '{' or '[' is a record of JSON
			// Lines, broken or not ('{' cannot follow '{'), however
			// long the file: read as documents, its lines would go
			// through the converter (other readings of lone surrogates,
			// an array line taken for records), the whole file in memory
			next := nextLine(&rest)
			doc = errors.Is(err, io.ErrUnexpectedEOF) || (len(next) > 0 && next[0] == '"' && !json.Valid(next))
		}
		// lines of text before the first value (what a program printed
		// before its first ConsoleSpanExporter span ended, captured with
		// it: python agent.py > spans.log): the first line opening with
		// '{' tells whether documents follow, as it would first; the text
		// is reported, and reading resumes after it
		if i := bytes.Index(trimmed, []byte("\n{")); !doc && trimmed[0] != '{' && i >= 0 {
			if d, f := sniff(trimmed[i+1:]); d {
				return true, f
			}
		}
	}
	// a Jaeger api_v3 error answer ({"error": {"code", "message"}}) is also
	// what any program may log for an error: it tells Jaeger's only when
	// no other record does, and no record of no known format is beside it
	// (a log of call records, or one read with --map, whose first line is
	// such an error is no trace export)
	answer, other := false, false
	if !doc {
		rest := trimmed
		for i := 0; i < 50 && len(rest) > 0; i++ {
			var line []byte
			line, rest, _ = bytes.Cut(rest, []byte{'\n'})
			var v any
			if json.Unmarshal(line, &v) != nil {
				continue
			}
			if m, ok := v.(map[string]any); ok {
				if _, ok := jaegerV3Error(m); ok {
					answer = true
					continue
				}
			}
			if f = detect(v); f != "" {
				return false, f
			}
			other = true
		}
		// a JSON log line (slog's JSONHandler) before documents of a format
		// printed over several lines (stdouttrace WithPrettyPrint,
		// ConsoleSpanExporter): the first line that is '{' alone opens them
		// when they decode as documents of that format. (Once: that line
		// is no JSON value, so the sniff of it does not come here again.)
		if first, _, _ := bytes.Cut(trimmed, []byte{'\n'}); trimmed[0] == '{' && json.Valid(first) {
			if i := openingLine(trimmed); i > 0 {
				if d, f := sniff(trimmed[i:]); d && f != "" {
					return true, f
				}
			}
		}
	} else {
		var v any
		if json.Unmarshal(trimmed, &v) == nil {
			if f = detect(v); f != "" {
				return true, f
			}
		}
	}
	// the first record is longer than what was looked at: the member name
	// that marks a format and comes first (a call record's action_type may
	// follow args that hold "run_type"; an OTLP export opens with
	// resourceSpans)
	first, at := Format(""), len(head)
	var mark *regexp.Regexp
	for _, m := range []struct {
		re *regexp.Regexp
		f  Format
	}{{markJSONL, FormatJSONL}, {markOTLP, FormatOTLP}, {markJaeger, FormatOTLP}, {markConsole, FormatOTLP}, {markMLflow, FormatOTLP}, {markGoStdout, FormatOTLP}, {markAgents, FormatOpenAIAgents}, {markLangSmith, FormatLangSmith}} {
		if loc := m.re.FindIndex(head); loc != nil && loc[0] < at {
			first, at, mark = m.f, loc[0], m.re
		}
	}
	// an observation Langfuse made of an MLflow span keeps the span's
	// attributes in its metadata.attributes, mlflow.traceRequestId among
	// them: there that member marks Langfuse (an MLflow trace's spans hold
	// their attributes themselves; its metadata is trace_metadata)
	if mark == markMLflow {
		if loc := markLangfuseAttrs.FindIndex(head); loc != nil && loc[0] < at {
			return doc, FormatLangfuse
		}
	}
	if first != "" {
		return doc, first
	}
	if answer && !other {
		return doc, FormatOTLP
	}
	switch {
	case bytes.Contains(head, []byte(`"type"`)) && (bytes.Contains(head, []byte(`"traceId"`)) || bytes.Contains(head, []byte(`"trace_id"`))) &&
		(bytes.Contains(head, []byte(`"startTime"`)) || bytes.Contains(head, []byte(`"start_time"`))):
		return doc, FormatLangfuse
	}
	return doc, ""
}
