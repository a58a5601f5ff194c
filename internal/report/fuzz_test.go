package report

import (
	"strconv"
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
		if back, ok := unvisible(visible(s)); !ok || back != s {
			t.Fatalf("%q reads as %q (%v): two values would look alike", s, back, ok)
		}
		if s != "" && utf8.RuneCountInString(visible(s)) <= mdValueMax {
			if back, ok := unvisible(unCell(cell)); !ok || back != s {
				t.Fatalf("%q in a table cell %s reads as %q (%v): two values would look alike", s, cell, back, ok)
			}
		}
		for _, max := range []int{4, 9, 17} {
			// a cut value reads as a prefix of the value
			for _, got := range []string{termSafe(s, max), strings.TrimRight(termFit(s, max), " ")} {
				if cut, ok := strings.CutSuffix(got, "…"); ok {
					if back, ok := unvisible(cut); !ok || !strings.HasPrefix(s, back) {
						t.Fatalf("%q cut to %d is %q, which reads as %q: no prefix of it", s, max, got, back)
					}
				}
			}
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

// unvisible reads visible's output back: visible must lose nothing, or two
// keys that differ would read alike.
func unvisible(v string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(v); {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			i++
			continue
		}
		n := 0
		for i+n < len(v) && v[i+n] == '\\' {
			n++
		}
		rest := v[i+n:]
		if !isEscape(rest) {
			b.WriteString(v[i : i+n]) // backslashes as they are
			i += n
			continue
		}
		b.WriteString(strings.Repeat("\\", n/2))
		i += n
		if n%2 == 0 {
			continue // the letter is a letter
		}
		var width int
		switch rest[0] {
		case 'n', 'r', 't':
			b.WriteString(map[byte]string{'n': "\n", 'r': "\r", 't': "\t"}[rest[0]])
			i++
			continue
		case 'x':
			width = 2
		case 'u':
			width = 4
		case 'U':
			width = 8
		}
		if len(rest) < 1+width {
			return "", false
		}
		c, err := strconv.ParseUint(rest[1:1+width], 16, 32)
		if err != nil {
			return "", false
		}
		if rest[0] == 'x' && (c >= 0x80 || c < 0x20 || c == 0x7f) {
			if c >= 0x80 {
				b.WriteByte(byte(c)) // an invalid UTF-8 byte
			} else {
				b.WriteRune(rune(c))
			}
		} else {
			b.WriteRune(rune(c))
		}
		i += 1 + width
	}
	return b.String(), true
}

// isEscape: s starts with one of visible's escapes (after its backslash),
// written here from visible's documentation.
func isEscape(s string) bool {
	for _, f := range []struct {
		letter byte
		digits int
	}{{'n', 0}, {'r', 0}, {'t', 0}, {'x', 2}, {'u', 4}, {'U', 8}} {
		if len(s) < 1+f.digits || s[0] != f.letter {
			continue
		}
		if strings.Trim(s[1:1+f.digits], "0123456789abcdef") == "" {
			return true
		}
	}
	return false
}

// TestVisibleLosesNothing: values that differ never read alike; a Windows
// path reads as it is.
func TestVisibleLosesNothing(t *testing.T) {
	seen := map[string]string{}
	for _, s := range append([]string{`\x1b`, "\x1b", "\\\x1b", `\\x1b`, `\\\x1b`, "\\\\\x1b", `C:\new\table`, "C:\\\n",
		`a\u202e`, "a\u202e", `\`, `\\`, "x\\", `\U000e0041`, "\U000e0041", "\xff", `\xff`, `\\\xff`}, hostile...) {
		v := visible(s)
		if o, dup := seen[v]; dup && o != s {
			t.Errorf("%q and %q both read %q", o, s, v)
		}
		seen[v] = s
		if back, ok := unvisible(v); !ok || back != s {
			t.Errorf("visible(%q) = %q reads back as %q", s, v, back)
		}
	}
	for in, want := range map[string]string{
		`C:\Users\me\agent.log`: `C:\Users\me\agent.log`,
		`C:\new`:                `C:\\new`,
		`\x1b[31m`:              `\\x1b[31m`,
		"\x1b[31m":              `\x1b[31m`,
		"\\\x1b":                `\\\x1b`,
		`\xyz \u12 \Users`:      `\xyz \u12 \Users`,
		`\x1g \x1B \ud83d`:      `\x1g \x1B \\ud83d`,
	} {
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
}

// unCell is what a GFM renderer shows of an mdCell: the table unescapes
// \| to | in the cell, then the code span drops its fence and the space
// that pads it.
func unCell(cell string) string {
	c := strings.ReplaceAll(cell, `\|`, "|")
	n := 0
	for n < len(c) && c[n] == '`' {
		n++
	}
	c = c[n : len(c)-n]
	if len(c) >= 2 && c[0] == ' ' && c[len(c)-1] == ' ' && strings.Trim(c, " ") != "" {
		c = c[1 : len(c)-1]
	}
	return c
}

// TestMarkdownCellLosesNothing: two values never read alike in a Markdown
// table cell, where a backslash before a | is written \x5c.
func TestMarkdownCellLosesNothing(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{`\x5c|`, `\\|`, `\|`, `\\\|`, `a\|b`, `a\\|b`, `\x5c\x5c|`, "\\\x1b|", `x|\`, "|", `\x5c\|`} {
		cell := mdCell(s)
		if o, dup := seen[cell]; dup && o != s {
			t.Errorf("%q and %q are both the cell %s", o, s, cell)
		}
		seen[cell] = s
		if back, ok := unvisible(unCell(cell)); !ok || back != s {
			t.Errorf("mdCell(%q) = %s reads back as %q", s, cell, back)
		}
		if n := cells("| " + cell + " |"); n != 1 {
			t.Errorf("mdCell(%q) = %s makes %d cells", s, cell, n)
		}
	}
}
