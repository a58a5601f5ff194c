package ingest

import (
	"errors"
	"strconv"
	"strings"
)

// actionFP is how one action type's calls are fingerprinted, resolved once
// per parser from the configuration.
type actionFP struct {
	identity    [][]string // dotted paths, split; nil: whole args
	ignore      [][]string
	idTag       []byte // the identity paths, part of the hash: other paths, other fingerprints
	compensates bool   // keep the args' string values, to match compensations
}

func (p *Parser) settings(action string) *actionFP {
	if p.cfg == nil {
		return &noSettings
	}
	if s, ok := p.cache[action]; ok {
		return s
	}
	r := p.cfg.Resolve(action)
	s := &actionFP{compensates: r.Compensates}
	split := func(paths []string) [][]string {
		var out [][]string
		for _, x := range paths {
			out = append(out, strings.Split(x, "."))
		}
		return out
	}
	if r.Identity != nil {
		s.identity = split(r.Identity)
		s.idTag = []byte(strings.Join(r.Identity, "\x00"))
	}
	s.ignore = split(r.Ignore)
	if p.cache == nil {
		p.cache = map[string]*actionFP{}
	}
	if len(p.cache) < 1<<16 { // a log with endless action names must not grow this without bound
		p.cache[action] = s
	}
	return s
}

var noSettings actionFP

// fingerprints sets ArgsFP (args minus ignored paths), FP (identity paths
// when configured, else ArgsFP) and ArgStrings from canonical args.
func (p *Parser) fingerprints(r *Record, canon []byte) {
	s := p.settings(r.Action)
	if s == &noSettings || (s.identity == nil && len(s.ignore) == 0 && !s.compensates) {
		r.ArgsFP = p.hash('a', r.Action, canon)
		r.FP = r.ArgsFP
		return
	}
	if p.sub == nil {
		p.sub = &Parser{}
	}
	q := p.sub
	payload := canon
	if len(s.ignore) > 0 {
		q.out = q.out[:0]
		q.b, q.pos, q.depth = canon, 0, 0
		q.out = q.without(q.out, s.ignore)
		payload = q.out
	}
	r.ArgsFP = p.hash('a', r.Action, payload)
	r.FP = r.ArgsFP
	if s.identity != nil {
		q.out = append(q.out[:0], s.idTag...)
		q.out = append(q.out, 0, '[')
		for i, path := range s.identity {
			if i > 0 {
				q.out = append(q.out, ',')
			}
			q.b, q.pos, q.depth = canon, 0, 0
			q.out = append(q.out, q.lookup(path)...)
		}
		q.out = append(q.out, ']')
		r.FP = p.hash('i', r.Action, q.out)
	}
	if s.compensates {
		q.b, q.pos, q.depth = canon, 0, 0
		q.out = q.strings(q.out[:0])
		r.ArgStrings = string(q.out)
	}
}

// The helpers below walk canonical args (valid, normalised JSON): they
// cannot fail, and the value text they return is canonical too.

// lookup returns the value at a dotted path, or null when it is missing. A
// segment of digits indexes an array; on an object it is a member name.
func (q *Parser) lookup(path []string) []byte {
	for _, seg := range path {
		q.ws()
		if q.pos >= len(q.b) {
			return []byte("null")
		}
		found := false
		switch q.b[q.pos] {
		case '{':
			start := q.pos
			_ = q.object(func(name []byte) error {
				if !found && string(name) == seg {
					found = true
					start = q.pos
				}
				return q.skip()
			})
			if !found {
				return []byte("null")
			}
			q.pos = start
		case '[':
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 {
				return []byte("null")
			}
			i, start := 0, 0
			_ = q.array(func() error {
				if i == n {
					found, start = true, q.pos
				}
				i++
				return q.skip()
			})
			if !found {
				return []byte("null")
			}
			q.pos = start
		default:
			return []byte("null")
		}
	}
	start := q.pos
	_ = q.skip()
	return q.b[start:q.pos]
}

