package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/rules"
)

func week(start string, label string) rules.Span {
	s, _ := time.Parse(time.RFC3339, start)
	return rules.Span{Start: s, End: s.Add(7 * 24 * time.Hour), Label: label}
}

var (
	w45 = week("2026-11-02T00:00:00Z", "2026-W45")
	w46 = week("2026-11-09T00:00:00Z", "2026-W46")
	w47 = week("2026-11-16T00:00:00Z", "2026-W47")
)

// periodLog spans three weeks; each line says where it should be reported.
var periodLog = []string{
	// 1-2: a keyless chain crossing Sunday→Monday between W46 and W47, its
	// second email sent in W47: W47 only (the duplicate happened then)
	c("2026-11-15T23:58:00Z", "send_email", "", "m1", `"args":{"to":"a"}`),
	c("2026-11-16T00:03:00Z", "send_email", "", "m2", `"args":{"to":"a"}`),
	// 3-4: a chain starting Sunday night of W47, its second email in W48:
	// not in W47 (W48's report has it)
	c("2026-11-22T23:55:00Z", "send_email", "", "m3", `"args":{"to":"b"}`),
	c("2026-11-23T00:02:00Z", "send_email", "", "m4", `"args":{"to":"b"}`),
	// 5-6: a key answered in W45 and again, differently, in W47: W47, new
	c("2026-11-03T10:00:00Z", "charge", "k1", "r1", `"effect":"created"`),
	c("2026-11-17T10:00:00Z", "charge", "k1", "r2", `"effect":"noop"`),
	// 7-9: a key with two responses in W46 and a third in W47: both weeks, recurring in W47
	c("2026-11-10T10:00:00Z", "charge", "k2", "r3", `"effect":"created"`),
	c("2026-11-10T10:01:00Z", "charge", "k2", "r4", `"effect":"noop"`),
	c("2026-11-18T10:00:00Z", "charge", "k2", "r5", `"effect":"noop"`),
	// 10-11: keyless calls of "post" in W46 and W47: missing-key recurring in W47
	c("2026-11-11T10:00:00Z", "post", "", "p1", `"args":{"i":1}`),
	c("2026-11-19T10:00:00Z", "post", "", "p2", `"args":{"i":2}`),
	// 12: keyless "ping" only in W47: missing-key new
	c("2026-11-19T11:00:00Z", "ping", "", "q1", `"args":{"i":1}`),
	// 13-14: "book" fully keyed with effects in W46 (score 3), unkeyed in W47 (score 0)
	c("2026-11-12T10:00:00Z", "book", "b1", "x1", `"effect":"created"`),
	c("2026-11-20T10:00:00Z", "book", "", "x2", `"effect":"created"`, `"args":{"i":3}`),
	// 15: untimed: counted in the period it is ingested in (the test's
	// clock: not W47)
	c("", "charge", "k9", "r9"),
	// 16-18: a chain crossing into W47 that W46's report sees deduped (16-17,
	// one response id, up to a window past its end) and whose third call,
	// past that window, sent a second notice: low in W46, high and new in W47
	c("2026-11-15T23:55:00Z", "notify", "", "n1", `"args":{"to":"c"}`),
	c("2026-11-16T00:04:00Z", "notify", "", "n1", `"args":{"to":"c"}`),
	c("2026-11-16T00:13:00Z", "notify", "", "n2", `"args":{"to":"c"}`),
	// 19-20: a key answered in W47 and again, differently, by a call
	// without ts: W47 (the period of the key's first timed call), new
	c("2026-11-18T11:00:00Z", "refund", "k5", "f1"),
	c("", "refund", "k5", "f2"),
	// 21-23: a key answered in W46, again by an untimed call, and a third
	// time in W47: new in W46, recurring in W47 (first seen in W46)
	c("2026-11-10T12:00:00Z", "payout", "k6", "o1"),
	c("", "payout", "k6", "o2"),
	c("2026-11-18T12:00:00Z", "payout", "k6", "o3"),
}

type got struct {
	rule string
	new  bool
	line []int64
}

func periodFindings(res *rules.Result) []got {
	var out []got
	for _, f := range res.Findings {
		out = append(out, got{f.Rule, f.New, lines(f)})
	}
	return out
}

