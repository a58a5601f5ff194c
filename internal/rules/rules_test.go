package rules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/rules"
)

// c builds one log line; extra is raw JSON members appended verbatim.
func c(ts, action, key, resp string, extra ...string) string {
	var m []string
	if ts != "" {
		m = append(m, fmt.Sprintf(`"ts":%q`, ts))
	}
	m = append(m, fmt.Sprintf(`"action_type":%q`, action))
	if key != "" {
		m = append(m, fmt.Sprintf(`"idempotency_key":%q`, key))
	}
	if resp != "" {
		m = append(m, fmt.Sprintf(`"response_id":%q`, resp))
	}
	m = append(m, extra...)
	return "{" + strings.Join(m, ",") + "}"
}

const t0 = "2026-11-16T09:00:00Z"

// at is t0 plus d, as RFC3339 with nanoseconds.
func at(d time.Duration) string {
	t, _ := time.Parse(time.RFC3339, t0)
	return t.Add(d).Format(time.RFC3339Nano)
}

type want struct {
	rule     string
	severity rules.Severity
	lines    []int64
}

// check asserts the findings of the named rules are exactly want, in order.
func check(t *testing.T, res *rules.Result, ruleIDs []string, wants ...want) {
	t.Helper()
	var got []want
	for _, f := range res.Findings {
		for _, id := range ruleIDs {
			if f.Rule == id {
				got = append(got, want{f.Rule, f.Severity, lines(f)})
			}
		}
	}
	if len(got) == 0 && len(wants) == 0 {
		return
	}
	if !reflect.DeepEqual(got, wants) {
		t.Errorf("findings of %v:\n got  %v\n want %v", ruleIDs, got, wants)
	}
}

func TestSameKeyDifferentResponse(t *testing.T) {
	ids := []string{"same-key-different-response"}
	t.Run("two response ids for one key fire critical, even days apart", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "charge_card", "k1", "ch_1", `"effect":"created"`),
			c(at(72*time.Hour), "charge_card", "k1", "ch_2", `"effect":"created"`),
			c(at(time.Minute), "charge_card", "k2", "ch_3"),
		)
		check(t, res, ids, want{"same-key-different-response", rules.Critical, []int64{1, 2}})
		f := findings(res, ids[0])[0]
		if f.Key == nil || *f.Key != "k1" || f.ActionType != "charge_card" {
			t.Errorf("finding names key %v action %q", f.Key, f.ActionType)
		}
		if f.Stats.DistinctResponses != 2 || f.Stats.Calls != 2 || f.Stats.Span != 72*time.Hour {
			t.Errorf("stats %+v", f.Stats)
		}
	})
	t.Run("unknown outcomes and equal responses do not fire", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "charge_card", "k1", "ch_1"),
			c(at(time.Second), "charge_card", "k1", "ch_1"),
			c(at(2*time.Second), "charge_card", "k1", ""),
			c(at(3*time.Second), "charge_card", "k1", "", `"response_id":null`),
		)
		check(t, res, ids)
	})
	t.Run("the same key under two actions is two keys", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "charge_card", "order-7", "ch_1"),
			c(at(time.Second), "send_receipt", "order-7", "msg_1"),
		)
		check(t, res, ids)
	})
	t.Run("untimed calls take part", func(t *testing.T) {
		res := auditLines(t,
			c("", "charge_card", "k1", "ch_1"),
			c("", "charge_card", "k1", "ch_2"),
		)
		check(t, res, ids, want{"same-key-different-response", rules.Critical, []int64{1, 2}})
	})
}

