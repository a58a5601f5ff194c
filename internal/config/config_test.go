package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"get_*", "get_user", true},
		{"get_*", "get_", true},
		{"get_*", "forget_user", false},
		{"*_user", "get_user", true},
		{"*", "", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"srv/*", "srv/tools.call", true}, // * crosses / and .
		{"book_reservation", "book_reservation", true},
		{"book_reservation", "book_reservations", false},
		{"é?", "éé", true}, // runes, not bytes
	} {
		if got := Match(c.pat, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pat, c.name, got)
		}
	}
}

func TestResolvePrecedence(t *testing.T) {
	c, err := Parse("x.toml", []byte(`
[actions."*"]
ignore = ["request_ts"]
[actions."book_*"]
identity = ["user_id"]
repeatable = false
[actions."book_r*"]
identity = ["user_id", "trip"]
[actions.book_reservation]
repeatable = true
[actions."get_*"]
read_only = true
[compensations]
actions = ["cancel_*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Resolve("book_reservation")
	// identity from the longest glob, repeatable from the exact name, ignore from *
	if !reflect.DeepEqual(r.Identity, []string{"user_id", "trip"}) || !r.Repeatable || !reflect.DeepEqual(r.Ignore, []string{"request_ts"}) || r.ReadOnly {
		t.Errorf("book_reservation: %+v", r)
	}
	if r := c.Resolve("book_car"); !reflect.DeepEqual(r.Identity, []string{"user_id"}) || r.Repeatable {
		t.Errorf("book_car: %+v", r)
	}
	if r := c.Resolve("get_user"); !r.ReadOnly || r.Compensates {
		t.Errorf("get_user: %+v", r)
	}
	if r := c.Resolve("refund_x"); r.Compensates {
		t.Error("the file's compensations replace the default list")
	}
	if r := c.Resolve("cancel_x"); !r.Compensates {
		t.Error("cancel_x compensates")
	}
	if err := c.AddIdentity("book_reservation=user_id"); err != nil {
		t.Fatal(err)
	}
	if r := c.Resolve("book_reservation"); !reflect.DeepEqual(r.Identity, []string{"user_id"}) {
		t.Errorf("--identity wins: %+v", r)
	}
	if (&Config{}).Resolve("refund_payment").Compensates != true {
		t.Error("default compensations")
	}
	if d := c.Resolve("book_reservation").Describe(); d != "user_id" {
		t.Errorf("describe %q", d)
	}
	if got := (Resolved{Ignore: []string{"a", "b"}}).IdentityList(); !reflect.DeepEqual(got, []string{"*", "!a", "!b"}) {
		t.Errorf("identity list %q", got)
	}
}

func TestDigest(t *testing.T) {
	parse := func(s string) *Config {
		c, err := Parse("x.toml", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := (&Config{}).FingerprintDigest()
	if parse("").FingerprintDigest() != base {
		t.Error("an empty file is the default")
	}
	if parse("[actions.a]\nrepeatable = true\n[outcomes]\nrejected = [\"x\"]").FingerprintDigest() != base {
		t.Error("repeatable and outcomes do not touch fingerprints")
	}
	if parse("[actions.a]\nidentity = [\"x\"]").FingerprintDigest() == base {
		t.Error("identity changes fingerprints")
	}
	if c := parse("[compensations]\nactions = [\"cancel_*\"]"); c.FingerprintDigest() == base ||
		c.DescribeFingerprints() != "whole-args fingerprints for every action; compensating actions cancel_*" {
		t.Errorf("compensating actions change what ingest keeps, and the words say so: %q", c.DescribeFingerprints())
	}
	if d := (&Config{}).DescribeFingerprints(); d != "whole-args fingerprints for every action" {
		t.Errorf("default described as %q", d)
	}
}

func TestParseErrors(t *testing.T) {
	for text, want := range map[string]string{
		"[actions.a]\nidentiy = [\"x\"]":                     "unknown setting actions.a.identiy",
		"[actions.a]\nidentity = []":                         "identity is empty",
		"[actions.a]\nidentity = [\"a..b\"]":                 "empty segment",
		"[outcomes]\napplied = [\"ok\"]\nunknown = [\"OK\"]": "both",
		"[actions.a\n": "x.toml",
	} {
		if _, err := Parse("x.toml", []byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	if _, err := Parse("x.json", []byte(`{"actions": {"a": {"identiy": ["x"]}}}`)); err == nil || !strings.Contains(err.Error(), "identiy") {
		t.Errorf("JSON unknown field: %v", err)
	}
}

// The default patterns take the other spellings of the same word; a
// pattern a user writes matches as written.
func TestMatchDefault(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"get_*", "get_balance", true},
		{"get_*", "getBalance", true},
		{"get_*", "GetBalance", true},
		{"get_*", "get-balance", true},
		{"get_*", "getÉtat", true},
		{"get_*", "getaway", false},
		{"get_*", "get", false},
		{"get_*", "Get-balance", false},
		{"get_*", "target_get", false},
		{"get_*", "forgetBalance", false},
		{"refund_*", "refundCharge", true},
		{"refund_*", "refunds", false},
		{"*_get", "balanceGet", false},
	} {
		if got := MatchDefault(c.pattern, c.name); got != c.want {
			t.Errorf("MatchDefault(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
	var cfg Config
	if !cfg.Resolve("refundCharge").Compensates {
		t.Error("refundCharge does not compensate with the default compensating actions")
	}
	cfg.Compensations.Actions = []string{"refund_*"}
	if cfg.Resolve("refundCharge").Compensates || !cfg.Resolve("refund_charge").Compensates {
		t.Error("a configured refund_* matches other than as written")
	}
}
