package ingest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Jaeger's classic JSON (model/json: the v1 query API, GET /api/traces/{id}
// and /api/traces?service=..., and Jaeger UI's downloads) is
// {"data": [Trace...]}, a Trace being {"traceID", "spans": [...],
// "processes": {"p1": {"serviceName", "tags"}}}. A span of it is what
// Jaeger made of an OpenTelemetry span: its attributes are typed tags, its
// kind the span.kind tag, its status the otel.status_code and error tags,
// its events logs (the event name in the "event" field), its resource the
// process's tags. Each span is turned back into that OpenTelemetry span and
// read as an OTLP export's (otelSpan): every instrumentation the OTLP
// reader knows reads the same from Jaeger.

// isJaegerTrace reports whether an object is a Jaeger Trace: a list of
// spans beside a traceID or processes, its first span (if any) a Jaeger
// span (spanID, operationName).
func isJaegerTrace(m map[string]any) bool {
	spans, ok := m["spans"].([]any)
	if !ok || (!has(m, "traceID") && !has(m, "processes")) {
		return false
	}
	if len(spans) == 0 {
		return true
	}
	sp := asObject(spans[0])
	return has(sp, "spanID") || has(sp, "operationName")
}

// jaegerTraces gives the traces of a Jaeger JSON document: {"data":
// [Trace...]}, or one Trace.
func jaegerTraces(m map[string]any) ([]any, bool) {
	if isJaegerTrace(m) {
		return []any{m}, true
	}
	if a, ok := m["data"].([]any); ok && len(a) > 0 && isJaegerTrace(asObject(a[0])) {
		return a, true
	}
	return nil, false
}

// jaeger reads the spans of Jaeger traces.
func (cv *converter) jaeger(traces []any, emit func(*nativeCall)) (skipped int, bad []recordError) {
	for _, t := range traces {
		tm, ok := t.(map[string]any)
		if !ok {
			bad = append(bad, recordError{"", errors.New("a trace that is not a JSON object")})
			continue
		}
		procs := asObject(tm["processes"])
		spans, _ := tm["spans"].([]any)
		for _, sp := range spans {
			spm, ok := sp.(map[string]any)
			if !ok {
				bad = append(bad, recordError{"", errors.New("a span that is not a JSON object")})
				continue
			}
			proc := asObject(spm["process"]) // older answers embed it in each span
			if proc == nil {
				proc = asObject(procs[scalar(spm["processID"])])
			}
			otel, attrs := jaegerSpan(spm)
			n, err := cv.otelSpan(otel, attrs, jaegerResource(proc), nil, nil)
			s, b := cv.one(n, err, emit)
			skipped += s
			bad = append(bad, b...)
		}
	}
	return skipped, bad
}

// jaegerSynthetic are the tags Jaeger writes for what OpenTelemetry holds
// in the span itself (its kind, status, scope, trace state): no
// attributes of the span.
var jaegerSynthetic = []string{"span.kind", "otel.status_code", "otel.status_description", "otel.scope.name",
	"otel.scope.version", "otel.library.name", "otel.library.version", "w3c.tracestate", "internal.span.format"}

// jaegerSpan gives the OpenTelemetry span (in OTLP/JSON's member names) a
// Jaeger span was made of, and its attributes.
func jaegerSpan(sp map[string]any) (otel, attrs map[string]any) {
	attrs = jaegerTags(sp["tags"])
	otel = map[string]any{"name": sp["operationName"], "traceId": jaegerID(scalar(sp["traceID"]), 32),
		"spanId": jaegerID(scalar(sp["spanID"]), 16)}
	// the parent: the first CHILD_OF reference (FOLLOWS_FROM ones are links)
	refs, _ := sp["references"].([]any)
	for _, r := range refs {
		if rm := asObject(r); strings.EqualFold(scalar(rm["refType"]), "CHILD_OF") {
			otel["parentSpanId"] = jaegerID(scalar(rm["spanID"]), 16)
			break
		}
	}
	if otel["parentSpanId"] == nil && scalar(sp["parentSpanID"]) != "" {
		otel["parentSpanId"] = jaegerID(scalar(sp["parentSpanID"]), 16)
	}
	// times in microseconds
	if start, ok := micros(sp["startTime"]); ok && start > 0 && start <= math.MaxInt64/1000 {
		otel["startTimeUnixNano"] = strconv.FormatInt(start*1000, 10)
		if d, ok := micros(sp["duration"]); ok && d >= 0 && start+d <= math.MaxInt64/1000 {
			otel["endTimeUnixNano"] = strconv.FormatInt((start+d)*1000, 10)
		}
	}
	// the status: otel.status_code ERROR, or the error tag (true whenever
	// the status is ERROR; OpenTracing's own way to say a span failed)
	status := map[string]any{}
	e := attrs["error"]
	if strings.EqualFold(scalar(attrs["otel.status_code"]), "ERROR") || e == true || (isScalar(e) && strings.EqualFold(scalar(e), "true")) {
		status["code"] = "2"
		if d := scalar(attrs["otel.status_description"]); d != "" {
			status["message"] = d
		}
	}
	otel["status"] = status
	if _, isBool := e.(bool); isBool {
		delete(attrs, "error")
	}
	for _, k := range jaegerSynthetic {
		delete(attrs, k)
	}
	// logs are the span's events, named by their "event" field
	logs, _ := sp["logs"].([]any)
	var events []any
	for _, l := range logs {
		lm := asObject(l)
		fields := jaegerTags(lm["fields"])
		ev := map[string]any{"name": scalar(fields["event"]), "attributes": fields}
		delete(fields, "event")
		if ts, ok := micros(lm["timestamp"]); ok && ts > 0 && ts <= math.MaxInt64/1000 {
			ev["timeUnixNano"] = strconv.FormatInt(ts*1000, 10)
		}
		events = append(events, ev)
	}
	if events != nil {
		otel["events"] = events
	}
	return otel, attrs
}

