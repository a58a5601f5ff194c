package ingest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// jqCall is one call as jq . writes it: five lines, '{' and '}' at column 0.
func jqCall(key, resp string) string {
	return fmt.Sprintf("{\n  \"action_type\": \"charge_card\",\n  \"idempotency_key\": %q,\n  \"response_id\": %q\n}\n", key, resp)
}

// brokenCall is jqCall with a trailing comma (a syntax error on its fifth line).
func brokenCall(key, resp string) string {
	return strings.Replace(jqCall(key, resp), "\"\n}", "\",\n}", 1)
}

// A syntax error in a stream of documents (jq . of a log) used to end the
// reading: every later document was lost without a word (a double charge
// after it was missed, exit 0). Reading now resumes at the next line where
// a whole document begins, and the error names the lines it skipped.
func TestDocumentStreamResync(t *testing.T) {
	c := jqCall
	runResyncCases(t, []resyncCase{
		{"the reported stream", c("k1", "ch_1") + brokenCall("k1", "ch_2") + c("k2", "ch_3") + c("k2", "ch_4"),
			[]string{"s.json:1:charge_card", "s.json!10!invalid", "s.json:11:charge_card", "s.json:16:charge_card"},
			[]string{"10: invalid JSON: invalid character '}' looking for beginning of object key string; lines 6–10 skipped, reading resumed at line 11"}},
		{"a broken document deep in a stream, inside its args",
			c("a", "1") + c("b", "2") + c("c", "3") +
				"{\n  \"action_type\": \"charge_card\",\n  \"args\": {\"a\": 1,, \"b\": 2},\n  \"idempotency_key\": \"d\"\n}\n" +
				c("e", "5") + c("f", "6") + "\n\n" + c("g", "7"),
			[]string{"s.json:1:charge_card", "s.json:6:charge_card", "s.json:11:charge_card", "s.json!18!invalid", "s.json:21:charge_card", "s.json:26:charge_card", "s.json:33:charge_card"},
			[]string{"18: invalid JSON: invalid character ',' looking for beginning of object key string; lines 16–20 skipped, reading resumed at line 21"}},
		{"garbage between documents, some of it opening like one", c("a", "1") + "garbage\n{ not json\n[1, 2\n{\"action_type\": \"x\"} trailing\n" + c("b", "2") + c("c", "3"),
			[]string{"s.json:1:charge_card", "s.json!6!invalid", "s.json:10:charge_card", "s.json:15:charge_card"},
			[]string{"6: invalid JSON: invalid character 'g' looking for beginning of value; lines 6–9 skipped, reading resumed at line 10"}},
		{"a document followed by a stray '}' is not taken (it may be an element)", c("a", "1") + "x\n" + c("b", "2") + "}\n" + c("c", "3"),
			[]string{"s.json:1:charge_card", "s.json!6!invalid", "s.json:13:charge_card"},
			[]string{"6: invalid JSON: invalid character 'x' looking for beginning of value; lines 6–12 skipped, reading resumed at line 13"}},
		{"a truncated last document", c("a", "1") + c("b", "2") + c("c", "3")[:40],
			[]string{"s.json:1:charge_card", "s.json:6:charge_card", "s.json!13!truncated"},
			[]string{"13: truncated JSON: the document ends inside a value; lines 11–13 not read (the records before them were)"}},
		{"a broken last document", c("a", "1") + brokenCall("b", "2"),
			[]string{"s.json:1:charge_card", "s.json!10!invalid"},
			[]string{"10: invalid JSON: invalid character '}' looking for beginning of object key string; lines 6–10 not read: no later line begins a whole document"}},
		{"a document not closed before the next", c("a", "1") + "{\n  \"action_type\": \"charge_card\",\n  \"args\": [1,\n" + c("b", "2") + c("c", "3"),
			[]string{"s.json:1:charge_card", "s.json!8!invalid", "s.json:9:charge_card", "s.json:14:charge_card"},
			[]string{"8: invalid JSON: the document from line 6 is not closed before line 9, where the next one begins; lines 6–8 skipped"}},
		{"an array with a broken element, then a document", "[\n  {\"action_type\": \"a\"},\n  {\"action_type\": \"b\" oops},\n  {\"action_type\": \"c\"}\n]\n" + c("d", "4"),
			[]string{"s.json:2:a", "s.json!3!invalid", "s.json:6:charge_card"},
			[]string{"3: invalid JSON: invalid character 'o' after object key:value pair; lines 3–5 skipped, reading resumed at line 6"}},
		{"records one per line at the array's column are not taken for documents", "[\n{\"action_type\": \"a\"},\n{\"action_type\": \"b\" oops},\n{\"action_type\": \"c\"},\n{\"action_type\": \"d\"}\n]\n" + c("e", "5"),
			[]string{"s.json:2:a", "s.json!3!invalid", "s.json:7:charge_card"},
			[]string{"3: invalid JSON: invalid character 'o' after object key:value pair; lines 3–6 skipped, reading resumed at line 7"}},
		{"a page whose records sit at its column", "{\n  \"run_type\": \"tool\", \"name\": \"z\"\n}\n{\n\"runs\": [\n{\"run_type\": \"tool\", \"name\": \"a\"},\n{\"run_type\": \"tool\", \"name\": \"b\" x},\n{\"run_type\": \"tool\", \"name\": \"c\"}\n]}\n",
			[]string{"s.json:1:z", "s.json:6:a", "s.json!7!invalid"},
			[]string{"7: invalid JSON: invalid character 'x' after object key:value pair; lines 7–9 not read: no later line begins a whole document"}},
		{"CRLF line ends", strings.ReplaceAll(c("k1", "ch_1")+brokenCall("k1", "ch_2")+c("k2", "ch_3"), "\n", "\r\n"),
			[]string{"s.json:1:charge_card", "s.json!10!invalid", "s.json:11:charge_card"},
			[]string{"10: invalid JSON: invalid character '}' looking for beginning of object key string; lines 6–10 skipped, reading resumed at line 11"}},
	})
	t.Run("trace exports read on too", func(t *testing.T) {
		run := func(id, name string) string {
			return fmt.Sprintf("{\n  \"run_type\": \"tool\",\n  \"name\": %q,\n  \"id\": %q\n}\n", name, id)
		}
		doc := run("r1", "a") + strings.Replace(run("r2", "b"), "\"r2\"", "\"r2\",", 1) + run("r3", "c")
		d, st := ingestOne(t, "runs.json", doc, nil)
		if got := rows(t, d); st.Format != FormatLangSmith || strings.Join(got, " ") != "runs.json:1:a runs.json!10!invalid runs.json:11:c" {
			t.Errorf("%+v %q", st, got)
		}
	})
}