func TestPeriodReports(t *testing.T) {
	files := map[string][]string{"a.jsonl": periodLog}
	res := auditWith(t, rules.Options{Window: 10 * time.Minute, Period: &w47, Trend: []rules.Span{w45, w46}}, files)
	want := []got{
		{"same-key-different-response", true, []int64{5, 6}},
		{"same-key-different-response", false, []int64{7, 8, 9}},
		{"same-key-different-response", false, []int64{21, 23, 22}}, // untimed calls list last
		{"same-key-different-response", true, []int64{19, 20}},
		{"repeat-without-key", true, []int64{16, 17, 18}},
		{"repeat-without-key", true, []int64{1, 2}},
		{"missing-key", false, []int64{2, 3}}, // send_email was keyless in W46 already
		{"missing-key", false, []int64{17, 18}},
		{"missing-key", false, []int64{11}},
		{"missing-key", true, []int64{12}},
		{"missing-key", true, []int64{14}},
	}
	if g := periodFindings(res); !reflect.DeepEqual(g, want) {
		t.Errorf("W47 findings\n got  %v\n want %v", g, want)
	}
	if res.Summary.Calls != 11 || res.Summary.NewFindings != 6 || res.Summary.UntimedCalls != 0 {
		t.Errorf("W47 summary %+v", res.Summary)
	}
	if res.Period.Label == nil || *res.Period.Label != "2026-W47" || !res.Period.Start.Equal(w47.Start) {
		t.Errorf("period %+v", res.Period)
	}

	res46 := auditWith(t, rules.Options{Window: 10 * time.Minute, Period: &w46}, files)
	want46 := []got{
		{"same-key-different-response", true, []int64{7, 8}}, // evidence: calls up to a window past the week
		{"same-key-different-response", true, []int64{21, 22}},
		{"missing-key", true, []int64{10}},
		{"repeat-without-key", true, []int64{16, 17}},
		{"missing-key", true, []int64{16}},
		{"missing-key", true, []int64{1}},
	}
	if g := periodFindings(res46); !reflect.DeepEqual(g, want46) {
		t.Errorf("W46 findings\n got  %v\n want %v", g, want46)
	}
	// the notices: deduped as far as W46's report sees, a second notice in W47
	severity := func(r *rules.Result, line int64) rules.Severity {
		for _, f := range findings(r, "repeat-without-key") {
			if lines(f)[0] == line {
				return f.Severity
			}
		}
		return 0
	}
	if s46, s47 := severity(res46, 16), severity(res, 16); s46 != rules.Low || s47 != rules.High {
		t.Errorf("the notice chain is %q in W46, %q in W47; want low, then high", s46, s47)
	}

	// trend: W45, W46, W47
	var labels []string
	var calls []int64
	var sev []map[rules.Severity]int
	for _, p := range res.Trend {
		labels = append(labels, p.Label)
		calls = append(calls, p.Calls)
		sev = append(sev, p.FindingsBySeverity)
	}
	if !reflect.DeepEqual(labels, []string{"2026-W45", "2026-W46", "2026-W47"}) || !reflect.DeepEqual(calls, []int64{1, 7, 11}) {
		t.Errorf("trend %v %v", labels, calls)
	}
	wantSev := []map[rules.Severity]int{
		{},
		{rules.Critical: 2, rules.Low: 3}, // the chains crossing into W47 count there
		{rules.Critical: 4, rules.High: 2, rules.Low: 5},
	}
	if !reflect.DeepEqual(sev, wantSev) {
		t.Errorf("trend severities %v, want %v", sev, wantSev)
	}
	if !reflect.DeepEqual(res.ScoreChanges, []rules.ScoreChange{{ActionType: "book", From: 3, To: 0}}) {
		t.Errorf("score changes %+v", res.ScoreChanges)
	}
}

