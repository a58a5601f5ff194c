package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The JSON scanner below is strict RFC 8259: it is the reason a malformed
// line is always reported rather than half-read. The input is already known
// to be valid UTF-8 when these run.

type kind int

const (
	kNull kind = iota
	kString
	kNumber
	kBool
	kComposite
)

func (p *Parser) ws() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *Parser) eof(what string) error {
	return p.fail("truncated JSON: the line ends inside %s", what)
}

func (p *Parser) unexpected(what string) error {
	if p.pos >= len(p.b) {
		return p.eof(what)
	}
	return p.fail("invalid JSON: unexpected %s at byte %d in %s", describe(p.b[p.pos]), p.pos+1, what)
}

func (p *Parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail("JSON nested deeper than %d levels", maxDepth)
	}
	return nil
}

// object reads an object at p.pos, calling member with each decoded member
// name; member must consume the value.
func (p *Parser) object(member func(name []byte) error) error {
	if empty, err := p.openObject(); empty || err != nil {
		return err
	}
	for {
		if err := p.memberName(); err != nil {
			return err
		}
		name, err := p.str2()
		if err != nil {
			return err
		}
		if err := p.colon(); err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
		if done, err := p.nextMember(); done || err != nil {
			return err
		}
	}
}

// openObject reads the '{' at p.pos; empty says it was "{}", read whole.
func (p *Parser) openObject() (empty bool, err error) {
	if err := p.enter(); err != nil {
		return false, err
	}
	p.pos++ // '{'
	p.ws()
	if p.pos < len(p.b) && p.b[p.pos] == '}' {
		p.pos++
		p.depth--
		return true, nil
	}
	return false, nil
}

// memberName checks a member name opens at p.pos (after blanks).
func (p *Parser) memberName() error {
	p.ws()
	if p.pos >= len(p.b) || p.b[p.pos] != '"' {
		return p.unexpected("an object (want a member name)")
	}
	return nil
}

// nextMember reads what follows a member's value: ',' (another member) or
// '}' (done: the object is read).
func (p *Parser) nextMember() (done bool, err error) {
	p.ws()
	if p.pos >= len(p.b) {
		return false, p.eof("an object")
	}
	switch p.b[p.pos] {
	case ',':
		p.pos++
		return false, nil
	case '}':
		p.pos++
		p.depth--
		return true, nil
	}
	return false, p.unexpected("an object (want ',' or '}')")
}

// colon reads the ':' after a member name, with the blanks around it.
func (p *Parser) colon() error {
	p.ws()
	if p.pos >= len(p.b) || p.b[p.pos] != ':' {
		return p.unexpected("an object (want ':')")
	}
	p.pos++
	p.ws()
	return nil
}

func (p *Parser) array(elem func() error) error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++ // '['
	p.ws()
	if p.pos < len(p.b) && p.b[p.pos] == ']' {
		p.pos++
		p.depth--
		return nil
	}
	for {
		p.ws()
		if err := elem(); err != nil {
			return err
		}
		p.ws()
		if p.pos >= len(p.b) {
			return p.eof("an array")
		}
		switch p.b[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return nil
		default:
			return p.unexpected("an array (want ',' or ']')")
		}
	}
}

func (p *Parser) peekNull() bool {
	return bytes.HasPrefix(p.b[p.pos:], []byte("null"))
}

// skip validates and discards one value.
func (p *Parser) skip() error {
	if p.pos >= len(p.b) {
		return p.eof("a value")
	}
	switch c := p.b[p.pos]; {
	case c == '{':
		return p.object(func([]byte) error { return p.skip() })
	case c == '[':
		return p.array(p.skip)
	case c == '"':
		_, err := p.str2()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := p.number()
		return err
	default:
		return p.literal()
	}
}

func (p *Parser) literal() error {
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(p.b[p.pos:], []byte(lit)) {
			p.pos += len(lit)
			return nil
		}
	}
	return p.unexpected("a value")
}

// scalar reads any value as text: strings decoded, numbers as written,
// booleans as true/false, null as "", objects and arrays as canonical JSON.
func (p *Parser) scalar() (string, kind, error) {
	return p.scalarIn(nil)
}

