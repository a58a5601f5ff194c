package ingest

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Go OpenTelemetry's stdouttrace exporter
// (go.opentelemetry.io/otel/exporters/stdout/stdouttrace, trace.go) writes
// each span as the JSON of a tracetest.SpanStub through one json.Encoder:
// one object a line, or, WithPrettyPrint, tab-indented objects one after
// another. A span of it is {"Name", "SpanContext": {"TraceID", "SpanID",
// "TraceFlags", "TraceState", "Remote"}, "Parent": (a SpanContext, all
// zeros for a root span), "SpanKind" (a number), "StartTime", "EndTime"
// (RFC 3339 with the local offset; "0001-01-01T00:00:00Z"
// WithoutTimestamps), "Attributes": [{"Key", "Value": {"Type": "STRING" |
// "INT64" | …, "Value"}}], "Events": [{"Name", "Attributes",
// "DroppedAttributeCount", "Time"}], "Links", "Status": {"Code": "Unset" |
// "Error" | "Ok", "Description"}, "DroppedAttributes", "DroppedEvents",
// "DroppedLinks", "ChildSpanCount", "Resource": [{"Key", "Value"}],
// "InstrumentationScope", "InstrumentationLibrary"}. It is turned into the
// span of an OTLP export and read as one (otelSpan): every instrumentation
// the OTLP reader knows reads the same from Go's stdout.

// isGoStdoutSpan reports whether an object is a span as stdouttrace writes
// it: a name and a span context of trace and span ids, beside the parent,
// kind and status every such span has (a log line holding a span context
// has no parent context, kind and status code beside it).
func isGoStdoutSpan(m map[string]any) bool {
	sc, ok := m["SpanContext"].(map[string]any)
	if !ok || !has(m, "Name") || !has(m, "SpanKind") {
		return false
	}
	_, t := sc["TraceID"].(string)
	_, s := sc["SpanID"].(string)
	_, parent := m["Parent"].(map[string]any)
	st, _ := m["Status"].(map[string]any)
	return t && s && parent && has(st, "Code")
}

// markGoStdout marks a stdouttrace span in a record too long to decode from
// the sniffed bytes: its name and the span context that follows it (the
// members of a SpanStub come in its fields' order).
var markGoStdout = regexp.MustCompile(`"Name"\s*:\s*"([^"\\]|\\.)*"\s*,\s*"SpanContext"\s*:\s*\{\s*"TraceID"\s*:\s*"[0-9a-fA-F]*"\s*,\s*"SpanID"\s*:`)

// goStdout reads one span of stdouttrace's output.
func (cv *converter) goStdout(m map[string]any, emit func(*nativeCall)) (skipped int, bad []recordError) {
	otel, attrs := goStdoutSpan(m)
	n, err := cv.otelSpan(otel, attrs, goAttrs(m["Resource"]), nil, nil)
	return cv.one(n, err, emit)
}

// goStdoutSpan gives the OpenTelemetry span (in OTLP/JSON's member names) a
// stdouttrace span prints, and its attributes.
func goStdoutSpan(m map[string]any) (otel, attrs map[string]any) {
	sc, parent := asObject(m["SpanContext"]), asObject(m["Parent"])
	otel = map[string]any{"name": m["Name"], "traceId": jaegerID(scalar(sc["TraceID"]), 32),
		"spanId": jaegerID(scalar(sc["SpanID"]), 16)}
	// a root span's parent is the zero span context: no parent
	if p := scalar(parent["SpanID"]); p != "" && strings.Trim(p, "0") != "" {
		otel["parentSpanId"] = jaegerID(p, 16)
	}
	// times of year 1 (WithoutTimestamps writes the zero time) are none
	if start, ok := isoNanos(m["StartTime"]); ok {
		otel["startTimeUnixNano"] = start
		if end, ok := isoNanos(m["EndTime"]); ok {
			otel["endTimeUnixNano"] = end
		}
	}
	st := asObject(m["Status"])
	status := map[string]any{}
	// codes.Code marshals to its name through a pointer only: a SpanStub
	// encoded as a value writes Go's number, Error 1 (OTLP's Error is 2)
	if code := scalar(st["Code"]); strings.EqualFold(code, "Error") || code == "1" {
		status["code"] = "2"
		if d := scalar(st["Description"]); d != "" {
			status["message"] = d
		}
	}
	otel["status"] = status
	evs, _ := m["Events"].([]any)
	var events []any
	for _, e := range evs {
		em := asObject(e)
		ev := map[string]any{"name": em["Name"], "attributes": goAttrs(em["Attributes"])}
		if ts, ok := isoNanos(em["Time"]); ok {
			ev["timeUnixNano"] = ts
		}
		events = append(events, ev)
	}
	if events != nil {
		otel["events"] = events
	}
	return otel, goAttrs(m["Attributes"])
}

// goAttrs turns Go attributes ([{"Key", "Value": {"Type", "Value"}}], as
// attribute.KeyValue and attribute.Value marshal) into a map of attributes
// as the OTLP reader gives them.
func goAttrs(v any) map[string]any {
	out := map[string]any{}
	list, _ := v.([]any)
	for _, a := range list {
		am := asObject(a)
		k := scalar(am["Key"])
		if k == "" {
			continue
		}
		out[k] = goValue(am["Value"])
	}
	return out
}

// goValue reads an attribute.Value's JSON: the value as JSON holds it,
// except a BYTESLICE (base64: the text it encodes when that is UTF-8, as
// OTLP's bytesValue is read), a SLICE (of Values) and a MAP (of KeyValues).
func goValue(v any) any {
	vm, ok := v.(map[string]any)
	if !ok || !has(vm, "Type") {
		return v
	}
	val := vm["Value"]
	switch scalar(vm["Type"]) {
	case "BYTESLICE":
		if s, ok := val.(string); ok {
			if b, err := base64.StdEncoding.DecodeString(s); err == nil && utf8.Valid(b) {
				return string(b)
			}
		}
	case "SLICE":
		if list, ok := val.([]any); ok {
			out := make([]any, len(list))
			for i, x := range list {
				out[i] = goValue(x)
			}
			return out
		}
	case "MAP":
		if _, ok := val.([]any); ok {
			return goAttrs(val)
		}
	case "EMPTY":
		return nil
	}
	return val
}
