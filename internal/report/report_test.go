package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idemaudit/idemaudit/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func sp(s string) *string { return &s }

func tm(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func catalogueDocs() []rules.Doc {
	var out []rules.Doc
	for _, r := range rules.Catalogue() {
		out = append(out, r.Doc)
	}
	return out
}

// result builds a result by hand: every renderer branch, no database.
func result(key, action, resp, source, errText string) *rules.Result {
	calls := []rules.Call{
		{Source: source, Line: 3, TS: tm("2026-11-16T09:00:00Z"), ActionType: action, Key: sp(key), ResponseID: sp(resp), Status: sp("timeout"), Effect: sp("created")},
		{Source: source, Line: 9, TS: tm("2026-11-16T09:00:31.5Z"), ActionType: action, Key: sp(key), ResponseID: sp("ch_2"), Status: sp("504"), StatusNum: true, Effect: sp("created")},
	}
	f1 := rules.Finding{Rule: "same-key-different-response", Severity: rules.Critical, ActionType: action, Key: sp(key),
		Stats: rules.Stats{Calls: 2, DistinctResponses: 2, Span: 31500 * time.Millisecond}, Calls: calls}
	f2 := rules.Finding{Rule: "missing-key", Severity: rules.Low, ActionType: action,
		Stats: rules.Stats{Calls: 25}, Sampled: true,
		Calls: []rules.Call{{Source: source, Line: 12, ActionType: action, ResponseID: nil}}}
	r := &rules.Result{
		Period: rules.Period{Start: tm("2026-11-16T09:00:00Z"), End: tm("2026-11-16T09:00:31.5Z")},
		Window: 10 * time.Minute,
		Summary: rules.Summary{Calls: 27, KeyedCalls: 2, MalformedLines: 1, UnfingerprintedCalls: 4, UntimedCalls: 1,
			FindingsBySeverity: map[rules.Severity]int{rules.Critical: 1, rules.Low: 1}},
		Actions:   []rules.ActionStats{{ActionType: action, Calls: 27, KeyedCalls: 2, KeyCoverage: 2.0 / 27, Findings: 2, Score: 1}},
		Findings:  []rules.Finding{f1, f2},
		Malformed: []rules.Malformed{{Source: source, Line: 5, Error: errText}},
		Inputs:    []rules.Input{{Source: source, Lines: 40, Calls: 27, Malformed: 1, Bytes: 9000}},
		Rules:     catalogueDocs(),
	}
	for i := range r.Findings {
		r.Findings[i].Message = rules.Message(&r.Findings[i], func(s string) string { return s })
	}
	return r
}

func render(t *testing.T, format string, r *rules.Result) string {
	t.Helper()
	rep, err := New(format)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// weekResult is result as a period report: trend, a new and a recurring
// finding, one suppressed by the baseline, a score change.
func weekResult() *rules.Result {
	r := result("chg-42", "charge_card", "ch_1", "logs/billing.jsonl", `unparseable ts "yesterday"`)
	label := "2026-W47"
	r.Period = rules.Period{Start: tm("2026-11-16T00:00:00Z"), End: tm("2026-11-23T00:00:00Z"), Label: &label}
	r.Periodic = true
	r.Findings[0].ID, r.Findings[0].New, r.Findings[0].FirstSeen = "00aa11bb22cc33dd", true, tm("2026-11-16T09:00:31.5Z")
	r.Findings[1].ID, r.Findings[1].FirstSeen = "44ee55ff66007711", tm("2026-11-03T08:00:00Z")
	sup := r.Findings[0]
	sup.ID, sup.Suppressed, sup.Key = "8899aabbccddeeff", true, sp("chg-7")
	r.Findings = append(r.Findings, sup)
	r.Summary.NewFindings, r.Summary.Suppressed = 1, 1
	for i, w := range []string{"2026-W45", "2026-W46", "2026-W47"} {
		start := tm("2026-11-02T00:00:00Z").AddDate(0, 0, 7*i)
		r.Trend = append(r.Trend, rules.TrendPoint{Label: w, Start: start, End: start.AddDate(0, 0, 7),
			Calls: int64(10 + 10*i), KeyedCalls: int64(10 - 4*i),
			FindingsBySeverity: map[rules.Severity]int{rules.Critical: i / 2, rules.Low: 1},
			Actions: map[string]rules.ActionStats{"charge_card": {ActionType: "charge_card", Calls: int64(10 + 10*i),
				KeyedCalls: int64(10 - 4*i), KeyCoverage: float64(10-4*i) / float64(10+10*i), Findings: i + 1}}})
	}
	r.ScoreChanges = []rules.ScoreChange{{ActionType: "charge_card", From: 3, To: 1}}
	return r
}

func TestGolden(t *testing.T) {
	for name, r := range map[string]*rules.Result{
		"golden":      result("chg-42", "charge_card", "ch_1", "logs/billing.jsonl", `unparseable ts "yesterday"`),
		"golden-week": weekResult(),
	} {
		golden(t, name, r)
	}
}

func golden(t *testing.T, name string, r *rules.Result) {
	for format, file := range map[string]string{"json": name + ".json", "markdown": name + ".md", "table": name + ".txt"} {
		t.Run(format, func(t *testing.T) {
			got := render(t, format, r)
			path := filepath.Join("testdata", file)
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s is stale or the renderer changed: review and run with -update\n--- got ---\n%s", path, got)
			}
		})
	}
}

func TestSparkline(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want string
	}{
		{[]float64{0, 0, 0}, "▁▁▁"},
		{[]float64{0, 1, 2, 7}, "▁▂▃█"},
		{[]float64{5}, "█"},
		{nil, ""},
	} {
		if got := sparkline(c.in); got != c.want {
			t.Errorf("sparkline(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := New("csv"); err == nil || !strings.Contains(err.Error(), "table, markdown, json") {
		t.Errorf("want an error listing the formats, got %v", err)
	}
}

func TestEmptyResult(t *testing.T) {
	r := &rules.Result{Window: time.Minute, Summary: rules.Summary{FindingsBySeverity: map[rules.Severity]int{}}}
	out := render(t, "json", r)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"actions", "findings", "malformed", "inputs"} {
		if l, ok := m[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %v, want []", k, m[k])
		}
	}
	sev := m["summary"].(map[string]any)["findings_by_severity"].(map[string]any)
	if len(sev) != 4 {
		t.Errorf("findings_by_severity %v, want all four severities", sev)
	}
	if p := m["period"].(map[string]any); p["start"] != nil || p["label"] != nil {
		t.Errorf("period %v", p)
	}
	if md := render(t, "markdown", r); !strings.Contains(md, "No duplicate side effects were found.") || !strings.Contains(md, "no timestamped calls") {
		t.Errorf("markdown of an empty audit:\n%s", md)
	}
	if txt := render(t, "table", r); !strings.Contains(txt, "no findings") {
		t.Errorf("table of an empty audit:\n%s", txt)
	}
}

var hostile = []string{
	"a|b",
	"``x``",
	"`",
	" lead and trail ",
	"<script>alert(1)</script>",
	"<img src=x onerror=y>",
	"line1\nline2\r\n",
	"\x1b[2J\x1b[31mred\x1b]0;title\x07",
	"\u202eevil\u2066",
	"zero\u200bwidth\ufeff",
	"\xff\xfe",
	"[link](javascript:alert(1))",
	"**bold** _em_ # heading",
	"\u009b31m c1 csi",
	"",
}

func TestHostileValuesMarkdown(t *testing.T) {
	for _, v := range hostile {
		out := render(t, "markdown", result(v, v, v, v, v))
		checkClean(t, v, out)
		// values are inside code spans: outside them, no HTML or link from a log
		if rest := stripCode(out); strings.Contains(rest, "<") || strings.Contains(rest, "javascript") || strings.Contains(rest, "**bold**") {
			t.Errorf("%q: a log value outside code spans:\n%s", v, rest)
		}
		// every table row has as many cells as its header
		lines := strings.Split(out, "\n")
		cols := 0
		for i, l := range lines {
			if !strings.HasPrefix(l, "|") {
				cols = 0
				continue
			}
			n := cells(l)
			if cols == 0 {
				cols = n
				continue
			}
			if n != cols {
				t.Errorf("%q: line %d has %d cells, header %d: %s", v, i+1, n, cols, l)
			}
		}
	}
}

func TestHostileValuesTable(t *testing.T) {
	for _, v := range hostile {
		checkClean(t, v, render(t, "table", result(v, v, v, v, v)))
	}
}

func TestHostileValuesJSONRoundTrip(t *testing.T) {
	for _, v := range hostile {
		out := render(t, "json", result(v, v, v, v, v))
		var rep struct {
			Findings []struct {
				ActionType string  `json:"action_type"`
				Key        *string `json:"idempotency_key"`
				Calls      []struct {
					Source     string
					ResponseID *string `json:"response_id"`
				}
			}
			Malformed []struct{ Error string }
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		want := perByteValid(v) // encoding/json replaces each invalid byte
		f := rep.Findings[0]
		if f.ActionType != want || *f.Key != want || f.Calls[0].Source != want || *f.Calls[0].ResponseID != want || rep.Malformed[0].Error != want {
			t.Errorf("%q did not round-trip: %+v", v, f)
		}
		if strings.Contains(out, "<script") {
			t.Errorf("%q: JSON should escape <", v)
		}
	}
}

// checkClean asserts no control character but newline, no bidi or
// zero-width character and no invalid UTF-8 reaches the output.
func checkClean(t *testing.T, v, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%q: output is not valid UTF-8", v)
	}
	for _, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || hidden(r) {
			t.Errorf("%q: output holds %U", v, r)
			return
		}
	}
}