// scalarIn is scalar with strings of a low-cardinality field (action
// types, statuses, effects) taken from an intern table: one allocation per
// distinct value instead of one per call.
func (p *Parser) scalarIn(intern map[string]string) (string, kind, error) {
	if p.pos >= len(p.b) {
		return "", kNull, p.eof("a value")
	}
	switch c := p.b[p.pos]; {
	case c == '"':
		s, err := p.str2()
		if intern != nil && err == nil && len(s) <= 64 {
			if v, ok := intern[string(s)]; ok { // no allocation for the lookup
				return v, kString, nil
			}
			v := string(s)
			if len(intern) < 4096 {
				intern[v] = v
			}
			return v, kString, nil
		}
		if err != nil {
			return "", kString, err
		}
		return p.keep(s), kString, nil
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		return string(n), kNumber, err
	case c == '{' || c == '[':
		// after what p.canon holds: it may be the line's args, read before
		mark := len(p.canon)
		err := p.canonValue()
		v := string(p.canon[mark:])
		p.canon = p.canon[:mark]
		return v, kComposite, err
	case c == 'n':
		return "", kNull, p.literal()
	default:
		start := p.pos
		err := p.literal()
		return string(p.b[start:p.pos]), kBool, err
	}
}

// keep returns s as a string held in the parser's arena: one allocation per
// 64 KiB of strings instead of one per string. The arena is only ever
// appended to, so the bytes of a string given out never change. Parsers
// whose records are kept around (keepArgs) allocate each string alone, so
// a kept string never holds a whole arena.
func (p *Parser) keep(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	if p.keepArgs || len(s) > 4<<10 {
		return string(s)
	}
	if cap(p.arena)-len(p.arena) < len(s) {
		p.arena = make([]byte, 0, 64<<10)
	}
	n := len(p.arena)
	p.arena = append(p.arena, s...)
	return unsafe.String(&p.arena[n], len(s))
}

// number validates a JSON number and returns its literal text.
func (p *Parser) number() ([]byte, error) {
	start := p.pos
	b := p.b
	i := p.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return nil, p.unexpected("a number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			p.pos = i
			return nil, p.unexpected("a number's fraction")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			p.pos = i
			return nil, p.unexpected("a number's exponent")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	p.pos = i
	return b[start:i], nil
}

// str2 reads a string and returns its decoded bytes: a slice of the line
// when there is no escape (p.raw is then true), else of p.str (valid until
// the next call).
func (p *Parser) str2() ([]byte, error) {
	p.pos++ // opening quote
	start := p.pos
	b := p.b
	i := start
	// eight bytes at a time while none is a quote, a backslash or a
	// control character (the usual string has none until its end); the
	// lowest flagged byte of a word is always a true one, so the byte loop
	// below starts right on it
	for ; i+8 <= len(b); i += 8 {
		if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			break
		}
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			p.pos = i + 1
			p.raw = true
			return b[start:i], nil
		}
		if c == '\\' {
			p.str = append(p.str[:0], b[start:i]...)
			p.pos = i
			p.raw = false
			return p.strEscaped()
		}
		if c < 0x20 {
			p.pos = i
			return nil, p.fail("invalid JSON: control character 0x%02x in a string at byte %d", c, i+1)
		}
	}
	p.pos = len(b)
	return nil, p.eof("a string")
}

// special has a high bit set in some byte of v when one of its bytes is a
// quote, a backslash or below 0x20 (and maybe in a later byte too, from a
// borrow, but never in an earlier one: the lowest flagged byte, in little
// endian order the first, is exact).
func special(v uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := v ^ (ones * '"')
	bs := v ^ (ones * '\\')
	return ((q-ones)&^q | (bs-ones)&^bs | (v-ones*0x20)&^v) & highs
}

