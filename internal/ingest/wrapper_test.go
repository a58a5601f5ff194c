package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/idemaudit/idemaudit/internal/config"
)

// OTLP spans of one trace for the wrapper tests: the agent's execute_tool
// span (args with the key, a result), an MCP client span under it (no args,
// no result: the MCP default), an HTTP span, an MCP server span.

const wrapTrace = "9b8efff798038103d269b633813fc60c"

func wrapSpan(id, parent, name string, startSec int, attrs ...string) string {
	s := `{"traceId":"` + wrapTrace + `","spanId":"` + id + `"`
	if parent != "" {
		s += `,"parentSpanId":"` + parent + `"`
	}
	return s + fmt.Sprintf(`,"name":%q,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s],"status":{}}`,
		name, int64(1763456045+startSec)*1e9, int64(1763456045+startSec)*1e9+9e8, strings.Join(attrs, ","))
}

func wrapAttr(k, v string) string {
	return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v)
}

// agentSpan is an execute_tool charge_card span; key "" leaves it out of
// the args, result "" gives no result.
func agentSpan(id string, startSec int, key, result string) string {
	args := `{"customer":"cus_9","amount":2000`
	if key != "" {
		args += `,"idempotency_key":"` + key + `"`
	}
	attrs := []string{wrapAttr("gen_ai.operation.name", "execute_tool"), wrapAttr("gen_ai.tool.name", "charge_card"),
		wrapAttr("gen_ai.tool.call.arguments", args+"}")}
	if result != "" {
		attrs = append(attrs, wrapAttr("gen_ai.tool.call.result", `{"id":"`+result+`"}`))
	}
	return wrapSpan(id, "", "execute_tool charge_card", startSec, attrs...)
}

// mcpSpan is an MCP client (or, with server, server) span of charge_card,
// without args or result; extra attributes follow.
func mcpSpan(id, parent string, startSec int, extra ...string) string {
	attrs := append([]string{wrapAttr("mcp.method.name", "tools/call"), wrapAttr("gen_ai.tool.name", "charge_card")}, extra...)
	return wrapSpan(id, parent, "tools/call charge_card", startSec, attrs...)
}

func httpSpan(id, parent string, startSec int) string {
	return wrapSpan(id, parent, "POST /mcp", startSec, wrapAttr("http.request.method", "POST"))
}

func wrapExport(spans ...string) string {
	return `{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"agent"},"spans":[` + strings.Join(spans, ",") + `]}]}]}` + "\n"
}

// wrapCall is what the wrapper tests read back of a call.
type wrapCall struct {
	Span, Key, Resp, Session, Status string
	FP, ArgsFP                       string
	Strings                          string
}