// A file whose first document is broken was read as JSON Lines: each of
// its lines malformed, not one call read from the documents after it. A
// first line of '{' alone, followed by a line that is no JSON value of its
// own (a member), makes it documents; a JSON Lines record after such a
// first line keeps it JSON Lines.
func TestDocumentStreamBrokenFirst(t *testing.T) {
	c := jqCall
	runResyncCases(t, []resyncCase{
		{"a broken first document", brokenCall("k1", "ch_1") + c("k2", "ch_2") + c("k2", "ch_3"),
			[]string{"s.json!5!invalid", "s.json:6:charge_card", "s.json:11:charge_card"},
			[]string{"5: invalid JSON: invalid character '}' looking for beginning of object key string; lines 1–5 skipped, reading resumed at line 6"}},
		{"a JSON Lines record after a broken document", brokenCall("a", "1") + `{"action_type": "b"}` + "\n" + `{"action_type": "c"}` + "\n",
			[]string{"s.json!5!invalid", "s.json:6:b", "s.json:7:c"},
			[]string{"5: invalid JSON: invalid character '}' looking for beginning of object key string; lines 1–5 skipped, reading resumed at line 6"}},
		{"a byte order mark before a broken first document", "\xef\xbb\xbf" + brokenCall("a", "1") + c("b", "2"),
			[]string{"s.json!5!invalid", "s.json:6:charge_card"},
			[]string{"5: invalid JSON: invalid character '}' looking for beginning of object key string; lines 1–5 skipped, reading resumed at line 6"}},
		{"documents indented by two spaces", "  {\n    \"action_type\": \"a\",\n  }\n  {\n    \"action_type\": \"b\"\n  }\n{\"action_type\": \"c\"}\n  {\"action_type\": \"d\"}\n",
			[]string{"s.json!3!invalid", "s.json:4:b", "s.json:7:c", "s.json:8:d"},
			[]string{"3: invalid JSON: invalid character '}' looking for beginning of object key string; lines 1–3 skipped, reading resumed at line 4"}},
	})
	d, _ := ingestOne(t, "s.jsonl", "{\n"+`{"action_type": "b"}`+"\n", nil)
	if got := rows(t, d); strings.Join(got, " ") != "s.jsonl!1!truncated s.jsonl:2:b" { // read as JSON Lines
		t.Errorf("%q", got)
	}
	// nor does a broken JSON Lines record after it, nor a file longer
	// than the sniff: read as documents, the lines went through the
	// converter (two keys cut inside an emoji became one: a false double
	// charge; an array line, three malformed records), the whole file in
	// memory
	jsonl := "{\n" + `{"action_type":"charge","idempotency_key":"k1","resp` + "\n" +
		`{"action_type":"charge_card","idempotency_key":"o-\ud83d","response_id":"ch_1"}` + "\n" +
		`{"action_type":"charge_card","idempotency_key":"o-\ud83e","response_id":"ch_2"}` + "\n" +
		`["not","an","object"]` + "\n"
	want := "s.jsonl!1!truncated s.jsonl!2!truncated s.jsonl:3:charge_card s.jsonl:4:charge_card s.jsonl!5!not"
	for _, data := range []string{jsonl, jsonl + strings.Repeat(`{"action_type": "b"}`+"\n", sniffSize/20)} {
		d, _ := ingestOne(t, "s.jsonl", data, nil)
		got := rows(t, d)
		if len(got) > 5 {
			got = got[:5]
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%d bytes: %q, want %q (JSON Lines)", len(data), got, want)
		}
		var keys int
		if err := d.Conn.QueryRowContext(context.Background(), "SELECT count(DISTINCT idempotency_key) FROM calls WHERE action_type = 'charge_card'").Scan(&keys); err != nil || keys != 2 {
			t.Errorf("%d bytes: %d keys (%v), want 2", len(data), keys, err)
		}
	}
}

