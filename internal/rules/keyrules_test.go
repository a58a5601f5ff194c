package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/rules"
)

// The rules over one key see every call of the key: a repeatable action's,
// a rejected one, one without a response id, an untimed one (the
// candidate calls keep them all).
func TestKeyRulesSeeEveryCallOfAKey(t *testing.T) {
	yes := true
	cfg := &config.Config{Actions: map[string]config.Action{"poll": {Repeatable: &yes}}}
	res := auditWith(t, rules.Options{Window: rules.DefaultWindow, Config: cfg}, map[string][]string{"a.jsonl": {
		// 1-2: a repeatable action's key answered twice, differently, created twice
		c(t0, "poll", "p1", "r1", `"effect":"created"`),
		c(at(time.Minute), "poll", "p1", "r2", `"effect":"created"`),
		// 3-4: a key reused with other args, the first call rejected: low
		c(at(2*time.Minute), "charge", "k1", "", `"status":"409"`, `"args":{"a":1}`),
		c(at(3*time.Minute), "charge", "k1", "r3", `"args":{"a":2}`),
		// 5-6: a key reused with other args, no response ids; created again
		c(at(4*time.Minute), "book", "b1", "", `"args":{"a":1}`),
		c(at(5*time.Minute), "book", "b1", "", `"args":{"a":2}`, `"effect":"created"`),
		// 7-8: a key answered twice, the second call untimed
		c(at(6*time.Minute), "send", "s1", "m1"),
		c("", "send", "s1", "m2"),
	}})
	check(t, res, []string{"same-key-different-response"},
		want{"same-key-different-response", rules.Critical, []int64{1, 2}},
		want{"same-key-different-response", rules.Critical, []int64{7, 8}})
	check(t, res, []string{"key-payload-mismatch"},
		want{"key-payload-mismatch", rules.Medium, []int64{5, 6}},
		want{"key-payload-mismatch", rules.Low, []int64{3, 4}})
	check(t, res, []string{"non-noop-replay"},
		want{"non-noop-replay", rules.High, []int64{1, 2}},
		want{"non-noop-replay", rules.High, []int64{5, 6}})
}

// A response id or key logged as a number is one id however the number is
// spelt: 100, 1e2 and 100.0 under one key are one response, not a double
// side effect (a false critical); the number 42 and the string "42" are one
// key. A string is taken as written: "1e2" is another response id.
func TestNumericResponseIDs(t *testing.T) {
	res := auditLines(t,
		`{"ts":"2026-11-18T10:00:00Z","action_type":"charge","idempotency_key":"k1","response_id":100}`,
		`{"ts":"2026-11-18T10:00:01Z","action_type":"charge","idempotency_key":"k1","response_id":1e2}`,
		`{"ts":"2026-11-18T10:00:02Z","action_type":"charge","idempotency_key":"k1","response_id":100.0}`,
		`{"ts":"2026-11-18T10:00:03Z","action_type":"refund","idempotency_key":42,"response_id":"r1"}`,
		`{"ts":"2026-11-18T10:00:04Z","action_type":"refund","idempotency_key":"42","response_id":"r1"}`,
		`{"ts":"2026-11-18T10:00:05Z","action_type":"refund","idempotency_key":4.2e1,"response_id":"r1"}`,
		`{"ts":"2026-11-18T10:00:06Z","action_type":"book","idempotency_key":"b1","response_id":100}`,
		`{"ts":"2026-11-18T10:00:07Z","action_type":"book","idempotency_key":"b1","response_id":"1e2"}`,
	)
	check(t, res, []string{"same-key-different-response"},
		want{"same-key-different-response", rules.Critical, []int64{7, 8}})
	if f := findings(res, "same-key-different-response"); len(f) == 1 && !strings.Contains(f[0].Message, "(100, 1e2)") {
		t.Errorf("message %q: want the response ids 100 and 1e2", f[0].Message)
	}
}
