package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/idemaudit/idemaudit/internal/config"
)

// A trace record becomes a call in idemaudit's own format (a nativeCall,
// written as one JSON object) and is then parsed like a log line: the same
// canonical args, identity fingerprints and checks apply to every format.

// nativeCall is one call in idemaudit's own shape.
type nativeCall struct {
	TS        any // a string or json.Number as the export wrote it; nil: none
	Action    string
	Key       string
	Response  string
	Session   string
	Trace     string
	Span      string
	Run       string
	Parent    string
	Status    any // a string or json.Number; nil: none
	Effect    string
	Duration  *float64
	Args      any
	HasArgs   bool
	ToolCall  string // the tool call's id (OTLP gen_ai.tool.call.id): the fingerprint of a call without args
	reference string // how an error names the record: "span 5b8aa5a2d2c872e8"
}

// encode writes the call as one JSON object.
func (n *nativeCall) encode(buf *bytes.Buffer) error {
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	put := func(name string, v any) error {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + name + `":`)
		if err := enc.Encode(v); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // the encoder's newline
		return nil
	}
	if err := put("action_type", n.Action); err != nil {
		return err
	}
	if n.TS != nil {
		if err := put("ts", n.TS); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{{"idempotency_key", n.Key}, {"response_id", n.Response},
		{"session_id", n.Session}, {"trace_id", n.Trace}, {"span_id", n.Span}, {"run_id", n.Run}, {"effect", n.Effect},
		{"parent_span_id", n.Parent}, {"tool_call_id", n.ToolCall}} {
		if f.v != "" {
			if err := put(f.name, f.v); err != nil {
				return err
			}
		}
	}
	if n.Status != nil {
		if err := put("status", n.Status); err != nil {
			return err
		}
	}
	if n.Duration != nil {
		if err := put("duration_ms", *n.Duration); err != nil {
			return err
		}
	}
	if n.HasArgs {
		if err := put("args", n.Args); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// converter reads the records of one format; one per parse worker.
type converter struct {
	format Format
	im     *Import
	buf    bytes.Buffer
	// sessions are the conversations of the traces whose records were read
	// (an OpenAI Agents trace's group_id, a Langfuse trace's sessionId):
	// their calls get the session at the end of the ingest
	sessions map[string]string
	// links are the spans read that are no tool call, with their parents:
	// how tool spans nest through them (an HTTP span between an MCP
	// client's tool span and its server's)
	links []spanLink
}

// spanLink is a span of a trace export that is no tool call, and its parent.
type spanLink struct{ trace, span, parent string }

// link notes a span that is no tool call, when it has a parent.
func (cv *converter) link(trace, span, parent string) {
	if span != "" && parent != "" {
		cv.links = append(cv.links, spanLink{trace, span, parent})
	}
}

// traceSession notes the conversation of a trace record.
func (cv *converter) traceSession(trace, session string) {
	if trace == "" || session == "" {
		return
	}
	if cv.sessions == nil {
		cv.sessions = map[string]string{}
	}
	cv.sessions[trace] = session
}

// recordError is a record that is a tool call but cannot be read as one.
type recordError struct {
	ref string
	err error
}

// convert turns one decoded record (or a page of them) into calls. It
// returns how many records were no tool call (skipped) and the tool calls
// that could not be read.
func (cv *converter) convert(v any, emit func(*nativeCall)) (skipped int, bad []recordError) {
	if m, ok := v.(map[string]any); ok && cv.format == FormatLangfuse && m["type"] == nil {
		// a trace with its observations: its session is theirs
		cv.traceSession(scalar(m["id"]), scalar(first(m, "sessionId", "session_id")))
	}
	if cv.format != FormatOTLP {
		recs, ok := unwrap(v)
		if cv.format == FormatJSONL {
			// a call may hold any member (an "items" list): only an array is a page
			recs, ok = v.([]any)
		}
		if ok {
			for _, r := range recs {
				s, b := cv.convert(r, emit)
				skipped += s
				bad = append(bad, b...)
			}
			return skipped, bad
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return 0, []recordError{{"", errors.New("not a JSON object")}}
	}
	if cv.format == FormatJSONL && len(cv.im.Map) == 0 && m["action_type"] == nil && emptyPage(m) {
		return 0, nil // the last page of an export, empty: nothing to tell its format by
	}
	var n *nativeCall
	var err error
	switch cv.format {
	case FormatOTLP:
		return cv.otlp(m, emit)
	case FormatLangfuse:
		n, err = cv.langfuse(m)
	case FormatLangSmith:
		return cv.langsmithTree(m, emit)
	case FormatOpenAIAgents:
		n, err = cv.openai(m)
	default:
		n, err = cv.mapped(m)
	}
	return cv.one(n, err, emit)
}

func (cv *converter) one(n *nativeCall, err error, emit func(*nativeCall)) (int, []recordError) {
	switch {
	case err != nil:
		ref := ""
		if n != nil {
			ref = n.reference
		}
		return 0, []recordError{{ref, err}}
	case n == nil:
		return 1, nil
	}
	emit(n)
	return 0, nil
}

// unwrap opens a page of records: an array, or an object whose only list
// member of records is one of wrapperKeys (other members, like "meta", are
// paging details).
func unwrap(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case map[string]any:
		if detectOwn(x) {
			return nil, false
		}
		for k := range wrapperKeys {
			if a, ok := x[k].([]any); ok && k != "resourceSpans" && k != "resource_spans" {
				return a, true
			}
		}
	}
	return nil, false
}

// emptyPage reports whether an object is a page of records holding none.
func emptyPage(m map[string]any) bool {
	for k := range wrapperKeys {
		if a, ok := m[k].([]any); ok && len(a) == 0 {
			return true
		}
	}
	return false
}

// detectOwn reports whether an object is itself a record of some format.
func detectOwn(m map[string]any) bool {
	return m["action_type"] != nil || m["run_type"] != nil || m["object"] != nil || m["span_data"] != nil ||
		m["resourceSpans"] != nil || m["resource_spans"] != nil || (m["type"] != nil && m["name"] != nil)
}

// mapped reads a JSON Lines record of idemaudit's fields, each at the
// path --map gives (by default its own name).
func (cv *converter) mapped(m map[string]any) (*nativeCall, error) {
	path := func(f string) string {
		if p, ok := cv.im.Map[f]; ok {
			return p
		}
		return f
	}
	get := func(f string) (any, bool) { return lookup(m, path(f)) }
	n := &nativeCall{}
	if v, ok := get("span_id"); ok {
		n.Span = scalar(v)
	}
	n.reference = recordRef("span", n.Span)
	if n.Span == "" {
		n.reference = ""
	}
	a, _ := get("action_type")
	if _, str := a.(string); !str && a != nil && len(cv.im.Map) == 0 {
		// as the line parser says of a call of idemaudit's format (an array
		// of calls on a line comes here); a --map may name any member
		return n, errors.New("action_type must be a string")
	}
	if n.Action = scalar(a); n.Action == "" {
		return n, fmt.Errorf("no action type at %s", path("action_type"))
	}
	if v, ok := get("ts"); ok && v != nil {
		n.TS = tsValue(v)
	}
	// the key is read before the args, which leave it out when it is one of theirs
	if v, ok := get("args"); ok && v != nil {
		n.Args, n.HasArgs = parseJSONString(v), true // as Parser.Parse reads args: JSON in a string, nothing else
	}
	k, _ := get("idempotency_key")
	if ap, kp := path("args")+".", path("idempotency_key"); n.HasArgs && strings.HasPrefix(kp, ap) {
		// a key inside the args: read from the args as parsed (they may be
		// a JSON string), and left out of them
		if v, ok := lookup(n.Args, strings.TrimPrefix(kp, ap)); ok {
			k = v
		}
		n.Args = without(n.Args, strings.TrimPrefix(kp, ap))
	}
	n.Key = idScalar(k)
	for _, f := range []struct {
		name string
		dst  *string
	}{{"response_id", &n.Response}, {"session_id", &n.Session}, {"trace_id", &n.Trace}, {"run_id", &n.Run}, {"effect", &n.Effect}} {
		if v, ok := get(f.name); ok {
			*f.dst = scalar(v)
			if f.name == "response_id" || f.name == "session_id" {
				*f.dst = idScalar(v)
			}
		}
	}
	if v, ok := get("status"); ok {
		n.Status = statusValue(v)
	}
	if v, ok := get("duration_ms"); ok {
		if num, ok := v.(json.Number); ok {
			if f, err := num.Float64(); err == nil {
				n.Duration = &f
			}
		}
	}
	return n, nil
}

// otlp reads one TracesData: the spans of tool calls (GenAI semantic
// conventions: gen_ai.operation.name = execute_tool; MCP tools/call).
func (cv *converter) otlp(m map[string]any, emit func(*nativeCall)) (skipped int, bad []recordError) {
	if t, ok := m["trace"].(map[string]any); ok { // Grafana Tempo's trace API: {"trace": TracesData}
		m = t
	} else if t, ok := m["result"].(map[string]any); ok && t["resourceSpans"] != nil { // Jaeger's api_v3: {"result": TracesData}
		m = t
	}
	rss, ok := first(m, "resourceSpans", "resource_spans", "batches").([]any) // batches: Tempo's older API
	if !ok {
		if traces, ok := jaegerTraces(m); ok { // Jaeger's classic JSON: {"data": [Trace...]}
			return cv.jaeger(traces, emit)
		}
		if isConsoleSpan(m) { // Python's ConsoleSpanExporter: one span
			return cv.console(m, emit)
		}
		if isMLflowTrace(m) { // MLflow's trace JSON: Trace.to_dict()
			return cv.mlflow(m, emit)
		}
		if isGoStdoutSpan(m) { // Go's stdouttrace exporter: one span
			return cv.goStdout(m, emit)
		}
		if msg, ok := jaegerError(m); ok { // Jaeger's query API answering with an error, no trace
			return 0, []recordError{{"", fmt.Errorf("a Jaeger API error answer (%s): no trace in it", msg)}}
		}
		return 1, nil // no spans at all: a record of another kind, counted as no tool call
	}
	for _, rs := range rss {
		rsm, _ := rs.(map[string]any)
		res, _ := rsm["resource"].(map[string]any)
		resAttrs := otlpAttrs(res["attributes"])
		sss, _ := first(rsm, "scopeSpans", "scope_spans", "instrumentationLibrarySpans").([]any)
		for _, ss := range sss {
			ssm, _ := ss.(map[string]any)
			spans, _ := ssm["spans"].([]any)
			for _, sp := range spans {
				spm, ok := sp.(map[string]any)
				if !ok {
					bad = append(bad, recordError{"", errors.New("a span that is not a JSON object")})
					continue
				}
				n, err := cv.otlpSpan(spm, resAttrs)
				s, b := cv.one(n, err, emit)
				skipped += s
				bad = append(bad, b...)
			}
		}
	}
	return skipped, bad
}

// otlpTool tells whether a span is a tool call, and of which tool.
func (cv *converter) otlpTool(sp map[string]any, attrs map[string]any) (action string, tool, marked bool) {
	name := scalar(sp["name"])
	op, method := scalar(attrs["gen_ai.operation.name"]), scalar(attrs["mcp.method.name"])
	// besides the GenAI and MCP conventions: OpenInference (Phoenix,
	// Arize) and OpenLLMetry (Traceloop) span kinds, the Vercel AI SDK's
	// ai.toolCall spans
	// spans of Langfuse's OpenTelemetry SDK (v3) say langfuse.observation.type;
	// pydantic-ai (Logfire) tool spans name the tool and its call id only;
	// MLflow writes every attribute as JSON: its span type is "\"TOOL\""
	kind := strings.ToUpper(scalar(first(attrs, "openinference.span.kind", "traceloop.span.kind", "langfuse.observation.type")))
	if kind == "" {
		kind = strings.Trim(scalar(attrs["mlflow.spanType"]), `"`)
	}
	// LiveKit Agents: a function_tool span with lk.function_tool.name
	marked = op == "execute_tool" || method == "tools/call" || kind == "TOOL" || attrs["ai.toolCall.name"] != nil || attrs["lk.function_tool.name"] != nil ||
		(op == "" && attrs["gen_ai.tool.name"] != nil && attrs["gen_ai.tool.call.id"] != nil)
	action = scalar(first(attrs, "gen_ai.tool.name", "mcp.tool.name", "tool.name", "ai.toolCall.name", "lk.function_tool.name", "traceloop.entity.name"))
	if marked && op == "" && method == "" && action == "" && strings.HasPrefix(name, "handoff to ") {
		// OpenInference's OpenAI Agents processor gives a handoff (control
		// passed to another agent: no side effect) the TOOL kind too
		marked = false
	}
	if action == "(merged tools)" {
		// Google ADK's span over the responses of parallel tool calls, each
		// of which has an execute_tool span of its own: no call
		return "", false, false
	}
	if !marked && !cv.toolSpan(name) {
		return "", false, false
	}
	if action == "" {
		for _, prefix := range []string{"execute_tool ", "tools/call "} {
			if rest, ok := strings.CutPrefix(name, prefix); ok {
				action = strings.TrimSpace(rest)
			}
		}
	}
	if action == "" && name != "execute_tool" && name != "tools/call" {
		action = name // LangSmith's OpenTelemetry export names the span after the tool
		if fn := strings.Trim(scalar(attrs["mlflow.spanFunctionName"]), `"`); fn != "" {
			// MLflow renames the spans of a trace that share a name
			// (deduplicate_span_names_in_place: refund_payment_1,
			// refund_payment_2) when its root ends; the traced function's
			// name stays in mlflow.spanFunctionName. Only that renaming is
			// undone: a span named otherwise keeps its name (a custom
			// name, an integration's wrapper method as the function)
			if rest, ok := strings.CutPrefix(name, fn+"_"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
				action = fn
			}
		}
	}
	return action, true, marked
}

// otlpID gives a trace or span id in the OTLP/JSON form, lowercase hex.
// Grafana Tempo's trace API writes them base64, as protobuf's JSON mapping
// does for bytes (grafana/tempo#5437): "q47/95gDgQPSabYzgT/GDA==" is the
// Collector's "ab8efff798038103d269b633813fc60c". Only a padded standard
// base64 string of exactly 16 bytes (24 characters, a trace id) or 8 bytes
// (12, a span id) is converted: a hex id (32 or 16 characters, and never a
// '=') and anything else stay as they are.
func otlpID(s string) string {
	var size int
	switch len(s) {
	case 24:
		size = 16
	case 12:
		size = 8
	default:
		return s
	}
	if s[len(s)-1] != '=' {
		return s
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != size {
		return s
	}
	return hex.EncodeToString(b)
}

// otlpIDs gives a span's trace, span and parent span ids (see otlpID).
func otlpIDs(sp map[string]any) (trace, span, parent string) {
	return otlpID(scalar(first(sp, "traceId", "trace_id"))), otlpID(scalar(first(sp, "spanId", "span_id"))),
		otlpID(scalar(first(sp, "parentSpanId", "parent_span_id")))
}

func (cv *converter) otlpSpan(sp map[string]any, resAttrs map[string]any) (*nativeCall, error) {
	return cv.otelSpan(sp, otlpAttrs(sp["attributes"]), resAttrs, nil, nil)
}

// otelSpan reads an OpenTelemetry span given its attributes as a map: a
// span of an OTLP export, or one a backend kept with its attributes (a
// Langfuse observation made of a span). args and result are what to take
// when the attributes and events hold none (nil: nothing).
func (cv *converter) otelSpan(sp, attrs, resAttrs map[string]any, fallbackArgs, fallbackResult any) (*nativeCall, error) {
	action, tool, _ := cv.otlpTool(sp, attrs)
	trace, span, parent := otlpIDs(sp)
	if !tool {
		cv.link(trace, span, parent)
		return nil, nil
	}
	n := &nativeCall{Action: action, Trace: trace, Span: span, Parent: parent}
	n.reference = recordRef("span", n.Span)
	if n.Action == "" {
		return n, errors.New("a tool span without gen_ai.tool.name")
	}
	start, end := scalar(first(sp, "startTimeUnixNano", "start_time_unix_nano")), scalar(first(sp, "endTimeUnixNano", "end_time_unix_nano"))
	if start != "" && start != "0" {
		n.TS = json.Number(start)
		if s, err1 := strconv.ParseInt(start, 10, 64); err1 == nil {
			if e, err2 := strconv.ParseInt(end, 10, 64); err2 == nil && e >= s && e > 0 {
				d := float64(e-s) / 1e6
				n.Duration = &d
			}
		}
	}
	var args any
	if a, name := firstNamed(attrs, "gen_ai.tool.call.arguments", "ai.toolCall.args", "ai.toolCall.input", "input.value", "tool_arguments", "traceloop.entity.input",
		"langfuse.observation.input", "gen_ai.prompt", "gcp.vertex.agent.tool_call_args", "mlflow.spanInputs",
		"lk.function_tool.arguments", "lk.pii.function_tool.arguments"); a != nil {
		args = parseString(a)
		if name == "traceloop.entity.input" {
			args = traceloopInput(args)
		}
		if name == "gcp.vertex.agent.tool_call_args" && scalar(a) == "{}" && scalar(attrs["gcp.vertex.agent.tool_response"]) == "{}" {
			// Google ADK with span content capture off writes "{}" for
			// every call's args and response: not captured, no args
			args = nil
		}
	} else {
		// MCP instrumentations put each argument in an attribute of its own
		collected := map[string]any{}
		for k, v := range attrs {
			if rest, ok := strings.CutPrefix(k, "mcp.request.argument."); ok {
				collected[rest] = v
			}
		}
		if len(collected) > 0 {
			args = collected
		}
	}
	r, name := firstNamed(attrs, "gen_ai.tool.call.result", "ai.toolCall.result", "ai.toolCall.output", "output.value", "tool_response", "traceloop.entity.output",
		"langfuse.observation.output", "gen_ai.completion", "gcp.vertex.agent.tool_response", "mlflow.spanOutputs",
		"lk.function_tool.output", "lk.pii.function_tool.output")
	result := parseString(r)
	switch name {
	case "traceloop.entity.output":
		result = traceloopOutput(result)
	case "gcp.vertex.agent.tool_response":
		// Google ADK wraps what a tool returned that is no dict as {"result": ...}
		if v, ok := onlyMember(result, "result"); ok {
			result = parseString(v)
		}
	}
	// Strands and others put the tool's arguments and result in span events
	var evStatus string
	if args == nil || result == nil {
		evArgs, evResult, st := otlpEventPayload(sp["events"])
		if args == nil && evArgs != nil {
			args = parseString(evArgs)
		}
		if result == nil && evResult != nil {
			result = parseString(evResult)
		}
		evStatus = st
	}
	if args == nil {
		args = fallbackArgs
	}
	if result == nil {
		result = fallbackResult
	}
	merged := map[string]any{}
	for k, v := range resAttrs {
		merged[k] = v
	}
	for k, v := range attrs {
		merged[k] = v
	}
	// metadata the Langfuse and LangSmith exporters flatten into attributes
	for k, v := range attrs {
		for _, prefix := range []string{"langfuse.observation.metadata.", "langfuse.trace.metadata.", "langsmith.metadata."} {
			if rest, ok := strings.CutPrefix(k, prefix); ok && merged[rest] == nil {
				merged[rest] = v
			}
		}
	}
	n.Session = scalar(first(merged, "gen_ai.conversation.id", "mcp.session.id", "session.id", "langfuse.session.id",
		"traceloop.association.properties.session_id", "ai.telemetry.metadata.sessionId", "langsmith.metadata.thread_id",
		"langsmith.metadata.session_id", "langsmith.metadata.conversation_id", "session_id"))
	// the status: an HTTP code when the span has one, else the error type,
	// else the span status
	st, _ := sp["status"].(map[string]any)
	code := scalar(st["code"])
	switch {
	case first(attrs, "http.response.status_code", "http.status_code") != nil:
		n.Status = statusValue(first(attrs, "http.response.status_code", "http.status_code"))
	case scalar(attrs["error.type"]) != "":
		n.Status = scalar(attrs["error.type"])
	case code == "2" || code == "STATUS_CODE_ERROR":
		n.Status = "error"
	case strings.EqualFold(scalar(first(attrs, "gen_ai.tool.status")), "error") || strings.EqualFold(evStatus, "error") ||
		scalar(attrs["langfuse.observation.level"]) == "ERROR" || scalar(attrs["lk.function_tool.is_error"]) == "true":
		n.Status = "error"
	default:
		n.Status = "ok" // exported spans have ended; UNSET is how instrumentations say success
	}
	cv.keyAndResponse(n, args, result, merged)
	n.Run = scalar(first(merged, "run_id", "run.id"))
	// the tool call the model made: a framework retrying it or a replay
	// keeps the id, the model calling the tool again gets a new one
	n.ToolCall = scalar(first(attrs, "gen_ai.tool.call.id", "ai.toolCall.id", "lk.function_tool.id"))
	if n.ToolCall == "<not specified>" {
		n.ToolCall = "" // Google ADK's for every call that raised: no id
	}
	return n, nil
}

// traceloopInput opens the envelope OpenLLMetry's LangChain callback
// handler writes a tool's input in (on_tool_start: {"input_str": ...,
// "tags": ..., "metadata": ..., "inputs": ..., "kwargs": ...}; a chain's
// has no input_str): the args are its inputs, else its input string (JSON,
// or a Python literal, str(dict)). The tags, the metadata (LangGraph's
// per-step langgraph_step, checkpoint_ns...) and the callback's kwargs are
// never args: they differ between retries of one operation. The traceloop
// decorators' {"args": [...], "kwargs": {...}} is opened with Langfuse's
// @observe input (keyAndResponse).
func traceloopInput(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if _, hasStr := m["input_str"]; !hasStr {
		if _, hasInputs := m["inputs"]; !hasInputs || !onlyKeys(m, "inputs", "tags", "metadata", "kwargs") {
			return v
		}
	}
	if in := m["inputs"]; in != nil {
		return parseString(in)
	}
	if s := m["input_str"]; s != nil {
		return parseString(s)
	}
	return nil
}

// traceloopOutput opens the envelope OpenLLMetry's LangChain callback
// handler writes a tool's output in ({"output": ..., "kwargs": {...}},
// a chain's {"outputs": ..., "kwargs": {...}}): the output, a ToolMessage
// (toolResult opens it) or what the tool returned. A decorated tool's
// output is its return value as JSON, a string holding JSON read as well.
func traceloopOutput(v any) any {
	if m, ok := v.(map[string]any); ok {
		for _, name := range []string{"output", "outputs"} {
			if out, ok := m[name]; ok && onlyKeys(m, name, "kwargs") {
				v = parseString(out)
				break
			}
		}
	}
	if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), `"`) {
		// json.dumps of a string the tool returned: the string, read as JSON in turn
		if inner, err := decodeJSON([]byte(s)); err == nil {
			v = inner
		}
	}
	return parseString(v)
}

// onlyKeys tells whether every member of m has one of the names.
func onlyKeys(m map[string]any, names ...string) bool {
	for k := range m {
		if !slices.Contains(names, k) {
			return false
		}
	}
	return true
}

// otlpEventPayload finds a tool's arguments and result in a span's events:
// gen_ai.tool.message (content) and gen_ai.choice (message) events, or the
// gen_ai.tool.call.* attributes on any event; and a gen_ai.tool.status.
func otlpEventPayload(v any) (args, result any, status string) {
	events, _ := v.([]any)
	for _, e := range events {
		em, _ := e.(map[string]any)
		attrs := otlpAttrs(em["attributes"])
		switch scalar(em["name"]) {
		case "gen_ai.tool.message":
			if args == nil {
				args = attrs["content"]
			}
		case "gen_ai.choice":
			if result == nil {
				result = first(attrs, "message", "content")
			}
		}
		if args == nil {
			args = attrs["gen_ai.tool.call.arguments"]
		}
		if result == nil {
			result = attrs["gen_ai.tool.call.result"]
		}
		if s := scalar(attrs["gen_ai.tool.status"]); s != "" {
			status = s
		}
		// the newest conventions: messages with parts
		for _, part := range messageParts(attrs["gen_ai.input.messages"]) {
			if args == nil && part["type"] == "tool_call" {
				args = part["arguments"]
			}
		}
		for _, part := range messageParts(attrs["gen_ai.output.messages"]) {
			if result == nil && part["type"] == "tool_call_response" {
				result = first(part, "response", "result")
			}
		}
	}
	return args, result, status
}

// messageParts lists the parts of GenAI messages ([{"role", "parts": [...]}]).
func messageParts(v any) []map[string]any {
	msgs, _ := parseString(v).([]any)
	var out []map[string]any
	for _, m := range msgs {
		parts, _ := asObject(m)["parts"].([]any)
		for _, p := range parts {
			if pm, ok := p.(map[string]any); ok {
				out = append(out, pm)
			}
		}
	}
	return out
}

// langfuseSpanAttrs gives the attributes of the OpenTelemetry span a
// Langfuse observation was made of, as Langfuse keeps them (every
// attribute in metadata.attributes, beside the span's resourceAttributes
// and scope; values not strings written as JSON), or nil for an
// observation of Langfuse's own SDKs (which keep no attributes).
func langfuseSpanAttrs(meta map[string]any) map[string]any {
	attrs := asObject(parseString(meta["attributes"]))
	if attrs == nil || (meta["resourceAttributes"] == nil && meta["scope"] == nil) {
		return nil
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	return out
}

// langfuse reads one observation (API v2 camelCase, blob export snake_case).
func (cv *converter) langfuse(m map[string]any) (*nativeCall, error) {
	typ, name := strings.ToUpper(scalar(m["type"])), scalar(m["name"])
	if typ == "" { // a trace, listed with its observations: its session is theirs
		cv.traceSession(scalar(m["id"]), scalar(first(m, "sessionId", "session_id")))
		return nil, nil
	}
	meta := asObject(parseString(m["metadata"]))
	trace, id, parent := scalar(first(m, "traceId", "trace_id")), scalar(m["id"]), scalar(first(m, "parentObservationId", "parent_observation_id"))
	if attrs := langfuseSpanAttrs(meta); attrs != nil {
		// an observation Langfuse made of an OpenTelemetry span (its OTLP
		// endpoint): its name is the span's display name (logfire.msg,
		// "ai.toolCall", "execute_tool charge_card"), its input and output
		// only what Langfuse knew to extract; the span's attributes, kept
		// in metadata.attributes, say which tool it called with what, as
		// in the OTLP export of the same span (Langfuse's TOOL type was
		// read from them too, a handoff's as well: they decide)
		sp := map[string]any{"name": name, "traceId": trace, "spanId": id, "parentSpanId": parent}
		if scalar(m["level"]) == "ERROR" {
			sp["status"] = map[string]any{"code": "2"}
		}
		for k, v := range meta { // the observation's own metadata (langfuse.observation.metadata.*)
			if _, ok := attrs[k]; !ok && k != "attributes" && k != "resourceAttributes" && k != "scope" {
				attrs[k] = v
			}
		}
		n, err := cv.otelSpan(sp, attrs, asObject(parseString(meta["resourceAttributes"])), parseString(m["input"]), parseString(m["output"]))
		if n != nil && err == nil {
			n.reference = recordRef("observation", n.Span)
			n.TS, n.Duration = timing(first(m, "startTime", "start_time"), first(m, "endTime", "end_time"))
			if n.Session == "" {
				n.Session = scalar(first(m, "sessionId", "session_id"))
			}
			if first(m, "endTime", "end_time") == nil && n.Status == "ok" {
				n.Status = nil // never ended (a crashed worker): the outcome is unknown
			}
		}
		return n, err
	}
	if typ != "TOOL" && !cv.toolSpan(name) {
		cv.link(trace, id, parent)
		return nil, nil
	}
	n := &nativeCall{Action: name, Trace: trace, Span: id, Parent: parent}
	n.reference = recordRef("observation", n.Span)
	if name == "" {
		return n, errors.New("a TOOL observation without a name")
	}
	start, end := first(m, "startTime", "start_time"), first(m, "endTime", "end_time")
	n.TS, n.Duration = timing(start, end)
	n.Session = scalar(first(m, "sessionId", "session_id"))
	if n.Session == "" {
		n.Session = scalar(first(meta, "session_id", "sessionId", "thread_id", "conversation_id"))
	}
	switch level := scalar(m["level"]); {
	case level == "ERROR":
		n.Status = "error" // statusMessage is free text: an error may or may not have happened downstream
	case end == nil:
		n.Status = nil // never ended (a crashed worker): the outcome is unknown
	default:
		n.Status = "ok"
	}
	if code := first(meta, "http.response.status_code", "status_code", "http_status"); code != nil {
		n.Status = statusValue(code)
	}
	cv.keyAndResponse(n, parseString(m["input"]), parseString(m["output"]), meta)
	n.Run = scalar(first(meta, "run_id", "run.id"))
	return n, nil
}

// maxRunDepth is how deep LangSmith child_runs are walked: the runs below
// are not read, and the record says so (hostile input).
const maxRunDepth = 512

// runScope is what a LangSmith run nested in child_runs takes from the
// runs enclosing it when it does not say it itself.
type runScope struct {
	trace, parent, session, run string
}

// scope is the runScope the child runs of m inherit.
func (s runScope) of(m map[string]any) runScope {
	meta := asObject(parseString(asObject(parseString(m["extra"]))["metadata"]))
	out := runScope{trace: scalar(m["trace_id"]), parent: scalar(m["id"]),
		session: scalar(first(meta, "thread_id", "session_id", "conversation_id")), run: scalar(first(meta, "run_id", "run.id"))}
	if out.trace == "" {
		out.trace = s.trace
	}
	if out.session == "" {
		out.session = s.session
	}
	if out.run == "" {
		out.run = s.run
	}
	return out
}

// langsmithTree reads a LangSmith run and the runs nested in its
// child_runs (Run.child_runs, as read_run(..., load_child_runs=True) fills
// it), at any depth, each a record of its own: the run first, then its
// children in order. The walk keeps its own stack (no recursion).
func (cv *converter) langsmithTree(root map[string]any, emit func(*nativeCall)) (skipped int, bad []recordError) {
	type pending struct {
		m     map[string]any
		in    runScope // from the enclosing runs
		depth int      // 0: the record itself
	}
	stack := []pending{{m: root}}
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n, err := cv.langsmith(r.m, r.in)
		s, b := cv.one(n, err, emit)
		skipped += s
		bad = append(bad, b...)
		children, _ := parseJSONString(r.m["child_runs"]).([]any)
		if len(children) == 0 {
			continue
		}
		if r.depth >= maxRunDepth {
			bad = append(bad, recordError{recordRef("run", scalar(r.m["id"])),
				fmt.Errorf("child_runs nested deeper than %d runs: the %d runs under it were not read", maxRunDepth, len(children))})
			continue
		}
		in := r.in.of(r.m)
		for i := len(children) - 1; i >= 0; i-- { // pushed last first: read in order
			cm, ok := children[i].(map[string]any)
			if !ok {
				bad = append(bad, recordError{recordRef("run", scalar(r.m["id"])), errors.New("a child run that is not a JSON object")})
				continue
			}
			stack = append(stack, pending{cm, in, r.depth + 1})
		}
	}
	return skipped, bad
}

// langsmith reads one run of type tool; in is what it inherits from the
// runs it is nested in (none for a run read as a record of its own).
func (cv *converter) langsmith(m map[string]any, in runScope) (*nativeCall, error) {
	trace, parent := scalar(m["trace_id"]), scalar(m["parent_run_id"])
	if trace == "" {
		trace = in.trace
	}
	if parent == "" {
		parent = in.parent
	}
	if scalar(m["run_type"]) != "tool" && !cv.toolSpan(scalar(m["name"])) {
		cv.link(trace, scalar(m["id"]), parent)
		return nil, nil
	}
	n := &nativeCall{Action: scalar(m["name"]), Trace: trace, Span: scalar(m["id"]), Parent: parent}
	n.reference = recordRef("run", n.Span)
	if n.Action == "" {
		return n, errors.New("a tool run without a name")
	}
	n.TS, n.Duration = timing(m["start_time"], m["end_time"])
	extra := asObject(parseString(m["extra"]))
	meta := asObject(parseString(extra["metadata"]))
	// the top-level session_id is the tracing project, not a conversation
	n.Session = scalar(first(meta, "thread_id", "session_id", "conversation_id"))
	if n.Session == "" {
		n.Session = in.session
	}
	switch st := scalar(m["status"]); {
	case st != "":
		n.Status = st
	case scalar(m["error"]) != "":
		n.Status = "error"
	case m["end_time"] != nil:
		n.Status = "ok"
	}
	// LangChain tool runs keep the input string as {"input": "..."}, the
	// result as {"output": ...}
	args := parseString(m["inputs"])
	if v, ok := onlyMember(args, "input"); ok {
		args = parseString(v)
	}
	cv.keyAndResponse(n, args, parseString(m["outputs"]), meta) // {"output": ...} is opened with the other envelopes
	if n.Run = scalar(first(meta, "run_id", "run.id")); n.Run == "" {
		n.Run = in.run
	}
	return n, nil
}

// openai reads one span of the OpenAI Agents SDK: function spans are tool calls.
func (cv *converter) openai(m map[string]any) (*nativeCall, error) {
	if obj := scalar(m["object"]); obj != "" && obj != "trace.span" {
		if obj == "trace" { // its group_id is the conversation of its spans
			meta := asObject(parseString(m["metadata"]))
			cv.traceSession(scalar(m["id"]), scalar(first(m, "group_id")))
			cv.traceSession(scalar(m["id"]), scalar(first(meta, "session_id", "thread_id", "conversation_id")))
		}
		return nil, nil
	}
	sd, _ := m["span_data"].(map[string]any)
	if scalar(sd["type"]) != "function" && !cv.toolSpan(scalar(sd["name"])) {
		cv.link(scalar(m["trace_id"]), scalar(m["id"]), scalar(m["parent_id"]))
		return nil, nil
	}
	n := &nativeCall{Action: scalar(sd["name"]), Trace: scalar(m["trace_id"]), Span: scalar(m["id"]), Parent: scalar(m["parent_id"])}
	n.reference = recordRef("span", n.Span)
	if n.Action == "" {
		return n, errors.New("a function span without a name")
	}
	n.TS, n.Duration = timing(m["started_at"], m["ended_at"])
	meta := asObject(parseString(m["metadata"]))
	n.Session = scalar(first(meta, "session_id", "thread_id", "conversation_id", "group_id"))
	if e := m["error"]; e != nil {
		n.Status = "error"
		if em, ok := e.(map[string]any); ok {
			// an HTTP status in the error's data tells rejected (4xx) from unknown
			if code, ok := lookup(em["data"], "status"); ok && isScalar(code) {
				if num, isNum := code.(json.Number); isNum {
					n.Status = num
				}
			}
		}
	} else if m["ended_at"] != nil {
		n.Status = "ok"
	}
	cv.keyAndResponse(n, parseString(sd["input"]), parseString(sd["output"]), meta)
	n.Run = scalar(first(meta, "run_id", "run.id"))
	return n, nil
}

func (cv *converter) toolSpan(name string) bool {
	for _, g := range cv.im.ToolSpans {
		if config.Match(g, name) {
			return true
		}
	}
	return false
}

// keyAndResponse sets the args, the idempotency key and the response id of
// an imported call. A key found in the args is left out of them, so the
// fingerprint of an operation whose retries carry fresh keys stays the same.
func (cv *converter) keyAndResponse(n *nativeCall, args, result any, attrs map[string]any) {
	if args != nil {
		n.Args, n.HasArgs = args, true
	}
	var failed bool
	result, failed = toolResult(result)
	if failed {
		n.Status = "error"
	}
	// Langfuse's @observe and OpenLLMetry's @tool / @task record a
	// function's input as {"args": [...], "kwargs": {...}}: its keyword
	// arguments, the one object passed positionally, or the keyword
	// arguments with the positional ones as their "args". OpenInference's
	// smolagents instrumentation writes the bound arguments of
	// Tool.__call__(*args, sanitize_inputs_outputs=False, **kwargs): the
	// same, with that flag (the framework's, never the tool's)
	m, ok := args.(map[string]any)
	if _, flag := m["sanitize_inputs_outputs"].(bool); ok && flag && len(m) == 3 {
		m = without(m, "sanitize_inputs_outputs").(map[string]any)
	}
	if ok && len(m) == 2 {
		pos, isList := m["args"].([]any)
		kw, isObj := m["kwargs"].(map[string]any)
		if isList && isObj {
			switch one := asObject(parseString(firstOf(pos))); {
			case len(pos) == 0:
				args = kw
			case len(pos) == 1 && len(kw) == 0 && one != nil:
				args = one
			case len(kw) > 0 && kw["args"] == nil:
				merged := make(map[string]any, len(kw)+1)
				for k, v := range kw {
					merged[k] = v
				}
				merged["args"] = pos
				args = merged
			}
			n.Args = args
		}
	}
	roots := map[string]any{"args": args, "result": result, "attributes": attrs, "metadata": attrs}
	keyPaths := cv.im.KeyPaths
	if keyPaths == nil {
		keyPaths = DefaultKeyPaths
	}
	// every path in the args first, then in the other places: a key the
	// args carry is the one sent downstream, and must leave the fingerprint
find:
	for _, phase := range []string{"args", "result", "attributes"} {
		for _, p := range keyPaths {
			root, rest, rooted := splitRoot(p)
			if root == "metadata" {
				root = "attributes"
			}
			if (rooted && root != phase) || (!rooted && phase == "result") {
				continue
			}
			if v, at, ok := lookupFold(roots[phase], rest); ok && isScalar(v) && scalar(v) != "" {
				n.Key = idScalar(v)
				if phase == "args" {
					n.Args = without(n.Args, at)
				}
				break find
			}
		}
	}
	respPaths := cv.im.ResponsePaths
	if respPaths == nil {
		respPaths = DefaultResponsePaths
	}
	for _, p := range respPaths {
		root, rest, rooted := splitRoot(p)
		if !rooted {
			root = "result"
		}
		if v, ok := lookup(roots[root], rest); ok && isScalar(v) && scalar(v) != "" {
			n.Response = idScalar(v)
			break
		}
	}
}

func splitRoot(p string) (root, rest string, ok bool) {
	for _, r := range []string{"args", "result", "attributes", "metadata"} {
		if rest, ok := strings.CutPrefix(p, r+"."); ok {
			return r, rest, true
		}
	}
	return "", p, false
}

// lookup follows a dotted path. A member name may itself hold dots
// ("idempotency.key", "mcp.session.id"): at each level the longest name
// that exists wins. Digit segments index arrays.
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	switch x := v.(type) {
	case map[string]any:
		if val, ok := x[path]; ok {
			return val, true
		}
		for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
			if val, ok := x[path[:i]]; ok {
				if got, ok := lookup(val, path[i+1:]); ok {
					return got, true
				}
			}
		}
	case []any:
		seg, rest, _ := strings.Cut(path, ".")
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
			return lookup(x[i], rest)
		}
	}
	return nil, false
}