// A stream of documents holding a broken one resumes, as it grows, after
// its last complete document: every call and the error are stored once,
// and ingesting it again adds nothing.
func TestIngestGrowingDocumentStreamResync(t *testing.T) {
	d := openMem(t)
	p := write(t, t.TempDir(), "calls.json", nil)
	step := growStep(t, d, p)
	a, bad, b, c, e := jqCall("a", "1"), brokenCall("bad", "2"), jqCall("b", "3"), jqCall("c", "4"), jqCall("e", "5")
	// nothing after the broken document: it is read again when the file grows
	step(a+bad, StatusNew, 1, 1, 1, "calls.json:1:charge_card", "calls.json!10!invalid")
	step(a+bad+b, StatusGrown, 6, 1, 1, "calls.json:1:charge_card", "calls.json!10!invalid", "calls.json:11:charge_card")
	step(a+bad+b, StatusUnchanged, 1, 0, 0, "calls.json:1:charge_card", "calls.json!10!invalid", "calls.json:11:charge_card")
	step(a+bad+b+c, StatusGrown, 16, 1, 0, "calls.json:1:charge_card", "calls.json!10!invalid", "calls.json:11:charge_card", "calls.json:16:charge_card")
	// a broken document with documents after it is never read again
	// (a document being written is no place to resume at)
	step(a+bad+b+c+bad+e[:30], StatusGrown, 21, 0, 1, "calls.json:1:charge_card", "calls.json!10!invalid", "calls.json:11:charge_card", "calls.json:16:charge_card",
		"calls.json!25!invalid")
	step(a+bad+b+c+bad+e, StatusGrown, 21, 1, 1, "calls.json:1:charge_card", "calls.json!10!invalid", "calls.json:11:charge_card", "calls.json:16:charge_card",
		"calls.json!25!invalid", "calls.json:26:charge_card")
	step(a+bad+b+c+bad+e+c, StatusGrown, 31, 1, 0, "calls.json:1:charge_card", "calls.json!10!invalid", "calls.json:11:charge_card", "calls.json:16:charge_card",
		"calls.json!25!invalid", "calls.json:26:charge_card", "calls.json:31:charge_card")
	step(a+bad+b+c+bad+e+c, StatusUnchanged, 1, 0, 0, "calls.json:1:charge_card", "calls.json!10!invalid", "calls.json:11:charge_card", "calls.json:16:charge_card",
		"calls.json!25!invalid", "calls.json:26:charge_card", "calls.json:31:charge_card")
	var lines, calls, malformed int64
	d.Conn.QueryRowContext(context.Background(), "SELECT sum(lines), sum(calls), sum(malformed) FROM sources").Scan(&lines, &calls, &malformed)
	if lines != 35 || calls != 5 || malformed != 2 {
		t.Errorf("sources count %d lines, %d calls, %d malformed; want 35, 5 and 2", lines, calls, malformed)
	}
}

// Finding where to resume stays linear in the size of the file, whatever
// it holds: each candidate is read no further than the next one.
func TestDocumentResyncIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString(jqCall("a", "1") + "x\n")
	for i := 0; i < 30000; i++ {
		// '[' lines that would each be read to the end of the file, and
		// records between them that are complete but never followed by a
		// document
		b.WriteString("[\n{\"a\": [\n{\"action_type\": \"x\"},\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60e9)
	defer cancel()
	d := openMem(t)
	st, err := d.IngestFile(ctx, write(t, t.TempDir(), "s.json", []byte(b.String())))
	if err != nil || st.Calls != 1 || st.Malformed != 1 {
		t.Fatalf("%+v %v", st, err)
	}
}

// resyncCase is a stream of documents and what reading it gives.
type resyncCase struct {
	name string
	doc  string
	rows []string // as rows() gives them
	errs []string // as malformedErrors() gives them
}

// runResyncCases reads each case's stream, as it is and gzipped.
func runResyncCases(t *testing.T, cases []resyncCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, gzipped := range []bool{false, true} {
				d := openMem(t)
				data, name := []byte(tc.doc), "s.json"
				if gzipped {
					data, name = gz(t, data), "s.json.gz"
				}
				if _, err := d.IngestFile(context.Background(), write(t, t.TempDir(), name, data)); err != nil {
					t.Fatal(err)
				}
				got := rows(t, d)
				for i := range got {
					got[i] = strings.Replace(got[i], "s.json.gz", "s.json", 1)
				}
				if !reflect.DeepEqual(got, tc.rows) {
					t.Errorf("gzip %v: rows %q, want %q", gzipped, got, tc.rows)
				}
				if errs := malformedErrors(t, d); !reflect.DeepEqual(errs, tc.errs) {
					t.Errorf("gzip %v: errors %q, want %q", gzipped, errs, tc.errs)
				}
			}
		})
	}
}
