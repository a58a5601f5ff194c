package main

import (
	"os"
	"strings"
	"testing"
)

// TestOpenAIAgentsOutputWithPythonValues: the OpenAI Agents SDK exports a
// function span's output as str() of what the tool returned. A charge
// tool returning a dict with a Decimal amount and a datetime prints
// {'id': 'ch_1', 'amount': Decimal('49.99'), 'created':
// datetime.datetime(…)}: the response id is read all the same, so the
// double charge under one key is critical and --fail-on critical fails
// (the output was not read: no response id, no finding, exit 0).
func TestOpenAIAgentsOutputWithPythonValues(t *testing.T) {
	dir := t.TempDir()
	span := func(id, start, resp string) string {
		return `{"object": "trace.span", "id": "span_` + id + `", "trace_id": "trace_5b8aa5a2d2c872e8321cf37308d69df2", "parent_id": "span_a0b1c2d3e4f5a6b7c8d9e0f1", ` +
			`"started_at": "2026-03-10T14:0` + start + `.000000+00:00", "ended_at": "2026-03-10T14:0` + start + `.900000+00:00", ` +
			`"span_data": {"type": "function", "name": "charge_card", "input": "{\"customer_id\":\"cus_B\",\"amount\":\"49.99\",\"idempotency_key\":\"ord-2002\"}", ` +
			`"output": "{'id': '` + resp + `', 'amount': Decimal('49.99'), 'status': <ChargeStatus.SUCCEEDED: 'succeeded'>, ` +
			`'created': datetime.datetime(2026, 3, 10, 14, 1, 42, tzinfo=datetime.timezone.utc)}", "mcp_data": null}, "error": null}`
	}
	f := writeFile(t, dir, "agents.jsonl", `{"object": "trace", "id": "trace_5b8aa5a2d2c872e8321cf37308d69df2", "workflow_name": "Billing agent", "group_id": "conv-B", "metadata": null}`+"\n"+
		span("11111111111111111111111a", "1:42", "ch_1")+"\n"+span("22222222222222222222222b", "2:07", "ch_2")+"\n")
	got := summarize(auditImport(t, "-q", f))
	want := "same-key-different-response/critical/charge_card/repeat " + f + ":2@span_11111111111111111111111a " + f + ":3@span_22222222222222222222222b"
	if len(got) != 1 || got[0] != want {
		t.Errorf("findings %q, want %q", got, want)
	}
	if r := run(t, nil, "audit", "-q", "--config", os.DevNull, "--fail-on", "critical", f); r.code != 1 ||
		!strings.Contains(r.stdout, "key ord-2002 of charge_card produced 2 distinct response ids (ch_1, ch_2)") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
