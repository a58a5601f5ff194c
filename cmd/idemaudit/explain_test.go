package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type explainOut struct {
	Subject string `json:"subject"`
	Calls   []struct {
		Line       int      `json:"line"`
		ActionType string   `json:"action_type"`
		Gap        *float64 `json:"gap_seconds"`
		Outcome    string   `json:"outcome"`
		SpanID     *string  `json:"span_id"`
	} `json:"calls"`
	Findings []struct {
		ID   string `json:"id"`
		Rule string `json:"rule"`
	} `json:"findings"`
	Verdict []string `json:"verdict"`
}

func explainJSONOut(t *testing.T, args ...string) explainOut {
	t.Helper()
	r := run(t, nil, append([]string{"explain", "-f", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out explainOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	return out
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "charges.jsonl", strings.Join([]string{
		`{"ts":"2026-11-16T09:00:00Z","action_type":"charge_card","idempotency_key":"chg-42","args":{"amount":2000},"status":504,"response_id":"ch_1","duration_ms":30000,"span_id":"sp1","session_id":"s1"}`,
		`{"ts":"2026-11-16T09:00:31Z","action_type":"charge_card","idempotency_key":"chg-42","args":{"amount":2000},"status":"ok","response_id":"ch_2","duration_ms":800,"span_id":"sp2","session_id":"s1"}`,
		`{"ts":"2026-11-16T09:05:00Z","action_type":"send_email","args":{"to":"a"},"status":"ok","response_id":"m_1","session_id":"s1"}`,
		`{"ts":"2026-11-16T10:00:00Z","action_type":"charge_card","idempotency_key":"chg-7","args":{"amount":10},"status":"ok","response_id":"ch_9","session_id":"s2"}`,
	}, "\n")+"\n")

	// "did the agent double-charge?": the key's timeline, with gaps, and a verdict
	out := explainJSONOut(t, "--key", "chg-42", log)
	if len(out.Calls) != 2 || out.Calls[0].Line != 1 || out.Calls[1].Line != 2 || out.Calls[0].Gap != nil || *out.Calls[1].Gap != 31 ||
		out.Calls[0].Outcome != "unknown" || *out.Calls[1].SpanID != "sp2" {
		t.Errorf("timeline %+v", out.Calls)
	}
	v := strings.Join(out.Verdict, "\n")
	for _, want := range []string{"2 side effects of charge_card for one logical operation (same-key-different-response): ch_1, ch_2",
		"(span sp1) answered 504 after 30s and was retried 31s after it started (a client timeout: the retry came as soon as the caller stopped waiting); its response id ch_1 shows it went through after all", "1 extra still standing"} {
		if !strings.Contains(v, want) {
			t.Errorf("verdict %q lacks %q", v, want)
		}
	}
	var id string
	for _, f := range out.Findings {
		if f.Rule == "same-key-different-response" {
			id = f.ID
		}
	}
	if id == "" {
		t.Fatalf("findings %+v", out.Findings)
	}

	// the same finding by (a prefix of) its id, and by a response id; from a kept database too
	db := filepath.Join(dir, "k.duckdb")
	if r := run(t, nil, "ingest", "-q", "--db", db, log); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, args := range [][]string{{"--finding", id[:6], log}, {"--response", "ch_2", log}, {"--finding", id, "--db", db}} {
		o := explainJSONOut(t, args...)
		if len(o.Calls) != 2 || o.Calls[1].Line != 2 || !strings.Contains(strings.Join(o.Verdict, " "), "2 side effects") {
			t.Errorf("%v: %+v", args, o)
		}
		if args[0] == "--finding" && o.Subject != "finding "+id {
			t.Errorf("%v: subject %q, want the whole id", args, o.Subject)
		}
	}

	// a session mixes operations; a clean key says so
	if o := explainJSONOut(t, "--session", "s1", log); len(o.Calls) != 3 {
		t.Errorf("session: %+v", o.Calls)
	}
	if o := explainJSONOut(t, "--key", "chg-7", log); len(o.Calls) != 1 || o.Verdict[0] != "No duplicate side effect: one call." {
		t.Errorf("clean key: %+v", o)
	}

	// nothing matches, or no selector: exit 2 and why
	for _, args := range [][]string{{"--key", "nope", log}, {log}, {"--key", "a", "--session", "b", log}, {"--key", "chg-42"}} {
		if r := run(t, nil, append([]string{"explain"}, args...)...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d %q", args, r.code, r.stderr)
		}
	}

	// Markdown for an incident doc: hostile values stay inside their cells
	hostile := writeFile(t, dir, "hos|tile.jsonl", // the source and span ids sit in the where column
		`{"ts":"2026-11-16T09:00:00Z","action_type":"a|b","idempotency_key":"k|<script>`+"`"+`","response_id":"r1","status":504,"span_id":"sp|1"}`+"\n"+
			`{"ts":"2026-11-16T09:00:10Z","action_type":"a|b","idempotency_key":"k|<script>`+"`"+`","response_id":"r2\u001b[31m","span_id":"sp|2"}`+"\n")
	md := run(t, nil, "explain", "-f", "markdown", "--key", "k|<script>`", hostile)
	if md.code != 0 {
		t.Fatal(md.stderr)
	}
	for _, l := range strings.Split(md.stdout, "\n") {
		if strings.HasPrefix(l, "| 2026") && strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") != 11 {
			t.Errorf("a value split a table row: %s", l)
		}
	}
	if strings.Contains(md.stdout, "\x1b") {
		t.Errorf("an escape sequence got through:\n%s", md.stdout)
	}
	for _, l := range strings.Split(md.stdout, "\n") {
		if strings.Contains(l, "<script>") && !strings.Contains(l, "`` k") {
			t.Errorf("<script> outside a code span: %s", l)
		}
	}
	tab := run(t, nil, "explain", "--key", "k|<script>`", hostile)
	if tab.code != 0 || strings.Contains(tab.stdout, "\x1b") {
		t.Errorf("table: exit %d, escape sequence through: %q", tab.code, tab.stdout)
	}
}

// TestExplainArg answers "did the agent double-charge this customer?" from
// a value in the args: the calls holding it, at any depth, and what the
// audit found among them.
func TestExplainArg(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "charges.jsonl", strings.Join([]string{
		`{"ts":"2026-11-16T09:00:00Z","action_type":"charge_card","idempotency_key":"k1","args":{"customer":{"id":"cus_7"},"amount":2000},"status":"ok","response_id":"ch_1"}`,
		`{"ts":"2026-11-16T09:00:20Z","action_type":"charge_card","idempotency_key":"k1","args":{"customer":{"id":"cus_7"},"amount":2000},"status":"ok","response_id":"ch_2"}`,
		`{"ts":"2026-11-16T09:01:00Z","action_type":"charge_card","idempotency_key":"k2","args":{"customer":{"id":"cus_70"},"amount":2000},"status":"ok","response_id":"ch_3"}`,
		`{"ts":"2026-11-16T09:02:00Z","action_type":"send_email","args":{"to":"x@example.com","customer":"cus_7"},"status":"ok","response_id":"m_1"}`,
		`{"ts":"2026-11-16T09:03:00Z","action_type":"send_email","args":{"cus_7":"a member name, not a value"},"status":"ok","response_id":"m_2"}`,
	}, "\n")+"\n")
	out := explainJSONOut(t, "--arg", "cus_7", log)
	var lines []int
	for _, c := range out.Calls {
		lines = append(lines, c.Line)
	}
	if fmt.Sprint(lines) != "[1 2 4]" || out.Subject != "args value cus_7" {
		t.Errorf("subject %q, lines %v, want [1 2 4]", out.Subject, lines)
	}
	if v := strings.Join(out.Verdict, "\n"); !strings.Contains(v, "2 side effects of charge_card for one logical operation (same-key-different-response): ch_1, ch_2") {
		t.Errorf("verdict %q", v)
	}
	// a number in any spelling
	if o := explainJSONOut(t, "--arg", "2e3", log); len(o.Calls) != 3 {
		t.Errorf("2e3: %+v", o.Calls)
	}

	// a trace export line holds several calls: only those whose args hold the value
	o := explainJSONOut(t, "--config", os.DevNull, "--include", "get_*", "--arg", "2000", "sample-logs/traces/otlp-collector.jsonl")
	// (line 1: get_customer's args hold only the customer, charge_card's the amount too)
	for _, c := range o.Calls {
		if c.ActionType == "get_customer" {
			t.Errorf("get_customer at line %d does not hold 2000", c.Line)
		}
	}
	if len(o.Calls) != 4 || o.Calls[0].Line != 1 || o.Calls[0].ActionType != "charge_card" {
		t.Errorf("2000: %+v", o.Calls)
	}
	if o := explainJSONOut(t, "--config", os.DevNull, "--include", "get_*", "--arg", "cus_Q42", "sample-logs/traces/otlp-collector.jsonl"); len(o.Calls) != 5 || o.Calls[0].ActionType != "get_customer" {
		t.Errorf("cus_Q42: %+v", o.Calls)
	}

	// no match, a database, standard input: exit 2 and why
	db := filepath.Join(dir, "k.duckdb")
	if r := run(t, nil, "ingest", "-q", "--db", db, log); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for args, want := range map[string]string{
		"--arg cus_8 " + log:          "no call matches args value cus_8",
		"--arg cus_7 --db " + db:      "give the log PATHs instead of --db",
		"--arg cus_7 -":               "standard input (-) cannot be read again",
		"--arg cus_7 --key k1 " + log: "give exactly one of",
	} {
		if r := run(t, nil, append([]string{"explain"}, strings.Fields(args)...)...); r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d %q, want %q", args, r.code, r.stderr, want)
		}
	}
}

