package ingest

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/idemaudit/idemaudit/internal/config"
)

// TestIgnoreOnePassRandom compares the one pass (ignored paths left out while
// canonicalising) with two (canonical args, then without) on random
// records: duplicate members and args, escaped names, digit names, ignore
// paths that are prefixes of each other, args in strings, action_type
// before and after the args, broken values.
func TestIgnoreOnePassRandom(t *testing.T) {
	cfg, err := config.Parse("x.toml", []byte(`
[actions."*"]
ignore = ["a", "a.b", "b.0", "b.0.c", "ab", "0", "c.d.e", "d.1.x"]
[actions."id_*"]
identity = ["a"]
[compensations]
actions = ["refund_*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	names := []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`, `"ab"`, `"a\u0062"`, `"0"`, `"1"`, `""`, `"\u0061"`}
	var val func(d int) string
	val = func(d int) string {
		if d > 4 {
			return []string{"1", `"s"`, "null", "true", "1.0", "-0", "1e2"}[rng.Intn(7)]
		}
		switch rng.Intn(6) {
		case 0, 1:
			n := rng.Intn(5)
			var m []string
			for i := 0; i < n; i++ {
				m = append(m, names[rng.Intn(len(names))]+":"+val(d+1))
			}
			return "{" + strings.Join(m, ",") + "}"
		case 2:
			n := rng.Intn(4)
			var m []string
			for i := 0; i < n; i++ {
				m = append(m, val(d+1))
			}
			return "[" + strings.Join(m, " , ") + "]"
		case 3:
			return []string{`"x"`, `"{\"a\":1,\"b\":2}"`, `"[1,2]"`}[rng.Intn(3)]
		default:
			return []string{"1", "2.50", "null", "false", `"\u00e9"`, "[]", "{}"}[rng.Intn(7)]
		}
	}
	actions := []string{`"x"`, `"id_y"`, `"refund_z"`, `null`, `""`, `1`}
	one := Parser{cfg: cfg}
	whole := Parser{cfg: cfg, keepArgs: true}
	bad := 0
	for n := 0; n < 200000 && bad < 10; n++ {
		var m []string
		k := 1 + rng.Intn(4)
		for i := 0; i < k; i++ {
			switch rng.Intn(4) {
			case 0:
				m = append(m, `"action_type":`+actions[rng.Intn(len(actions))])
			case 1, 2:
				v := val(0)
				if rng.Intn(10) == 0 { // a string holding JSON
					v = fmt.Sprintf("%q", v)
				}
				if rng.Intn(20) == 0 && len(v) > 2 { // broken
					v = v[:len(v)-1-rng.Intn(2)]
				}
				m = append(m, `"args":`+v)
			default:
				m = append(m, `"session_id":"s"`)
			}
		}
		if rng.Intn(2) == 0 {
			m = append([]string{`"action_type":"x"`}, m...)
		}
		l := "{" + strings.Join(m, ",") + "}"
		var a, b Record
		errA, errB := one.Parse([]byte(l), &a), whole.Parse([]byte(l), &b)
		b.Args = nil
		if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() || !reflect.DeepEqual(a, b) {
			bad++
			t.Errorf("%s:\n one %v %+v\n two %v %+v", l, errA, a, errB, b)
		}
	}
}

// TestIgnoreOnePassDeep is TestIgnoreOnePassRandom near the depth limit,
// with errors deep inside values that are left out.
func TestIgnoreOnePassDeep(t *testing.T) {
	for ci, c := range []string{
		`[actions."*"]
ignore = ["a.a.a", "a", "b"]`,
		`[actions."*"]
ignore = ["a.0.a.0", "a.a.a.a.a.a", "0.0.0"]`,
		`[actions."*"]
ignore = ["x"]
[actions."y"]
ignore = ["a.b"]
identity = ["a"]`,
	} {
		cfg, err := config.Parse("x.toml", []byte(c))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(int64(ci)))
		one := Parser{cfg: cfg}
		whole := Parser{cfg: cfg, keepArgs: true}
		bad := 0
		for n := 0; n < 2000 && bad < 5; n++ {
			depth := 505 + rng.Intn(12)
			var sb strings.Builder
			var closers []string
			for d := 0; d < depth; d++ {
				switch rng.Intn(3) {
				case 0:
					sb.WriteString(`[`)
					if rng.Intn(2) == 0 {
						sb.WriteString(`1,`)
					}
					closers = append(closers, "]")
				case 1:
					sb.WriteString(`{"a":`)
					closers = append(closers, "}")
				default:
					sb.WriteString(`{"b":1,"a":`)
					closers = append(closers, `,"x":2}`)
				}
			}
			leaf := []string{"1", `"s"`, "[1,}", `"\x01"`, "01", "tru", `"\ud83d"`, `"a\u0062"`}[rng.Intn(8)]
			sb.WriteString(leaf)
			for i := len(closers) - 1; i >= 0; i-- {
				if rng.Intn(200) == 0 {
					break
				}
				sb.WriteString(closers[i])
			}
			act := []string{`"z"`, `"y"`}[rng.Intn(2)]
			lines := []string{
				`{"action_type":` + act + `,"args":` + sb.String() + `}`,
				`{"action_type":"z","args":` + sb.String() + `,"action_type":` + act + `}`,
			}
			for _, l := range lines {
				var a, b Record
				errA, errB := one.Parse([]byte(l), &a), whole.Parse([]byte(l), &b)
				b.Args = nil
				if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() || !reflect.DeepEqual(a, b) {
					bad++
					t.Errorf("%d %s:\n one %v %+v\n two %v %+v", ci, l[len(l)-60:], errA, a, errB, b)
				}
			}
		}
	}
}
