package ingest

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Python OpenTelemetry's ConsoleSpanExporter prints each span as
// ReadableSpan.to_json(indent=4) (opentelemetry-sdk, sdk/trace/__init__.py)
// followed by a newline: pretty-printed objects one after another, often
// captured to a file when an agent is debugged. A span of it is {"name",
// "context": {"trace_id": "0x…", "span_id": "0x…", "trace_state"}, "kind":
// "SpanKind.INTERNAL", "parent_id": "0x…" or null, "start_time" and
// "end_time" (ISO 8601, UTC), "status": {"status_code": "UNSET" | "OK" |
// "ERROR", "description"?}, "attributes" (plain JSON values), "events":
// [{"name", "timestamp", "attributes"}], "links", "resource":
// {"attributes", "schema_url"}}. It is turned into the span of an OTLP
// export and read as one (otelSpan): every instrumentation the OTLP reader
// knows reads the same from the console.

// isConsoleSpan reports whether an object is a span as to_json writes it:
// a name beside a context holding a trace id and a span id, with the kind
// it prints ("SpanKind.INTERNAL": str of the enum) or its status object. A
// name, a context of trace and span ids and a start time alone are what a
// log line carries too (a logger's name, its OpenTelemetry context): such
// a first line must not make a JSON Lines log a trace export.
func isConsoleSpan(m map[string]any) bool {
	ctx, ok := m["context"].(map[string]any)
	if !ok || !has(m, "name") {
		return false
	}
	_, t := ctx["trace_id"].(string)
	_, s := ctx["span_id"].(string)
	kind, _ := m["kind"].(string)
	st, _ := m["status"].(map[string]any)
	return t && s && (strings.HasPrefix(kind, "SpanKind.") || has(st, "status_code") || has(st, "canonical_code"))
}

// markConsole marks a console span in a record too long to decode from the
// sniffed bytes: its context, and the kind to_json prints right after it
// (a call record may hold a context of trace and span ids too).
var markConsole = regexp.MustCompile(`"context"\s*:\s*\{\s*"trace_id"\s*:\s*"(0x)?[0-9a-fA-F]+"\s*,\s*"span_id"\s*:\s*"[^"]*"` +
	`(\s*,\s*"trace_state"\s*:\s*"([^"\\]|\\.)*")?\s*\}\s*,\s*"kind"\s*:\s*"SpanKind\.`)

// console reads one span of a ConsoleSpanExporter's output.
func (cv *converter) console(m map[string]any, emit func(*nativeCall)) (skipped int, bad []recordError) {
	otel, attrs := consoleSpan(m)
	n, err := cv.otelSpan(otel, attrs, asObject(asObject(m["resource"])["attributes"]), nil, nil)
	return cv.one(n, err, emit)
}

// consoleSpan gives the OpenTelemetry span (in OTLP/JSON's member names) a
// console span prints, and its attributes.
func consoleSpan(m map[string]any) (otel, attrs map[string]any) {
	ctx := asObject(m["context"])
	otel = map[string]any{"name": m["name"], "traceId": consoleID(scalar(ctx["trace_id"]), 32),
		"spanId": consoleID(scalar(ctx["span_id"]), 16)}
	if p := scalar(m["parent_id"]); p != "" {
		otel["parentSpanId"] = consoleID(p, 16)
	}
	if start, ok := isoNanos(m["start_time"]); ok {
		otel["startTimeUnixNano"] = start
		if end, ok := isoNanos(m["end_time"]); ok {
			otel["endTimeUnixNano"] = end
		}
	}
	st := asObject(m["status"])
	status := map[string]any{}
	// status_code (canonical_code in SDKs before 0.16, whose failures were
	// any code but OK)
	if code := strings.ToUpper(scalar(first(st, "status_code", "canonical_code"))); code == "ERROR" ||
		(code != "" && code != "OK" && code != "UNSET" && has(st, "canonical_code")) {
		status["code"] = "2"
		if d := scalar(st["description"]); d != "" {
			status["message"] = d
		}
	}
	otel["status"] = status
	evs, _ := m["events"].([]any)
	var events []any
	for _, e := range evs {
		em := asObject(e)
		ev := map[string]any{"name": em["name"], "attributes": asObject(em["attributes"])}
		if ts, ok := isoNanos(em["timestamp"]); ok {
			ev["timeUnixNano"] = ts
		}
		events = append(events, ev)
	}
	if events != nil {
		otel["events"] = events
	}
	attrs = asObject(m["attributes"])
	if attrs == nil {
		attrs = map[string]any{}
	}
	return otel, attrs
}

// consoleID gives a trace or span id as OTLP/JSON writes it: without the
// 0x that format_trace_id's callers put before it, lowercase, padded with
// zeros to width hex digits (SDKs before 0.16 printed it as a bare hex
// number). Any other id stays as written.
func consoleID(s string, width int) string {
	if id, ok := padHexID(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), width); ok {
		return id
	}
	return s
}

// isoNanos reads a console span's time (ns_to_iso_str:
// "2026-03-10T09:14:02.104518Z", UTC) as Unix nanoseconds.
func isoNanos(v any) (string, bool) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse("2006-01-02T15:04:05.999999999", s); err != nil { // no zone: UTC
			return "", false
		}
	}
	if t.Year() < 1678 || t.Year() > 2261 { // beyond int64 nanoseconds
		return "", false
	}
	return strconv.FormatInt(t.UnixNano(), 10), true
}
