package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// Log values are untrusted: a key may hold terminal escape sequences, a
// bidirectional override that reverses what a reader sees, a newline that
// breaks a table, or invalid UTF-8. visible rewrites every such character as
// a visible escape and leaves everything else alone:
//
//	invalid UTF-8 byte          \xff
//	\n \r \t                    \n \r \t
//	other C0, DEL, C1 controls  \x1b \x7f \u0085
//	bidi controls, line and paragraph separators, zero-width characters,
//	byte order mark, soft hyphen, tag characters, variation selectors,
//	fillers, spaces other than U+0020
//	                            \u202e \u2028 \u200b \ufeff \u00ad \U000e0041
//
// A backslash is kept as is, so a Windows path reads naturally, unless
// what follows could read as one of these escapes: a run of backslashes
// before n, r, t, x and two hex digits, u and four, U and eight, or before
// an escaped character, is doubled, so a literal
// "\x1b" (\\x1b) never reads like an escape character (\x1b), nor a
// backslash before one (\\\x1b). The JSON report carries every value exactly.
func visible(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		i += writeVisible(&b, s, i)
	}
	return b.String()
}

// writeVisible writes the character at s[i] as visible does and returns
// its size in s.
func writeVisible(b *strings.Builder, s string, i int) int {
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == '\\':
		// a run of backslashes at once (deciding per backslash would look
		// ahead over the run again for each: quadratic)
		n := 1
		for i+n < len(s) && s[i+n] == '\\' {
			n++
		}
		run := s[i : i+n]
		if !escapeLike(s[i+n:]) {
			b.WriteString(run)
			return n
		}
		// doubled: the run and what follows it are one piece, so a cut
		// (termSafe, termFit) never keeps the doubled run without the
		// letters or the escape that made it double (\\… would read as
		// two backslashes of the value)
		b.WriteString(run)
		b.WriteString(run)
		if k := escapeForm(s[i+n:]); k > 0 {
			b.WriteString(s[i+n : i+n+k])
			return n + k
		}
		return n + writeVisible(b, s, i+n) // an escaped character: no backslash, no recursion past it
	case r == utf8.RuneError && size <= 1:
		fmt.Fprintf(b, `\x%02x`, s[i])
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\t':
		b.WriteString(`\t`)
	case r < 0x20 || r == 0x7f:
		fmt.Fprintf(b, `\x%02x`, r)
	case hidden(r) && r > 0xffff:
		fmt.Fprintf(b, `\U%08x`, r)
	case hidden(r):
		fmt.Fprintf(b, `\u%04x`, r)
	default:
		b.WriteString(s[i : i+size])
	}
	return size
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || hidden(r) || (r == '\\' && escapeLike(s[i+1:])) {
			return true
		}
		i += size
	}
	return false
}

// escapeForm is the length of the escape s begins with as visible writes
// them (n, r, t; x, u or U and 2, 4 or 8 lowercase hex digits), without
// its backslash; 0 if none: "\Users" is no escape.
func escapeForm(s string) int {
	if s == "" {
		return 0
	}
	digits := 0
	switch s[0] {
	case 'n', 'r', 't':
		return 1
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	default:
		return 0
	}
	if len(s) < 1+digits {
		return 0
	}
	for _, c := range []byte(s[1 : 1+digits]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0
		}
	}
	return 1 + digits
}

// escapeLike reports whether a backslash before s would read as the start
// of one of visible's escapes: s begins with a letter that starts one, or
// with a character visible escapes.
func escapeLike(s string) bool {
	if s == "" {
		return false
	}
	if escapeForm(s) > 0 {
		return true
	}
	r, size := utf8.DecodeRuneInString(s)
	return (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || hidden(r)
}

// hidden reports characters that act on the display without being seen,
// or that look like nothing or like a plain space: two keys that differ by
// one of them would read the same.
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls (CSI is 0x9b)
		return true
	case r < 0x80:
		return false
	case unicode.Is(unicode.Cf, r): // format: bidi controls, zero-width characters, soft hyphen, BOM, tags U+E0000..U+E007F
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x2060 && r <= 0x206f: // word joiner, invisible operators, LRI..PDI, deprecated format characters (U+2065 unassigned)
		return true
	case unicode.Is(unicode.Zs, r): // no-break and other spaces that read as U+0020
		return true
	case unicode.Is(unicode.Variation_Selector, r), r >= 0x180b && r <= 0x180f: // variation selectors, Mongolian ones
		return true
	case r == 0x034f, r == 0x115f, r == 0x1160, r == 0x17b4, r == 0x17b5, r == 0x2800, r == 0x3164, r == 0xffa0:
		// combining grapheme joiner, Hangul fillers, Khmer inherent vowels, braille blank
		return true
	}
	return false
}