func TestRepeatWithoutKey(t *testing.T) {
	ids := []string{"repeat-without-key"}
	args := `"args":{"to":"a@example.com","body":"hi","n":2000}`
	same := `"args":{ "n" : 2e3 , "body":"hi",   "to":"a@example.com" }` // same operation, other surface form
	t.Run("two response ids: high", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "m1", args),
			c(at(45*time.Second), "send_email", "", "m2", same),
		)
		check(t, res, ids, want{"repeat-without-key", rules.High, []int64{1, 2}})
	})
	t.Run("an unknown outcome: high", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "", args, `"status":"timeout"`),
			c(at(45*time.Second), "send_email", "", "m1", same),
		)
		check(t, res, ids, want{"repeat-without-key", rules.High, []int64{1, 2}})
	})
	t.Run("one shared response id: low, the downstream deduped", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "m1", args),
			c(at(45*time.Second), "send_email", "", "m1", same),
		)
		check(t, res, ids, want{"repeat-without-key", rules.Low, []int64{1, 2}})
	})
	t.Run("a retry without a response id whose effect says noop: no second side effect, low", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "m1", args, `"effect":"created"`),
			c(at(30*time.Second), "send_email", "", "", same, `"status":"ok"`, `"effect":"No-Op"`),
			c(at(2*time.Hour), "send_email", "", "m2", args, `"effect":"created"`), // the same without noop: high
			c(at(2*time.Hour+30*time.Second), "send_email", "", "", same, `"status":"ok"`, `"effect":"sent"`),
		)
		check(t, res, ids, want{"repeat-without-key", rules.High, []int64{3, 4}}, want{"repeat-without-key", rules.Low, []int64{1, 2}})
		if f := findings(res, ids[0]); len(f) == 2 && f[1].Stats.SideEffects != 1 {
			t.Errorf("side effects %d, want 1", f[1].Stats.SideEffects)
		}
	})
	t.Run("a rejection, then the call that went through: retry-after-rejection; the other way: a repeat", func(t *testing.T) {
		res := auditFiles(t, 0, map[string][]string{"a.jsonl": {
			c(t0, "book", "", "err_1", `"args":{"trip":"t1"}`, `"status":409`),
			c(at(30*time.Second), "book", "", "res_1", `"args":{"trip":"t1"}`, `"status":201`),
			c(at(time.Hour), "book", "", "res_2", `"args":{"trip":"t2"}`, `"status":201`),
			c(at(time.Hour+30*time.Second), "book", "", "err_2", `"args":{"trip":"t2"}`, `"status":409`),
		}})
		check(t, res, []string{"repeat-without-key", "retry-after-rejection"},
			want{"retry-after-rejection", rules.Low, []int64{1, 2}}, want{"repeat-without-key", rules.Low, []int64{3, 4}})
	})
	t.Run("a span under a second reads in decimals", func(t *testing.T) {
		res := auditLines(t,
			c("2026-11-16T09:00:00Z", "send_email", "", "m1", args),
			c("2026-11-16T09:00:00.000001Z", "send_email", "", "m2", same),
		)
		if f := findings(res, ids[0]); len(f) != 1 || !strings.Contains(f[0].Message, "within 0.000001s:") {
			t.Errorf("findings %+v", f)
		}
	})
	t.Run("gaps: exactly the window chains, one nanosecond more does not", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "m1", args),
			c(at(10*time.Minute), "send_email", "", "m2", args),
			c(at(20*time.Minute+1), "send_email", "", "m3", args),
			c(at(5*time.Hour), "send_email", "", "m4", args),
		)
		check(t, res, ids, want{"repeat-without-key", rules.High, []int64{1, 2}})
	})
	t.Run("a chain spans more than the window when each gap is within it", func(t *testing.T) {
		res := auditLines(t,
			c(at(16*time.Minute), "send_email", "", "m3", args),
			c(t0, "send_email", "", "m1", args),
			c(at(8*time.Minute), "send_email", "", "m2", args),
		)
		check(t, res, ids, want{"repeat-without-key", rules.High, []int64{2, 3, 1}})
		if f := findings(res, ids[0])[0]; f.Stats.Span != 16*time.Minute || f.Stats.Calls != 3 {
			t.Errorf("stats %+v", f.Stats)
		}
	})
	t.Run("different args, hours apart, keyed or untimed calls do not fire", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "m1", `"args":{"to":"a@example.com","body":"hi"}`),
			c(at(time.Second), "send_email", "", "m2", `"args":{"to":"b@example.com","body":"hi"}`),
			c(at(2*time.Hour), "send_email", "", "m3", `"args":{"to":"a@example.com","body":"hi"}`),
			c(t0, "charge_card", "k1", "ch_1", args),
			c(at(time.Second), "charge_card", "k1", "ch_1", args),
			c("", "refund", "", "r1", args),
			c("", "refund", "", "r2", args),
		)
		check(t, res, ids)
	})
	t.Run("args types matter: 1 and \"1\" are different operations", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "m1", `"args":{"n":1}`),
			c(at(time.Second), "send_email", "", "m2", `"args":{"n":"1"}`),
		)
		check(t, res, ids)
	})
	t.Run("without args the session is the identity", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "book_meeting", "", "ev1", `"session_id":"s1"`),
			c(at(time.Minute), "book_meeting", "", "ev2", `"session_id":"s2"`),
			c(at(2*time.Minute), "book_meeting", "", "ev3", `"session_id":"s1"`),
			c(at(3*time.Minute), "book_meeting", "", "ev4"),
			c(at(4*time.Minute), "book_meeting", "", "ev5"),
		)
		check(t, res, ids, want{"repeat-without-key", rules.High, []int64{1, 3}})
		if res.Summary.UnfingerprintedCalls != 2 {
			t.Errorf("unfingerprinted = %d, want 2", res.Summary.UnfingerprintedCalls)
		}
	})
	t.Run("the same args under two actions are two operations", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "send_email", "", "m1", args),
			c(at(time.Second), "send_sms", "", "s1", args),
		)
		check(t, res, ids)
	})
}

