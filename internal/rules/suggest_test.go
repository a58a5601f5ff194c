package rules_test

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/rules"
)

func TestSuggestIdentities(t *testing.T) {
	min := int64(time.Minute)
	c := func(action, session string, at int64, args string) rules.SuggestCall {
		return rules.SuggestCall{Action: action, Session: session, TS: at * min, Args: []byte(args)}
	}
	calls := []rules.SuggestCall{
		// s1: a retry that changed the payment and the request id
		c("book", "s1", 0, `{"user":"u1","trip":["F1"],"pay":"card","meta":{"rid":"r1"}}`),
		c("book", "s1", 2, `{"user":"u1","trip":["F1"],"pay":"gift","meta":{"rid":"r2"}}`),
		// s2: the same, and a third call 30 minutes later (another chain of one: ignored)
		c("book", "s2", 0, `{"user":"u2","trip":["F2","F3"],"pay":"card","meta":{"rid":"r3"}}`),
		c("book", "s2", 5, `{"user":"u2","trip":["F2","F3"],"pay":"cash","meta":{"rid":"r4"}}`),
		c("book", "s2", 40, `{"user":"u2","trip":["F9"],"pay":"cash","meta":{"rid":"r5"}}`),
		// s3: a note appears on the retry (missing counts as null: it varies)
		c("book", "s3", 0, `{"user":"u3","trip":["F4"],"pay":"card","meta":{"rid":"r6"}}`),
		c("book", "s3", 1, `{"user":"u3","trip":["F4"],"pay":"card","meta":{"rid":"r7"},"note":"again"}`),
		// an action never repeated: nothing to learn
		c("ping", "s1", 0, `{"host":"a"}`),
	}
	got := rules.SuggestIdentities(calls, 10*time.Minute)
	if len(got) != 2 || got[0].Action != "book" || got[1].Action != "ping" {
		t.Fatalf("%+v", got)
	}
	b := got[0]
	if b.Calls != 7 || b.Chains != 3 {
		t.Errorf("book: %d calls, %d chains", b.Calls, b.Chains)
	}
	// currency-like paths that never vary are not suggested; user and trip are
	if !reflect.DeepEqual(b.Identity, []string{"trip", "user"}) {
		t.Errorf("identity %q", b.Identity)
	}
	ev := map[string]rules.PathEvidence{}
	for _, p := range b.Paths {
		ev[p.Path] = p
	}
	if p := ev["pay"]; p.ConstantChains != 1 || p.Distinct != 3 || p.Suggest {
		t.Errorf("pay %+v", p)
	}
	if p := ev["meta.rid"]; p.ConstantChains != 0 || p.Distinct != 7 {
		t.Errorf("meta.rid %+v", p)
	}
	if p := ev["note"]; p.ConstantChains != 2 || p.Distinct != 2 || p.Suggest {
		t.Errorf("note %+v (missing = null, constant in 2 of 3 chains: under 80%%)", p)
	}
	if p := ev["trip"]; p.Distinct != 4 || p.ConstantChains != 3 {
		t.Errorf("trip %+v", p)
	}
	if got[1].Chains != 0 || got[1].Identity != nil {
		t.Errorf("ping %+v", got[1])
	}
	// an object and its paths all constant in the chains: the object alone
	nested := rules.SuggestIdentities([]rules.SuggestCall{
		c("fly", "s1", 0, `{"user":{"id":"u1","name":"A"},"pay":"x"}`),
		c("fly", "s1", 1, `{"user":{"id":"u1","name":"A"},"pay":"y"}`),
		c("fly", "s2", 0, `{"user":{"id":"u2","name":"B"},"pay":"x"}`),
		c("fly", "s2", 1, `{"user":{"id":"u2","name":"B"},"pay":"z"}`),
	}, 10*time.Minute)
	if !reflect.DeepEqual(nested[0].Identity, []string{"user"}) {
		t.Errorf("identity %q, want user alone", nested[0].Identity)
	}
	// meta is an object: one value, which varies with its rid
	if p := ev["meta"]; p.ConstantChains != 0 || p.Distinct != 7 || p.Suggest {
		t.Errorf("meta %+v", p)
	}

	// a path that is an object in some calls and a plain value in others
	// is compared whole: an object that changes within every chain varies
	mixed := rules.SuggestIdentities([]rules.SuggestCall{
		c("charge", "s1", 0, `{"customer":{"id":"c1"},"amount":5}`),
		c("charge", "s1", 1, `{"customer":{"id":"c2"},"amount":5}`),
		c("charge", "s2", 0, `{"customer":{"id":"c3"},"amount":7}`),
		c("charge", "s2", 1, `{"customer":{"id":"c4"},"amount":7}`),
		c("charge", "s3", 0, `{"customer":"c5","amount":9}`),
	}, 10*time.Minute)
	for _, p := range mixed[0].Paths {
		if p.Path == "customer" && (p.ConstantChains != 0 || p.Suggest) {
			t.Errorf("customer %+v: suggested though it changes in every chain", p)
		}
	}
	if !reflect.DeepEqual(mixed[0].Identity, []string{"amount"}) {
		t.Errorf("identity %q, want amount", mixed[0].Identity)
	}

	// chains of different operations, with a currency that never changes
	// within them: two values over 40 calls tell nothing apart
	var many []rules.SuggestCall
	for i := 0; i < 20; i++ {
		cur := []string{"eur", "usd"}[i%2]
		many = append(many,
			c("pay", string(rune('a'+i)), 0, `{"currency":"`+cur+`","amount":`+strconv.Itoa(i)+`}`),
			c("pay", string(rune('a'+i)), 1, `{"currency":"`+cur+`","amount":`+strconv.Itoa(100+i)+`}`))
	}
	coarse := rules.SuggestIdentities(many, 10*time.Minute)[0]
	if coarse.Identity != nil || !reflect.DeepEqual(coarse.Coarse, []string{"currency"}) || coarse.Values != 2 {
		t.Errorf("identity %q, coarse %q (%d values): want nothing suggested, currency too coarse", coarse.Identity, coarse.Coarse, coarse.Values)
	}
	for _, p := range coarse.Paths {
		if p.Suggest {
			t.Errorf("%s still marked suggested", p.Path)
		}
	}
}
