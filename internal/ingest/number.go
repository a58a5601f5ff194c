package ingest

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// decimal splits a valid JSON number literal into sign, significant digits
// (no leading or trailing zeros; empty for zero) and a power of ten, so that
// value = digits × 10^exp exactly. Nothing passes through float64: numbers
// beyond its precision still compare and convert exactly. The digits are
// appended to buf (callers pass a stack array's slice: a number is read
// without an allocation unless it has more digits than the array holds).
func decimal(n, buf []byte) (neg bool, digits []byte, exp int64) {
	i := 0
	if n[0] == '-' {
		neg, i = true, 1
	}
	buf = buf[:0]
	fracDigits := int64(0)
	inFrac := false
	for ; i < len(n); i++ {
		c := n[i]
		if c == '.' {
			inFrac = true
			continue
		}
		if c == 'e' || c == 'E' {
			break
		}
		if inFrac {
			fracDigits++
		}
		if c == '0' && len(buf) == 0 {
			continue // leading zero
		}
		buf = append(buf, c)
	}
	if i < len(n) { // exponent
		i++
		eneg := false
		if n[i] == '+' || n[i] == '-' {
			eneg = n[i] == '-'
			i++
		}
		for ; i < len(n); i++ {
			if exp < 1e15 { // saturate: far beyond any range we accept
				exp = exp*10 + int64(n[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	exp -= fracDigits
	for len(buf) > 0 && buf[len(buf)-1] == '0' {
		buf = buf[:len(buf)-1]
		exp++
	}
	if len(buf) == 0 {
		return false, nil, 0
	}
	return neg, buf, exp
}

// appendCanonNumber writes one normal form per numeric value: 2000, 2e3 and
// 2000.0 all become 2000; 0.50 becomes 0.5; -0 becomes 0.
func appendCanonNumber(dst, n []byte) []byte {
	if plainInt(n) {
		// the usual number: an integer of at most 21 digits without a
		// leading zero is its own normal form (appendCanonDecimal writes its
		// digits and as many zeros as it had), -0 aside
		if string(n) == "-0" {
			return append(dst, '0')
		}
		return append(dst, n...)
	}
	return appendCanonDecimal(dst, n)
}

// appendCanonDecimal is appendCanonNumber for any number.
func appendCanonDecimal(dst, n []byte) []byte {
	if e := bytes.IndexAny(n, "eE"); e >= 0 && len(bytes.TrimLeft(n[e+1:], "+-0")) > 15 {
		return appendCanonHugeExp(dst, n, e)
	}
	var scratch [32]byte
	neg, d, exp := decimal(n, scratch[:0])
	if len(d) == 0 {
		return append(dst, '0')
	}
	if neg {
		dst = append(dst, '-')
	}
	nd := int64(len(d))
	switch {
	case exp == 0 || (exp > 0 && nd+exp <= 21):
		dst = append(dst, d...)
		for i := int64(0); i < exp; i++ {
			dst = append(dst, '0')
		}
	case exp < 0 && -exp < nd:
		dst = append(dst, d[:nd+exp]...)
		dst = append(dst, '.')
		dst = append(dst, d[nd+exp:]...)
	case exp < 0 && -exp-nd <= 6:
		dst = append(dst, '0', '.')
		for i := int64(0); i < -exp-nd; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	default:
		dst = append(dst, d...)
		dst = append(dst, 'e')
		dst = strconv.AppendInt(dst, exp, 10)
	}
	return dst
}

// plainInt reports whether n is an integer of at most 21 digits, maybe
// after a minus, without a leading zero (but 0 itself).
func plainInt(n []byte) bool {
	d := n
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 21 || (d[0] == '0' && len(d) > 1) {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// canonID is the text of an idempotency key, response id or session id
// logged as a JSON number n: its canonical form (appendCanonNumber), so
// that spellings of one number are one id. Anything that is not a JSON
// number stays as it is.
func canonID(n string) string {
	q := Parser{b: []byte(n)}
	if lit, err := q.number(); err != nil || len(lit) != len(n) {
		return n
	}
	if c := appendCanonNumber(nil, q.b); string(c) != n {
		return string(c)
	}
	return n
}

// appendCanonHugeExp is appendCanonNumber for an exponent of more than 15
// digits (e at n[e]), which decimal saturates: exact, in big integers, so
// 1e1000000000000000 and 1e10000000000000000 stay two values.
func appendCanonHugeExp(dst, n []byte, e int) []byte {
	neg, d, small := decimal(n[:e], nil) // the mantissa: its digits, and the exponent its point and zeros give
	if len(d) == 0 {
		return append(dst, '0')
	}
	exp, ok := new(big.Int).SetString(strings.TrimPrefix(string(n[e+1:]), "+"), 10)
	if !ok {
		exp = new(big.Int)
	}
	exp.Add(exp, big.NewInt(small))
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, d...)
	dst = append(dst, 'e')
	return exp.Append(dst, 10)
}

// Accepted timestamps lie in [1800-01-01, 2200-01-01) UTC. Anything outside is
// a logging bug; the bound keeps ts ± window far from int64 overflow.
const (
	minTSSeconds = -5364662400 // 1800-01-01T00:00:00Z
	maxTSSeconds = 7258118400  // 2200-01-01T00:00:00Z
)

// epochNanos converts an epoch number to nanoseconds: seconds below 1e12,
// milliseconds below 1e15, microseconds below 1e18, else nanoseconds (every
// other reading of such a value would fall outside years 1800–2199). Digits
// beyond a nanosecond are truncated.
func epochNanos(n []byte) (int64, bool) {
	var scratch [32]byte
	neg, d, exp := decimal(n, scratch[:0])
	if len(d) == 0 {
		return 0, true
	}
	// the unit by magnitude, of a time before 1970 too (1800 in seconds has
	// 10 digits, in milliseconds 13: the ranges never meet)
	scale := int64(9)
	switch digits := int64(len(d)) + exp; { // digits before the point
	case digits >= 19:
		scale = 0
	case digits >= 16:
		scale = 3
	case digits >= 13:
		scale = 6
	}
	exp += scale
	if int64(len(d))+exp > 19 {
		return 0, false
	}
	if exp < 0 {
		if -exp >= int64(len(d)) {
			return 0, true // below a nanosecond
		}
		d = d[:int64(len(d))+exp]
		exp = 0
	}
	var v uint64
	for _, c := range d {
		v = v*10 + uint64(c-'0')
	}
	for ; exp > 0; exp-- {
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	ns := int64(v)
	if neg {
		ns = -ns
	}
	if ns < minTSSeconds*1_000_000_000 || ns >= maxTSSeconds*1_000_000_000 {
		return 0, false
	}
	return ns, true
}

// parseRFC3339 reads YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) with any
// number of fraction digits (truncated to nanoseconds). RFC 3339 allows a
// lowercase t and z, and a space in place of the T. Loggers also write
// ISO 8601 offsets ±HHMM and ±HH, and no zone at all: those are accepted,
// a missing zone as UTC (the rules use gaps, which a constant offset keeps).
func parseRFC3339(s []byte) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	if c := s[10]; c != 'T' && c != 't' && c != ' ' {
		return 0, false
	}
	num := func(i, n int) int64 {
		v := int64(0)
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int64(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, min, sec := num(11, 2), num(14, 2), num(17, 2)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60 {
		return 0, false
	}
	i := 19
	var frac int64
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i-start < 9 {
				frac = frac*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == start {
			return 0, false
		}
		for k := i - start; k < 9; k++ {
			frac *= 10
		}
	}
	var offset int64
	sign := i < len(s) && (s[i] == '+' || s[i] == '-')
	oh, om := int64(0), int64(0)
	switch {
	case i == len(s): // no zone: UTC
	case i == len(s)-1 && (s[i] == 'Z' || s[i] == 'z'):
	case sign && i == len(s)-6 && s[i+3] == ':':
		oh, om = num(i+1, 2), num(i+4, 2)
	case sign && i == len(s)-5:
		oh, om = num(i+1, 2), num(i+3, 2)
	case sign && i == len(s)-3:
		oh = num(i+1, 2)
	default:
		return 0, false
	}
	if oh < 0 || oh > 23 || om < 0 || om > 59 {
		return 0, false
	}
	offset = oh*3600 + om*60
	if sign && s[i] == '-' {
		offset = -offset
	}
	secs := daysFromCivil(year, month, day)*86400 + hour*3600 + min*60 + sec - offset
	if secs < minTSSeconds || secs >= maxTSSeconds {
		return 0, false
	}
	return secs*1_000_000_000 + frac, true
}

func daysIn(year, month int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is Howard Hinnant's algorithm: days since 1970-01-01.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func (p *Parser) ts(r *Record) error {
	if p.pos >= len(p.b) {
		return p.eof("a value")
	}
	switch c := p.b[p.pos]; {
	case c == '"':
		s, err := p.str2()
		if err != nil {
			return err
		}
		v, ok := parseRFC3339(s)
		if !ok && isNumber(s) {
			v, ok = epochNanos(s) // an epoch written as a string
		}
		if !ok {
			return p.fail("unparseable ts %s: want RFC 3339 (2026-11-16T09:30:00Z; no zone = UTC) within years 1800 to 2199, or epoch seconds, ms, µs or ns", truncateQuote(s))
		}
		r.TS, r.HasTS = v, true
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		if err != nil {
			return err
		}
		v, ok := epochNanos(n)
		if !ok {
			return p.fail("ts %s is out of range (years 1800 to 2199)", truncateQuote(n))
		}
		r.TS, r.HasTS = v, true
	case c == 'n':
		r.HasTS = false
		return p.literal()
	default:
		if err := p.skip(); err != nil {
			return err
		}
		return p.fail("unparseable ts: want an RFC 3339 string or an epoch number")
	}
	return nil
}

func (p *Parser) duration(r *Record) error {
	if p.pos < len(p.b) && (p.b[p.pos] == '-' || (p.b[p.pos] >= '0' && p.b[p.pos] <= '9')) {
		n, err := p.number()
		if err != nil {
			return err
		}
		r.Duration, r.HasDuration = 0, false
		if f, err := strconv.ParseFloat(string(n), 64); err == nil {
			r.Duration, r.HasDuration = f, true
		}
		return nil
	}
	// a duration of another type says none (the last member given wins:
	// "duration_ms":30000,"duration_ms":null has none)
	r.Duration, r.HasDuration = 0, false
	return p.skip()
}

// truncateQuote quotes a value for an error message, cut to a readable length.
func truncateQuote(s []byte) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(string(s[:max])) + "…"
	}
	return strconv.Quote(string(s))
}

// isNumber reports whether s is a decimal number as an epoch string may
// be written: digits with at most one point (not first), maybe after a
// minus, maybe followed by an exponent (1.7948214e9, as a number ts may be
// written too).
func isNumber(s []byte) bool {
	if len(s) > 1 && s[0] == '-' { // a time before 1970
		s = s[1:]
	}
	mant, exp := s, []byte(nil)
	if i := bytes.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
		if len(exp) > 1 && (exp[0] == '+' || exp[0] == '-') {
			exp = exp[1:]
		}
		if len(exp) == 0 {
			return false
		}
		for _, c := range exp {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	dot := false
	for i, c := range mant {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return false
		}
	}
	return len(mant) > 0
}
