package ingest

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseTimestampForms(t *testing.T) {
	want := time.Date(2026, 11, 16, 9, 30, 0, 0, time.UTC).UnixNano()
	forms := []string{
		`"2026-11-16T09:30:00Z"`,
		`"2026-11-16T09:30:00z"`,
		`"2026-11-16t09:30:00Z"`,
		`"2026-11-16 09:30:00Z"`,
		`"2026-11-16T09:30:00.000Z"`,
		`"2026-11-16T09:30:00.000000000Z"`,
		`"2026-11-16T11:30:00+02:00"`,
		`"2026-11-16T04:00:00-05:30"`,
		`"2026-11-16T09:30:00+00:00"`,
		`"2026-11-16T11:30:00+0200"`,
		`"2026-11-16T11:30:00+02"`,
		`"2026-11-16T09:30:00"`, // no zone: UTC
		`"2026-11-16 09:30:00.000"`,
		`"1794821400"`,
		`"1794821400000"`,
		`1794821400000000`,
		`1794821400000000000`,
		`1794821400`,
		`1794821400.0`,
		`1.7948214e9`,
		`"1.7948214e9"`, // an epoch string of a number as JSON writes it
		`"17948214E+2"`,
		`"1794821400000e0"`,
		`1794821400000`,
		`1794821400000.0`,
	}
	var p Parser
	for _, f := range forms {
		var r Record
		if err := p.Parse([]byte(`{"action_type":"a","ts":`+f+`}`), &r); err != nil {
			t.Errorf("ts %s: %v", f, err)
			continue
		}
		if !r.HasTS || r.TS != want {
			t.Errorf("ts %s = %d (has %v), want %d", f, r.TS, r.HasTS, want)
		}
	}
	frac := map[string]int64{
		`"2026-11-16T09:30:00.5Z"`:          want + 5e8,
		`"2026-11-16T09:30:00.123456789Z"`:  want + 123456789,
		`"2026-11-16T09:30:00.1234567891Z"`: want + 123456789, // beyond ns: truncated
		`1794821400.25`:                     want + 25e7,
		`1794821400123`:                     want + 123e6,
		`1794821400123.5`:                   want + 123500000,
		// before 1970: the unit by magnitude too
		`-5364662400`:       -5364662400e9,
		`-5364662400000`:    -5364662400e9,
		`-5364662400000000`: -5364662400e9,
		`-1500000000000`:    -1500000000e9,
		`"-1"`:              -1e9,
		`-1`:                -1e9,
	}
	for f, w := range frac {
		var r Record
		if err := p.Parse([]byte(`{"action_type":"a","ts":`+f+`}`), &r); err != nil || r.TS != w {
			t.Errorf("ts %s = %d, %v; want %d", f, r.TS, err, w)
		}
	}
	for _, f := range []string{`null`} {
		var r Record
		if err := p.Parse([]byte(`{"action_type":"a","ts":`+f+`}`), &r); err != nil || r.HasTS {
			t.Errorf("ts %s: want untimed, got %v %v", f, r.HasTS, err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	cases := map[string]string{
		`[1,2]`:                                                "not a JSON object",
		`"x"`:                                                  "not a JSON object",
		`{"action_type":"a"`:                                   "",
		`{"action_type":"a",}`:                                 "",
		`{"action_type":"a"} {}`:                               "after the JSON object",
		`{"action_type":"a","x":01}`:                           "",
		`{"action_type":"a","x":"\x01"}`:                       "",
		`{"action_type":"a","x":"\q"}`:                         "",
		`{"action_type":'a'}`:                                  "",
		`{"action_type":"a","x":NaN}`:                          "",
		"{\"action_type\":\"a\",\"x\":\"\xff\"}":               "invalid UTF-8 at byte 25",
		`{"ts":"2026-11-16T09:30:00Z"}`:                        "action_type is missing",
		`{"action_type":null}`:                                 "action_type is missing",
		`{"action_type":""}`:                                   "action_type is missing",
		`{"action_type":7}`:                                    "action_type must be a string",
		`{"action_type":"a","ts":"yesterday"}`:                 "unparseable ts",
		`{"action_type":"a","ts":""}`:                          "unparseable ts",
		`{"action_type":"a","ts":"1e"}`:                        "unparseable ts",
		`{"action_type":"a","ts":"1e+"}`:                       "unparseable ts",
		`{"action_type":"a","ts":"e9"}`:                        "unparseable ts",
		`{"action_type":"a","ts":"1.5e9x"}`:                    "unparseable ts",
		`{"action_type":"a","ts":"2026-13-01T00:00:00Z"}`:      "unparseable ts",
		`{"action_type":"a","ts":"2026-02-29T00:00:00Z"}`:      "unparseable ts",
		`{"action_type":"a","ts":"2026-11-16T09:30:00+2"}`:     "unparseable ts",
		`{"action_type":"a","ts":"2026-11-16T09:30:00+24:00"}`: "unparseable ts",
		`{"action_type":"a","ts":"2026-11-16T09:30"}`:          "unparseable ts",
		`{"action_type":"a","ts":"1794821400.5.1"}`:            "unparseable ts",
		`{"action_type":"a","ts":true}`:                        "unparseable ts",
		`{"action_type":"a","ts":{}}`:                          "unparseable ts",
		`{"action_type":"a","ts":1e300}`:                       "out of range",
		`{"action_type":"a","ts":"9999-01-01T00:00:00Z"}`:      "unparseable ts",
		`{"action_type":"a","args":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`: "deep",
	}
	var p Parser
	for line, want := range cases {
		var r Record
		err := p.Parse([]byte(line), &r)
		if err == nil {
			t.Errorf("%.60s: parsed, want an error", line)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: error %q, want it to mention %q", line, err, want)
		}
	}
}

func TestParseFields(t *testing.T) {
	var p Parser
	var r Record
	line := `{"action_type":"charge","idempotency_key":"","response_id":null,"session_id":"s","status":504,` +
		`"effect":"created","duration_ms":"fast","unknown":{"deep":[1,{"x":null}]},"run_id":"r1","run_id":"r2"}`
	if err := p.Parse([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	if r.Key != "" || r.Response != "" || r.Session != "s" || r.Status != "504" || !r.StatusNum ||
		r.Effect != "created" || r.HasDuration || r.Run != "r2" || r.HasArgs || !r.HasFP {
		t.Errorf("record %+v", r)
	}
	if err := p.Parse([]byte(`{"action_type":"a","status":"ok","args":null}`), &r); err != nil || r.StatusNum || r.HasArgs || r.HasFP {
		t.Errorf("record %+v %v", r, err)
	}
	// a lone surrogate in a key is kept as the text of its escape
	if err := p.Parse([]byte(`{"action_type":"a","idempotency_key":"k\ud83d"}`), &r); err != nil || r.Key != "k\ufffd\\ud83d" {
		t.Errorf("key %q %v", r.Key, err)
	}
	// a member given twice: the last wins, a null or a string too
	for line, want := range map[string]bool{
		`{"action_type":"a","duration_ms":30000,"duration_ms":null}`:   false,
		`{"action_type":"a","duration_ms":30000,"duration_ms":"slow"}`: false,
		`{"action_type":"a","duration_ms":null,"duration_ms":5}`:       true,
	} {
		if err := p.Parse([]byte(line), &r); err != nil || r.HasDuration != want {
			t.Errorf("%s: duration %v (%v), want one: %v", line, r.Duration, err, want)
		}
	}
}

func TestCanonicalArgs(t *testing.T) {
	same := [][]string{
		{`{"a":1,"b":{"d":[1,2],"c":"x"}}`, `{ "b" : { "c" : "x", "d" : [ 1 , 2 ] }, "a" : 1 }`, "{\n\t\"b\":{\"d\":[1,2],\"c\":\"x\"},\"a\":1}"},
		{`2000`, `2e3`, `2000.0`, `2.000E+3`, `20000e-1`},
		{`0`, `-0`, `0.0`, `0e10`},
		{`"é"`, `"\u00e9"`, `"\u00E9"`},
		{`"/"`, `"\/"`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`1e10000000000000000`, `10e9999999999999999`, `0.1e+10000000000000001`, `1.0E10000000000000000`},
	}
	for _, group := range same {
		first, err := CanonicalArgs([]byte(group[0]))
		if err != nil {
			t.Fatalf("%s: %v", group[0], err)
		}
		for _, v := range group[1:] {
			got, err := CanonicalArgs([]byte(v))
			if err != nil || got != first {
				t.Errorf("canonical(%s) = %q, %v; want %q as for %s", v, got, err, first, group[0])
			}
		}
	}
	different := [][2]string{
		{`1`, `"1"`},
		{`[1,2]`, `[2,1]`},
		{`{"a":null}`, `{}`},
		{`0.1`, `0.10000000000000001`},
		{`true`, `"true"`},
		{`{"a":1}`, `{"A":1}`},
		{`"k\ud800"`, `"k\udbff"`}, // lone surrogates: two strings cut inside two pairs
		{`"k\ud83d"`, `"k\ufffd"`},
		{`"k\ud83d"`, `"k\\ud83d"`},                   // a literal backslash-u is another string
		{`1e1000000000000000`, `1e10000000000000000`}, // exponents past int64's digits stay exact
		{`1e-1000000000000000`, `1e-10000000000000000`},
	}
	for _, d := range different {
		a, _ := CanonicalArgs([]byte(d[0]))
		b, _ := CanonicalArgs([]byte(d[1]))
		if a == b {
			t.Errorf("%s and %s share the canonical form %q", d[0], d[1], a)
		}
	}
}

// An object or array in another member after args is read into the same
// buffer: it must not overwrite the args read before it.
func TestParseCompositeAfterArgs(t *testing.T) {
	var p Parser
	var a, b Record
	if err := p.Parse([]byte(`{"action_type":"a","args":{"x":1},"effect":{"y":2},"status":[1,{"b":2,"a":1}]}`), &a); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse([]byte(`{"action_type":"a","effect":{"y":2},"status":[1,{"a":1,"b":2}],"args":{"x":1}}`), &b); err != nil {
		t.Fatal(err)
	}
	if a.ArgsFP != b.ArgsFP || a.Effect != b.Effect || a.Status != b.Status || a.Status != `[1,{"a":1,"b":2}]` {
		t.Errorf("member order changed the record:\n%+v\n%+v", a, b)
	}
}

// Every prefix of a line (a log cut off while being written) is reported
// malformed, never a crash: a truncated {"args": once read past the line.
func TestParseEveryPrefix(t *testing.T) {
	for _, line := range append([]string{
		`{"ts":"2026-11-16T09:30:00Z","action_type":"a","args":"{\"x\": [1, \"\\u00e9\"]}","status":504,"duration_ms":1.5}`,
		`{"action_type":"a","args":null,"effect":{"b":[true,false,null,-1.5e3]}}`,
	}, stableLines...) {
		var p Parser
		for n := 0; n < len(line); n++ {
			var r Record
			if err := p.Parse([]byte(line[:n]), &r); err == nil {
				t.Errorf("prefix %q accepted", line[:n])
			}
		}
		var r Record
		if err := p.Parse([]byte(line), &r); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
}

// TestCanonIntegerFastPath: plain integers skip appendCanonDecimal, which
// must write them the same way.
func TestCanonIntegerFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(n string) {
		if got, want := string(appendCanonNumber(nil, []byte(n))), string(appendCanonDecimal(nil, []byte(n))); got != want {
			t.Fatalf("%s: %s, want %s", n, got, want)
		}
	}
	for _, n := range []string{"0", "-0", "1", "-1", "10", "100000", "999999999999999999999", "100000000000000000000",
		"1000000000000000000000", "10000000000000000000000", "-1000000000000000000000", "123456789012345678901", "1234567890123456789012"} {
		check(n)
	}
	for i := 0; i < 200_000; i++ {
		b := make([]byte, 0, 24)
		if rng.IntN(2) == 0 {
			b = append(b, '-')
		}
		b = append(b, byte('1'+rng.IntN(9)))
		for k := rng.IntN(24); k > 0; k-- {
			if rng.IntN(2) == 0 {
				b = append(b, '0')
			} else {
				b = append(b, byte('0'+rng.IntN(10)))
			}
		}
		check(string(b))
	}
}

// TestSpecialFirstByte: str2 jumps to the lowest byte special flags, which
// must be the first quote, backslash or control character of the word.
func TestSpecialFirstByte(t *testing.T) {
	interesting := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', '#', '[', '\\', ']', 0x7f, 0x80, 0x81, 0x9f, 0xa0, 0xa2, 0xdc, 0xfe, 0xff}
	rng := rand.New(rand.NewPCG(3, 4))
	var w [8]byte
	for n := 0; n < 2_000_000; n++ {
		for i := range w {
			if rng.IntN(2) == 0 {
				w[i] = interesting[rng.IntN(len(interesting))]
			} else {
				w[i] = byte(rng.IntN(256))
			}
		}
		first := 8
		for i, c := range w {
			if c == '"' || c == '\\' || c < 0x20 {
				first = i
				break
			}
		}
		m := special(binary.LittleEndian.Uint64(w[:]))
		if got := bits.TrailingZeros64(m) >> 3; (m == 0) != (first == 8) || (m != 0 && got != first) {
			t.Fatalf("% x: special flags byte %d, the first special byte is %d", w, got, first)
		}
	}
}
