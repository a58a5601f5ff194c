package rules_test

import (
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
