package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// agentExport is one OTLP export line of charge_card spans: "A:ID:START:KEY:RESULT"
// is an execute_tool span (the key inside its args; "" none; RESULT "" no
// result), "M:ID:PARENT:START[:SESSION]" an MCP client span under PARENT,
// without args or result (the MCP default), "T:ID:START:CALLID:CONV:RESULT"
// an execute_tool span of a default export: no args, a tool call id, a
// conversation ("" none) and a result.
func agentExport(spans ...string) string {
	attr := func(k, v string) string { return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v) }
	var out []string
	for _, s := range spans {
		f := strings.Split(s, ":")
		var id, parent, name, start string
		var attrs []string
		switch f[0] {
		case "A":
			id, start, name = f[1], f[2], "execute_tool charge_card"
			args := `{"customer":"cus_9","amount":2000`
			if f[3] != "" {
				args += `,"idempotency_key":"` + f[3] + `"`
			}
			attrs = []string{attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", "charge_card"), attr("gen_ai.tool.call.arguments", args+"}")}
			if f[4] != "" {
				attrs = append(attrs, attr("gen_ai.tool.call.result", `{"id":"`+f[4]+`"}`))
			}
		case "T":
			id, start, name = f[1], f[2], "execute_tool charge_card"
			attrs = []string{attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", "charge_card"),
				attr("gen_ai.tool.call.id", f[3]), attr("gen_ai.tool.call.result", `{"id":"`+f[5]+`"}`)}
			if f[4] != "" {
				attrs = append(attrs, attr("gen_ai.conversation.id", f[4]))
			}
		case "M":
			id, parent, start, name = f[1], f[2], f[3], "tools/call charge_card"
			attrs = []string{attr("mcp.method.name", "tools/call"), attr("gen_ai.tool.name", "charge_card")}
			if len(f) > 4 {
				attrs = append(attrs, attr("mcp.session.id", f[4]))
			}
		}
		var sec int64
		fmt.Sscan(start, &sec)
		sp := `{"traceId":"9b8efff798038103d269b633813fc60c","spanId":"` + id + `"`
		if parent != "" {
			sp += `,"parentSpanId":"` + parent + `"`
		}
		out = append(out, sp+fmt.Sprintf(`,"name":%q,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s],"status":{}}`,
			name, (1763456045+sec)*1e9, (1763456045+sec)*1e9+9e8, strings.Join(attrs, ",")))
	}
	return `{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"agent"},"spans":[` + strings.Join(out, ",") + `]}]}]}` + "\n"
}

// TestWrapperSpansKeepTheirFindings: the agent's execute_tool spans carry
// the key, args and result; the MCP client spans under them carry nothing.
// The wrappers go, their attempts stay with what the wrappers knew: a
// double charge under one key is critical, a deduplicated retry gives
// nothing, and the evidence names the attempts' spans. Without the MCP
// spans the same data gives the same findings (on the agent's spans).
func TestWrapperSpansKeepTheirFindings(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		spans []string
		want  []string
	}{
		{"double charge", []string{"A:a1:0:chg-42:ch_1", "M:b1:a1:0", "A:a2:31:chg-42:ch_2", "M:b2:a2:31"},
			[]string{"same-key-different-response/critical/charge_card/repeat 1@b1 1@b2"}},
		{"deduplicated", []string{"A:a1:0:chg-42:ch_1", "M:b1:a1:0", "A:a2:31:chg-42:ch_1", "M:b2:a2:31"}, nil},
		{"double charge, MCP sessions", []string{"A:a1:0:chg-42:ch_1", "M:b1:a1:0:mcps_1", "A:a2:31:chg-42:ch_2", "M:b2:a2:31:mcps_1"},
			[]string{"same-key-different-response/critical/charge_card/repeat 1@b1 1@b2"}},
		// the reviewer's false high: keyless repeat of one MCP session
		{"deduplicated, MCP sessions", []string{"A:a1:0:chg-42:ch_1", "M:b1:a1:0:mcps_1", "A:a2:31:chg-42:ch_1", "M:b2:a2:31:mcps_1"}, nil},
		{"no MCP spans", []string{"A:a1:0:chg-42:ch_1", "A:a2:31:chg-42:ch_2"},
			[]string{"same-key-different-response/critical/charge_card/repeat 1@a1 1@a2"}},
		// the first tool call's client retried: the response id ch_1 is
		// its last attempt's, the first attempt's stays unknown
		{"retried attempts, double charge", []string{"A:a1:0:chg-42:ch_1", "M:b1a:a1:0", "M:b1b:a1:20", "A:a2:60:chg-42:ch_2", "M:b2:a2:60"},
			[]string{"same-key-different-response/critical/charge_card/retry-storm 1@b1a 1@b1b 1@b2"}},
		{"retried attempts, deduplicated", []string{"A:a1:0:chg-42:ch_1", "M:b1a:a1:0", "M:b1b:a1:20", "A:a2:60:chg-42:ch_1", "M:b2:a2:60"}, nil},
		// a keyless charge sent twice by the client: the first attempt
		// (no response id) may have gone through too
		{"retried attempts without a key", []string{"A:a1:0::ch_1", "M:b1a:a1:0", "M:b1b:a1:20"},
			[]string{"repeat-without-key/high/charge_card/repeat 1@b1a 1@b1b"}},
	}
	for _, c := range cases {
		f := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".jsonl", agentExport(c.spans...))
		rep := auditImport(t, f)
		var got []string
		for _, s := range summarize(rep) {
			got = append(got, strings.ReplaceAll(s, f+":", ""))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: findings %q, want %q", c.name, got, c.want)
		}
	}
}

