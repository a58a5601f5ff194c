package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: the parser never panics, accepts only valid UTF-8 and valid
// JSON objects, and accepts every valid object with a non-empty string
// action_type and no ts (within the depth limit).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"action_type":"a"}`,
		`{"ts":"2026-11-16T09:30:00.123+02:00","action_type":"charge","idempotency_key":"k","args":{"b":[1,2.5e3,{"c":null}],"a":"é\u00e9\ud83d\ude00"}}`,
		`{"ts":1794821400123,"action_type":"x","status":504,"effect":"noop","duration_ms":"1"}`,
		`{"action_type":"a","args":{"a":1,"a":2}}`,
		`{"action_type":"a"`, `[]`, `{"action_type":""}`, "{\"action_type\":\"\xff\"}", `{"action_type":"a","ts":"yesterday"}`,
		`{"action_type":"a","x":-0.0e-0}`, `{"action_type":"a","args":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var p Parser
		var r Record
		err := p.Parse(line, &r)
		if err == nil {
			if !utf8.Valid(line) || !json.Valid(line) || bytes.TrimSpace(line)[0] != '{' || r.Action == "" {
				t.Fatalf("accepted %q", line)
			}
			return
		}
		var m map[string]json.RawMessage
		if !utf8.Valid(line) || json.Unmarshal(line, &m) != nil {
			return
		}
		var action string
		if json.Unmarshal(m["action_type"], &action) != nil || action == "" {
			return
		}
		if _, hasTS := m["ts"]; hasTS || strings.Contains(err.Error(), "nested deeper") {
			return
		}
		// with duplicate action_type members the last one wins, which the
		// map above does not show: skip those
		if bytes.Count(line, []byte(`"action_type"`)) > 1 {
			return
		}
		t.Fatalf("rejected a valid call %q: %v", line, err)
	})
}

// FuzzCanonicalArgs: the canonical form is valid JSON, a fixed point, and
// insensitive to insignificant whitespace and member order.
func FuzzCanonicalArgs(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1,2,{"d":"x","c":null}]}`, `{"a\u0041":"\u003c\u00e9\/","aa":"<&>\u2028","a":{"y":1,"x":"\"q\"\\"}}`, `2e3`, `"\u00e9"`, `[]`, `{}`, `-0.000`, `1E+400`, `{"a":1,"a":{"b":2}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		c, err := CanonicalArgs(v)
		if err != nil {
			return
		}
		if !json.Valid([]byte(c)) {
			t.Fatalf("canonical %q of %q is not JSON", c, v)
		}
		again, err := CanonicalArgs([]byte(c))
		if err != nil || again != c {
			t.Fatalf("not a fixed point: %q -> %q (%v)", c, again, err)
		}
		// nor does writing it with other escapes: encoding/json escapes <, >,
		// & and U+2028 and keeps other characters as they are, where the
		// input may have escaped anything (strings read with and without
		// escapes take different paths)
		var val any
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		// (a lone surrogate is kept as U+FFFD and its escape's text, where
		// encoding/json makes it U+FFFD: such input is left out)
		if dec.Decode(&val) == nil && !hasDuplicateNames(v) && !hasLoneSurrogate(v) {
			if re, err := json.Marshal(val); err == nil {
				if c2, err := CanonicalArgs(re); err != nil || c2 != c {
					t.Fatalf("re-escaping changed the canonical form: %q vs %q (from %q)", c2, c, re)
				}
			}
		}
		// re-indenting the input changes nothing
		var ind bytes.Buffer
		if json.Indent(&ind, v, " ", "\t") == nil {
			if c2, err := CanonicalArgs(ind.Bytes()); err != nil || c2 != c {
				t.Fatalf("whitespace changed the canonical form: %q vs %q", c2, c)
			}
		}
	})
}

// hasLoneSurrogate reports whether JSON text v escapes a UTF-16 surrogate
// that is not half of a pair.
func hasLoneSurrogate(v []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(v) || v[i] != '\\' || v[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(v[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // another escape: skip its letter (\\ included)
			continue
		}
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if r2, ok := hex4(i + 6); ok && r2 >= 0xdc00 && r2 < 0xe000 {
				i += 11 // a pair
				continue
			}
			return true
		case r >= 0xdc00 && r < 0xe000:
			return true
		}
		i += 5
	}
	return false
}

// hasDuplicateNames reports whether an object in v names a member twice
// (encoding/json keeps the last one in a map; the order of the survivors
// then differs, which the comparison above must not see).
func hasDuplicateNames(v []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(v))
	type frame struct {
		obj   bool
		names map[string]bool
		key   bool // the next string token is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := func() *frame {
			if len(stack) == 0 {
				return nil
			}
			return stack[len(stack)-1]
		}
		f := top()
		switch x := tok.(type) {
		case json.Delim:
			switch x {
			case '{', '[':
				if f != nil && f.obj {
					f.key = true
				}
				stack = append(stack, &frame{obj: x == '{', names: map[string]bool{}, key: x == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if f != nil && f.obj && f.key {
				if f.names[x] {
					return true
				}
				f.names[x] = true
				f.key = false
				continue
			}
			if f != nil && f.obj {
				f.key = true
			}
		default:
			if f != nil && f.obj {
				f.key = true
			}
		}
	}
}

// FuzzIdentityPaths: on any canonical args, removing no path is the
// identity, removing paths gives canonical JSON without them, a looked-up
// value is canonical JSON and equals what encoding/json finds there, and
// the kept strings are exactly the args' non-empty string values.
func FuzzIdentityPaths(f *testing.F) {
	for _, s := range [][2]string{
		{`{"user_id":"u1","flights":["F1"],"pay":{"id":"p","ts":1}}`, "pay.ts"},
		{`{"a":[{"b":1},{"b":2}]}`, "a.1.b"},
		{`[1,2,3]`, "1"},
		{`"s"`, "x"},
		{`{"a.b":1,"a":{"b":2}}`, "a.b"},
		{`{"metadata":{"request_id":"r1","x":[1,{"request_id":2}]},"amount":1}`, "metadata.request_id"},
		{`{"a":{"x":1},"b":0,"a":{"x":2,"y":3}}`, "a.x"},
		{`{"z":1,"a":[{"b":1,"c":2},{"b":3}]}`, "a.1.b"},
		{`{"a":{}}`, "a.b.c"},
	} {
		f.Add([]byte(s[0]), s[1])
	}
	f.Fuzz(func(t *testing.T, v []byte, path string) {
		canon, err := CanonicalArgs(v)
		if err != nil || path == "" || strings.Contains(path, "..") || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") {
			return
		}
		segs := strings.Split(path, ".")
		var q Parser
		q.b = []byte(canon)
		if got := string(q.without(nil, nil)); got != canon {
			t.Fatalf("without nothing: %q -> %q", canon, got)
		}
		q.b, q.pos, q.depth = []byte(canon), 0, 0
		out := string(q.without(nil, [][]string{segs}))
		if c, err := CanonicalArgs([]byte(out)); err != nil || c != out {
			t.Fatalf("without %q: %q is not canonical (%v)", path, out, err)
		}
		// the parser leaves ignored paths out while canonicalising: the
		// same bytes as canonicalising, then walking the result
		for _, paths := range [][][]string{{segs}, {segs, segs[:1]}, {segs, {"x"}, {"0"}}} {
			q.b, q.pos, q.depth = []byte(canon), 0, 0
			want := string(q.without(nil, paths))
			var r Parser
			r.b, r.ign = v, paths
			r.ws()
			if err := r.canonValue(); err != nil {
				t.Fatalf("%q: canonical, but not with %q left out: %v", v, paths, err)
			}
			if got := string(r.canon); got != want {
				t.Fatalf("%q without %q: one pass %q, two passes %q", v, paths, got, want)
			}
		}
		q.b, q.pos, q.depth = []byte(canon), 0, 0
		val := string(q.lookup(segs))
		if c, err := CanonicalArgs([]byte(val)); err != nil || c != val {
			t.Fatalf("lookup %q in %q: %q is not canonical (%v)", path, canon, val, err)
		}
		// encoding/json's view of the same path
		var cur any
		dec := json.NewDecoder(strings.NewReader(canon))
		dec.UseNumber()
		if dec.Decode(&cur) != nil {
			t.Fatalf("canonical %q does not decode", canon)
		}
		for _, s := range segs {
			switch x := cur.(type) {
			case map[string]any:
				cur = x[s]
			case []any:
				i := -1
				if n, err := strconv.Atoi(s); err == nil {
					i = n
				}
				if i < 0 || i >= len(x) {
					cur = nil
				} else {
					cur = x[i]
				}
			default:
				cur = nil
			}
		}
		want := "null"
		if cur != nil {
			b, _ := json.Marshal(cur)
			want, _ = CanonicalArgs(b)
		}
		if val != want {
			t.Fatalf("lookup %q in %q = %q, encoding/json finds %q", path, canon, val, want)
		}
	})
}

// FuzzImport: a record of any format, however broken, never panics the
// importer; it gives calls only from valid JSON, each with an action and
// its place on the line; a string read as a Python literal gives a value
// that is JSON.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"otlp-collector.jsonl", "langsmith-runs.jsonl", "openai-agents-spans.jsonl"} {
		data, err := os.ReadFile(samples + name)
		if err != nil {
			f.Fatal(err)
		}
		for i, line := range bytes.Split(data, []byte{'\n'}) {
			if i < 4 && len(line) > 0 {
				f.Add(line, uint8(i))
			}
		}
	}
	f.Add([]byte(`{"type":"TOOL","name":"x","traceId":"t","startTime":"2026-11-18 10:00:00.123456","input":"{'a': (1, 2.5e3, None)}"}`), uint8(2))
	f.Add([]byte(`{"data":[{"run_type":"tool","name":"a","inputs":{"input":"{\"k\":1}"}},7]}`), uint8(3))
	f.Add([]byte(`{"id":"r0","run_type":"chain","trace_id":"r0","child_runs":[{"id":"r1","run_type":"tool","name":"a","child_runs":[{"id":"r2","run_type":"tool","name":"a"}]},null]}`), uint8(2))
	f.Add([]byte("{\n \"resourceSpans\": [{\"scopeSpans\": [{\"spans\": [\n  {\"spanId\": \"s\", \"attributes\": [{\"key\": \"gen_ai.operation.name\", \"value\": {\"stringValue\": \"execute_tool\"}}, {\"key\": \"gen_ai.tool.name\", \"value\": {\"stringValue\": \"x\"}}]}]}]}]\n}\n[1]\n"), uint8(0))
	// documents in a row, one broken, garbage, one not closed before the next
	f.Add([]byte("{\n  \"action_type\": \"a\"\n}\n{\n  \"action_type\": \"b\",\n}\ngarbage\n[1,\n{\"action_type\": \"c\"}\n{\n  \"action_type\": \"d\"\n}\n"), uint8(4))
	f.Add([]byte("[\n{\"run_type\": \"tool\", \"name\": \"a\"},\n{\"run_type\": \"tool\" x},\n{\"run_type\": \"tool\", \"name\": \"c\"}\n]\n{\n \"run_type\": \"tool\", \"name\": \"d\"\n}\n"), uint8(2))
	// MLflow's trace JSON: pretty (info after the spans, as jq -S puts it; a
	// span that is no object), and one trace a line (MLflow 2's span dict)
	f.Add([]byte("{\n \"data\": {\"spans\": [\n  {\"trace_id\": \"tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44\", \"span_id\": \"7a00000000000004\", \"name\": \"charge_card_1\", \"start_time_unix_nano\": 1795424401700000000,\n   \"status\": {\"code\": \"ERROR\"}, \"attributes\": {\"mlflow.spanType\": \"\\\"TOOL\\\"\", \"mlflow.spanFunctionName\": \"\\\"charge_card\\\"\", \"mlflow.spanInputs\": \"{\\\"idempotency_key\\\": \\\"k\\\"}\"}},\n  7\n ]},\n \"info\": {\"trace_id\": \"tr-5c1f0e2a9b7d4e61a3f08c2d7e9b1a44\", \"trace_metadata\": {\"mlflow.trace.session\": \"s\"}}\n}\n"), uint8(0))
	f.Add([]byte(`{"info": {"request_id": "tr-1", "request_metadata": {}}, "data": {"spans": [{"name": "send_email", "context": {"trace_id": "0x5c1f0e2a9b7d4e61a3f08c2d7e9b1a44", "span_id": "0x7a00000000000001"}, "parent_id": null, "start_time": 1795424401700000000, "end_time": 1795424402700000000, "status_code": "OK", "attributes": {"mlflow.spanType": "\"TOOL\"", "mlflow.spanInputs": "{\"to\": \"a\"}"}, "events": [{"name": "exception", "timestamp": 1, "attributes": {"exception.message": "x"}}]}]}}`), uint8(0))
	formats := []Format{FormatOTLP, FormatLangfuse, FormatLangSmith, FormatOpenAIAgents, FormatJSONL}
	f.Fuzz(func(t *testing.T, line []byte, which uint8) {
		p := Parser{conv: (&convSpec{formats[int(which)%len(formats)], &Import{}}).converter()}
		var b batch
		p.importLine(line, 7, &b)
		if len(b.records) > 0 && !json.Valid(line) {
			t.Fatalf("calls from invalid JSON %q", line)
		}
		for i, r := range b.records {
			if r.Action == "" || b.lineNos[i] != 7 || b.pos[i] != int32(i) {
				t.Fatalf("record %d: %+v line %d pos %d", i, r, b.lineNos[i], b.pos[i])
			}
		}
		// the same bytes as one document: every call and malformed line
		// lies within the document's lines, and the calls come in the
		// order of their lines (resuming after a syntax error never reads
		// a part again)
		lines := int64(bytes.Count(line, []byte{'\n'})) + 1
		err := readDocument(context.Background(), bytes.NewReader(line), 1, nil, false, &convSpec{formats[int(which)%len(formats)], &Import{}}, &docRead{}, func(b batch) error {
			for i, ln := range b.lineNos {
				if ln < 1 || ln > lines || b.records[i].Action == "" {
					t.Fatalf("document call at line %d of %d: %+v", ln, lines, b.records[i])
				}
				if i > 0 && ln < b.lineNos[i-1] {
					t.Fatalf("document call at line %d after one at line %d", ln, b.lineNos[i-1])
				}
			}
			for _, m := range b.malformed {
				if m.Line < 1 || m.Line > lines {
					t.Fatalf("document error at line %d of %d: %s", m.Line, lines, m.Error)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("readDocument: %v", err)
		}
		if v, ok := pyLiteral(string(line)); ok {
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("pyLiteral(%q) gave a value that is not JSON: %v", line, err)
			}
		}
	})
}