func wrapCalls(t *testing.T, d *DB) []wrapCall {
	t.Helper()
	r, err := d.Conn.QueryContext(context.Background(), `SELECT coalesce(span_id, ''), coalesce(idempotency_key, ''), coalesce(response_id, ''),
		coalesce(session_id, ''), coalesce(status, ''), coalesce(fp::VARCHAR, ''), coalesce(args_fp::VARCHAR, ''),
		coalesce((SELECT string_agg(strings, '|') FROM arg_strings a WHERE a.source_id = c.source_id AND a.line = c.line AND a.pos = c.pos), '')
		FROM calls c ORDER BY span_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []wrapCall
	for r.Next() {
		var c wrapCall
		if err := r.Scan(&c.Span, &c.Key, &c.Resp, &c.Session, &c.Status, &c.FP, &c.ArgsFP, &c.Strings); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// ingestFiles reads each data as a file of its own, in order, into one
// in-memory database.
// ingestInOrder reads a wrapper and its two attempts in one of three
// orders: "one export" (the later attempt first), "attempts first" (two
// exports), or the wrapper first.
func ingestInOrder(t *testing.T, d *DB, order, wrapper, first, second string) {
	t.Helper()
	switch order {
	case "one export":
		ingestFiles(t, d, wrapExport(second, wrapper, first))
	case "attempts first":
		ingestFiles(t, d, wrapExport(second, first), wrapExport(wrapper))
	default:
		ingestFiles(t, d, wrapExport(wrapper), wrapExport(first, second))
	}
}

func ingestFiles(t *testing.T, d *DB, data ...string) {
	t.Helper()
	dir := t.TempDir()
	for i, s := range data {
		if _, err := d.IngestFile(context.Background(), write(t, dir, fmt.Sprintf("export-%d.jsonl", i), []byte(s))); err != nil {
			t.Fatal(err)
		}
	}
}

// The fingerprints a lone agent span gets: what its attempts must carry.
func agentFingerprints(t *testing.T, key string) wrapCall {
	t.Helper()
	d := openMem(t)
	ingestFiles(t, d, wrapExport(agentSpan("a000000000000009", 0, key, "ch_1")))
	cs := wrapCalls(t, d)
	if len(cs) != 1 || cs[0].ArgsFP == "" {
		t.Fatalf("the agent span alone: %+v", cs)
	}
	return cs[0]
}

// An MCP client span under the agent's execute_tool span (the reviewer's
// repro): the attempt stays, with the key, the response id and the args
// fingerprints of the span that went; a conversation of its own stays.
func TestWrapperGivesItsAttempt(t *testing.T) {
	want := agentFingerprints(t, "chg-42")
	for _, session := range []bool{false, true} {
		var extra []string
		if session {
			extra = append(extra, wrapAttr("mcp.session.id", "mcps_1"))
		}
		for _, second := range []string{"ch_1", "ch_2"} {
			d := openMem(t)
			ingestFiles(t, d, wrapExport(
				agentSpan("a000000000000001", 0, "chg-42", "ch_1"), mcpSpan("b000000000000001", "a000000000000001", 0, extra...),
				agentSpan("a000000000000002", 31, "chg-42", second), mcpSpan("b000000000000002", "a000000000000002", 31, extra...)))
			cs := wrapCalls(t, d)
			name := fmt.Sprintf("session %v, second %s", session, second)
			if len(cs) != 2 || cs[0].Span != "b000000000000001" || cs[1].Span != "b000000000000002" {
				t.Fatalf("%s: %+v, want the two MCP client spans", name, cs)
			}
			for i, resp := range []string{"ch_1", second} {
				c := cs[i]
				if c.Key != "chg-42" || c.Resp != resp || c.FP != want.FP || c.ArgsFP != want.ArgsFP || c.Status != "ok" {
					t.Errorf("%s: %+v, want key chg-42, response %s, the agent span's fingerprints %s", name, c, resp, want.FP)
				}
				if session && c.Session != "mcps_1" {
					t.Errorf("%s: session %q, want its own", name, c.Session)
				}
			}
		}
	}
}

// A wrapper over two attempts (a client that retried inside one tool
// call): both get what the call sent (key, args); what it returned (the
// response id) goes to the last attempt alone: the first one's outcome
// stays its own.
func TestWrapperOverRetriedAttempts(t *testing.T) {
	want := agentFingerprints(t, "chg-42")
	for _, order := range []string{"one export", "attempts first", "wrapper first"} {
		d := openMem(t)
		a := agentSpan("a000000000000001", 0, "chg-42", "ch_1")
		b1, b2 := mcpSpan("b000000000000001", "a000000000000001", 0), mcpSpan("b000000000000002", "a000000000000001", 20)
		ingestInOrder(t, d, order, a, b1, b2)
		cs := wrapCalls(t, d)
		if len(cs) != 2 || cs[0].Span != "b000000000000001" || cs[1].Span != "b000000000000002" {
			t.Fatalf("%s: %+v, want the two attempts", order, cs)
		}
		for i, resp := range []string{"", "ch_1"} {
			if c := cs[i]; c.Key != "chg-42" || c.Resp != resp || c.FP != want.FP || c.ArgsFP != want.ArgsFP {
				t.Errorf("%s: %+v, want key chg-42, response %q, the agent span's fingerprints", order, c, resp)
			}
		}
	}
}

// What an attempt holds of its own stays: its key, response id, args and
// status; it takes only what it lacks.
func TestWrapperKeepsTheAttemptsOwn(t *testing.T) {
	own := wrapSpan("b000000000000001", "a000000000000001", "tools/call charge_card", 0,
		wrapAttr("mcp.method.name", "tools/call"), wrapAttr("gen_ai.tool.name", "charge_card"),
		wrapAttr("gen_ai.tool.call.arguments", `{"customer":"cus_9","amount":2000,"idempotency_key":"srv-1"}`),
		wrapAttr("gen_ai.tool.call.result", `{"id":"ch_7"}`), wrapAttr("error.type", "timeout"))
	d := openMem(t)
	ingestFiles(t, d, wrapExport(agentSpan("a000000000000001", 0, "chg-42", "ch_1"), own))
	want := agentFingerprints(t, "srv-1")
	if cs := wrapCalls(t, d); len(cs) != 1 || cs[0].Key != "srv-1" || cs[0].Resp != "ch_7" || cs[0].Status != "timeout" || cs[0].ArgsFP != want.ArgsFP {
		t.Errorf("%+v, want the attempt's own key, response, status and args", cs)
	}
}

// Nested wrappers (execute_tool over the MCP client span, over the MCP
// server's span through an HTTP span), each in an export of its own, read
// in any order: one call, the innermost span, with the agent span's key,
// args and response id. A span set aside before still takes its place in
// the chain.
func TestNestedWrappersAcrossExports(t *testing.T) {
	want := agentFingerprints(t, "chg-42")
	a := agentSpan("a000000000000001", 0, "chg-42", "ch_1")
	b := mcpSpan("b000000000000001", "a000000000000001", 0)
	x := httpSpan("d000000000000001", "b000000000000001", 0)
	c := mcpSpan("c000000000000001", "d000000000000001", 0, wrapAttr("mcp.session.id", "mcps_1"))
	exports := map[string]string{"a": wrapExport(a), "b": wrapExport(b), "x": wrapExport(x), "c": wrapExport(c)}
	for _, order := range []string{"abxc", "cxba", "cbxa", "xcab", "bcxa", "acbx"} {
		d := openMem(t)
		var data []string
		for _, e := range order {
			data = append(data, exports[string(e)])
		}
		ingestFiles(t, d, data...)
		cs := wrapCalls(t, d)
		if len(cs) != 1 || cs[0].Span != "c000000000000001" || cs[0].Key != "chg-42" || cs[0].Resp != "ch_1" ||
			cs[0].FP != want.FP || cs[0].Session != "mcps_1" {
			t.Errorf("exports read in the order %s: %+v, want the server span with the agent span's key, response and args", order, cs)
		}
	}
}

// An attempt read after its wrapper went (the wrapper had given its
// response id to the attempt it held then) takes the key and args, not the
// response id a second time.
func TestAttemptAfterItsWrapperWent(t *testing.T) {
	d := openMem(t)
	ingestFiles(t, d, wrapExport(agentSpan("a000000000000001", 0, "chg-42", "ch_1"), mcpSpan("b000000000000001", "a000000000000001", 0)),
		wrapExport(mcpSpan("b000000000000002", "a000000000000001", 20)))
	cs := wrapCalls(t, d)
	if len(cs) != 2 || cs[0].Key != "chg-42" || cs[0].Resp != "ch_1" || cs[1].Key != "chg-42" || cs[1].Resp != "" || cs[1].ArgsFP != cs[0].ArgsFP {
		t.Errorf("%+v, want both attempts keyed, the response id on the first alone", cs)
	}
}

// A compensating action's args strings (matched against response ids) go
// with the args to an attempt that has none.
func TestWrapperGivesArgsStrings(t *testing.T) {
	d := openMem(t)
	d.Config = &config.Config{Compensations: config.Compensations{Actions: []string{"charge_*"}}}
	ingestFiles(t, d, wrapExport(agentSpan("a000000000000001", 0, "chg-42", "ch_1"), mcpSpan("b000000000000001", "a000000000000001", 0)))
	if cs := wrapCalls(t, d); len(cs) != 1 || !strings.Contains(cs[0].Strings, "cus_9") {
		t.Errorf("%+v, want the agent span's args strings on the attempt", cs)
	}
}

// An attempt caught running, then exported again ended: the ended copy
// stays and still has the response id its wrapper gave the first copy
// (no attempt holds it any more).
func TestWrapperResultSurvivesABetterCopy(t *testing.T) {
	running := strings.Replace(mcpSpan("b000000000000001", "a000000000000001", 0), `,"endTimeUnixNano":"1763456045900000000"`, "", 1)
	if !strings.Contains(mcpSpan("b000000000000001", "a000000000000001", 0), `"endTimeUnixNano":"1763456045900000000"`) || strings.Contains(running, "endTime") {
		t.Fatal("the running copy still has its end")
	}
	d := openMem(t)
	ingestFiles(t, d, wrapExport(agentSpan("a000000000000001", 0, "chg-42", "ch_1"), running),
		wrapExport(mcpSpan("b000000000000001", "a000000000000001", 0)))
	var dur int64
	d.Conn.QueryRowContext(context.Background(), "SELECT count(*) FROM calls WHERE duration_ms IS NOT NULL").Scan(&dur)
	if cs := wrapCalls(t, d); len(cs) != 1 || cs[0].Key != "chg-42" || cs[0].Resp != "ch_1" || dur != 1 {
		t.Errorf("%+v (%d ended), want the ended copy with key chg-42 and ch_1", cs, dur)
	}
}

// toolCallSpan is an execute_tool charge_card span of a default export: no
// args, a tool call id, a conversation ("" none) and a result.
func toolCallSpan(id string, startSec int, callID, conv, result string) string {
	attrs := []string{wrapAttr("gen_ai.operation.name", "execute_tool"), wrapAttr("gen_ai.tool.name", "charge_card"),
		wrapAttr("gen_ai.tool.call.id", callID), wrapAttr("gen_ai.tool.call.result", `{"id":"`+result+`"}`)}
	if conv != "" {
		attrs = append(attrs, wrapAttr("gen_ai.conversation.id", conv))
	}
	return wrapSpan(id, "", "execute_tool charge_card", startSec, attrs...)
}

// loneFPs are the fingerprints spans get read alone, without attempts under
// them, by span id: what the attempts must carry (whatever the payload of
// a tool call id fingerprint is).
func loneFPs(t *testing.T, spans ...string) map[string]string {
	t.Helper()
	d := openMem(t)
	ingestFiles(t, d, wrapExport(spans...))
	out := map[string]string{}
	for _, c := range wrapCalls(t, d) {
		out[c.Span] = c.FP
	}
	return out
}

// A wrapper without args whose fingerprint is its tool call id gives it to
// its attempts that have no identity of their own (no args, no tool call
// id: no fingerprint, or their session's): two tool calls through one MCP
// session stay two operations (the reviewer's false high), the attempts of
// one tool call whose client retried are one (the reviewer's lost finding,
// also without a conversation). An attempt's own tool call id stays; a
// wrapper with only a session fingerprint leaves an attempt's own session
// fingerprint alone.
func TestWrapperGivesItsToolCallID(t *testing.T) {
	for _, conv := range []string{"", "conv-1"} {
		for _, mcps := range []string{"", "mcps_1"} {
			var extra []string
			if mcps != "" {
				extra = append(extra, wrapAttr("mcp.session.id", mcps))
			}
			name := fmt.Sprintf("conversation %q, MCP session %q", conv, mcps)
			a1, a2 := toolCallSpan("a000000000000001", 0, "call_a1", conv, "ch_1"), toolCallSpan("a000000000000002", 60, "call_a2", conv, "ch_2")
			lone := loneFPs(t, a1, a2)
			fp1, fp2 := lone["a000000000000001"], lone["a000000000000002"]
			if fp1 == "" || fp1 == fp2 {
				t.Fatalf("%s: the agent spans alone have fingerprints %q and %q, want two", name, fp1, fp2)
			}

			d := openMem(t)
			ingestFiles(t, d, wrapExport(a1, mcpSpan("b000000000000001", "a000000000000001", 0, extra...),
				a2, mcpSpan("b000000000000002", "a000000000000002", 60, extra...)))
			cs := wrapCalls(t, d)
			if len(cs) != 2 || cs[0].Span != "b000000000000001" || cs[0].FP != fp1 || cs[1].Span != "b000000000000002" || cs[1].FP != fp2 {
				t.Errorf("%s, two tool calls: %+v, want b1 with fingerprint %s, b2 with %s", name, cs, fp1, fp2)
			}

			for _, order := range []string{"one export", "attempts first", "wrapper first"} {
				b1, b1b := mcpSpan("b000000000000001", "a000000000000001", 0, extra...), mcpSpan("b000000000000003", "a000000000000001", 20, extra...)
				d := openMem(t)
				ingestInOrder(t, d, order, a1, b1, b1b)
				cs := wrapCalls(t, d)
				if len(cs) != 2 || cs[0].FP != fp1 || cs[1].FP != fp1 || cs[0].Resp != "" || cs[1].Resp != "ch_1" {
					t.Errorf("%s, retried attempts, %s: %+v, want both with fingerprint %s, ch_1 on the last", name, order, cs, fp1)
				}
			}
		}
	}

	t.Run("the attempt's own tool call id stays", func(t *testing.T) {
		own := wrapSpan("b000000000000001", "a000000000000001", "tools/call charge_card", 0,
			wrapAttr("mcp.method.name", "tools/call"), wrapAttr("gen_ai.tool.name", "charge_card"), wrapAttr("gen_ai.tool.call.id", "call_own"))
		want := loneFPs(t, toolCallSpan("c000000000000001", 0, "call_own", "", "ch_1"))["c000000000000001"]
		d := openMem(t)
		ingestFiles(t, d, wrapExport(toolCallSpan("a000000000000001", 0, "call_a1", "conv-1", "ch_1"), own))
		if cs := wrapCalls(t, d); len(cs) != 1 || cs[0].FP != want || want == "" {
			t.Errorf("%+v, want the attempt's own fingerprint %s", cs, want)
		}
	})
	t.Run("a wrapper's session fingerprint leaves the attempt's own", func(t *testing.T) {
		conv := wrapSpan("a000000000000001", "", "execute_tool charge_card", 0, wrapAttr("gen_ai.operation.name", "execute_tool"),
			wrapAttr("gen_ai.tool.name", "charge_card"), wrapAttr("gen_ai.conversation.id", "conv-1"))
		b := mcpSpan("b000000000000001", "a000000000000001", 0, wrapAttr("mcp.session.id", "mcps_1"))
		want := loneFPs(t, b)["b000000000000001"]
		d := openMem(t)
		ingestFiles(t, d, wrapExport(conv, b))
		if cs := wrapCalls(t, d); len(cs) != 1 || cs[0].FP != want || want == "" || cs[0].Session != "mcps_1" {
			t.Errorf("%+v, want the attempt's own session fingerprint %s", cs, want)
		}
	})
}
