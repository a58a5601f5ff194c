package rules_test

import (
	"fmt"
	"testing"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// Client reports quote the messages: each must be true for its calls.
// Only what may have happened is named and counted (calls not rejected;
// without a response id, unless their effect says noop), and the parts a
// message breaks a count into add up to it.
func TestMessagesAreTrue(t *testing.T) {
	// line writes one call at second s: its key ("" none), status (a JSON
	// value, "" none), response id and effect ("" none), with the same args
	line := func(s int, action, key, status, resp, effect string) string {
		l := fmt.Sprintf(`{"ts":"2026-11-16T10:00:%02dZ","action_type":%q,"args":{"a":1}`, s, action)
		if key != "" {
			l += fmt.Sprintf(`,"idempotency_key":%q`, key)
		}
		if status != "" {
			l += `,"status":` + status
		}
		if resp != "" {
			l += fmt.Sprintf(`,"response_id":%q`, resp)
		}
		if effect != "" {
			l += fmt.Sprintf(`,"effect":%q`, effect)
		}
		return l + "}"
	}
	one := func(t *testing.T, res *rules.Result, rule string) rules.Finding {
		t.Helper()
		fs := findings(res, rule)
		if len(fs) != 1 {
			t.Fatalf("%d %s findings, want 1: %+v", len(fs), rule, res.Findings)
		}
		return fs[0]
	}
	message := func(t *testing.T, f rules.Finding, want string) {
		t.Helper()
		if f.Message != want {
			t.Errorf("message\n %q, want\n %q", f.Message, want)
		}
	}
	t.Run("same-key-different-response names no rejected call's response id", func(t *testing.T) {
		res := auditLines(t,
			line(0, "charge_card", "chg-42", `"ok"`, "ch_1", ""),
			line(10, "charge_card", "chg-42", `402`, "err_card_declined", ""),
			line(20, "charge_card", "chg-42", `"ok"`, "ch_2", ""),
		)
		f := one(t, res, "same-key-different-response")
		message(t, f, "key chg-42 of charge_card produced 2 distinct response ids (ch_1, ch_2) over 3 calls")
		if f.Stats.SideEffects != 2 || f.Stats.DistinctResponses != 2 {
			t.Errorf("stats %+v", f.Stats)
		}
	})
	t.Run("repeat-without-key counts no rejected call's response id", func(t *testing.T) {
		res := auditLines(t,
			line(0, "send", "", `"ok"`, "r1", ""),
			line(10, "send", "", `"ok"`, "r2", ""),
			line(20, "send", "", `409`, "err_9", ""),
		)
		message(t, one(t, res, "repeat-without-key"), "send was called 3 times without an idempotency key within 20s: "+
			"2 possible side effects (2 distinct response ids, 0 without one; 2 applied, 0 unknown, 1 rejected)")
	})
	t.Run("repeat-without-key: the breakdown adds up to the side effects", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			lines []string
			want  string
		}{
			{"a rejection without id after the call that went through", []string{
				line(0, "send", "", `"ok"`, "r1", ""), line(10, "send", "", `409`, "", ""),
			}, "1 possible side effect (1 distinct response id, 0 without one; 1 applied, 0 unknown, 1 rejected)"},
			{"a noop without id", []string{
				line(0, "send", "", `"ok"`, "", "created"), line(10, "send", "", `"ok"`, "", "NO-OP"),
			}, "1 possible side effect (0 distinct response ids, 1 without one; 2 applied, 0 unknown, 0 rejected)"},
			{"unknown calls without id count", []string{
				line(0, "send", "", `504`, "", ""), line(10, "send", "", `"ok"`, "r1", ""),
			}, "2 possible side effects (1 distinct response id, 1 without one; 1 applied, 1 unknown, 0 rejected)"},
		} {
			t.Run(c.name, func(t *testing.T) {
				f := one(t, auditLines(t, c.lines...), "repeat-without-key")
				message(t, f, "send was called 2 times without an idempotency key within 10s: "+c.want)
				if st := f.Stats; st.DistinctResponses+st.NullResponses != st.SideEffects {
					t.Errorf("stats %+v: the parts do not add up", st)
				}
			})
		}
	})
	t.Run("retry-after-rejection: a call that went through is not a rejection", func(t *testing.T) {
		res := auditLines(t,
			line(0, "send", "", `400`, "", ""),
			line(10, "send", "", `400`, "", ""),
			line(20, "send", "", `"ok"`, "", "noop"),
		)
		message(t, one(t, res, rules.RetryAfterRejection),
			"send was called 3 times without an idempotency key within 20s: 2 calls were rejected, then one went through")
	})
	t.Run("retry-after-rejection: every call rejected", func(t *testing.T) {
		res := auditLines(t,
			line(0, "send", "", `400`, "", ""),
			line(10, "send", "", `"invalid"`, "", ""),
		)
		message(t, one(t, res, rules.RetryAfterRejection),
			"send was called 2 times without an idempotency key within 10s: every call was rejected (2 rejections), nothing happened")
	})
	t.Run("retry-after-rejection: an unknown outcome may have gone through", func(t *testing.T) {
		res := auditLines(t,
			line(0, "send", "", `400`, "", ""),
			line(10, "send", "", `504`, "", ""),
		)
		message(t, one(t, res, rules.RetryAfterRejection),
			"send was called 2 times without an idempotency key within 10s: 1 call was rejected, then one may have gone through (outcome unknown)")
	})
	t.Run("non-noop-replay names the effects of replays only", func(t *testing.T) {
		res := auditLines(t,
			line(0, "mk", "k1", `400`, "", "conflict_logged"),
			line(10, "mk", "k1", `"ok"`, "", "created"), // the first execution: the call before it was rejected
			line(20, "mk", "k1", `"ok"`, "", "updated"), // a replay
			line(30, "mk", "k1", `409`, "", "conflict_logged"),
		)
		message(t, one(t, res, "non-noop-replay"), "key k1 of mk was replayed and a later call reported effect updated instead of noop (4 calls)")
	})
	t.Run("an effect is trimmed as a status is (tabs, CR and LF too)", func(t *testing.T) {
		res := auditLines(t,
			line(0, "mk", "k1", `"ok"`, "", "created"),
			line(10, "mk", "k1", `"ok"`, "", "noop \t"),
			line(20, "mk", "k1", `"ok"`, "", "\r\n None "),
			line(0, "send", "", `"ok"`, "", "created"),
			line(10, "send", "", `"ok"`, "", " no_op\n"),
			line(0, "book", "b1", `"ok"`, "", "created"),
			line(10, "book", "b2", `"ok"`, "", "NOOP\f "),
		)
		if fs := findings(res, "non-noop-replay"); len(fs) != 0 {
			t.Errorf("non-noop-replay: %+v", fs)
		}
		f := one(t, res, "repeat-without-key")
		if f.Severity != rules.Low || f.Stats.SideEffects != 1 {
			t.Errorf("repeat-without-key %v, stats %+v", f.Severity, f.Stats)
		}
		message(t, f, "send was called 2 times without an idempotency key within 10s: "+
			"1 possible side effect (0 distinct response ids, 1 without one; 2 applied, 0 unknown, 0 rejected)")
		if f := one(t, res, "unstable-key"); f.Severity != rules.Medium || f.Stats.SideEffects != 1 {
			t.Errorf("unstable-key %v, stats %+v", f.Severity, f.Stats)
		}
		if !rules.IsNoop(" None ") || rules.IsNoop("created ") {
			t.Error("IsNoop does not trim")
		}
	})
}