// lookupFold is lookup for a key path: when no member has a name as the
// path writes it, a member whose name differs only in case is taken (HTTP
// header names have no case, and Node's http, fetch's Headers and HTTP/2
// write them in lower case: idempotency-key; of several, the first name in
// byte order). It returns the path as the members found spell it.
func lookupFold(v any, path string) (any, string, bool) {
	if got, ok := lookup(v, path); ok {
		return got, path, true
	}
	switch x := v.(type) {
	case map[string]any:
		for i := len(path); i > 0; i = strings.LastIndexByte(path[:i], '.') {
			name, rest := path[:i], ""
			if i < len(path) {
				rest = path[i+1:]
			}
			var match string
			found := false
			for k := range x {
				if strings.EqualFold(k, name) && (!found || k < match) {
					match, found = k, true
				}
			}
			if !found {
				continue
			}
			if rest == "" {
				return x[match], match, true
			}
			if got, at, ok := lookupFold(x[match], rest); ok {
				return got, match + "." + at, true
			}
		}
	case []any:
		seg, rest, _ := strings.Cut(path, ".")
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) && rest != "" {
			if got, at, ok := lookupFold(x[i], rest); ok {
				return got, seg + "." + at, true
			}
		}
	}
	return nil, "", false
}

// without removes the member at a path from a copy of v's containers on
// the way (the record itself is not changed).
func without(v any, path string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		out[k] = val
	}
	if _, ok := out[path]; ok {
		delete(out, path)
		return out
	}
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if val, ok := out[path[:i]]; ok {
			if _, found := lookup(val, path[i+1:]); found {
				out[path[:i]] = without(val, path[i+1:])
				return out
			}
		}
	}
	return out
}

