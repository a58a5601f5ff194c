package ingest

import (
	"strconv"
	"strings"
	"testing"
)

// otlpToolSpan is one execute_tool span of the GenAI conventions: its
// tool, tool call id, conversation and args ("" leaves each out, as a
// default export leaves out the args: content capture is opt-in).
func otlpToolSpan(span, tool, callID, conv, args string, start int) string {
	attr := func(k, v string) string {
		return `,{"key":"` + k + `","value":{"stringValue":` + strconvQuote(v) + `}}`
	}
	s := `{"traceId":"8b8efff798038103d269b633813fc60c","spanId":"` + span + `","name":"execute_tool ` + tool + `",` +
		`"startTimeUnixNano":"` + strconv.Itoa(1763456000+start) + `000000000","endTimeUnixNano":"` + strconv.Itoa(1763456000+start) + `800000000",` +
		`"attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}}` + attr("gen_ai.tool.name", tool)
	if callID != "" {
		s += attr("gen_ai.tool.call.id", callID)
	}
	if conv != "" {
		s += attr("gen_ai.conversation.id", conv)
	}
	if args != "" {
		s += attr("gen_ai.tool.call.arguments", args)
	}
	return s + `],"status":{}}`
}

func otlpLine(spans ...string) string {
	return `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}` + "\n"
}

// TestToolCallIDFingerprint: a trace-export call without args is the
// operation of its tool call id (in its conversation), not of its whole
// session: two tool calls the model made are two operations, a tool call
// sent again (a framework retry, a replay) is one. Args, when there are
// any, still decide; idemaudit's own JSON Lines have no tool call id.
func TestToolCallIDFingerprint(t *testing.T) {
	fps := func(t *testing.T, name, data string) []string {
		t.Helper()
		d, _ := ingestOne(t, name, data, nil)
		var out []string
		for _, c := range importedCalls(t, d) {
			out = append(out, c.FP)
		}
		return out
	}
	t.Run("default export: no args, two tool call ids in one conversation", func(t *testing.T) {
		fp := fps(t, "otel.jsonl", otlpLine(otlpToolSpan("1111111111111111", "send_email", "call_1", "conv_9", "", 45),
			otlpToolSpan("2222222222222222", "send_email", "call_2", "conv_9", "", 50),
			otlpToolSpan("3333333333333333", "send_email", "call_1", "conv_9", "", 55)))
		if len(fp) != 3 || fp[0] == "" || fp[1] == "" {
			t.Fatalf("fingerprints %q: calls with a tool call id must be fingerprinted", fp)
		}
		if fp[0] == fp[1] {
			t.Errorf("call_1 and call_2 share a fingerprint %s: two tool calls are two operations", fp[0])
		}
		if fp[0] != fp[2] {
			t.Errorf("call_1 twice: %s and %s, want one operation (the tool call sent again)", fp[0], fp[2])
		}
	})
	t.Run("the same tool call id in two conversations", func(t *testing.T) {
		fp := fps(t, "otel.jsonl", otlpLine(otlpToolSpan("1111111111111111", "send_email", "call_1", "conv_1", "", 45),
			otlpToolSpan("2222222222222222", "send_email", "call_1", "conv_2", "", 50),
			otlpToolSpan("3333333333333333", "send_email", "call_1", "", "", 52),
			otlpToolSpan("4444444444444444", "send_email", "call_1", "", "", 54)))
		if fp[0] == fp[1] || fp[0] == fp[2] || fp[2] != fp[3] || fp[2] == "" {
			t.Errorf("fingerprints %q: want call_1 of conv_1, of conv_2 and without a conversation apart, the last two equal", fp)
		}
	})
	t.Run("args decide over the tool call id", func(t *testing.T) {
		fp := fps(t, "otel.jsonl", otlpLine(otlpToolSpan("1111111111111111", "send_email", "call_1", "conv_9", `{"to":"ana"}`, 45),
			otlpToolSpan("2222222222222222", "send_email", "call_2", "conv_9", `{"to":"ana"}`, 50),
			otlpToolSpan("3333333333333333", "send_email", "call_1", "conv_9", `{"to":"bob"}`, 55)))
		if fp[0] != fp[1] || fp[0] == fp[2] {
			t.Errorf("fingerprints %q: want the same args one operation whatever their tool call ids, other args another", fp)
		}
	})
	t.Run("no args and no tool call id: the session, as before", func(t *testing.T) {
		fp := fps(t, "otel.jsonl", otlpLine(otlpToolSpan("1111111111111111", "send_email", "", "conv_9", "", 45),
			otlpToolSpan("2222222222222222", "send_email", "", "conv_9", "", 50),
			otlpToolSpan("3333333333333333", "send_email", "", "", "", 55)))
		if fp[0] == "" || fp[0] != fp[1] || fp[2] != "" {
			t.Errorf("fingerprints %q: want the session's for the first two, none for the last", fp)
		}
	})
	t.Run("the Vercel AI SDK's ai.toolCall.id", func(t *testing.T) {
		span := func(id, call string) string {
			return `{"traceId":"t1","spanId":"` + id + `","name":"ai.toolCall","startTimeUnixNano":"1794820000000000000","attributes":[` +
				`{"key":"ai.toolCall.name","value":{"stringValue":"pay"}},{"key":"ai.toolCall.id","value":{"stringValue":"` + call + `"}},` +
				`{"key":"session.id","value":{"stringValue":"s1"}}]}`
		}
		fp := fps(t, "otel.jsonl", otlpLine(span("a", "call_x"), span("b", "call_y"), span("c", "call_x")))
		if fp[0] == fp[1] || fp[0] != fp[2] {
			t.Errorf("fingerprints %q", fp)
		}
	})
	t.Run("JSON Lines: a tool_call_id member is an unknown field", func(t *testing.T) {
		own := `{"ts":"2026-11-18T10:00:00Z","action_type":"send_email","session_id":"s1","tool_call_id":"call_1"}
{"ts":"2026-11-18T10:01:00Z","action_type":"send_email","session_id":"s1","tool_call_id":"call_2"}
`
		fp := fps(t, "own.jsonl", own)
		if fp[0] == "" || fp[0] != fp[1] {
			t.Errorf("fingerprints %q: want the session's, as the log format says", fp)
		}
		// the same as an array of calls, which goes through the converter
		arr := "[" + strings.Replace(strings.TrimSpace(own), "\n", ",", 1) + "]\n"
		if got := fps(t, "own.json", arr); got[0] != fp[0] || got[1] != fp[1] {
			t.Errorf("as an array: %q, as lines: %q", got, fp)
		}
	})
}