func (p *Parser) strEscaped() ([]byte, error) {
	b := p.b
	for p.pos < len(b) {
		c := b[p.pos]
		switch {
		case c == '"':
			p.pos++
			return p.str, nil
		case c < 0x20:
			return nil, p.fail("invalid JSON: control character 0x%02x in a string at byte %d", c, p.pos+1)
		case c != '\\':
			p.str = append(p.str, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(b) {
			p.pos = len(b)
			return nil, p.eof("a string")
		}
		e := b[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			p.str = append(p.str, e)
		case 'b':
			p.str = append(p.str, '\b')
		case 'f':
			p.str = append(p.str, '\f')
		case 'n':
			p.str = append(p.str, '\n')
		case 'r':
			p.str = append(p.str, '\r')
		case 't':
			p.str = append(p.str, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.fail("invalid JSON: bad \\u escape at byte %d", p.pos-1)
			}
			if utf16.IsSurrogate(r) {
				// A valid pair decodes to one rune. A lone surrogate (a UTF-16
				// string cut inside a pair) has no UTF-8 form: it becomes
				// U+FFFD followed by the text of its escape, �\ud83d, so two
				// values that differ only there stay two (U+FFFD alone, as in
				// encoding/json, made keys cut from different emoji one key),
				// and a literal \ud83d (an escaped backslash) stays another.
				save := p.pos
				if p.pos+1 < len(b) && b[p.pos] == '\\' && b[p.pos+1] == 'u' {
					p.pos += 2
					if r2, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							p.str = utf8.AppendRune(p.str, d)
							continue
						}
					}
				}
				p.pos = save
				p.str = fmt.Appendf(p.str, "\ufffd\\u%04x", r)
				continue
			}
			p.str = utf8.AppendRune(p.str, r)
		default:
			return nil, p.fail("invalid JSON: bad escape \\%c at byte %d", e, p.pos-1)
		}
	}
	return nil, p.eof("a string")
}

