package main

import (
	"testing"
	"time"
)

func TestISOWeeks(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		week  string
		loc   *time.Location
		start string
		hours float64
	}{
		{"2026-W47", time.UTC, "2026-11-16T00:00:00Z", 168},
		{"2026W01", time.UTC, "2025-12-29T00:00:00Z", 168}, // week 1 starts in the year before
		{"2020-W53", time.UTC, "2020-12-28T00:00:00Z", 168},
		{"2026-W47", berlin, "2026-11-15T23:00:00Z", 168},
		{"2026-W13", berlin, "2026-03-22T23:00:00Z", 167}, // clocks go forward on 29 March
	} {
		monday, err := parseISOWeek(c.week, c.loc)
		if err != nil {
			t.Fatalf("%s: %v", c.week, err)
		}
		s := weekSpan(monday)
		if got := s.Start.UTC().Format(time.RFC3339); got != c.start || s.End.Sub(s.Start).Hours() != c.hours {
			t.Errorf("%s in %s: %s, %v h; want %s, %v h", c.week, c.loc, got, s.End.Sub(s.Start).Hours(), c.start, c.hours)
		}
	}
	for _, bad := range []string{"2026-W54", "2025-W53", "2026-47", "W47", "last week"} {
		if _, err := parseISOWeek(bad, time.UTC); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	pf := periodFlags{week: "last", tz: "UTC", now: "2026-11-23T06:00:00Z", trend: 2}
	cur, trend, err := pf.span()
	if err != nil || cur.Label != "2026-W47" || len(trend) != 2 || trend[0].Label != "2026-W45" || trend[1].Label != "2026-W46" {
		t.Errorf("last week on a Monday morning: %+v %+v %v", cur, trend, err)
	}
	pf.now = "2026-11-22T23:30:00Z" // Sunday night UTC is Monday in Berlin
	pf.tz = "Europe/Berlin"
	if cur, _, _ = pf.span(); cur.Label != "2026-W47" {
		t.Errorf("Berlin: %s", cur.Label)
	}
	for _, age := range []struct {
		in   string
		want time.Duration
	}{{"26w", 26 * 7 * 24 * time.Hour}, {"180d", 180 * 24 * time.Hour}, {"36h", 36 * time.Hour}} {
		if got, err := parseAge(age.in); err != nil || got != age.want {
			t.Errorf("parseAge(%s) = %v, %v", age.in, got, err)
		}
	}
}