// firstOf is a list's first element (nil for an empty list).
func firstOf(list []any) any {
	if len(list) == 0 {
		return nil
	}
	return list[0]
}

// firstNamed is first, and the name of the member it returns.
func firstNamed(m map[string]any, names ...string) (any, string) {
	for _, n := range names {
		if v := m[n]; v != nil {
			return v, n
		}
	}
	return nil, ""
}

// first returns the first of a map's members that is present and not null.
func first(m map[string]any, names ...string) any {
	for _, n := range names {
		if v := m[n]; v != nil {
			return v
		}
	}
	return nil
}

// toolResult unwraps the envelopes a tool's own result comes in: a
// LangChain ToolMessage (LangGraph's ToolNode, LangChain callbacks; also in
// its serialised constructor form), whose id and tool_call_id are the
// message's, new on every call, never a response id; an MCP CallToolResult
// ({"content": [{"type": "text", "text": ...}], "structuredContent": ...,
// "isError": ...}). failed says the envelope reports an error.
func toolResult(result any) (any, bool) {
	for range 3 { // envelopes nest: a ToolMessage holding an MCP result
		if list, ok := result.([]any); ok && len(list) == 1 {
			// one content block: [{"type": "text", "text": ...}], [{"text": ...}]
			if b, ok := list[0].(map[string]any); ok && b["text"] != nil && len(b) <= 3 {
				result = parseString(b["text"])
				continue
			}
		}
		if v, ok := onlyMember(result, "output"); ok { // LangChain's {"output": ...}
			result = parseString(v)
			continue
		}
		m, ok := result.(map[string]any)
		if !ok {
			return result, false
		}
		if m["lc"] != nil && m["type"] == "constructor" {
			if kw, ok := m["kwargs"].(map[string]any); ok {
				m = kw
				result = kw
			}
		}
		switch {
		case m["tool_call_id"] != nil && m["content"] != nil:
			if scalar(m["status"]) == "error" {
				r, _ := toolResult(parseString(m["content"]))
				return r, true
			}
			result = parseString(m["content"])
			continue
		case m["structuredContent"] != nil:
			return m["structuredContent"], m["isError"] == true
		case m["content"] != nil && (m["isError"] != nil || len(m) <= 3):
			if items, ok := m["content"].([]any); ok {
				var texts []any
				for _, it := range items {
					if im, ok := it.(map[string]any); ok && im["type"] == "text" {
						texts = append(texts, parseString(im["text"]))
					}
				}
				if len(texts) == 1 {
					return texts[0], m["isError"] == true
				}
				return result, m["isError"] == true
			}
		case m["type"] == "text" && m["text"] != nil && len(m) <= 5: // an MCP TextContent (annotations, meta)
			result = parseString(m["text"])
			continue
		}
		return result, false
	}
	return result, false
}