// TestExplainArgCollapsed: a call whose args hold the value stays in the
// timeline when the copy of it ingest keeps is not the first read (a span
// exported running, then ended), or when it took its args from a wrapper
// span that ingest set aside (an execute_tool span over its attempts).
func TestExplainArgCollapsed(t *testing.T) {
	dir := t.TempDir()
	span := func(id, parent string, start int64, end int64, args, result string) string {
		attrs := `{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"charge_card"}}`
		if args != "" {
			attrs += `,{"key":"gen_ai.tool.call.arguments","value":{"stringValue":` + args + `}}`
		}
		if result != "" {
			attrs += `,{"key":"gen_ai.tool.call.result","value":{"stringValue":` + result + `}}`
		}
		s := fmt.Sprintf(`{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":%q,"parentSpanId":%q,"name":"execute_tool charge_card","startTimeUnixNano":"%d","attributes":[%s]`, id, parent, start, attrs)
		if end != 0 {
			s += fmt.Sprintf(`,"endTimeUnixNano":"%d"`, end)
		}
		return s + "}"
	}
	line := func(spans ...string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}`
	}
	const t0, s = int64(1794993242120000000), int64(1e9)
	args, res := `"{\"customer\": \"cus_9\", \"amount\": 500}"`, func(id string) string { return `"{\"id\": \"` + id + `\"}"` }
	// the span exported running (line 1), then ended (line 2: the copy kept)
	dup := writeFile(t, dir, "dup.jsonl", strings.Join([]string{
		line(span("1111111111111111", "aa00000000000000", t0, 0, args, "")),
		line(span("1111111111111111", "aa00000000000000", t0, t0+s, args, res("ch_1"))),
		line(span("2222222222222222", "aa00000000000000", t0+5*s, t0+6*s, args, res("ch_2"))),
	}, "\n")+"\n")
	o := explainJSONOut(t, "--config", os.DevNull, "--arg", "cus_9", dup)
	var lines []int
	for _, c := range o.Calls {
		lines = append(lines, c.Line)
	}
	if fmt.Sprint(lines) != "[2 3]" {
		t.Errorf("telemetry duplicate: lines %v, want [2 3]", lines)
	}
	// the wrapper holds the args, its two attempts none: they take them
	wrap := writeFile(t, dir, "wrap.jsonl", line(
		span("1111111111111111", "aa00000000000000", t0, t0+3*s, args, res("ch_1")),
		span("3333333333333333", "1111111111111111", t0+1e6, t0+s, "", ""),
		span("4444444444444444", "1111111111111111", t0+2*s, t0+3*s, "", ""))+"\n")
	if o := explainJSONOut(t, "--config", os.DevNull, "--arg", "cus_9", wrap); len(o.Calls) != 2 || len(o.Findings) == 0 {
		t.Errorf("wrapper: %+v", o)
	}
}

// TestExplainArgCollapsedNotOthers: a wrapper set aside by ingest stands
// for the attempts under it, not for every call of its tool in its trace
// with its args fingerprint: with a path ignored (request_ts), a later
// call whose args hold another value there is no call of --arg's value.
func TestExplainArgCollapsedNotOthers(t *testing.T) {
	dir := t.TempDir()
	span := func(id string, start, end int64, args, result string) string {
		attrs := `{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"charge_card"}}`
		if args != "" {
			attrs += `,{"key":"gen_ai.tool.call.arguments","value":{"stringValue":` + args + `}}`
			attrs += `,{"key":"gen_ai.tool.call.result","value":{"stringValue":` + result + `}}`
		}
		parent := "aa00000000000000"
		if args == "" {
			parent = "1111111111111111"
		}
		return fmt.Sprintf(`{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":%q,"parentSpanId":%q,"name":"execute_tool charge_card","startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s]}`,
			id, parent, start, end, attrs)
	}
	const t0, s = int64(1794993242120000000), int64(1e9)
	args := func(ts string) string { return `"{\"customer\": \"cus_9\", \"request_ts\": \"` + ts + `\"}"` }
	log := writeFile(t, dir, "wrap.jsonl", `{"resourceSpans":[{"scopeSpans":[{"spans":[`+strings.Join([]string{
		span("1111111111111111", t0, t0+3*s, args("ts-AAA"), `"{\"id\": \"ch_1\"}"`), // the wrapper, over its attempt
		span("3333333333333333", t0+1e6, t0+s, "", ""),
		span("5555555555555555", t0+60*s, t0+61*s, args("ts-BBB"), `"{\"id\": \"ch_2\"}"`), // another call
	}, ",")+`]}]}]}`+"\n")
	cfg := writeFile(t, dir, "idemaudit.toml", "[actions.charge_card]\nignore = [\"request_ts\"]\n")
	o := explainJSONOut(t, "--config", cfg, "--arg", "ts-AAA", log)
	var spans []string
	for _, c := range o.Calls {
		if c.SpanID != nil {
			spans = append(spans, *c.SpanID)
		}
	}
	if fmt.Sprint(spans) != "[3333333333333333]" {
		t.Errorf("spans %v, want the wrapper's attempt alone", spans)
	}
}
