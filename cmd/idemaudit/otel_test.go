package main

import (
	"strconv"
	"strings"
	"testing"
)

// genAISpan is an execute_tool span as a default OpenTelemetry GenAI export
// writes it: the tool, its call id and the conversation, no arguments and
// no result (content capture is opt-in).
func genAISpan(span, tool, callID, conv string, start int) string {
	attr := func(k, v string) string { return `,{"key":"` + k + `","value":{"stringValue":"` + v + `"}}` }
	ns := strconv.Itoa(1763456000 + start)
	return `{"traceId":"8b8efff798038103d269b633813fc60c","spanId":"` + span + `","name":"execute_tool ` + tool + `",` +
		`"startTimeUnixNano":"` + ns + `000000000","endTimeUnixNano":"` + ns + `800000000","attributes":[` +
		`{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}}` + attr("gen_ai.tool.name", tool) +
		attr("gen_ai.tool.call.id", callID) + attr("gen_ai.conversation.id", conv) + `],"status":{}}`
}

func genAIExport(spans ...string) string {
	return `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}` + "\n"
}

// TestDefaultGenAIExportToolCalls: two send_email tool calls the model made
// two minutes apart in one conversation, exported without their arguments,
// are not a repeat; the same tool call executed twice (a framework retry,
// a replay: the same gen_ai.tool.call.id) is.
func TestDefaultGenAIExportToolCalls(t *testing.T) {
	dir := t.TempDir()
	two := writeFile(t, dir, "two.jsonl", genAIExport(genAISpan("1111111111111111", "send_email", "call_1", "conv_9", 45),
		genAISpan("2222222222222222", "send_email", "call_2", "conv_9", 165)))
	if got := summarize(auditImport(t, two)); len(got) != 0 {
		t.Errorf("two tool calls (call_1, call_2) without args: findings %q, want none", got)
	}
	again := writeFile(t, dir, "again.jsonl", genAIExport(genAISpan("1111111111111111", "send_email", "call_1", "conv_9", 45),
		genAISpan("2222222222222222", "send_email", "call_1", "conv_9", 165)))
	rep := auditImport(t, again)
	if got := strings.ReplaceAll(strings.Join(summarize(rep), "\n"), dir+"/", ""); got != "repeat-without-key/high/send_email/repeat again.jsonl:1@1111111111111111 again.jsonl:1@2222222222222222" {
		t.Errorf("one tool call (call_1) executed twice: findings %q, want a high repeat-without-key", got)
	}
	r := run(t, nil, "audit", "-q", "--config", "/dev/null", "-f", "markdown", again)
	if !strings.Contains(r.stdout, "the same tool call id") {
		t.Errorf("the rule's explanation does not say a call without args is identified by its tool call id:\n%s", r.stdout)
	}
}