// A finding made elsewhere (no names read by the audit) is rendered from its
// calls by the same rules.
func TestMessageFromCalls(t *testing.T) {
	s := func(v string) *string { return &v }
	key := "k1"
	f := rules.Finding{Rule: "non-noop-replay", ActionType: "mk", Key: &key, Stats: rules.Stats{Calls: 4}, Calls: []rules.Call{
		{Key: &key, Effect: s("conflict_logged"), Outcome: rules.Rejected},
		{Key: &key, Effect: s("created"), Outcome: rules.Applied},
		{Key: &key, Effect: s(" noop "), Outcome: rules.Applied},
		{Key: &key, Effect: s("updated"), Outcome: rules.Applied},
		{Key: &key, Effect: s("deleted"), Outcome: rules.Rejected},
	}}
	if got, want := rules.Message(&f, func(v string) string { return v }),
		"key k1 of mk was replayed and a later call reported effect updated instead of noop (4 calls)"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	f = rules.Finding{Rule: "same-key-different-response", ActionType: "charge", Key: &key, Stats: rules.Stats{Calls: 3, DistinctResponses: 2},
		Calls: []rules.Call{
			{Key: &key, ResponseID: s("ch_1"), Outcome: rules.Applied},
			{Key: &key, ResponseID: s("err_1"), Outcome: rules.Rejected},
			{Key: &key, ResponseID: s("ch_2"), Outcome: rules.Unknown},
		}}
	if got, want := rules.Message(&f, func(v string) string { return v }),
		"key k1 of charge produced 2 distinct response ids (ch_1, ch_2) over 3 calls"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}