func TestFindingIDsAndBaseline(t *testing.T) {
	files := map[string][]string{"a.jsonl": periodLog}
	first := auditWith(t, rules.Options{Window: 10 * time.Minute, Period: &w47}, files)
	// the same findings, read from another file name in another database: same ids
	again := auditWith(t, rules.Options{Window: 10 * time.Minute, Period: &w47}, map[string][]string{"renamed.jsonl": periodLog})
	var ids, ids2 []string
	for i := range first.Findings {
		ids = append(ids, first.Findings[i].ID)
		ids2 = append(ids2, again.Findings[i].ID)
	}
	if !reflect.DeepEqual(ids, ids2) || len(ids) != 11 {
		t.Fatalf("ids differ or missing: %v %v", ids, ids2)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] || len(id) != 16 {
			t.Errorf("id %q repeated or malformed", id)
		}
		seen[id] = true
	}
	base := map[string]rules.Baselined{ids[0]: {}, ids[3]: {}}
	res := auditWith(t, rules.Options{Window: 10 * time.Minute, Period: &w47, Baseline: base}, files)
	if res.Summary.Suppressed != 2 || res.Summary.FindingsBySeverity[rules.Critical] != 2 || res.Summary.FindingsBySeverity[rules.High] != 2 || res.Summary.FindingsBySeverity[rules.Low] != 5 {
		t.Errorf("baseline: %+v", res.Summary)
	}
	for _, f := range res.Findings {
		if _, ok := base[f.ID]; f.Suppressed != ok {
			t.Errorf("%s suppressed=%v", f.ID, f.Suppressed)
		}
	}
}