// cells counts the cells of a Markdown table row: pipes not escaped.
func cells(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		if row[i] == '\\' {
			i++
			continue
		}
		if row[i] == '|' {
			n++
		}
	}
	return n - 1
}

// stripCode removes code spans (any fence length) from Markdown text.
func stripCode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		fence := s[i:j]
		end := strings.Index(s[j:], fence)
		for end >= 0 && j+end+len(fence) < len(s) && s[j+end+len(fence)] == '`' {
			next := strings.Index(s[j+end+len(fence)+1:], fence)
			if next < 0 {
				end = -1
				break
			}
			end += len(fence) + 1 + next
		}
		if end < 0 {
			b.WriteString(fence)
			i = j
			continue
		}
		i = j + end + len(fence)
	}
	return b.String()
}

func TestEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "`plain`",
		"a`b":          "``a`b``",
		"`x":           "`` `x ``",
		"a``b```c":     "````a``b```c````",
		" x ":          "`  x  `",
		"":             "*(empty)*",
		"a\nb\x1b[0m":  "`a\\nb\\x1b[0m`",
		"\u202eabc":    "`\\u202eabc`",
		"bad\xffbyte":  "`bad\\xffbyte`",
		"tab\there":    "`tab\\there`",
		"c1\u0085next": "`c1\\u0085next`",
	} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := mdCell("a|b"); got != "`a\\|b`" {
		t.Errorf("mdCell = %q", got)
	}
	if got := termSafe("\x1b[31mred\x1b[0m", 0); got != `\x1b[31mred\x1b[0m` {
		t.Errorf("termSafe = %q", got)
	}
	if got := termSafe(strings.Repeat("é", 100), 10); got != strings.Repeat("é", 9)+"…" {
		t.Errorf("termSafe cut = %q", got)
	}
}

func perByteValid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func TestCaps(t *testing.T) {
	r := result(strings.Repeat("k", 1<<20), "charge_card", "ch_1", "logs/billing.jsonl", "x")
	for i := 0; i < 600; i++ {
		r.Actions = append(r.Actions, rules.ActionStats{ActionType: fmt.Sprintf("tool_%04d", i), Calls: 1})
	}
	for _, format := range []string{"markdown", "table"} {
		out := render(t, format, r)
		if len(out) > 200_000 {
			t.Errorf("%s: a 1 MB key and 600 action types make %d bytes", format, len(out))
		}
		if !strings.Contains(out, "more") || strings.Contains(out, "tool_0550") {
			t.Errorf("%s: the scorecard is not capped", format)
		}
	}
	if out := render(t, "json", r); !strings.Contains(out, strings.Repeat("k", 1<<20)) || !strings.Contains(out, "tool_0599") {
		t.Error("JSON must carry every value whole")
	}
}
