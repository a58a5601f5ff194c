package ingest

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyLiteral reads a Python literal as repr() writes it (LangChain stores a
// tool's input as str(dict): {'amount': 2000, 'ok': True}): dicts, lists,
// tuples, strings, numbers, True, False, None. It returns the JSON value.
//
// Objects print as their fields too: a dataclass or pydantic repr,
// Voucher(id='vch_1', status='issued'), and pydantic's str, id='vch_1'
// status='issued', read as {"id": "vch_1", "status": "issued"}.
func pyLiteral(s string) (any, bool) {
	p := pyParser{s: s}
	if name := p.ident(); name != "" {
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '=' { // key=value key=value
			p.i = 0
			out := map[string]any{}
			for {
				p.ws()
				if p.i == len(p.s) {
					return out, len(out) > 0
				}
				k := p.ident()
				if k == "" || p.i >= len(p.s) || p.s[p.i] != '=' {
					return nil, false
				}
				p.i++
				v, ok := p.value(1)
				if !ok {
					return nil, false
				}
				out[k] = v
			}
		}
		p.i = 0
	}
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.ws()
	return v, p.i == len(p.s)
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) ws() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) value(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	p.ws()
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		out := map[string]any{}
		for {
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return out, true
			}
			k, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			if p.ws(); len(out) == 0 && p.i < len(p.s) && (p.s[p.i] == ',' || p.s[p.i] == '}') {
				return p.items([]any{k}, '}', depth) // {1, 2}: a set, read as a list
			}
			var key string
			switch x := k.(type) {
			case string:
				key = x
			case json.Number:
				key = x.String()
			default:
				return nil, false
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, false
			}
			p.i++
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			out[key] = v
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
			} else if p.i >= len(p.s) || p.s[p.i] != '}' {
				return nil, false
			}
		}
	case c == '[' || c == '(':
		end := byte(']')
		if c == '(' {
			end = ')'
		}
		p.i++
		return p.items(nil, end, depth)
	case c == '\'' || c == '"':
		return p.str(c)
	case c == '-' || c == '+' || isDigit(c) || c == '.':
		start := p.i
		p.i++
		for p.i < len(p.s) && strings.IndexByte("0123456789.eE+-_", p.s[p.i]) >= 0 {
			p.i++
		}
		lit := strings.ReplaceAll(strings.TrimPrefix(p.s[start:p.i], "+"), "_", "")
		if _, err := strconv.ParseFloat(lit, 64); err != nil {
			return nil, false
		}
		if !json.Valid([]byte(lit)) {
			f, _ := strconv.ParseFloat(lit, 64)
			lit = strconv.FormatFloat(f, 'g', -1, 64) // 1. or .5 → 1, 0.5
		}
		return json.Number(lit), true
	}
	start := p.i
	if p.s[p.i] == '<' {
		// <Status.PAID: 'paid'> (an enum member), <Foo object at 0x7f…>:
		// a value all the same, kept as the text Python wrote
		if p.skipAngle() {
			return p.s[start:p.i], true
		}
		p.i = start
		return nil, false
	}
	switch name := p.dotted(); name {
	case "True":
		return true, true
	case "False":
		return false, true
	case "None":
		return nil, true
	case "":
	default:
		if p.i < len(p.s) && p.s[p.i] == '(' {
			// Name(field=value, ...): a dataclass or pydantic model's repr,
			// read as its fields; a call with positional arguments, as the
			// repr of a value JSON has no form for (Decimal('49.99'),
			// datetime.datetime(2026, 3, 10, 14, 0, tzinfo=…), UUID('…')),
			// kept as its text: the object holding it is read all the same
			p.i++
			out := map[string]any{}
			positional := false
			for {
				p.ws()
				if p.i < len(p.s) && p.s[p.i] == ')' {
					p.i++
					if positional {
						return p.s[start:p.i], true
					}
					return out, true
				}
				at := p.i
				k := p.ident()
				if k != "" && p.i < len(p.s) && p.s[p.i] == '=' && (p.i+1 >= len(p.s) || p.s[p.i+1] != '=') {
					p.i++
				} else {
					p.i, k, positional = at, "", true
				}
				v, ok := p.value(depth + 1)
				if !ok {
					return nil, false
				}
				if k != "" {
					out[k] = v
				}
				p.ws()
				if p.i < len(p.s) && p.s[p.i] == ',' {
					p.i++
				} else if p.i >= len(p.s) || p.s[p.i] != ')' {
					return nil, false
				}
			}
		}
		if p.i < len(p.s) && (p.s[p.i] == '\'' || p.s[p.i] == '"') && strings.EqualFold(strings.Trim(name, "rR"), "b") {
			// a bytes literal, b'…': its text
			if _, ok := p.str(p.s[p.i]); ok {
				return p.s[start:p.i], true
			}
		} else if strings.Contains(name, ".") || name == "inf" || name == "nan" {
			// datetime.timezone.utc, Status.PAID, float('inf') as repr prints it
			return name, true
		}
	}
	p.i = start
	return nil, false
}

// items reads the rest of a list, tuple or set up to its closing end,
// after the items already read (a set's first, read as a dict's key).
func (p *pyParser) items(out []any, end byte, depth int) (any, bool) {
	if out == nil {
		out = []any{}
	}
	for {
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			return out, true
		}
		if len(out) > 0 {
			// the separator after the previous item
			if p.i >= len(p.s) || p.s[p.i] != ',' {
				return nil, false
			}
			p.i++
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				return out, true
			}
		}
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
}

// dotted reads a name that may be qualified (datetime.datetime) at the
// position ("" when there is none).
func (p *pyParser) dotted() string {
	start := p.i
	for p.ident() != "" {
		if p.i+1 < len(p.s) && p.s[p.i] == '.' && !isDigit(p.s[p.i+1]) {
			p.i++
			continue
		}
		break
	}
	if p.i > start && p.s[p.i-1] == '.' {
		p.i--
	}
	return p.s[start:p.i]
}

// skipAngle moves past a <…> repr, its quotes and nested brackets
// included, and reports whether it ended.
func (p *pyParser) skipAngle() bool {
	depth := 0
	for p.i < len(p.s) {
		switch c := p.s[p.i]; c {
		case '<':
			depth++
		case '>':
			depth--
			if depth == 0 {
				p.i++
				return true
			}
		case '\'', '"':
			if _, ok := p.str(c); !ok {
				return false
			}
			continue
		case '\n':
			return false
		}
		p.i++
	}
	return false
}

// ident reads a Python identifier at the position ("" when there is none).
func (p *pyParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (p.i > start && isDigit(c)) {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *pyParser) str(q byte) (any, bool) {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), true
		case c == '\\' && p.i+1 < len(p.s):
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if p.i+n > len(p.s) {
					return nil, false
				}
				r, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
				if err != nil || !utf8.ValidRune(rune(r)) {
					return nil, false
				}
				b.WriteRune(rune(r))
				p.i += n
			default:
				b.WriteByte(e) // \\ \' \" and unknown escapes keep the character
			}
		case c == '\n':
			return nil, false
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return nil, false
}