// termSafe is a log value for a terminal cell: visible, and cut to max
// runes, never inside an escape (a cut \x1b read \x1…).
func termSafe(s string, max int) string {
	v := visible(s)
	if max <= 0 || utf8.RuneCountInString(v) <= max {
		return v
	}
	var b strings.Builder
	n := 0 // runes written
	for i := 0; i < len(s); {
		var piece strings.Builder
		size := writeVisible(&piece, s, i)
		if n+utf8.RuneCountInString(piece.String()) > max-1 {
			break
		}
		b.WriteString(piece.String())
		n += utf8.RuneCountInString(piece.String())
		i += size
	}
	return b.String() + "…"
}

// termFit is a log value for a fixed-width terminal column: visible, cut to
// cols screen columns (a CJK character takes two, as tablewriter counts
// them), never inside an escape, and padded with spaces to cols.
func termFit(s string, cols int) string {
	v := visible(s)
	if w := columns(v); w <= cols {
		return v + strings.Repeat(" ", cols-w)
	}
	var b strings.Builder
	w := 0 // columns written
	for i := 0; i < len(s); {
		var piece strings.Builder
		size := writeVisible(&piece, s, i)
		pw := columns(piece.String())
		if w+pw > cols-1 {
			break
		}
		b.WriteString(piece.String())
		w += pw
		i += size
	}
	return b.String() + "…" + strings.Repeat(" ", cols-1-w)
}

// columns is the screen width of s as the tables count it: East Asian
// widths off (newTable turns them off; twwidth.Width would count with
// whatever the locale set before the first table, and the trend lines
// come before it: "…" and Greek or Cyrillic letters two columns each
// under a Chinese, Japanese or Korean LANG).
func columns(s string) int {
	return twwidth.WidthWithOptions(s, twwidth.Options{})
}

// mdCode renders a log value as a Markdown code span: nothing inside is
// Markdown or HTML. The fence is longer than any backtick run inside; a
// space pads content that starts or ends with a backtick or a space (one
// space each side is stripped by Markdown), but for content of spaces only,
// which Markdown keeps as it is.
func mdCode(s string) string {
	if s == "" {
		return "*(empty)*"
	}
	s = termSafe(s, mdValueMax)
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if (s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' || s[len(s)-1] == ' ') && strings.Trim(s, " ") != "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdValueMax cuts a log value in a Markdown report (a 1 MB key would make
// the report unreadable); the JSON report carries every value whole.
const mdValueMax = 200

// mdCell is mdCode inside a table row: a GFM table splits cells on every |,
// even inside a code span, and a \| there renders as |. The backslashes of
// the value just before a | are written \x5c, each of them: renderers
// disagree on whether \\| ends a cell (the fuzzer found it), and writing
// only the last one would make \\| read as a literal \x5c| (visible
// doubles the backslash of that one: \\x5c|). A run of backslashes before
// a | is always the value's own, never visible's doubling (a | is no
// escape), and \x5c is no escape visible writes: it reads back one way.
func mdCell(s string) string {
	c := mdCode(s)
	if !strings.Contains(c, "|") {
		return c
	}
	var b strings.Builder
	for i := 0; i < len(c); i++ {
		switch c[i] {
		case '\\':
			j := i
			for j < len(c) && c[j] == '\\' {
				j++
			}
			if j < len(c) && c[j] == '|' {
				b.WriteString(strings.Repeat(`\x5c`, j-i))
			} else {
				b.WriteString(c[i:j])
			}
			i = j - 1
		case '|':
			b.WriteString(`\|`)
		default:
			b.WriteByte(c[i])
		}
	}
	return b.String()
}

// mdCellPtr renders an optional value; absent is an em dash.
func mdCellPtr(s *string) string {
	if s == nil {
		return "—"
	}
	return mdCell(*s)
}