// onlyMember returns an object's member when it is the only one not null
// (a Parquet export gives every row the union of the members).
func onlyMember(v any, name string) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok || m[name] == nil {
		return nil, false
	}
	for k, x := range m {
		if k != name && x != nil {
			return nil, false
		}
	}
	return m[name], true
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, json.Number, bool:
		return true
	}
	return false
}

// scalar is a value as text: strings as they are, numbers as written,
// objects and arrays as compact JSON, null as "".
// recordRef names a record in an error: "span 5b8aa5a2d2c872e8". An id
// holding ": " (or starting with a quote) is Go-quoted, so that where it
// ends is known: --redact (rules.Redact) replaces the whole id by its token,
// never a part of it.
func recordRef(kind, id string) string {
	if strings.Contains(id, ": ") || strings.HasPrefix(id, `"`) {
		id = strconv.Quote(id)
	}
	return kind + " " + id
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// idScalar is scalar for an idempotency key, a response id or a session:
// a number in its canonical form, as Parser.Parse reads one (an id
// returned as 100 and as 1e2 is one id); a string as it is.
func idScalar(v any) string {
	if n, ok := v.(json.Number); ok {
		return canonID(n.String())
	}
	return scalar(v)
}

func statusValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x
	case string:
		if x == "" {
			return nil
		}
		return x
	case nil:
		return nil
	}
	return scalar(v)
}

