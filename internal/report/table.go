package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// Table writes the report for a terminal. Log values pass through termSafe:
// no escape sequence or control character from a log reaches the terminal.
type Table struct{}

const (
	tableEvidenceRows  = 10
	tableMalformedRows = 10
	tableCellMax       = 60 // runes of one log value in a cell
	tableMessageMax    = 300
)

func newTable(w io.Writer, header ...any) *tablewriter.Table {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off), // keep header text as written
		tablewriter.WithRowAutoWrap(tw.WrapNone), // values are cut by termSafe instead
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		// Widths must not depend on the locale: by default tablewriter
		// measures box-drawing characters, "—" and "…" as two columns when
		// LANG is Chinese, Japanese or Korean, so the same result would
		// render differently (and break the goldens) on another machine.
		tablewriter.WithEastAsian(tw.Off),
	)
	t.Header(header...)
	return t
}

// ptr renders an optional value; absent is an em dash, and a value that is
// an em dash is written \u2014, so an absent key never reads like the key
// "—" (visible reads it back one way: a literal \u2014 is doubled).
func ptr(s *string) string {
	if s == nil {
		return "—"
	}
	if *s == "—" {
		return `\u2014`
	}
	return termSafe(*s, tableCellMax)
}

func (Table) Write(w io.Writer, r *rules.Result) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	s := r.Summary
	p("idempotency audit")
	if r.Period.Label != nil {
		p(" %s", termSafe(*r.Period.Label, tableCellMax))
	}
	p(": %s to %s, window %s\n", stamp(r.Period.Start), stamp(r.Period.End), r.Window)
	p("%s (%s keyed) from %s", plural(s.Calls, "call"), percent(s.KeyedCalls, s.Calls), plural(int64(len(r.Inputs)), "input"))
	if s.MalformedLines > 0 {
		p(", %s skipped", plural(s.MalformedLines, "malformed line"))
	}
	if s.UnfingerprintedCalls > 0 {
		p(", %d without args or session", s.UnfingerprintedCalls)
	}
	if s.UntimedCalls > 0 {
		p(", %d without ts", s.UntimedCalls)
	}
	if s.Collapsed > 0 {
		p(", %s collapsed", plural(s.Collapsed, "telemetry duplicate"))
	}
	p("\nfindings:")
	for _, sev := range rules.Severities {
		p(" %d %s", s.FindingsBySeverity[sev], sev)
	}
	if r.Periodic {
		p(" (%d new)", s.NewFindings)
	}
	if s.Suppressed > 0 {
		p(", %d suppressed by the baseline", s.Suppressed)
	}
	if s.QuietRejections > 0 {
		p(", %d retry-after-rejection left out", s.QuietRejections)
	}
	p("\n")
	if r.Config != "" {
		p("config: %s\n", termSafe(r.Config, tableCellMax))
	}
	if len(r.ReadOnly) > 0 {
		var calls int64
		for _, a := range r.ReadOnly {
			calls += a.Calls
		}
		p("read-only, not audited: %s of %s\n", plural(calls, "call"), plural(int64(len(r.ReadOnly)), "action type"))
	}
	if r.Periodic && len(r.Trend) > 1 {
		t := series(r)
		p("trend %s…%s: calls %s  key coverage %s  critical+high %s\n", termSafe(t.labels[0], 20), termSafe(t.labels[len(t.labels)-1], 20),
			sparkline(t.calls), sparkline(t.coverage), sparkline(t.serious))
		for _, a := range actionTrends(r) {
			p("  %s key coverage %s %3.0f%%  findings %s %d\n", termFit(a.action, 24), sparkline(a.coverage),
				a.coverage[len(a.coverage)-1]*100, sparkline(a.findings), int(a.findings[len(a.findings)-1]))
		}
	}
	for _, c := range r.ScoreChanges {
		p("score of %s: %d → %d since the previous period\n", termSafe(c.ActionType, tableCellMax), c.From, c.To)
	}
	p("\n")

	if len(r.Actions) > 0 {
		t := newTable(b, "action type", "calls", "keyed", "coverage", "findings", "score", "identity")
		for i, a := range r.Actions {
			row := []any{termSafe(a.ActionType, tableCellMax), strconv.FormatInt(a.Calls, 10), strconv.FormatInt(a.KeyedCalls, 10),
				fmt.Sprintf("%.1f%%", a.KeyCoverage*100), strconv.Itoa(a.Findings), strconv.Itoa(a.Score), termSafe(identityText(a), tableCellMax)}
			if i == mdActionRows {
				row = []any{fmt.Sprintf("…and %d more", len(r.Actions)-i), "", "", "", "", "", ""}
			}
			if err := t.Append(row...); err != nil {
				return err
			}
			if i == mdActionRows {
				break
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		p("score: %s\n\n", scoreLegend)
	}

	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Suppressed {
			continue
		}
		p("%s  %s  %s  id %s", f.Severity, f.Rule, termSafe(f.ActionType, tableCellMax), f.ID)
		if m := newMark(r, f); m != "" {
			p("  (%s)", m)
		}
		p("\n")
		p("  %s\n", termSafe(f.Message, tableMessageMax))
		if f.Pattern != "" {
			p("  pattern: %s", f.Pattern)
			if n := rules.PatternNote(f, func(s string) string { return termSafe(s, tableCellMax) }); n != "" {
				p(" (%s)", n)
			}
			p("\n")
		}
		spans := hasSpans(f)
		header := []any{"source:line", "ts", "key", "response id", "status", "outcome", "effect"}
		if spans {
			header = []any{"source:line", "span", "ts", "key", "response id", "status", "outcome", "effect"}
		}
		t := newTable(b, header...)
		for j, c := range f.Calls {
			if j == tableEvidenceRows {
				break
			}
			row := []any{termSafe(c.Source, tableCellMax) + ":" + strconv.FormatInt(c.Line, 10), stamp(c.TS),
				ptr(c.Key), ptr(c.ResponseID), ptr(c.Status), string(c.Outcome), ptr(c.Effect)}
			if spans {
				row = append(row[:1], append([]any{ptr(c.SpanID)}, row[1:]...)...)
			}
			if err := t.Append(row...); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		if more := moreCalls(f, tableEvidenceRows); more != "" {
			p("  %s\n", more)
		}
		if len(f.Compensations) > 0 {
			if f.Compensated {
				p("  compensated (was %s); compensating calls:\n", f.SeverityBefore)
			} else {
				p("  compensating calls:\n")
			}
			t := newTable(b, "source:line", "ts", "action type", "undid", "response id")
			for j, c := range f.Compensations {
				if j == tableEvidenceRows {
					break
				}
				if err := t.Append(termSafe(c.Source, tableCellMax)+":"+strconv.FormatInt(c.Line, 10), stamp(c.TS),
					termSafe(c.ActionType, tableCellMax), termSafe(c.Of, tableCellMax), ptr(c.ResponseID)); err != nil {
					return err
				}
			}
			if err := t.Render(); err != nil {
				return err
			}
			if more := moreCompensations(f, tableEvidenceRows); more != "" {
				p("  %s\n", more)
			}
		}
		p("\n")
	}
	if len(r.Findings) == s.Suppressed {
		p("no findings\n\n")
	}
	if s.Suppressed > 0 {
		p("suppressed by the baseline:\n")
		for i := range r.Findings {
			if f := &r.Findings[i]; f.Suppressed {
				p("  %s  %s  %s  %s\n", f.ID, f.Severity, f.Rule, termSafe(f.ActionType, tableCellMax))
			}
		}
		p("\n")
	}

	if len(r.Malformed) > 0 {
		p("%s skipped:\n", plural(int64(len(r.Malformed)), "malformed line"))
		for i, m := range r.Malformed {
			if i == tableMalformedRows {
				p("  …and %d more (see --format json or markdown)\n", len(r.Malformed)-i)
				break
			}
			p("  %s:%d: %s\n", termSafe(m.Source, tableCellMax), m.Line, termSafe(m.Error, tableMessageMax))
		}
	}
	return b.Flush()
}

// hasSpans reports whether a finding's calls carry span ids (trace
// exports, logs with span_id): the evidence then shows them.
func hasSpans(f *rules.Finding) bool {
	for _, c := range f.Calls {
		if c.SpanID != nil {
			return true
		}
	}
	return false
}
