package ingest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/sample"
)

func parseWith(t *testing.T, cfg *config.Config, line string) Record {
	t.Helper()
	p := Parser{cfg: cfg}
	var r Record
	if err := p.Parse([]byte(line), &r); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return r
}

func TestIdentityFingerprints(t *testing.T) {
	cfg, err := config.Parse("x.toml", []byte(`
[actions.book_reservation]
identity = ["user_id", "flights", "trip.legs.0.from"]
[actions."update_*"]
ignore = ["request_ts", "meta.trace"]
[actions."odd"]
ignore = ["list.1"]
`))
	if err != nil {
		t.Fatal(err)
	}
	book := func(args string) Record {
		return parseWith(t, cfg, `{"action_type":"book_reservation","args":`+args+`}`)
	}
	a := book(`{"user_id":"u1","flights":["F1","F2"],"payment_id":"card_1","trip":{"legs":[{"from":"SFO","to":"JFK"}]}}`)
	b := book(`{"payment_id":"gift_9","flights":["F1","F2"],"user_id":"u1","trip":{"legs":[{"to":"BOS","from":"SFO"}]}}`)
	c := book(`{"user_id":"u2","flights":["F1","F2"],"payment_id":"card_1","trip":{"legs":[{"from":"SFO","to":"JFK"}]}}`)
	if a.FP != b.FP {
		t.Error("same identity values, other payment: the fingerprints must be equal")
	}
	if a.FP == c.FP {
		t.Error("another user: the fingerprints must differ")
	}
	if a.ArgsFP == b.ArgsFP {
		t.Error("the whole-args fingerprint (key-payload-mismatch) must still see the other payment")
	}
	// a missing path is null; the same values under the default config differ
	d := book(`{"user_id":"u1"}`)
	e := book(`{"user_id":"u1","flights":null}`)
	if d.FP != e.FP {
		t.Error("a missing path must count as null")
	}
	plain := parseWith(t, nil, `{"action_type":"book_reservation","args":{"user_id":"u1","flights":["F1","F2"],"payment_id":"card_1","trip":{"legs":[{"from":"SFO","to":"JFK"}]}}}`)
	if plain.FP == a.FP || plain.FP != plain.ArgsFP {
		t.Error("without a config the fingerprint is the whole args")
	}

	u1 := parseWith(t, cfg, `{"action_type":"update_crm","args":{"id":7,"request_ts":1,"meta":{"trace":"a","tenant":"t"}}}`)
	u2 := parseWith(t, cfg, `{"action_type":"update_crm","args":{"id":7,"request_ts":2,"meta":{"trace":"b","tenant":"t"}}}`)
	u3 := parseWith(t, cfg, `{"action_type":"update_crm","args":{"id":7,"request_ts":2,"meta":{"trace":"b","tenant":"u"}}}`)
	if u1.FP != u2.FP || u1.ArgsFP != u2.ArgsFP {
		t.Error("ignored paths must not change the fingerprints")
	}
	if u1.FP == u3.FP {
		t.Error("a path that is not ignored must change the fingerprint")
	}
	o1 := parseWith(t, cfg, `{"action_type":"odd","args":{"list":[1,2,3]}}`)
	o2 := parseWith(t, cfg, `{"action_type":"odd","args":{"list":[1,9,3]}}`)
	o3 := parseWith(t, cfg, `{"action_type":"odd","args":{"list":[1,9,4]}}`)
	if o1.FP != o2.FP || o1.FP == o3.FP {
		t.Error("ignore by array index")
	}
}

func TestCompensatingArgStrings(t *testing.T) {
	cfg := &config.Config{}
	r := parseWith(t, cfg, `{"action_type":"cancel_reservation","args":{"reservation_id":"res_2","why":["dup","x\"y"],"n":3,"res_1":true}}`)
	want := "res_2\x1fdup\x1fx\"y\x1f"
	if r.ArgStrings != want {
		t.Errorf("arg strings %q, want %q (values only, canonical member order)", r.ArgStrings, want)
	}
	if r := parseWith(t, cfg, `{"action_type":"book_reservation","args":{"reservation_id":"res_2"}}`); r.ArgStrings != "" {
		t.Error("only compensating actions keep their args strings")
	}
	if r := parseWith(t, nil, `{"action_type":"cancel_x","args":{"a":"b"}}`); r.ArgStrings != "" {
		t.Error("without a config nothing is kept")
	}
}

// The args strings of compensating calls live in their own table: a grown
// log's re-read last line and prune keep it in step with calls.
func TestArgStringsFollowCalls(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openMem(t)
	d.Config = &config.Config{}
	cancel := `{"ts":"2026-11-16T10:00:00Z","action_type":"cancel_x","args":{"id":"res_1"}}`
	p := write(t, dir, "a.jsonl", []byte(cancel)) // no terminator: re-read when the log grows
	if _, err := d.IngestFile(ctx, p); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "a.jsonl", []byte(cancel+"\n"+`{"ts":"2026-12-16T10:00:00Z","action_type":"cancel_x","args":{"id":"res_2"}}`+"\n"))
	// the log held only a partial first line: it grew, it was not replaced
	if st, err := d.IngestFile(ctx, p); err != nil || st.Status != StatusGrown || st.Calls != 2 {
		t.Fatalf("%+v %v", st, err)
	}
	var calls int
	d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM calls").Scan(&calls)
	if calls != 2 {
		t.Fatalf("%d calls, want 2: the partial first line must not stay beside its whole version", calls)
	}
	count := func() (n int) {
		d.Conn.QueryRowContext(ctx, "SELECT count(*) FROM arg_strings").Scan(&n)
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d args-strings rows, want 2 (the re-read line once)", n)
	}
	if _, err := d.Prune(ctx, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d args-strings rows after prune, want 1", n)
	}
}