// jaegerResource gives the resource attributes of a Jaeger process: its
// tags, and service.name (its serviceName).
func jaegerResource(proc map[string]any) map[string]any {
	res := jaegerTags(proc["tags"])
	if s := scalar(proc["serviceName"]); s != "" && res["service.name"] == nil {
		res["service.name"] = s
	}
	return res
}

// jaegerTags turns Jaeger tags ([{key, type, value}]) into a map of
// attributes as the OTLP reader gives them: an int64 or float64 a number,
// a bool a bool, binary (base64) the text it encodes when that is UTF-8.
func jaegerTags(v any) map[string]any {
	out := map[string]any{}
	list, _ := v.([]any)
	for _, t := range list {
		tm := asObject(t)
		k := scalar(tm["key"])
		if k == "" {
			continue
		}
		val := tm["value"]
		switch s, isStr := val.(string); strings.ToLower(scalar(tm["type"])) {
		case "bool":
			if isStr {
				val = strings.EqualFold(s, "true")
			}
		case "int64", "float64":
			if isStr && s != "" && (s[0] == '-' || isDigit(s[0])) && json.Valid([]byte(s)) {
				val = json.Number(s)
			}
		case "binary":
			if isStr {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil && utf8.Valid(b) {
					val = string(b)
				}
			}
		}
		out[k] = val
	}
	return out
}

// jaegerID gives a Jaeger trace or span id as OTLP/JSON writes it: Jaeger
// leaves out the leading zeros of a trace id (of its high half, or of a
// 64-bit id entirely), which the OTLP export of the same span keeps: a hex
// id shorter than width digits is padded with zeros, so the span read
// from both is one call. Any other id stays as written.
func jaegerID(s string, width int) string {
	if id, ok := padHexID(s, width); ok {
		return id
	}
	return s
}

// padHexID gives a hex id of at most width digits lowercase and padded with
// leading zeros to width; false for anything else.
func padHexID(s string, width int) (string, bool) {
	if s == "" || len(s) > width {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return "", false
		}
	}
	return strings.Repeat("0", width-len(s)) + strings.ToLower(s), true
}

// micros reads a Jaeger time or duration (microseconds).
func micros(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(x.String(), 10, 64)
		return n, err == nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// jaegerError gives the errors of an answer of Jaeger's query API that
// holds no trace (cmd/query/app/http_handler.go: structuredResponse
// {"data", "total", "limit", "offset", "errors"}, data null or empty,
// each error {"code"?, "msg", "traceID"?}): "404 trace not found". ok is
// false for anything else.
func jaegerError(m map[string]any) (msg string, ok bool) {
	if msg, ok := jaegerV3Error(m); ok {
		return msg, true
	}
	errs, _ := m["errors"].([]any)
	if len(errs) == 0 || !has(m, "data") || (!has(m, "total") && !has(m, "limit")) {
		return "", false
	}
	if d, isList := m["data"].([]any); m["data"] != nil && (!isList || len(d) > 0) {
		return "", false
	}
	var parts []string
	for i, e := range errs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-i))
			break
		}
		em := asObject(e)
		s := strings.TrimSpace(scalar(em["code"]) + " " + scalar(em["msg"]))
		if t := scalar(em["traceID"]); t != "" {
			s += ", trace " + t
		}
		if s == "" {
			s = "no message"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; "), true
}

// isJaegerError reports whether an object is an error answer of Jaeger's
// query API holding no trace (see jaegerError).
func isJaegerError(m map[string]any) bool {
	_, ok := jaegerError(m)
	return ok
}

// jaegerV3ErrorMembers are the members of the error of an api_v3 answer:
// GRPCGatewayError's details (grpcCode, httpCode, message, httpStatus), the
// details a gRPC gateway adds to a stream's error, and a gRPC status's code.
var jaegerV3ErrorMembers = map[string]bool{"grpcCode": true, "httpCode": true, "message": true, "httpStatus": true,
	"details": true, "code": true}

// jaegerV3Error gives the error of an answer of Jaeger's api_v3 that holds
// no trace: {"error": {"httpCode": 404, "message": "trace not found"}}
// (cmd/query/app/apiv3/http_gateway.go: tryHandleError marshals a
// GRPCGatewayError), or with a gRPC gateway's grpcCode and httpStatus, or a
// gRPC status's code. The object holds nothing else, its error a message
// and a numeric code and nothing else (an API's error of another shape,
// {"error": {"message", "type", "code"}}, is none). "404 trace not found".
func jaegerV3Error(m map[string]any) (string, bool) {
	e, isObj := m["error"].(map[string]any)
	if !isObj || len(m) != 1 {
		return "", false
	}
	if _, str := e["message"].(string); !str {
		return "", false
	}
	// the HTTP status over a gRPC code
	code := ""
	for _, k := range []string{"httpCode", "code", "grpcCode"} {
		switch e[k].(type) {
		case json.Number, float64: // (float64: as the sniff decodes)
			if code == "" {
				code = scalar(e[k])
			}
		}
	}
	for k := range e {
		if !jaegerV3ErrorMembers[k] {
			return "", false
		}
	}
	if code == "" {
		return "", false
	}
	s := strings.TrimSpace(code + " " + scalar(e["message"]))
	return s, true
}