func TestUnstableKey(t *testing.T) {
	ids := []string{"unstable-key"}
	args := `"args":{"amount":2000,"customer":{"id":"cus_1","name":"Zoë"}}`
	t.Run("a fresh key per retry fires high", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "charge_card", "uuid-1", "ch_1", args),
			c(at(30*time.Second), "charge_card", "uuid-2", "ch_2", `"args":{"customer":{"name":"Zoë","id":"cus_1"},"amount":2000.0}`),
			c(at(60*time.Second), "charge_card", "uuid-3", "ch_3", args),
		)
		check(t, res, ids, want{"unstable-key", rules.High, []int64{1, 2, 3}})
		if f := findings(res, ids[0])[0]; f.Stats.DistinctKeys != 3 {
			t.Errorf("stats %+v", f.Stats)
		}
	})
	t.Run("a stable key, other args, or a gap over the window do not fire", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "charge_card", "k1", "ch_1", args),
			c(at(30*time.Second), "charge_card", "k1", "ch_1", args, `"effect":"noop"`),
			c(at(time.Minute), "charge_card", "k2", "ch_2", `"args":{"amount":2001}`),
			c(at(3*time.Hour), "charge_card", "k3", "ch_3", args),
		)
		check(t, res, ids)
	})
}

// With an identity configured, the operation is those args: a retry that
// changed another arg (the payment method) under a fresh key is still the
// same operation. Keyed calls without args take no part: their fingerprint
// would be the session's.
func TestUnstableKeyByIdentity(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse("c.toml", []byte("[actions.book]\nidentity = [\"user\", \"flight\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := ingest.Open(ctx, "", ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Config = cfg
	p := filepath.Join(t.TempDir(), "a.jsonl")
	log := strings.Join([]string{
		c(t0, "book", "3f9c", "b1", `"args":{"user":"u","flight":"f","pay":"p1"}`),
		c(at(30*time.Second), "book", "a1d0", "b2", `"args":{"user":"u","flight":"f","pay":"p2"}`),
		c(at(time.Hour), "book", "k7", "b7", `"args":{"user":"u","flight":"g","pay":"p1"}`),
		c(at(time.Hour+time.Second), "book", "k8", "b8", `"args":{"user":"v","flight":"g","pay":"p1"}`),
		c(at(2*time.Hour), "charge", "k1", "c1", `"session_id":"s1"`),
		c(at(2*time.Hour+time.Second), "charge", "k2", "c2", `"session_id":"s1"`),
	}, "\n") + "\n"
	if err := os.WriteFile(p, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := db.IngestFile(ctx, p); err != nil {
		t.Fatal(err)
	}
	res, err := rules.Audit(ctx, db.Conn, rules.Options{Window: rules.DefaultWindow, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	check(t, res, []string{"unstable-key"}, want{"unstable-key", rules.High, []int64{1, 2}})
	if f := findings(res, "unstable-key"); len(f) == 1 && !strings.Contains(f[0].Message, "with the same user, flight within 30s") {
		t.Errorf("message %q does not say what made the calls one operation", f[0].Message)
	}
}

func TestKeyPayloadMismatch(t *testing.T) {
	ids := []string{"key-payload-mismatch"}
	t.Run("two argument sets under one key fire medium", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "charge_card", "k1", "ch_1", `"args":{"amount":2000}`),
			c(at(time.Hour), "charge_card", "k1", "ch_1", `"args":{"amount":2500}`),
		)
		check(t, res, ids, want{"key-payload-mismatch", rules.Medium, []int64{1, 2}})
	})
	t.Run("key order and whitespace are not a different payload; calls without args say nothing", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "charge_card", "k1", "ch_1", `"args":{"a":1,"b":[1,2]}`),
			c(at(time.Second), "charge_card", "k1", "ch_1", `"args":{ "b" : [ 1 , 2 ] , "a" : 1 }`),
			c(at(2*time.Second), "charge_card", "k1", "ch_1"),
			c(at(3*time.Second), "charge_card", "k1", "ch_1", `"args":null`),
		)
		check(t, res, ids)
	})
}