// without appends the value at q.pos with the members at the given paths
// left out (paths into arrays by index, as in lookup).
func (q *Parser) without(dst []byte, paths [][]string) []byte {
	q.ws()
	if q.pos >= len(q.b) {
		return dst
	}
	switch q.b[q.pos] {
	case '{':
		dst = append(dst, '{')
		n := 0
		_ = q.object(func(name []byte) error {
			drop, sub := under(paths, string(name))
			if drop {
				return q.skip()
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(appendQuoted(dst, name), ':')
			dst = q.withoutValue(dst, sub)
			return nil
		})
		return append(dst, '}')
	case '[':
		dst = append(dst, '[')
		i, n := 0, 0
		_ = q.array(func() error {
			drop, sub := under(paths, strconv.Itoa(i))
			i++
			if drop {
				return q.skip()
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = q.withoutValue(dst, sub)
			return nil
		})
		return append(dst, ']')
	}
	return q.withoutValue(dst, nil)
}

// withoutValue appends the value at q.pos: with sub-paths removed when
// there are any, else as it is.
func (q *Parser) withoutValue(dst []byte, sub [][]string) []byte {
	if sub != nil {
		return q.without(dst, sub)
	}
	start := q.pos
	_ = q.skip()
	return append(dst, q.b[start:q.pos]...)
}

// under says whether a member (or index) seg is dropped by the paths, and
// which paths go on below it.
func under(paths [][]string, seg string) (drop bool, sub [][]string) {
	for _, p := range paths {
		if p[0] == seg {
			if len(p) == 1 {
				drop = true
			} else {
				sub = append(sub, p[1:])
			}
		}
	}
	return drop, sub
}

// ArgSep separates the args strings kept for compensations: one string,
// cheap to append, split back in SQL.
const ArgSep = '\x1f'

// MaxArgString is the longest args string kept for compensations. Only
// strings that can be a response id are kept: 1 to MaxArgString bytes, no
// whitespace or control character (which also keeps ArgSep out). Names,
// subjects and message bodies would only take memory; a string left out
// can only leave a duplicate uncompensated, never mark one compensated.
const MaxArgString = 128

func idLike(s []byte) bool {
	if len(s) == 0 || len(s) > MaxArgString {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// strings appends every string value (not member names), decoded, each
// followed by ArgSep.
func (q *Parser) strings(dst []byte) []byte {
	q.ws()
	if q.pos >= len(q.b) {
		return dst
	}
	switch q.b[q.pos] {
	case '{':
		_ = q.object(func([]byte) error {
			dst = q.strings(dst)
			return nil
		})
	case '[':
		_ = q.array(func() error {
			dst = q.strings(dst)
			return nil
		})
	case '"':
		s, _ := q.str2()
		if idLike(s) {
			dst = append(dst, s...)
			dst = append(dst, ArgSep)
		}
	default:
		_ = q.skip()
	}
	return dst
}

// errHeld stops a walk of args that found the value it looks for.
var errHeld = errors.New("held")

// ArgsHold reports whether canonical args (Record.Args) hold value, at any
// depth: a string value equal to it (decoded, whole, case as given), or a
// number equal to it when value is a JSON number (17700 matches 17700,
// 17700.0 and "17700"). Member names do not count. For explain --arg.
func ArgsHold(canon []byte, value string) bool {
	num := ""
	if c, err := CanonicalArgs([]byte(value)); err == nil && c != "" && (c[0] == '-' || (c[0] >= '0' && c[0] <= '9')) {
		num = c
	}
	q := Parser{b: canon}
	return errors.Is(q.holds(value, num), errHeld)
}

// holds walks one value of canonical args; errHeld when it holds value.
func (q *Parser) holds(value, num string) error {
	q.ws()
	if q.pos >= len(q.b) {
		return nil
	}
	switch c := q.b[q.pos]; {
	case c == '{':
		return q.object(func([]byte) error { return q.holds(value, num) })
	case c == '[':
		return q.array(func() error { return q.holds(value, num) })
	case c == '"':
		s, err := q.str2()
		if err == nil && string(s) == value {
			return errHeld
		}
		return err
	case num != "" && (c == '-' || (c >= '0' && c <= '9')):
		start := q.pos
		if err := q.skip(); err != nil {
			return err
		}
		if string(q.b[start:q.pos]) == num {
			return errHeld
		}
		return nil
	default:
		return q.skip()
	}
}