// TestIgnoreOnePass: an action whose settings only ignore paths has them
// left out while its args are canonicalised. A parser that keeps the whole
// args (keepArgs) canonicalises them whole and walks them again: both give
// the same record, whatever the order of the members, duplicates included.
func TestIgnoreOnePass(t *testing.T) {
	cfg, err := config.Parse("x.toml", []byte(`
[actions."*"]
ignore = ["metadata.request_id", "items.1", "a.b.c"]
[actions."cal_*"]
identity = ["start"]
[compensations]
actions = ["refund_*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`{"action_type":"charge","args":{"metadata":{"request_id":"r1","x":1},"amount":5}}`,
		`{"action_type":"charge","args":{"amount":5,"metadata":{"x":1,"request_id":"r2"}}}`,
		`{"args":{"metadata":{"request_id":"r1"},"amount":5},"action_type":"charge"}`,                             // args first
		`{"action_type":"send","args":{"metadata":{"request_id":"r1"}},"action_type":"charge"}`,                   // a later action wins
		`{"action_type":"charge","args":{"metadata":{"request_id":"r1"}},"action_type":"refund_x"}`,               // ... one that keeps args strings
		`{"action_type":"charge","args":{"items":[{"a":1},{"b":2},{"c":3}],"metadata":{"request_id":"r1"}}}`,      // an index
		`{"action_type":"charge","args":{"a":{"b":{"c":1,"d":2}},"a":{"b":{"c":3}}}}`,                             // duplicates: the last wins
		`{"action_type":"charge","args":{"metadata":1,"metadata":{"request_id":[1,{"x":"\u00e9"}],"y":"\"q\""}}}`, // escapes
		`{"action_type":"cal_new","args":{"start":"9","metadata":{"request_id":"r"}}}`,
		`{"action_type":"refund_x","args":{"charge":"ch_1","metadata":{"request_id":"r"}}}`,
		`{"action_type":"charge","args":"{\"metadata\":{\"request_id\":\"r\"},\"b\":1}"}`, // args in a string
		`{"action_type":"charge","args":[{"metadata":{"request_id":1}}]}`,
		`{"action_type":"charge","args":{}}`,
		`{"action_type":"charge","args":{"metadata":{"request_id":1}}}`,
		// a later args member in a string replaces one read in one pass
		`{"action_type":"charge","args":{},"args":"{\"metadata\":{\"request_id\":\"r\"},\"b\":1}"}`,
		`{"action_type":"charge","args":{"b":2},"args":"[1,2]"}`,
		`{"action_type":"charge","args":{"b":2},"action_type":"cal_new","args":"{\"start\":1}"}`,
		`{"action_type":"charge","args":{"b":2},"args":null}`,
	}
	data := sampleLog(t, sample.Options{Calls: 3000, Seed: 3, AnomalyRate: 0.05})
	lines = append(lines, strings.Split(string(data), "\n")...)
	one := Parser{cfg: cfg}
	whole := Parser{cfg: cfg, keepArgs: true}
	stripped := 0
	for _, l := range lines {
		var a, b Record
		errA, errB := one.Parse([]byte(l), &a), whole.Parse([]byte(l), &b)
		if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() {
			t.Fatalf("%s: errors %v and %v", l, errA, errB)
		}
		if a.Action != "" && one.onlyIgnores(a.Action) {
			stripped++
		}
		b.Args = nil
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s:\n one pass %+v\n whole    %+v", l, a, b)
		}
	}
	if stripped < 1000 {
		t.Errorf("only %d lines took the one pass", stripped)
	}
}

func TestArgsHold(t *testing.T) {
	args := `{"customer":{"id":"cus_1","email":"a@example.com","tags":["vip","caf\u00e9"]},"order":17700,"amount":-12.5,"note":"cus_10","ok":true,"n":null,"cus_2":"x"}`
	canon, err := CanonicalArgs([]byte(args))
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]bool{
		"cus_1": true, "a@example.com": true, "vip": true, "café": true, // at any depth, decoded
		"17700": true, "17700.0": true, "1.77e4": true, "-12.5": true, // a number in any of its spellings
		"cus": false, "cus_": false, "CUS_1": false, "us_1": false, // whole values only, case as given
		"cus_2": false, "customer": false, // member names do not count
		"true": false, "null": false, "12.5": false, "x ": false,
	} {
		if got := ArgsHold([]byte(canon), v); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
	// a string that looks like a number matches both forms
	canon2, _ := CanonicalArgs([]byte(`{"order":"17700"}`))
	if !ArgsHold([]byte(canon2), "17700") || ArgsHold([]byte(canon2), "17700.0") {
		t.Error(`"17700" as a string: held by 17700 only`)
	}
}