func TestNonNoopReplay(t *testing.T) {
	ids := []string{"non-noop-replay"}
	t.Run("a later call that created again fires high", func(t *testing.T) {
		res := auditLines(t,
			c(at(time.Minute), "create_ticket", "k1", "t1", `"effect":"created"`),
			c(t0, "create_ticket", "k1", "t1", `"effect":"created"`),
		)
		check(t, res, ids, want{"non-noop-replay", rules.High, []int64{2, 1}})
	})
	t.Run("noop in any case, an unknown effect, or a single call do not fire", func(t *testing.T) {
		res := auditLines(t,
			c(t0, "create_ticket", "k1", "t1", `"effect":"created"`),
			c(at(time.Minute), "create_ticket", "k1", "t1", `"effect":"noop"`),
			c(at(2*time.Minute), "create_ticket", "k1", "t1", `"effect":"NoOp"`),
			c(at(150*time.Second), "create_ticket", "k1", "t1", `"effect":"no-op"`),
			c(at(160*time.Second), "create_ticket", "k1", "t1", `"effect":"None"`),
			c(at(3*time.Minute), "create_ticket", "k1", "t1"),
			c(at(4*time.Minute), "create_ticket", "k2", "t2", `"effect":"created"`),
		)
		check(t, res, ids)
	})
}

func TestMissingKey(t *testing.T) {
	ids := []string{"missing-key"}
	var ls []string
	for i := 0; i < 25; i++ {
		ls = append(ls, c(at(time.Duration(i)*time.Hour), "post_message", "", fmt.Sprintf("p%d", i), fmt.Sprintf(`"args":{"i":%d}`, i)))
	}
	ls = append(ls, c(t0, "post_message", "k", "p99", `"args":{"i":99}`), c(t0, "charge_card", "k", "ch", `"effect":"created"`))
	res := auditLines(t, ls...)
	fs := findings(res, ids[0])
	if len(fs) != 1 {
		t.Fatalf("want one missing-key finding, got %d", len(fs))
	}
	f := fs[0]
	if f.ActionType != "post_message" || f.Severity != rules.Low || !f.Sampled || f.Stats.Calls != 25 || len(f.Calls) != 20 {
		t.Errorf("got %s %s sampled=%v calls=%d evidence=%d", f.ActionType, f.Severity, f.Sampled, f.Stats.Calls, len(f.Calls))
	}
	if f.Calls[0].Line != 1 || f.Calls[19].Line != 20 {
		t.Errorf("evidence should be the first keyless calls in time order, got lines %v", lines(f))
	}
}

