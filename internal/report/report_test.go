package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/idemaudit/idemaudit/internal/rules"
)

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
	"tag\U000e0041 shy\u00ad nbsp\u00a0 vs\ufe0f",
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
		" ":            "` `", // spaces only: Markdown strips none of them
		"   ":          "`   `",
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
	// a cut never splits an escape: \x1b cut to \x1 would read as another byte
	for max, want := range map[int]string{5: `abc…`, 8: `abc\x1b…`, 9: `abc\x1b[…`, 13: `abc\x1b[31mx…`} {
		if got := termSafe("abc\x1b[31mxyz\u202e", max); got != want {
			t.Errorf("termSafe(…, %d) = %q, want %q", max, got, want)
		}
	}
	// a fixed-width terminal column counts screen columns: a CJK character
	// takes two, so the columns after it line up
	for in, want := range map[string]string{
		"charge":      "charge    ",
		"予約を作成":       "予約を作成",
		"予約を作成する":     "予約を作… ",
		"予約a作成する":     "予約a作成…",
		"ab\x1b":      `ab\x1b    `,
		"abcdefg\x1b": "abcdefg…  ",
	} {
		got := termFit(in, 10)
		if got != want || columns(got) != 10 {
			t.Errorf("termFit(%q, 10) = %q (%d columns), want %q", in, got, columns(got), want)
		}
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

// TestJSONStreaming holds the hand-written streaming writer to what
// encoding/json writes for the same wire structs (with the invisible
// characters escaped: jsonEscapeHidden).
func TestJSONStreaming(t *testing.T) {
	cases := map[string]*rules.Result{
		"rich":  richResult(),
		"week":  weekResult(),
		"empty": {Summary: rules.Summary{FindingsBySeverity: map[rules.Severity]int{}}},
	}
	for _, v := range hostile {
		cases[fmt.Sprintf("hostile %q", v)] = result(v, v, v, v, v)
	}
	for name, r := range cases {
		want, err := json.MarshalIndent(wire(r), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = jsonEscapeHidden(want)
		if got := render(t, "json", r); got != string(want)+"\n" {
			t.Errorf("%s: streamed JSON differs from encoding/json: %s", name, firstDiff(string(want)+"\n", got))
		}
	}
}

// TestTableWidthsIgnoreLocale: tablewriter measures ambiguous-width
// characters (box drawing, —, …) as two columns in a CJK locale unless told
// not to; the table report must not change with LANG.
func TestTableWidthsIgnoreLocale(t *testing.T) {
	prev := twwidth.IsEastAsian()
	t.Cleanup(func() { twwidth.SetEastAsian(prev) })
	r := richResult()
	twwidth.SetEastAsian(false)
	want := render(t, "table", r)
	twwidth.SetEastAsian(true) // what LANG=ja_JP.UTF-8 in a plain terminal sets
	if got := render(t, "table", r); got != want {
		t.Errorf("the table depends on the East Asian width setting: %s", firstDiff(want, got))
	}
}

// TestMarkdownListsEveryFinding: a section counts the findings it lists, so
// a summary that disagrees cannot hide one.
func TestMarkdownListsEveryFinding(t *testing.T) {
	r := richResult()
	r.Summary.FindingsBySeverity = nil
	out := render(t, "markdown", r)
	for i, sev := range []string{"Critical (1)", "High (2)", "Medium (1)", "Low (4)"} {
		if !strings.Contains(out, "### "+sev) {
			t.Errorf("section %d %q missing", i, sev)
		}
	}
	if n := strings.Count(out, "\n#### "); n != len(r.Findings) {
		t.Errorf("%d findings listed, want %d", n, len(r.Findings))
	}
}

// TestTrendLinesAlign: the per-action trend lines of a period report line
// up on screen also when an action's name is CJK (two columns a character)
// or cut.
func TestTrendLinesAlign(t *testing.T) {
	r := weekResult()
	for i := range r.Trend {
		for _, a := range []string{"予約を作成", "予約を作成する予約を作成する予約を作成する", "charge_card_with_a_very_long_name_indeed"} {
			r.Trend[i].Actions[a] = rules.ActionStats{ActionType: a, Calls: 4, KeyedCalls: 2, KeyCoverage: 0.5, Findings: 1}
		}
	}
	out := render(t, "table", r)
	cols := map[int]bool{}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, " key coverage "); i > 0 && strings.HasPrefix(line, "  ") {
			cols[twwidth.Width(line[:i])] = true
		}
	}
	if len(cols) != 1 {
		t.Errorf("the trend lines' key coverage starts at columns %v, want one column:\n%s", cols, out)
	}
}

// TestCutKeepsDoubledBackslashWhole: a cut value reads as a prefix of the
// value: the backslash visible doubles before an escape-like text or an
// escaped character is never kept doubled without it (\\… reads as two
// backslashes where the value has one).
func TestCutKeepsDoubledBackslashWhole(t *testing.T) {
	pad := strings.Repeat("a", 57)
	for _, s := range []string{pad + `\x1b`, pad + "\\\x1b", pad + `\n and more`, pad + "\\\u202e"} {
		for name, got := range map[string]string{"termSafe": termSafe(s, 60), "termFit": strings.TrimRight(termFit(s, 60), " ")} {
			cut, ok := strings.CutSuffix(got, "…")
			if !ok {
				t.Fatalf("%s(%q) = %q, not cut", name, s, got)
			}
			back, ok := unvisible(cut)
			if !ok || !strings.HasPrefix(s, back) {
				t.Errorf("%s(%q) = %q reads as %q, not a prefix of the value", name, s, got, back)
			}
		}
	}
}

// TestTermFitIgnoresLocale: termFit counts columns as the tables do,
// East Asian widths off, also when the locale turned them on before the
// first table (LANG=ja_JP.UTF-8, RUNEWIDTH_EASTASIAN=1): the trend lines
// are printed before it.
func TestTermFitIgnoresLocale(t *testing.T) {
	was := twwidth.IsEastAsian()
	twwidth.SetEastAsian(true)
	defer twwidth.SetEastAsian(was)
	for in, want := range map[string]string{
		"αβγδεζηθικλμ": "αβγδεζηθι…",
		"予約を作成する":      "予約を作… ",
		"charge":       "charge    ",
	} {
		if got := termFit(in, 10); got != want {
			t.Errorf("termFit(%q, 10) = %q, want %q", in, got, want)
		}
	}
}

// TestTableAbsentIsNotADash: in the table an absent key is "—", and a key
// "—" reads otherwise (it would pass for a call without a key).
func TestTableAbsentIsNotADash(t *testing.T) {
	dash := "—"
	if ptr(nil) == ptr(&dash) {
		t.Errorf("an absent value and the value %q both read %q", dash, ptr(nil))
	}
	if back, ok := unvisible(ptr(&dash)); !ok || back != dash {
		t.Errorf("ptr(%q) = %q reads back as %q", dash, ptr(&dash), back)
	}
}
