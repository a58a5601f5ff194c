package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/idemaudit/idemaudit/internal/sample"
)

// The fixture cmd/idemaudit/testdata/identity/airline.jsonl was written for
// these tests: each block of lines is one case of issue 6, listed below with
// the finding it must cause (or not).
const (
	fixture    = "cmd/idemaudit/testdata/identity/airline.jsonl"
	fixtureCfg = "cmd/idemaudit/testdata/identity/idemaudit.toml"
)

type idFinding struct {
	Rule          string   `json:"rule"`
	Severity      string   `json:"severity"`
	ActionType    string   `json:"action_type"`
	Identity      []string `json:"identity"`
	SideEffects   int      `json:"side_effects"`
	Extra         *int     `json:"extra_side_effects"`
	Remaining     *int     `json:"extra_side_effects_remaining"`
	Compensated   bool     `json:"compensated"`
	Before        *string  `json:"severity_before_compensation"`
	Compensations []struct {
		Compensates string `json:"compensates"`
		ActionType  string `json:"action_type"`
		Line        int    `json:"line"`
	} `json:"compensations"`
	Calls []struct {
		Line    int    `json:"line"`
		Outcome string `json:"outcome"`
	} `json:"calls"`
}

type idReport struct {
	Findings []idFinding `json:"findings"`
	Actions  []struct {
		ActionType string `json:"action_type"`
		Identity   string `json:"identity"`
		Repeatable bool   `json:"repeatable"`
	} `json:"actions"`
	ReadOnly []struct {
		ActionType string `json:"action_type"`
		Calls      int    `json:"calls"`
	} `json:"read_only"`
	Config  *string `json:"config"`
	Summary struct {
		QuietRejections int `json:"quiet_rejections"`
	} `json:"summary"`
}

