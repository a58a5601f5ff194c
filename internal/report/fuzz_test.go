package report

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEscaping: no log value can open a table cell, an HTML element, a
// link, or reach a terminal as a control sequence.
func FuzzEscaping(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cell := mdCell(s)
		if n := cells("| " + cell + " |"); n != 1 {
			t.Fatalf("%q makes %d cells: %s", s, n, cell)
		}
		rest := stripCode(cell)
		if strings.ContainsAny(rest, "<>[]") && cell != "*(empty)*" {
			t.Fatalf("%q leaves %q outside the code span", s, rest)
		}
		for _, out := range []string{cell, termSafe(s, 0), mdCode(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("%q: invalid UTF-8 out", s)
			}
			for _, r := range out {
				if r < 0x20 || r == 0x7f || hidden(r) {
					t.Fatalf("%q: %U reaches the output %q", s, r, out)
				}
			}
		}
	})
}