// ingestAt opens a database in memory and returns it with a function that
// writes lines as a file of a temporary directory and ingests it as if at
// the given time (the time its calls without ts are placed at).
func ingestAt(t *testing.T) (*ingest.DB, func(name string, at time.Time, lines ...string)) {
	t.Helper()
	dir := t.TempDir()
	db, err := ingest.Open(context.Background(), "", ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, func(name string, at time.Time, lines ...string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		db.Now = at
		if _, err := db.IngestFile(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

// A finding made only of calls without ts is placed, in period reports, at
// the ingest time of its offending call: a key answered twice by untimed
// calls is in the report of the week they were read in, and in no other.
func TestUntimedFindingsAtIngestTime(t *testing.T) {
	ctx := context.Background()
	db, read := ingestAt(t)
	in47 := w47.Start.Add(50 * time.Hour)
	in48 := w47.End.Add(time.Hour)
	// lines 1-2 read in W47: a key answered twice (critical); line 3: a
	// timed call of another key in W47 (no finding)
	read("a.jsonl", in47, c("", "charge", "k8", "r10"), c("", "charge", "k8", "r11"), c("2026-11-17T10:00:00Z", "charge", "k7", "r7"))
	// read in W48: the key answered a third time, untimed again
	read("b.jsonl", in48, c("", "charge", "k8", "r12"))

	report := func(p *rules.Span) []rules.Finding {
		t.Helper()
		res, err := rules.Audit(ctx, db.Conn, rules.Options{Window: 10 * time.Minute, Period: p})
		if err != nil {
			t.Fatal(err)
		}
		// the untimed calls count in the period they were read in
		label := "audit"
		if p != nil {
			label = p.Label
		}
		want := map[string][2]int64{"2026-W46": {0, 0}, "2026-W47": {3, 2}, "2026-W48": {1, 1}, "audit": {4, 3}}[label]
		if res.Summary.Calls != want[0] || res.Summary.UntimedCalls != want[1] {
			t.Errorf("%s: %d calls, %d untimed; want %d, %d", label, res.Summary.Calls, res.Summary.UntimedCalls, want[0], want[1])
		}
		return findings(res, "same-key-different-response")
	}
	w48 := week("2026-11-23T00:00:00Z", "2026-W48")
	for _, tc := range []struct {
		period *rules.Span
		found  bool
		new    bool
		first  time.Time
	}{
		{&w46, false, false, time.Time{}},
		{&w47, true, true, in47},
		{&w48, true, false, in47}, // recurring: the third response id was read in W48
		{nil, true, false, time.Time{}},
	} {
		name := "audit"
		if tc.period != nil {
			name = tc.period.Label
		}
		fs := report(tc.period)
		if !tc.found {
			if len(fs) != 0 {
				t.Errorf("%s: %d findings, want none", name, len(fs))
			}
			continue
		}
		if len(fs) != 1 {
			t.Fatalf("%s: %d findings, want 1", name, len(fs))
		}
		f := fs[0]
		if f.Severity != rules.Critical || f.New != tc.new || len(f.Calls) != 3 {
			t.Errorf("%s: %s new=%v with %d calls; want critical new=%v with 3", name, f.Severity, f.New, len(f.Calls), tc.new)
		}
		switch {
		case tc.first.IsZero() && f.FirstSeen != nil:
			t.Errorf("%s: first seen %v; an audit places untimed calls at no time", name, f.FirstSeen)
		case !tc.first.IsZero() && (f.FirstSeen == nil || !f.FirstSeen.Equal(tc.first)):
			t.Errorf("%s: first seen %v, want %v (when its second response id was read)", name, f.FirstSeen, tc.first)
		}
	}
	// the trend places them the same way
	res, err := rules.Audit(ctx, db.Conn, rules.Options{Window: 10 * time.Minute, Period: &w48, Trend: []rules.Span{w46, w47}})
	if err != nil {
		t.Fatal(err)
	}
	var calls []int64
	var critical []int
	for _, p := range res.Trend {
		calls = append(calls, p.Calls)
		critical = append(critical, p.FindingsBySeverity[rules.Critical])
	}
	if !reflect.DeepEqual(calls, []int64{0, 3, 1}) || !reflect.DeepEqual(critical, []int{0, 1, 1}) {
		t.Errorf("trend W46-W48: calls %v, critical %v; want [0 3 1], [0 1 1]", calls, critical)
	}
}

// Untimed calls are placed in the order they were read, not by their
// sources' names: a key answered once by a file read in W47 and again by a
// file read in W48 whose name sorts first (or by the new content of a log
// rotated in place, numbered from line 1 again) is W48's finding, new: the
// W47 report, written before, could not have it. And an action whose
// untimed calls lack keys week after week is recurring, not new each week.
func TestUntimedFindingsInIngestOrder(t *testing.T) {
	ctx := context.Background()
	db, read := ingestAt(t)
	w48 := week("2026-11-23T00:00:00Z", "2026-W48")
	in47, in48 := w47.Start.Add(50*time.Hour), w48.Start.Add(50*time.Hour)
	read("b.jsonl", in47, c("", "charge", "k1", "r1"), c("", "send", "", "m1"))
	read("app.log", in47, c("", "book", "", "x0"), c("", "book", "k2", "x1"))
	read("a.jsonl", in48, c("", "charge", "k1", "r2"), c("", "send", "", "m2"))
	read("app.log", in48, c("", "book", "k2", "x2")) // rotated: new content from line 1
	type placed struct {
		rule, action string
		new          bool
	}
	for _, tc := range []struct {
		p    *rules.Span
		want []placed
	}{
		{&w47, []placed{{"missing-key", "book", true}, {"missing-key", "send", true}}},
		{&w48, []placed{{"same-key-different-response", "book", true}, {"same-key-different-response", "charge", true}, {"missing-key", "send", false}}},
	} {
		res, err := rules.Audit(ctx, db.Conn, rules.Options{Window: 10 * time.Minute, Period: tc.p})
		if err != nil {
			t.Fatal(err)
		}
		var got []placed
		for _, f := range res.Findings {
			got = append(got, placed{f.Rule, f.ActionType, f.New})
		}
		sort.Slice(got, func(i, j int) bool {
			if got[i].rule != got[j].rule {
				return got[i].rule > got[j].rule
			}
			return got[i].action < got[j].action
		})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got  %v\n want %v", tc.p.Label, got, tc.want)
		}
	}
}

// A last line without its newline is read again, whole, when its file
// grows: its calls keep the time they were first read. A key answered
// twice by untimed calls, the second on that line, is W47's finding and
// not W48's again (where it would page a second time, as new).
func TestUntimedReReadKeepsIngestTime(t *testing.T) {
	ctx := context.Background()
	db, err := ingest.Open(ctx, "", ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := filepath.Join(t.TempDir(), "calls.jsonl")
	write := func(content string, at time.Time) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		db.Now = at
		if _, err := db.IngestFile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	w48, w49 := week("2026-11-23T00:00:00Z", "2026-W48"), week("2026-11-30T00:00:00Z", "2026-W49")
	first := c("", "charge", "k1", "r1") + "\n" + c("", "charge", "k1", "r2") // no newline yet
	write(first, w47.Start.Add(50*time.Hour))
	write(first+"\n"+c("", "send", "", "m1")+"\n", w48.Start.Add(50*time.Hour))
	write(first+"\n"+c("", "send", "", "m1")+"\n"+c("", "send", "", "m2"), w48.Start.Add(60*time.Hour))
	// a line re-read while still unterminated, then again once complete:
	// its first reading's time still
	second := first + "\n" + c("", "send", "", "m1") + "\n" + c("", "send", "", "m2") + "\n" + c("", "refund", "k2", "f1") + "\n" + c("", "refund", "k2", "f2")
	write(second, w48.Start.Add(70*time.Hour))
	write(second+"  ", w48.End.Add(time.Hour))
	write(second+"  \n", w48.End.Add(2*time.Hour))
	for _, tc := range []struct {
		p            *rules.Span
		found        bool
		calls, sends int64
	}{
		{&w47, true, 2, 0},
		{&w48, false, 4, 2}, // and the refunds' double charge, not W49's
		{&w49, false, 0, 0},
	} {
		res, err := rules.Audit(ctx, db.Conn, rules.Options{Window: 10 * time.Minute, Period: tc.p})
		if err != nil {
			t.Fatal(err)
		}
		var charges int
		for _, f := range findings(res, "same-key-different-response") {
			if f.ActionType == "charge" {
				charges++
			} else if tc.p.Label != "2026-W48" {
				t.Errorf("%s: the refunds' double charge (read in W48)", tc.p.Label)
			}
		}
		if (charges == 1) != tc.found || charges > 1 {
			t.Errorf("%s: %d double charges of k1, want found=%v", tc.p.Label, charges, tc.found)
		}
		var sends int64
		for _, a := range res.Actions {
			if a.ActionType == "send" {
				sends = a.Calls
			}
		}
		if res.Summary.Calls != tc.calls || sends != tc.sends {
			t.Errorf("%s: %d calls (%d send); want %d (%d)", tc.p.Label, res.Summary.Calls, sends, tc.calls, tc.sends)
		}
	}
}

// In a period report a key's untimed calls count as its earliest (when they
// happened is unknown): a finding is dated by the timed call that made it,
// which its period's report sees. Here a charge refused in W47, applied in
// W48, and applied again by an untimed call: W48's double charge (its
// untimed call used to be dated at the key's first timed call, W47, whose
// report cannot see the W48 charge: no weekly report had it). And a replay
// executed again (its order matters: untimed calls come last, as in an
// audit): refused twice in W47, applied in W48, replayed by an untimed call
// ingested in W48 that created again: W48's (it was dated at the key's
// first timed call, W47, whose report cannot see the W48 call either).
func TestUntimedCallsFirstInPeriods(t *testing.T) {
	db, read := ingestAt(t)
	w48 := week("2026-11-23T00:00:00Z", "2026-W48")
	read("a.jsonl", w48.Start.Add(24*time.Hour),
		c("2026-11-22T23:59:48Z", "charge_card", "k26", "cha_56", `"status":422`),
		c("2026-11-23T01:36:40Z", "charge_card", "k26", "cha_57", `"status":"ok"`),
		c("", "charge_card", "k26", "cha_58", `"status":"ok"`),
		c("2026-11-20T10:00:00Z", "book", "k3", "", `"status":409`, `"effect":"created"`),
		c("2026-11-20T10:01:00Z", "book", "k3", "", `"status":409`, `"effect":"created"`),
		c("", "book", "k3", "", `"status":"ok"`, `"effect":"created"`),
		c("2026-11-24T10:00:00Z", "book", "k3", "", `"status":"ok"`, `"effect":"created"`))
	for _, tc := range []struct {
		p    *rules.Span
		want []got
	}{
		{&w47, nil},
		{&w48, []got{{"same-key-different-response", true, []int64{1, 2, 3}}, {"non-noop-replay", true, []int64{4, 5, 7, 6}}}},
	} {
		res, err := rules.Audit(context.Background(), db.Conn, rules.Options{Window: 10 * time.Minute, Period: tc.p})
		if err != nil {
			t.Fatal(err)
		}
		if g := periodFindings(res); !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%s:\n got  %v\n want %v", tc.p.Label, g, tc.want)
		}
	}
}