// tsValue passes a time on as the log format reads it (RFC 3339 with or
// without a zone, a space for the T, epoch numbers); an offset written as
// "+00" (PostgreSQL, DuckDB) is completed to "+00:00".
func tsValue(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	if n := len(s); n > 3 && (s[n-3] == '+' || s[n-3] == '-') && isDigit(s[n-2]) && isDigit(s[n-1]) && strings.Contains(s, ":") {
		s += ":00"
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// timing gives a call's start and its duration from the start and end.
func timing(start, end any) (any, *float64) {
	if start == nil {
		return nil, nil
	}
	ts := tsValue(start)
	s, ok1 := nanos(ts)
	e, ok2 := nanos(tsValue(end))
	if ok1 && ok2 && e >= s {
		d := float64(e-s) / 1e6
		return ts, &d
	}
	return ts, nil
}

func nanos(v any) (int64, bool) {
	switch x := v.(type) {
	case string:
		if n, ok := parseRFC3339([]byte(x)); ok {
			return n, true
		}
		if isNumber([]byte(x)) {
			return epochNanos([]byte(x))
		}
	case json.Number:
		return epochNanos([]byte(x))
	}
	return 0, false
}

// parseString reads a string that holds JSON (or a Python literal, as
// LangChain writes tool inputs) as that value; any other value, or a
// string that is neither, stays as it is.
func parseString(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return v
	}
	if c := t[0]; c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
		// an object's repr or str: Voucher(id='v1'), id='v1' status='ok'
		if val, ok := pyLiteral(t); ok {
			if _, isObj := val.(map[string]any); isObj {
				return val
			}
		}
		return v
	}
	if !strings.ContainsRune("{[('\"", rune(t[0])) {
		return v
	}
	if t[0] == '{' || t[0] == '[' {
		if val, err := decodeJSON([]byte(t)); err == nil {
			return val
		}
	}
	if val, ok := pyLiteral(t); ok {
		if _, isStr := val.(string); !isStr {
			return val
		}
	}
	return v
}

