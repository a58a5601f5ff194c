package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// sparkline draws values as ▁▂▃▄▅▆▇█ from 0 to the largest value.
func sparkline(values []float64) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range values {
		i := 0
		if top > 0 {
			i = int(v/top*float64(len(levels)-1) + 0.5)
		}
		b.WriteRune(levels[i])
	}
	return b.String()
}

// trendSeries are the per-period values a trend table draws.
type trendSeries struct {
	labels                   []string
	calls, coverage, serious []float64 // serious: critical + high findings
}

func series(r *rules.Result) trendSeries {
	var t trendSeries
	for _, p := range r.Trend {
		t.labels = append(t.labels, p.Label)
		t.calls = append(t.calls, float64(p.Calls))
		cov := 0.0
		if p.Calls > 0 {
			cov = float64(p.KeyedCalls) / float64(p.Calls)
		}
		t.coverage = append(t.coverage, cov)
		t.serious = append(t.serious, float64(p.FindingsBySeverity[rules.Critical]+p.FindingsBySeverity[rules.High]))
	}
	return t
}

// actionTrend is one action type's coverage and findings over the trend.
type actionTrend struct {
	action             string
	coverage, findings []float64
}

func actionTrends(r *rules.Result) []actionTrend {
	names := map[string]bool{}
	for _, p := range r.Trend {
		for a := range p.Actions {
			names[a] = true
		}
	}
	var out []actionTrend
	for a := range names {
		at := actionTrend{action: a}
		for _, p := range r.Trend {
			s := p.Actions[a]
			at.coverage = append(at.coverage, s.KeyCoverage)
			at.findings = append(at.findings, float64(s.Findings))
		}
		out = append(out, at)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].action < out[j].action })
	return out
}

// newMark says whether a finding is new in a period report.
func newMark(r *rules.Result, f *rules.Finding) string {
	switch {
	case !r.Periodic:
		return ""
	case f.New:
		return "new"
	}
	return fmt.Sprintf("recurring, first seen %s", stamp(f.FirstSeen))
}