func auditJSON(t *testing.T, args ...string) idReport {
	t.Helper()
	r := run(t, nil, append([]string{"audit", "-f", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep idReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// lines of a finding's evidence, for matching findings to fixture cases.
func (f idFinding) lines() []int {
	var out []int
	for _, c := range f.Calls {
		out = append(out, c.Line)
	}
	return out
}

// find returns the finding of rule whose evidence is exactly these lines.
func find(rep idReport, rule string, lines ...int) *idFinding {
	for i := range rep.Findings {
		if f := &rep.Findings[i]; f.Rule == rule && reflect.DeepEqual(f.lines(), lines) {
			return f
		}
	}
	return nil
}

func TestIdentityOutcomesCompensations(t *testing.T) {
	with := auditJSON(t, "--config", fixtureCfg, fixture)
	without := auditJSON(t, fixture)

	// lines 1-2: the same trip booked twice for one user, the second time
	// with another payment method: caught with identity, missed without
	f := find(with, "repeat-without-key", 1, 2)
	if f == nil || f.Severity != "high" || !reflect.DeepEqual(f.Identity, []string{"user_id", "flights", "passengers"}) {
		t.Errorf("near-duplicate booking with identity: %+v", f)
	}
	if f := find(without, "repeat-without-key", 1, 2); f != nil {
		t.Errorf("whole-args fingerprints must not see the near-duplicate (different payment): %+v", f)
	}

	// lines 3-4: rejected (422) then applied: a correct retry, low
	f = find(with, "retry-after-rejection", 3, 4)
	if f == nil || f.Severity != "low" || f.SideEffects != 1 || f.Calls[0].Outcome != "rejected" || f.Calls[1].Outcome != "applied" {
		t.Errorf("rejected-then-applied: %+v", f)
	}
	for _, rep := range []idReport{with, without} {
		for _, g := range rep.Findings {
			if g.Severity != "low" && (reflect.DeepEqual(g.lines(), []int{3, 4}) || reflect.DeepEqual(g.lines(), []int{22, 23})) {
				t.Errorf("a retry of a rejected request must never be above low: %+v", g)
			}
		}
	}

	// lines 5-6: a 504 then ok: "the 504 lied", high
	f = find(with, "repeat-without-key", 5, 6)
	if f == nil || f.Severity != "high" || f.Calls[0].Outcome != "unknown" || f.SideEffects != 2 {
		t.Errorf("unknown-then-applied: %+v", f)
	}

	// lines 7-9 booked three times, 10-11 cancel res_5 and res_6: every
	// extra undone, compensated and low
	f = find(with, "repeat-without-key", 7, 8, 9)
	if f == nil || !f.Compensated || f.Severity != "low" || f.Before == nil || *f.Before != "high" ||
		f.SideEffects != 3 || *f.Extra != 2 || *f.Remaining != 0 || len(f.Compensations) != 2 ||
		f.Compensations[0].Line != 10 || f.Compensations[0].Compensates != "res_5" || f.Compensations[1].Compensates != "res_6" {
		t.Errorf("triple booking with two cancels: %+v", f)
	}

	// lines 12-14 booked three times, 15 cancels res_9, 16 tries to cancel
	// res_8 and is rejected: one extra remains, the finding stays high
	f = find(with, "repeat-without-key", 12, 13, 14)
	if f == nil || f.Compensated || f.Severity != "high" || *f.Extra != 2 || *f.Remaining != 1 ||
		len(f.Compensations) != 1 || f.Compensations[0].Line != 15 {
		t.Errorf("triple booking with one cancel (and one rejected cancel): %+v", f)
	}

	// lines 17-21: toggles and reboots are repeatable: no repeat finding
	for _, g := range with.Findings {
		if (g.ActionType == "toggle_data" || g.ActionType == "reboot_device") && g.Rule != "missing-key" {
			t.Errorf("a repeatable action got %s", g.Rule)
		}
	}
	if find(without, "repeat-without-key", 17, 18) == nil || find(without, "repeat-without-key", 19, 20, 21) == nil {
		t.Error("the control: without the config the toggles and reboots are repeats")
	}

	// lines 22-23: rejected twice: low, "kept failing"
	if f := find(with, "retry-after-rejection", 22, 23); f == nil || f.Severity != "low" || f.SideEffects != 0 {
		t.Errorf("rejected-only chain: %+v", f)
	}

	// lines 24-25: get_reservation is read-only: left out, and said
	for _, g := range with.Findings {
		if g.ActionType == "get_reservation" {
			t.Errorf("a read-only action got a finding: %+v", g)
		}
	}
	if len(with.ReadOnly) != 1 || with.ReadOnly[0].ActionType != "get_reservation" || with.ReadOnly[0].Calls != 2 {
		t.Errorf("read-only actions in the report: %+v", with.ReadOnly)
	}
	if find(without, "repeat-without-key", 24, 25) == nil {
		t.Error("the control: without the config the two reads are a repeat")
	}

	// the report states the identity of every action, and the config used
	ids := map[string]string{}
	for _, a := range with.Actions {
		ids[a.ActionType] = a.Identity
		if a.Repeatable != (a.ActionType == "toggle_data" || a.ActionType == "reboot_device") {
			t.Errorf("%s repeatable = %v", a.ActionType, a.Repeatable)
		}
	}
	if ids["book_reservation"] != "user_id, flights, passengers" || ids["charge_card"] != "all args" {
		t.Errorf("identities %v", ids)
	}
	if with.Config == nil || *with.Config != fixtureCfg || without.Config != nil {
		t.Errorf("config %v / %v", with.Config, without.Config)
	}

	// --quiet-rejections leaves out both rejection chains, and says so
	quiet := auditJSON(t, "--config", fixtureCfg, "--quiet-rejections", fixture)
	if len(quiet.Findings) != len(with.Findings)-2 || quiet.Summary.QuietRejections != 2 {
		t.Errorf("--quiet-rejections: %d findings (from %d), %d left out", len(quiet.Findings), len(with.Findings), quiet.Summary.QuietRejections)
	}
	for _, g := range quiet.Findings {
		if g.Rule == "retry-after-rejection" {
			t.Error("--quiet-rejections kept one")
		}
	}
}

// --identity on the command line does what the file does, for one action.
func TestIdentityFlag(t *testing.T) {
	rep := auditJSON(t, "--identity", "book_*=user_id,flights,passengers", fixture)
	if f := find(rep, "repeat-without-key", 1, 2); f == nil || f.Severity != "high" {
		t.Errorf("--identity: %+v", f)
	}
	r := run(t, nil, "audit", "--identity", "book_reservation", fixture)
	if r.code != 2 || !strings.Contains(r.stderr, "ACTION=path") {
		t.Errorf("a bad --identity: exit %d, %s", r.code, r.stderr)
	}
}

// The configuration file: found in the working directory, strict about
// unknown settings, and a kept database refuses other fingerprint settings.
func TestConfigFileAndDatabase(t *testing.T) {
	dir := t.TempDir()
	log, err := os.ReadFile(filepath.Join(repoRoot, fixture))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(repoRoot, fixtureCfg))
	if err != nil {
		t.Fatal(err)
	}
	logPath := writeFile(t, dir, "airline.jsonl", string(log))
	runIn := func(wd string, args ...string) result {
		t.Helper()
		old := repoRoot
		repoRoot = wd
		defer func() { repoRoot = old }()
		return run(t, nil, args...)
	}
	// no file: defaults; idemaudit.toml in the working directory: used
	plain := runIn(dir, "audit", "-f", "json", logPath)
	writeFile(t, dir, "idemaudit.toml", string(cfg))
	found := runIn(dir, "audit", "-f", "json", logPath)
	if plain.code != 0 || found.code != 0 || !strings.Contains(found.stdout, `"config": "idemaudit.toml"`) || strings.Contains(plain.stdout, `"config": "idemaudit.toml"`) {
		t.Fatalf("default config file: %d %d %s", plain.code, found.code, found.stderr)
	}
	// the same settings as JSON give the same report
	jsonCfg := writeFile(t, dir, "c.json", `{"actions": {"book_reservation": {"identity": ["user_id", "flights", "passengers"]},
		"toggle_*": {"repeatable": true}, "reboot_device": {"repeatable": true}, "get_*": {"read_only": true}}}`)
	viaJSON := runIn(dir, "audit", "-f", "json", "--config", jsonCfg, logPath)
	if strip(viaJSON.stdout) != strip(found.stdout) {
		t.Errorf("the JSON config gives another report than the TOML one")
	}
	// both default files: ambiguous, refused
	writeFile(t, dir, "idemaudit.json", "{}")
	if r := runIn(dir, "audit", logPath); r.code != 2 || !strings.Contains(r.stderr, "both idemaudit.toml and idemaudit.json") {
		t.Errorf("two default files: exit %d %s", r.code, r.stderr)
	}
	os.Remove(filepath.Join(dir, "idemaudit.json"))
	// a misspelt setting is an error naming it, never silently ignored
	bad := writeFile(t, dir, "bad.toml", "[actions.book_reservation]\nidentiy = [\"user_id\"]\n")
	if r := runIn(dir, "audit", "--config", bad, logPath); r.code != 2 || !strings.Contains(r.stderr, "identiy") {
		t.Errorf("unknown setting: exit %d %s", r.code, r.stderr)
	}

	// a kept database remembers its fingerprint settings
	db := filepath.Join(dir, "k.duckdb")
	if r := runIn(dir, "ingest", "--db", db, logPath); r.code != 0 {
		t.Fatalf("ingest: %s", r.stderr)
	}
	other := writeFile(t, dir, "other.toml", "[actions.book_reservation]\nidentity = [\"user_id\"]\n")
	for _, args := range [][]string{
		{"ingest", "--db", db, "--config", other, logPath},
		{"report", "--db", db, "--config", other, "--week", "2026-W47"},
	} {
		r := runIn(dir, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "other fingerprint settings") {
			t.Errorf("%s with other identity settings: exit %d, %s", args[0], r.code, r.stderr)
		}
	}
	// settings that do not touch fingerprints (outcomes, repeatable) may change
	relaxed := writeFile(t, dir, "relaxed.toml", string(cfg)+"\n[outcomes]\nrejected = [\"card_declined\"]\n")
	if r := runIn(dir, "report", "--db", db, "--config", relaxed, "--week", "2026-W47", "-f", "json"); r.code != 0 {
		t.Errorf("report with other outcome settings: %s", r.stderr)
	}
	// prune never reads the configuration
	if r := runIn(dir, "prune", "--db", db, "--config", other, "--keep", "1w"); r.code != 2 {
		t.Errorf("prune takes no --config: exit %d", r.code)
	}
}

// strip removes the config line, the one line two config files may differ in.
func strip(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, `"config":`) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestIdentitySuggest(t *testing.T) {
	r := run(t, nil, "identity", "--suggest", "-f", "json", fixture)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Actions []struct {
			ActionType string   `json:"action_type"`
			Chains     int      `json:"chains"`
			Identity   []string `json:"suggested_identity"`
			Paths      []struct {
				Path     string `json:"path"`
				Constant int    `json:"constant_in_chains"`
				Distinct int    `json:"distinct_values"`
			} `json:"paths"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	for _, a := range out.Actions {
		if a.ActionType != "book_reservation" {
			continue
		}
		// five chains (sessions s1, s2, s4, s5, s7); the payment changes
		// within four of them, the trip and the user never do
		if a.Chains != 5 || !reflect.DeepEqual(a.Identity, []string{"flights", "passengers", "user_id"}) {
			t.Errorf("book_reservation: %d chains, identity %q", a.Chains, a.Identity)
		}
		for _, p := range a.Paths {
			if p.Path == "payment_id" && (p.Constant != 1 || p.Distinct != 11) {
				t.Errorf("payment_id evidence %+v", p)
			}
		}
		// the table says the same and prints a snippet, applying nothing
		tab := run(t, nil, "identity", "--suggest", fixture)
		if !strings.Contains(tab.stdout, "[actions.\"book_reservation\"]\nidentity = [\"flights\", \"passengers\", \"user_id\"]") ||
			!strings.Contains(tab.stdout, "nothing is applied") {
			t.Errorf("table output:\n%s", tab.stdout)
		}
		return
	}
	t.Fatal("no book_reservation in the suggestions")
}

// The checked-in sample configuration is the one idemaudit sample writes
// (make sample rewrites both).
func TestSampleConfigCheckedIn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "sample-logs", "idemaudit.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != sample.SampleConfig {
		t.Error("sample-logs/idemaudit.toml differs from sample.SampleConfig: run make sample")
	}
}