// parseJSONString reads a string holding a JSON object or array as that
// value; anything else stays as it is.
func parseJSONString(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t := strings.TrimSpace(s)
	if t != "" && (t[0] == '{' || t[0] == '[') {
		if val, err := decodeJSON([]byte(t)); err == nil {
			return val
		}
	}
	return v
}

// decodeJSON decodes one JSON value, numbers kept as written.
func decodeJSON(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("invalid UTF-8 at byte %d", invalidUTF8At(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	// only blanks may follow (Decoder.More and Token let a stray '}' or ']' through)
	if rest := bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("trailing data after the JSON value at byte %d", len(b)-len(rest)+1)
	}
	return v, nil
}

// otlpAttrs turns OTLP attributes ([{key, value: {stringValue|...}}]) into a map.
func otlpAttrs(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m // already read (the fields of a Jaeger log)
	}
	out := map[string]any{}
	list, _ := v.([]any)
	for _, a := range list {
		am, _ := a.(map[string]any)
		k := scalar(am["key"])
		if k == "" {
			continue
		}
		out[k] = anyValue(am["value"])
	}
	return out
}

func anyValue(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, val := range m {
		switch k {
		case "stringValue", "string_value":
			return val
		case "intValue", "int_value", "doubleValue", "double_value":
			if x, ok := val.(string); ok {
				// 64-bit ints are strings in OTLP JSON; so are NaN and Infinity
				if x != "" && (x[0] == '-' || isDigit(x[0])) && json.Valid([]byte(x)) {
					return json.Number(x)
				}
				return x
			}
			return val
		case "boolValue", "bool_value":
			if s, ok := val.(string); ok {
				return s == "true"
			}
			return val
		case "bytesValue", "bytes_value":
			if s, ok := val.(string); ok {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil && utf8.Valid(b) {
					return string(b)
				}
			}
			return val
		case "arrayValue", "array_value":
			vm, _ := val.(map[string]any)
			vals, _ := vm["values"].([]any)
			out := make([]any, len(vals))
			for i, x := range vals {
				out[i] = anyValue(x)
			}
			return out
		case "kvlistValue", "kvlist_value":
			vm, _ := val.(map[string]any)
			return otlpAttrs(vm["values"])
		}
	}
	return nil
}