// TestWrapperToolCallIDFindings: the agent's execute_tool spans of a
// default export carry no args but a tool call id (and a result); the MCP
// client spans under them carry nothing, or their MCP session. Two tool
// calls are two operations with or without the MCP layer (the reviewer's
// false high: the attempts' shared MCP session made them one); the
// attempts of one tool call whose client retried are a repeat, as with
// args (the reviewer's lost finding). The same tool calls with and without
// the MCP spans give the same findings, every rule counted, on the
// attempts' spans instead of the agent's.
func TestWrapperToolCallIDFindings(t *testing.T) {
	dir := t.TempDir()
	findings := func(name string, spans []string) []string {
		t.Helper()
		f := writeFile(t, dir, strings.NewReplacer(" ", "_", ",", "").Replace(name)+".jsonl", agentExport(spans...))
		var out []string
		for _, x := range auditImport(t, f).Findings {
			var ev []string
			for _, c := range x.Calls {
				span := "-"
				if c.SpanID != nil {
					span = *c.SpanID
				}
				ev = append(ev, span)
			}
			out = append(out, x.Rule+"/"+x.Severity+"/"+x.ActionType+"/"+x.Pattern+" "+strings.Join(ev, " "))
		}
		sort.Strings(out)
		return out
	}
	// the attempts' spans named as their wrappers: the same tool calls
	// with and without the MCP layer
	asAgent := strings.NewReplacer("b1", "a1", "b2", "a2")
	for _, conv := range []string{"conv-1", ""} {
		for _, mcps := range []string{":mcps_1", ""} {
			name := fmt.Sprintf("conversation %q, MCP session %q", conv, strings.TrimPrefix(mcps, ":"))
			for _, c := range []struct {
				name         string
				agent, mcp   []string
				want, wantNo []string
			}{
				{"two tool calls", []string{"T:a1:0:call_a1:" + conv + ":ch_1", "T:a2:60:call_a2:" + conv + ":ch_2"},
					[]string{"M:b1:a1:0" + mcps, "M:b2:a2:60" + mcps},
					[]string{"missing-key/low/charge_card/ b1 b2"}, []string{"missing-key/low/charge_card/ a1 a2"}},
				{"one tool call sent twice", []string{"T:a1:0:call_a1:" + conv + ":ch_1", "T:a2:60:call_a1:" + conv + ":ch_2"},
					[]string{"M:b1:a1:0" + mcps, "M:b2:a2:60" + mcps},
					[]string{"missing-key/low/charge_card/ b1 b2", "repeat-without-key/high/charge_card/repeat b1 b2"},
					[]string{"missing-key/low/charge_card/ a1 a2", "repeat-without-key/high/charge_card/repeat a1 a2"}},
			} {
				with := findings(name+" "+c.name+" with MCP", append(append([]string{}, c.agent...), c.mcp...))
				without := findings(name+" "+c.name+" without MCP", c.agent)
				if !reflect.DeepEqual(with, c.want) || !reflect.DeepEqual(without, c.wantNo) {
					t.Errorf("%s, %s: findings %q with the MCP spans, %q without, want %q and %q", name, c.name, with, without, c.want, c.wantNo)
				}
				var mapped []string
				for _, s := range with {
					mapped = append(mapped, asAgent.Replace(s))
				}
				if !reflect.DeepEqual(mapped, without) {
					t.Errorf("%s, %s: with the MCP spans %q, without %q: want the same findings", name, c.name, with, without)
				}
			}
			// the client retried inside one tool call: the first attempt
			// (no response id) may have gone through too
			got := findings(name+" retried", []string{"T:a1:0:call_a1:" + conv + ":ch_1", "M:b1a:a1:0" + mcps, "M:b1b:a1:20" + mcps})
			if want := []string{"missing-key/low/charge_card/ b1a b1b", "repeat-without-key/high/charge_card/repeat b1a b1b"}; !reflect.DeepEqual(got, want) {
				t.Errorf("%s, retried attempts: findings %q, want %q", name, got, want)
			}
		}
	}
}