// Without a conversation, a tool call id is scoped by its trace: servers
// that number tool calls per response (call_0) reuse ids across traces,
// and two calls named call_0 in two traces are two operations. With
// neither a conversation nor a trace, the id identifies nothing.
func TestToolCallIDWithoutConversation(t *testing.T) {
	inTrace := func(trace, span, callID string, start int) string {
		return strings.Replace(otlpToolSpan(span, "send_email", callID, "", "", start), "8b8efff798038103d269b633813fc60c", trace, 1)
	}
	d, _ := ingestOne(t, "otel.jsonl", otlpLine(
		inTrace("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1111111111111111", "call_0", 45),
		inTrace("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "2222222222222222", "call_0", 105),
		inTrace("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "3333333333333333", "call_0", 110),
		inTrace("", "4444444444444444", "call_0", 120)), nil)
	cs := importedCalls(t, d)
	if len(cs) != 4 {
		t.Fatalf("%d calls", len(cs))
	}
	if cs[0].FP == "" || cs[0].FP == cs[1].FP {
		t.Errorf("call_0 in two traces: fingerprints %q %q; want two operations", cs[0].FP, cs[1].FP)
	}
	if cs[0].FP != cs[2].FP {
		t.Errorf("call_0 twice in one trace: fingerprints %q %q; want one operation", cs[0].FP, cs[2].FP)
	}
	if cs[3].FP != "" {
		t.Errorf("no conversation, no trace: fingerprint %q; want none", cs[3].FP)
	}
}

// Google ADK gives every tool call that raised the tool call id
// "<not specified>" (telemetry/tracing.py, trace_tool_call without a
// response event): it names no tool call, and two failed calls of one
// trace are not one operation for it.
func TestToolCallIDNotSpecified(t *testing.T) {
	d, _ := ingestOne(t, "otel.jsonl", otlpLine(
		otlpToolSpan("1111111111111111", "charge_card", "<not specified>", "", "", 45),
		otlpToolSpan("2222222222222222", "charge_card", "<not specified>", "", "", 50)), nil)
	cs := importedCalls(t, d)
	if len(cs) != 2 {
		t.Fatalf("%d calls", len(cs))
	}
	if cs[0].FP != "" || cs[1].FP != "" {
		t.Errorf("fingerprints %q %q: want none (no args, no tool call id, no conversation)", cs[0].FP, cs[1].FP)
	}
}

// TestADKContentNotCaptured: Google ADK with span content capture off
// (ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS=false) writes "{}" for every tool
// call's args and response. Those are no args: two charges of different
// customers are two operations (by their tool call ids), not one called
// twice with the same args.
func TestADKContentNotCaptured(t *testing.T) {
	adk := func(span, callID, args, resp string, start int) string {
		s := otlpToolSpan(span, "charge_card", callID, "", "", start)
		return strings.Replace(s, `"attributes":[`, `"attributes":[{"key":"gcp.vertex.agent.tool_call_args","value":{"stringValue":`+strconvQuote(args)+
			`}},{"key":"gcp.vertex.agent.tool_response","value":{"stringValue":`+strconvQuote(resp)+`}},`, 1)
	}
	d, _ := ingestOne(t, "otel.jsonl", otlpLine(
		adk("1111111111111111", "adk-1", "{}", "{}", 45),
		adk("2222222222222222", "adk-2", "{}", "{}", 50)), nil)
	cs := importedCalls(t, d)
	if len(cs) != 2 || cs[0].FP == "" || cs[0].FP == cs[1].FP {
		t.Errorf("not captured: %+v, want two fingerprints (the tool call ids)", cs)
	}
	// captured: a tool without parameters is still one operation
	d, _ = ingestOne(t, "otel.jsonl", otlpLine(
		adk("1111111111111111", "adk-1", "{}", `{"id": "r_1"}`, 45),
		adk("2222222222222222", "adk-2", "{}", `{"id": "r_2"}`, 50)), nil)
	if cs := importedCalls(t, d); len(cs) != 2 || cs[0].FP == "" || cs[0].FP != cs[1].FP {
		t.Errorf("captured: %+v, want one fingerprint (the same args)", cs)
	}
}
