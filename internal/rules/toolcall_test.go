package rules_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// otlpKeyedSpan is one OTLP line holding one execute_tool span without
// args (a default export: content capture is opt-in), with its tool call
// id, conversation, idempotency key and result ("" leaves each out).
func otlpKeyedSpan(span, tool, callID, conv, key, result string, sec int) string {
	attr := func(k, v string) string {
		return `,{"key":"` + k + `","value":{"stringValue":` + strconv.Quote(v) + `}}`
	}
	s := `{"traceId":"8b8efff798038103d269b633813fc60c","spanId":"` + span + `","name":"execute_tool ` + tool + `",` +
		`"startTimeUnixNano":"` + strconv.Itoa(1763456000+sec) + `000000000",` +
		`"attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}}` + attr("gen_ai.tool.name", tool)
	for _, kv := range [][2]string{{"gen_ai.tool.call.id", callID}, {"gen_ai.conversation.id", conv},
		{"idempotency_key", key}, {"gen_ai.tool.call.result", result}} {
		if kv[1] != "" {
			s += attr(kv[0], kv[1])
		}
	}
	return `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[` + s + `],"status":{}}]}]}]}`
}

// TestUnstableKeyToolCallID: a trace-export call without args is
// fingerprinted by its tool call id; the same tool call retried under
// fresh keys is an unstable key, reported as such (its message names the
// tool call id, not args it does not have). Calls fingerprinted by their
// session stay out, and two tool calls under two keys are no finding.
func TestUnstableKeyToolCallID(t *testing.T) {
	res := auditLines(t,
		// 1-2: call_1 sent twice under two keys, two charges
		otlpKeyedSpan("1111111111111111", "charge", "call_1", "conv_9", "k1", `{"id":"ch_1"}`, 0),
		otlpKeyedSpan("2222222222222222", "charge", "call_1", "conv_9", "k2", `{"id":"ch_2"}`, 30),
		// 3-4: two tool calls of the model, two keys: two operations
		otlpKeyedSpan("3333333333333333", "charge", "call_2", "conv_9", "k3", `{"id":"ch_3"}`, 60),
		otlpKeyedSpan("4444444444444444", "charge", "call_3", "conv_9", "k4", `{"id":"ch_4"}`, 90),
		// 5-6: no tool call id: the session's fingerprint, left out
		otlpKeyedSpan("5555555555555555", "refund", "", "conv_9", "k5", `{"id":"re_1"}`, 120),
		otlpKeyedSpan("6666666666666666", "refund", "", "conv_9", "k6", `{"id":"re_2"}`, 150),
		// 7-8: no conversation: the tool call id alone, sent again, one charge
		otlpKeyedSpan("7777777777777777", "charge", "call_7", "", "k7", `{"id":"ch_7"}`, 180),
		otlpKeyedSpan("8888888888888888", "charge", "call_7", "", "k8", `{"id":"ch_7"}`, 200),
	)
	check(t, res, []string{"unstable-key"},
		want{"unstable-key", rules.High, []int64{1, 2}},
		want{"unstable-key", rules.Medium, []int64{7, 8}})
	for _, f := range findings(res, "unstable-key") {
		if !strings.Contains(f.Message, "with the same tool call id within") || strings.Contains(f.Message, "args") {
			t.Errorf("message %q: want it to say the calls share their tool call id (they have no args)", f.Message)
		}
	}
}
