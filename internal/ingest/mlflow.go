package ingest

import (
	"errors"
	"regexp"
	"strings"
)

// MLflow's own trace JSON: what Trace.to_dict() / Trace.to_json() give
// (mlflow.get_trace(id).to_json(), a list of search_traces' traces
// dumped), {"info": TraceInfo, "data": {"spans": [...]}}
// (mlflow/entities/trace.py, trace_data.py). Its spans are the MLflow
// spans' dicts (mlflow/entities/span.py, Span.to_dict and the three
// schemas Span.from_dict reads):
//
//   - MLflow 2: {"name", "context": {"trace_id", "span_id"} (hex, once
//     with a 0x), "parent_id", "start_time", "end_time" (ns), "status_code"
//     ("OK", "ERROR", "UNSET"), "status_message", "attributes", "events":
//     [{"name", "timestamp", "attributes"}]}; the info {"request_id",
//     "request_metadata", "tags", ...};
//   - MLflow 3: the span's protobuf as a dict: "trace_id", "span_id",
//     "parent_span_id" base64 (of 16 and 8 bytes), "start_time_unix_nano",
//     "end_time_unix_nano", "status": {"code": "STATUS_CODE_OK", "message"},
//     "attributes", "events": [{"name", "time_unix_nano", "attributes"}];
//     the info {"trace_id", "trace_location", "request_time", "state",
//     "trace_metadata", "tags", ...};
//   - later MLflow 3: the same members, "trace_id" the MLflow trace id
//     ("tr-…"), the OpenTelemetry one in "otel_trace_id", span ids hex, the
//     status code "OK" / "ERROR" / "UNSET".
//
// The attributes are the OpenTelemetry span's, every value JSON-encoded as
// MLflow sets them (mlflow.spanType "\"TOOL\"", mlflow.spanInputs,
// mlflow.spanOutputs, mlflow.spanFunctionName), as in MLflow's OTLP
// export. Each span is turned into that OpenTelemetry span and read as an
// OTLP export's (otelSpan): a tool span reads the same from both, and is
// one call when both hold it. The conversation is the trace metadata's
// mlflow.trace.session (TraceMetadataKey.TRACE_SESSION).

// isMLflowTrace reports whether an object is an MLflow trace: an info
// naming the trace beside data holding a list of spans.
func isMLflowTrace(m map[string]any) bool {
	info, ok := m["info"].(map[string]any)
	if !ok || (!has(info, "trace_id") && !has(info, "request_id")) {
		return false
	}
	_, ok = asObject(m["data"])["spans"].([]any)
	return ok
}

// markMLflow marks an MLflow span in a record too long to decode from the
// sniffed bytes: the attribute every span of a trace has, as a member
// (an OTLP export of the same span names it as a key's value).
var markMLflow = regexp.MustCompile(`"mlflow\.traceRequestId"\s*:`)

// mlflow reads the spans of one MLflow trace.
func (cv *converter) mlflow(m map[string]any, emit func(*nativeCall)) (skipped int, bad []recordError) {
	info := asObject(m["info"])
	meta := asObject(first(info, "trace_metadata", "request_metadata"))
	res := map[string]any{}
	if s := scalar(meta["mlflow.trace.session"]); s != "" {
		res["session.id"] = s
	}
	spans, _ := asObject(m["data"])["spans"].([]any)
	for _, sp := range spans {
		spm, ok := sp.(map[string]any)
		if !ok {
			bad = append(bad, recordError{"", errors.New("a span that is not a JSON object")})
			continue
		}
		otel, attrs := mlflowSpan(spm, info)
		n, err := cv.otelSpan(otel, attrs, res, nil, nil)
		s, b := cv.one(n, err, emit)
		skipped += s
		bad = append(bad, b...)
	}
	return skipped, bad
}

// mlflowSpan gives the OpenTelemetry span (in OTLP/JSON's member names) an
// MLflow span dict was made of, and its attributes.
func mlflowSpan(sp, info map[string]any) (otel, attrs map[string]any) {
	ctx := asObject(sp["context"]) // MLflow 2
	trace := scalar(first(sp, "otel_trace_id"))
	if trace == "" {
		trace = scalar(ctx["trace_id"])
	}
	if trace == "" {
		trace = scalar(sp["trace_id"])
	}
	if trace == "" {
		trace = scalar(first(info, "trace_id", "request_id"))
	}
	if rest, ok := strings.CutPrefix(trace, "tr-"); ok && len(rest) == 32 {
		// an MLflow trace id: "tr-" before the OpenTelemetry one
		// (TRACE_REQUEST_ID_PREFIX)
		if _, hex := padHexID(rest, 32); hex {
			trace = rest
		}
	}
	span := scalar(ctx["span_id"])
	if span == "" {
		span = scalar(sp["span_id"])
	}
	parent := scalar(first(sp, "parent_span_id", "parent_id"))
	otel = map[string]any{"name": sp["name"], "traceId": mlflowID(trace, 32), "spanId": mlflowID(span, 16)}
	if parent != "" {
		otel["parentSpanId"] = mlflowID(parent, 16)
	}
	start, end := first(sp, "start_time_unix_nano", "start_time"), first(sp, "end_time_unix_nano", "end_time")
	if s := scalar(start); s != "" {
		otel["startTimeUnixNano"] = s
		if e := scalar(end); e != "" {
			otel["endTimeUnixNano"] = e
		}
	}
	status := map[string]any{}
	code, msg := scalar(sp["status_code"]), scalar(sp["status_message"]) // MLflow 2
	if st := asObject(sp["status"]); st != nil {
		code, msg = scalar(st["code"]), scalar(st["message"])
	}
	if c := strings.ToUpper(code); c == "ERROR" || c == "STATUS_CODE_ERROR" || c == "2" {
		status["code"] = "2"
		if msg != "" {
			status["message"] = msg
		}
	}
	otel["status"] = status
	evs, _ := sp["events"].([]any)
	var events []any
	for _, e := range evs {
		em := asObject(e)
		ev := map[string]any{"name": em["name"], "attributes": asObject(em["attributes"])}
		if ts := scalar(first(em, "time_unix_nano", "timestamp")); ts != "" {
			ev["timeUnixNano"] = ts
		}
		events = append(events, ev)
	}
	if events != nil {
		otel["events"] = events
	}
	attrs = map[string]any{}
	for k, v := range asObject(sp["attributes"]) {
		attrs[k] = v
	}
	return otel, attrs
}

// mlflowID gives a trace or span id as OTLP/JSON writes it: hex without
// a 0x, lowercase, padded to width digits; a base64 id (MLflow 3's
// protobuf dict) is left to otlpID, which reads it as the hex it encodes.
func mlflowID(s string, width int) string {
	return consoleID(s, width)
}