func (p *Parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

// canonValue appends the canonical form of one value to p.canon.
func (p *Parser) canonValue() error {
	if p.pos >= len(p.b) {
		return p.eof("a value")
	}
	switch c := p.b[p.pos]; {
	case c == '{':
		return p.canonObject()
	case c == '[':
		ign := p.ign
		p.canon = append(p.canon, '[')
		first, i := true, 0
		err := p.array(func() error {
			var sub [][]string
			if ign != nil {
				drop, s := p.underIndex(ign, i)
				i++
				defer func() { p.subs = p.subs[:len(p.subs)-len(s)] }()
				if drop {
					p.ign = nil
					return p.skip()
				}
				sub = s
			}
			if !first {
				p.canon = append(p.canon, ',')
			}
			first = false
			p.ign = sub
			return p.canonValue()
		})
		p.ign = ign
		p.canon = append(p.canon, ']')
		return err
	case c == '"':
		s, err := p.str2()
		if err != nil {
			return err
		}
		p.appendString(s)
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		if err != nil {
			return err
		}
		p.canon = appendCanonNumber(p.canon, n)
		return nil
	default:
		start := p.pos
		if err := p.literal(); err != nil {
			return err
		}
		p.canon = append(p.canon, p.b[start:p.pos]...)
		return nil
	}
}

// member is one member of an object being canonicalised: its quoted name
// at canon[ms:ke], its value up to canon[end], and the name's first eight
// bytes as a number that orders like the bytes (most comparisons end there).
type member struct {
	prefix      uint64
	ms, ke, end int
}

func namePrefix(quoted []byte) uint64 {
	if len(quoted) >= 8 { // the usual name: no copy to pad it
		return binary.BigEndian.Uint64(quoted)
	}
	var b [8]byte
	copy(b[:], quoted)
	return binary.BigEndian.Uint64(b[:])
}

// less orders members by their quoted names' bytes, in buf shifted by off.
func (m *member) less(o *member, buf []byte, off int) int {
	if m.prefix != o.prefix {
		if m.prefix < o.prefix {
			return -1
		}
		return 1
	}
	return bytes.Compare(buf[m.ms-off:m.ke-off], buf[o.ms-off:o.ke-off])
}

// canonObject writes members as they come and reorders them only when their
// names are not already strictly ascending (sorted input costs no copy).
func (p *Parser) canonObject() error {
	base := len(p.spans)
	err := p.canonMembers()
	if err != nil {
		p.spans = p.spans[:base] // the parser may read on after an error
	}
	return err
}

func (p *Parser) canonMembers() error {
	start := len(p.canon)
	p.canon = append(p.canon, '{')
	base := len(p.spans)
	sorted := true
	if empty, err := p.openObject(); empty || err != nil {
		p.canon = append(p.canon, '}')
		return err
	}
	ign := p.ign
	defer func() { p.ign = ign }()
	for {
		if err := p.memberName(); err != nil {
			return err
		}
		name, err := p.str2()
		if err != nil {
			return err
		}
		var sub [][]string
		if ign != nil {
			drop, s := p.underName(ign, name)
			if drop { // an ignored member: read, not written
				p.subs = p.subs[:len(p.subs)-len(s)]
				if err := p.colon(); err != nil {
					return err
				}
				p.ign = nil
				if err := p.skip(); err != nil {
					return err
				}
				if done, err := p.nextMember(); done || err != nil {
					if err != nil {
						return err
					}
					break
				}
				continue
			}
			sub = s
		}
		if len(p.spans) > base {
			p.canon = append(p.canon, ',')
		}
		ms := len(p.canon)
		p.appendString(name) // before anything else moves p.pos: it may copy the line's bytes
		ke := len(p.canon)
		if err := p.colon(); err != nil {
			return err
		}
		m := member{prefix: namePrefix(p.canon[ms:ke]), ms: ms, ke: ke}
		if len(p.spans) > base && sorted && p.spans[len(p.spans)-1].less(&m, p.canon, 0) >= 0 {
			sorted = false
		}
		p.canon = append(p.canon, ':')
		p.ign = sub
		err = p.canonValue()
		p.subs = p.subs[:len(p.subs)-len(sub)]
		if err != nil {
			return err
		}
		m.end = len(p.canon)
		p.spans = append(p.spans, m)
		done, err := p.nextMember()
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	if !sorted {
		p.sortMembers(start, p.spans[base:])
	}
	p.spans = p.spans[:base]
	p.canon = append(p.canon, '}')
	return nil
}

// underName is under for a member name, without a copy of it and without
// an allocation: the paths that go on below it are pushed on p.subs (pop
// them, p.subs = p.subs[:len(p.subs)-len(sub)], once the value is read).
func (p *Parser) underName(paths [][]string, name []byte) (drop bool, sub [][]string) {
	base := len(p.subs)
	for _, q := range paths {
		if q[0] == string(name) {
			if len(q) == 1 {
				drop = true
			} else {
				p.subs = append(p.subs, q[1:])
			}
		}
	}
	if len(p.subs) == base {
		return drop, nil
	}
	return drop, p.subs[base:len(p.subs):len(p.subs)]
}

// underIndex is underName for an array index.
func (p *Parser) underIndex(paths [][]string, i int) (drop bool, sub [][]string) {
	var b [20]byte
	return p.underName(paths, strconv.AppendInt(b[:0], int64(i), 10))
}

// sortMembers rewrites the members of the object opened at canon[start] in
// the order of their names; of duplicates the last one stays.
func (p *Parser) sortMembers(start int, members []member) {
	p.tmp = append(p.tmp[:0], p.canon[start+1:]...)
	off := start + 1
	if len(members) <= 16 {
		// the usual object is small: a stable insertion sort, without
		// the generic sort's calls
		for i := 1; i < len(members); i++ {
			for j := i; j > 0 && members[j-1].less(&members[j], p.tmp, off) > 0; j-- {
				members[j-1], members[j] = members[j], members[j-1]
			}
		}
	} else {
		slices.SortStableFunc(members, func(a, b member) int { return a.less(&b, p.tmp, off) })
	}
	p.canon = p.canon[:start+1]
	n := 0
	for i := range members {
		m := &members[i]
		if i+1 < len(members) && m.less(&members[i+1], p.tmp, off) == 0 {
			continue // a later duplicate wins
		}
		if n > 0 {
			p.canon = append(p.canon, ',')
		}
		p.canon = append(p.canon, p.tmp[m.ms-off:m.end-off]...)
		n++
	}
}

// appendString writes the string str2 just read to p.canon: as it was
// written when it held no escape (nothing in it needs one), else re-quoted.
// Unescaped, s is the line's bytes between the quotes, and p.pos is just
// past the closing one: the quoted text is copied in one piece.
func (p *Parser) appendString(s []byte) {
	if p.raw {
		p.canon = append(p.canon, p.b[p.pos-len(s)-2:p.pos]...)
		return
	}
	p.canon = appendQuoted(p.canon, s)
}

// appendQuoted writes a JSON string with the minimal escapes: the same
// decoded value always gives the same bytes.
func appendQuoted(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