func TestScorecardAndSummary(t *testing.T) {
	res := auditLines(t,
		// score 3: every call keyed, every call reports an effect, no finding
		c(t0, "a_perfect", "k1", "r1", `"effect":"created"`, `"args":{"x":1}`),
		c(at(time.Second), "a_perfect", "k1", "r1", `"effect":"noop"`, `"args":{"x":1}`),
		// score 2: keyed with effects, but a finding
		c(t0, "b_keyed", "k1", "r1", `"effect":"created"`),
		c(at(time.Second), "b_keyed", "k1", "r2", `"effect":"noop"`),
		// score 1: keyed, one call without an effect
		c(t0, "c_partial", "k1", "r1", `"effect":"created"`),
		c(at(time.Second), "c_partial", "k2", "r2"),
		// score 1: partly keyed
		c(t0, "d_some", "k1", "r1", `"effect":"created"`),
		c(at(time.Second), "d_some", "", "r2", `"effect":"created"`),
		// score 0: never keyed; untimed
		c("", "e_none", "", "r1"),
		`{"action_type":"e_none","ts":null}`,
		`not json`,
		``,
	)
	got := map[string]int{}
	for _, a := range res.Actions {
		got[a.ActionType] = a.Score
	}
	wantScores := map[string]int{"a_perfect": 3, "b_keyed": 2, "c_partial": 1, "d_some": 1, "e_none": 0}
	if !reflect.DeepEqual(got, wantScores) {
		t.Errorf("scores %v, want %v", got, wantScores)
	}
	var names []string
	for _, a := range res.Actions {
		names = append(names, a.ActionType)
	}
	if !reflect.DeepEqual(names, []string{"a_perfect", "b_keyed", "c_partial", "d_some", "e_none"}) {
		t.Errorf("actions not ordered by name: %v", names)
	}
	d := res.Actions[3]
	if d.Calls != 2 || d.KeyedCalls != 1 || d.KeyCoverage != 0.5 || d.Findings != 1 {
		t.Errorf("d_some row %+v", d)
	}
	s := res.Summary
	if s.Calls != 10 || s.KeyedCalls != 7 || s.MalformedLines != 1 || s.UntimedCalls != 2 || s.UnfingerprintedCalls != 8 {
		t.Errorf("summary %+v", s)
	}
	if res.Period.Start == nil || res.Period.Start.Format(time.RFC3339) != t0 || res.Period.End.Sub(*res.Period.Start) != time.Second {
		t.Errorf("period %v – %v", res.Period.Start, res.Period.End)
	}
	if len(res.Malformed) != 1 || res.Malformed[0].Line != 11 {
		t.Errorf("malformed %+v", res.Malformed)
	}
}

func TestFindingsOrder(t *testing.T) {
	res := auditLines(t,
		c(at(time.Hour), "x", "", "m1", `"args":{}`),
		c(at(time.Hour+time.Second), "x", "", "m2", `"args":{}`),
		c(at(2*time.Hour), "y", "k", "r1"),
		c(at(2*time.Hour+time.Second), "y", "k", "r2"),
		c(t0, "z", "", "m1", `"args":{}`),
		c(at(time.Second), "z", "", "m2", `"args":{}`),
	)
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Severity.String()+" "+f.Rule+" "+f.ActionType)
	}
	wantOrder := []string{
		"critical same-key-different-response y",
		"high repeat-without-key z",
		"high repeat-without-key x",
		"low missing-key z",
		"low missing-key x",
	}
	if !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("order\n got  %q\n want %q", got, wantOrder)
	}
}

func TestEvidenceAcrossFiles(t *testing.T) {
	res := auditFiles(t, 0, map[string][]string{
		"a.jsonl": {"", c(t0, "send", "", "m1", `"args":{"to":"x"}`)},
		"b.jsonl": {`{"truncated":`, c(at(time.Second), "send", "", "m2", `"args":{"to":"x"}`)},
	})
	fs := findings(res, "repeat-without-key")
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %d", len(fs))
	}
	var got []string
	for _, c := range fs[0].Calls {
		got = append(got, fmt.Sprintf("%s:%d", c.Source[strings.LastIndex(c.Source, "/")+1:], c.Line))
	}
	if !reflect.DeepEqual(got, []string{"a.jsonl:2", "b.jsonl:2"}) {
		t.Errorf("evidence %v", got)
	}
}

func TestWindowOption(t *testing.T) {
	res := auditFiles(t, time.Minute, map[string][]string{"a.jsonl": {
		c(t0, "send", "", "m1", `"args":{}`),
		c(at(2*time.Minute), "send", "", "m2", `"args":{}`),
	}})
	check(t, res, []string{"repeat-without-key"})
}

func TestGroupsDoNotCollide(t *testing.T) {
	// Joined by NUL, ("a\u0000b", "c") and ("a", "b\u0000c") would be one
	// group id and their evidence would merge into one finding.
	res := auditLines(t,
		`{"ts":"2026-11-16T09:00:00Z","action_type":"a\u0000b","idempotency_key":"c","response_id":"r1"}`,
		`{"ts":"2026-11-16T09:00:01Z","action_type":"a","idempotency_key":"b\u0000c","response_id":"r2"}`,
		`{"ts":"2026-11-16T09:00:02Z","action_type":"a\u0000b","idempotency_key":"c","response_id":"r3"}`,
		`{"ts":"2026-11-16T09:00:03Z","action_type":"a","idempotency_key":"b\u0000c","response_id":"r4"}`,
	)
	ids := []string{"same-key-different-response"}
	check(t, res, ids,
		want{ids[0], rules.Critical, []int64{1, 3}},
		want{ids[0], rules.Critical, []int64{2, 4}})
}
