package sample

import (
	"encoding/json"
	"sort"
	"strings"
)

// value is a JSON value that keeps its members in insertion order, so one
// operation can be written with several member orders.
type value interface {
	write(b *strings.Builder, order int, spaced bool)
}

type member struct {
	k string
	v value
}

type obj struct{ m []member }

type arr []value

type str string

type num string // a JSON number literal

type lit string // true, false, null

func (o *obj) add(k string, v value) *obj {
	o.m = append(o.m, member{k, v})
	return o
}

// with returns a copy of o with k set to v.
func (o *obj) with(k string, v value) *obj {
	c := &obj{}
	for _, m := range o.m {
		if m.k == k {
			m.v = v
		}
		c.m = append(c.m, m)
	}
	return c
}

// render writes o: order 0 as built, 1 reversed, 2 sorted; spaced adds the
// whitespace pretty-ish loggers put after ':' and ','.
func (o *obj) render(order int, spaced bool) string {
	var b strings.Builder
	o.write(&b, order, spaced)
	return b.String()
}

// canonical is the sorted, unspaced form (for deriving keys).
func (o *obj) canonical() string { return o.render(2, false) }

func (o *obj) write(b *strings.Builder, order int, spaced bool) {
	ms := append([]member(nil), o.m...)
	switch order {
	case 1:
		for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
			ms[i], ms[j] = ms[j], ms[i]
		}
	case 2:
		sort.Slice(ms, func(i, j int) bool { return ms[i].k < ms[j].k })
	}
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
			if spaced {
				b.WriteByte(' ')
			}
		}
		b.WriteString(quote(m.k))
		b.WriteByte(':')
		if spaced {
			b.WriteByte(' ')
		}
		m.v.write(b, order, spaced)
	}
	b.WriteByte('}')
}

func (a arr) write(b *strings.Builder, order int, spaced bool) {
	b.WriteByte('[')
	for i, v := range a {
		if i > 0 {
			b.WriteByte(',')
			if spaced {
				b.WriteByte(' ')
			}
		}
		v.write(b, order, spaced)
	}
	b.WriteByte(']')
}

func (s str) write(b *strings.Builder, _ int, _ bool) { b.WriteString(quote(string(s))) }
func (n num) write(b *strings.Builder, _ int, _ bool) { b.WriteString(string(n)) }
func (l lit) write(b *strings.Builder, _ int, _ bool) { b.WriteString(string(l)) }

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// get returns the value of member k (nil when absent).
func (o *obj) get(k string) value {
	for _, m := range o.m {
		if m.k == k {
			return m.v
		}
	}
	return nil
}
