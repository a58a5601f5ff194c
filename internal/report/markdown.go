package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// Markdown writes the report a consultant hands to a client; it renders on
// GitHub. Every log value is a code span (mdCode, mdCell): nothing from a
// log can break a table, inject HTML or move a cursor.
type Markdown struct{}

// Caps keep a report readable; the JSON report has every call.
const (
	mdEvidenceRows  = 50
	mdMalformedRows = 200
	mdActionRows    = 500
)

var scoreLegend = "0 = no call keyed · 1 = partly keyed (or keyed without reporting effects) · " +
	"2 = every call keyed and reports its effect · 3 = as 2, with no finding"

func (Markdown) Write(w io.Writer, r *rules.Result) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }

	p("# Idempotency audit")
	if r.Period.Label != nil {
		p(": %s", visible(*r.Period.Label))
	}
	p("\n\n")
	if r.Period.Start != nil {
		p("**Period:** %s to %s", stamp(r.Period.Start), stamp(r.Period.End))
	} else {
		p("**Period:** no timestamped calls")
	}
	if r.Period.Label != nil {
		p(" (%s)", mdCode(*r.Period.Label))
	}
	p("  \n**Retry window:** %s · **Calls:** %d · **Keyed:** %d (%s) · **Inputs:** %d\n\n",
		r.Window, r.Summary.Calls, r.Summary.KeyedCalls, percent(r.Summary.KeyedCalls, r.Summary.Calls), len(r.Inputs))
	if r.Config != "" {
		p("**Configuration:** %s\n\n", mdCode(r.Config))
	}

	p("## Executive summary\n\n")
	for _, line := range executiveSummary(r) {
		p("- %s\n", line)
	}
	p("\n")

	if r.Periodic && len(r.Trend) > 1 {
		writeTrendMD(b, r)
	}

	p("## Scorecard\n\n")
	if len(r.Actions) == 0 {
		p("No calls.\n\n")
	} else {
		p("| action type | calls | keyed | key coverage | findings | score | identity |\n|---|--:|--:|--:|--:|--:|---|\n")
		for i, a := range r.Actions {
			if i == mdActionRows {
				p("\n…and %d more action types (all of them are in the JSON report).\n", len(r.Actions)-i)
				break
			}
			p("| %s | %d | %d | %.1f%% | %d | %d | %s |\n", mdCell(a.ActionType), a.Calls, a.KeyedCalls, a.KeyCoverage*100, a.Findings, a.Score, mdCell(identityText(a)))
		}
		p("\nScore: %s. Identity: what fingerprints the action's calls for the retry rules.\n\n", scoreLegend)
	}

	p("## Findings\n\n")
	if len(r.Findings) == 0 {
		p("No findings.\n\n")
	}
	// Sections count the findings they list, not Summary.FindingsBySeverity:
	// a finding must never vanish because a hand-built summary disagrees.
	shown := map[rules.Severity]int{}
	for i := range r.Findings {
		if !r.Findings[i].Suppressed {
			shown[r.Findings[i].Severity]++
		}
	}
	n := 0
	for _, sev := range rules.Severities {
		count := shown[sev]
		if count == 0 {
			continue
		}
		p("### %s (%d)\n\n", title(sev.String()), count)
		for i := range r.Findings {
			f := &r.Findings[i]
			if f.Severity != sev || f.Suppressed {
				continue
			}
			n++
			doc := docOf(r, f.Rule)
			p("#### %d. %s: %s", n, doc.Title, mdCode(f.ActionType))
			if m := newMark(r, f); m != "" {
				p(" (%s)", m)
			}
			p("\n\nRule `%s` (%s), id `%s`: %s.\n\n", f.Rule, f.Severity, f.ID, rules.Message(f, mdCode))
			if f.Pattern != "" {
				p("Pattern: `%s`", f.Pattern)
				if n := rules.PatternNote(f, mdCode); n != "" {
					p(" — %s", n)
				}
				p(".\n\n")
			}
			if f.Compensated {
				p("Compensated: this finding was %s before the compensating calls below undid every extra side effect.\n\n", f.SeverityBefore)
			}
			writeEvidence(b, f)
			writeCompensations(b, f)
		}
	}
	if r.Summary.Suppressed > 0 {
		p("### Suppressed by the baseline (%d)\n\nListed, not counted.\n\n| id | rule | severity | action type | idempotency key | first call |\n|---|---|---|---|---|---|\n", r.Summary.Suppressed)
		for i := range r.Findings {
			f := &r.Findings[i]
			if !f.Suppressed {
				continue
			}
			first := "—"
			if len(f.Calls) > 0 {
				first = fmt.Sprintf("%s line %d", mdCell(f.Calls[0].Source), f.Calls[0].Line)
			}
			p("| `%s` | `%s` | %s | %s | %s | %s |\n", f.ID, f.Rule, f.Severity, mdCell(f.ActionType), mdCellPtr(f.Key), first)
		}
		p("\n")
	}

	fired := firedRules(r)
	if len(fired) > 0 {
		p("## How to fix\n\n")
		for _, id := range fired {
			d := docOf(r, id)
			p("### %s (`%s`)\n\n%s\n\n**Fix:** %s\n\n", d.Title, d.ID, d.Description, d.Fix)
			if d.Example != "" {
				p("**Example:** %s\n\n", d.Example)
			}
		}
	}

	p("## Appendix\n\n### Inputs\n\n")
	if len(r.Inputs) == 0 {
		p("None.\n\n")
	} else {
		p("| source | format | lines | calls | malformed | telemetry duplicates | not tool calls | bytes |\n|---|---|--:|--:|--:|--:|--:|--:|\n")
		for _, in := range r.Inputs {
			p("| %s | %s | %d | %d | %d | %d | %d | %d |\n", mdCell(in.Source), mdCell(in.Format), in.Lines, in.Calls, in.Malformed, in.Collapsed, in.Skipped, in.Bytes)
		}
		p("\n")
	}
	p("### Malformed lines\n\n")
	if len(r.Malformed) == 0 {
		p("None.\n")
	} else {
		p("Skipped, the audit went on without them.\n\n| source | line | error |\n|---|--:|---|\n")
		for i, m := range r.Malformed {
			if i == mdMalformedRows {
				p("\n…and %s more (all of them are in the JSON report).\n", plural(int64(len(r.Malformed)-i), "malformed line"))
				break
			}
			p("| %s | %d | %s |\n", mdCell(m.Source), m.Line, mdCell(m.Error))
		}
	}
	return b.Flush()
}

func writeEvidence(b *bufio.Writer, f *rules.Finding) {
	spans := hasSpans(f)
	if spans {
		fmt.Fprintf(b, "| # | source | line | span | ts | idempotency key | response id | status | outcome | effect |\n|--:|---|--:|---|---|---|---|---|---|---|\n")
	} else {
		fmt.Fprintf(b, "| # | source | line | ts | idempotency key | response id | status | outcome | effect |\n|--:|---|--:|---|---|---|---|---|---|\n")
	}
	for i, c := range f.Calls {
		if i == mdEvidenceRows {
			break
		}
		span := ""
		if spans {
			span = " " + mdCellPtr(c.SpanID) + " |"
		}
		fmt.Fprintf(b, "| %d | %s | %d |%s %s | %s | %s | %s | %s | %s |\n", i+1, mdCell(c.Source), c.Line, span, stamp(c.TS),
			mdCellPtr(c.Key), mdCellPtr(c.ResponseID), mdCellPtr(c.Status), c.Outcome, mdCellPtr(c.Effect))
	}
	if more := moreCalls(f, mdEvidenceRows); more != "" {
		fmt.Fprintf(b, "\n%s\n", more)
	}
	fmt.Fprintf(b, "\n")
}

// writeCompensations lists the later calls that undid side effects.
func writeCompensations(b *bufio.Writer, f *rules.Finding) {
	if len(f.Compensations) == 0 {
		return
	}
	fmt.Fprintf(b, "Compensating calls:\n\n| source | line | ts | action type | undid response id | response id |\n|---|--:|---|---|---|---|\n")
	for i, c := range f.Compensations {
		if i == mdEvidenceRows {
			break
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", mdCell(c.Source), c.Line, stamp(c.TS), mdCell(c.ActionType),
			mdCell(c.Of), mdCellPtr(c.ResponseID))
	}
	if more := moreCompensations(f, mdEvidenceRows); more != "" {
		fmt.Fprintf(b, "\n%s\n", more)
	}
	fmt.Fprintf(b, "\n")
}

// identityText is the scorecard's identity column.
func identityText(a rules.ActionStats) string {
	if a.Repeatable {
		return a.Identity + " (repeatable)"
	}
	return a.Identity
}

// executiveSummary says in plain words what went wrong, worst first.
func executiveSummary(r *rules.Result) []string {
	var out []string
	type key struct{ rule, action string }
	counts := map[key]int{}
	var order []key
	// A key whose dedupe failed is also a non-noop replay: say it once,
	// while the failed dedupe is said (not suppressed) as a standing
	// duplicate (not compensated: a refund does not undo the replay).
	doubled := map[[2]string]bool{}
	compensated := 0
	for _, f := range r.Findings {
		if f.Rule == "same-key-different-response" && f.Key != nil && !f.Suppressed && !f.Compensated {
			doubled[[2]string{f.ActionType, *f.Key}] = true
		}
		if f.Compensated && !f.Suppressed {
			compensated++
		}
	}
	for _, f := range r.Findings {
		if f.Suppressed || f.Rule == "non-noop-replay" && f.Key != nil && doubled[[2]string{f.ActionType, *f.Key}] {
			continue
		}
		k := key{f.Rule, f.ActionType}
		switch {
		case f.Compensated:
			k.rule = "compensated"
		case f.Rule == "repeat-without-key" && f.Severity == rules.Low:
			k.rule = "repeat-without-key/deduped"
		case f.Rule == "unstable-key" && f.Stats.SideEffects < 2:
			k.rule = "unstable-key/harmless"
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	for _, k := range order {
		n, a := counts[k], mdCode(k.action)
		ops := "operation was"
		if n > 1 {
			ops = "operations were"
		}
		switch k.rule {
		case "same-key-different-response":
			out = append(out, fmt.Sprintf("**%d %s %s executed twice or more**: one idempotency key, several response ids (the dedupe failed).", n, a, ops))
		case "repeat-without-key":
			out = append(out, fmt.Sprintf("**%d %s %s repeated without an idempotency key** and likely executed twice or more.", n, a, ops))
		case "repeat-without-key/deduped":
			out = append(out, fmt.Sprintf("%d %s %s repeated without a key, but took effect only once: no second side effect (the downstream deduped, or the retries were refused or did nothing).", n, a, ops))
		case "compensated":
			out = append(out, fmt.Sprintf("%d %s %s duplicated, then compensated: a later call undid every extra side effect (listed, low).", n, a, ops))
		case "retry-after-rejection":
			out = append(out, fmt.Sprintf("%d %s %s retried after the downstream rejected %s: no duplicate side effect.", n, a, map[bool]string{true: "requests were", false: "request was"}[n > 1], map[bool]string{true: "them", false: "it"}[n > 1]))
		case "unstable-key/harmless":
			out = append(out, fmt.Sprintf("%d %s %s retried under a fresh idempotency key each time; at most one attempt went through, but the key protects nothing.", n, a, ops))
		case "unstable-key":
			out = append(out, fmt.Sprintf("**%d %s %s retried under a fresh idempotency key each time**, so nothing could dedupe them.", n, a, ops))
		case "key-payload-mismatch":
			out = append(out, fmt.Sprintf("%d %s idempotency %s reused with different arguments.", n, a, map[bool]string{true: "keys were", false: "key was"}[n > 1]))
		case "non-noop-replay":
			out = append(out, fmt.Sprintf("**%d %s %s replayed and executed again** instead of answering from the first result.", n, a, map[bool]string{true: "keys were", false: "key was"}[n > 1]))
		case "missing-key":
			for _, act := range r.Actions {
				if act.ActionType == k.action {
					switch {
					case act.Calls == 1 && act.KeyedCalls == 0:
						out = append(out, fmt.Sprintf("The only call of %s carries no idempotency key.", a))
					case act.KeyedCalls == 0:
						out = append(out, fmt.Sprintf("None of the %d calls of %s carries an idempotency key.", act.Calls, a))
					default:
						out = append(out, fmt.Sprintf("%d of the %d calls of %s carry no idempotency key (%s keyed).",
							act.Calls-act.KeyedCalls, act.Calls, a, percent(act.KeyedCalls, act.Calls)))
					}
				}
			}
		default:
			out = append(out, fmt.Sprintf("%d findings of rule `%s` for %s.", n, k.rule, a))
		}
	}
	if r.Periodic {
		total := 0
		for _, n := range r.Summary.FindingsBySeverity {
			total += n
		}
		lead := fmt.Sprintf("**%d new %s** this period, %d recurring.", r.Summary.NewFindings,
			map[bool]string{true: "finding", false: "findings"}[r.Summary.NewFindings == 1], total-r.Summary.NewFindings)
		if r.Summary.Suppressed > 0 {
			lead += fmt.Sprintf(" %d suppressed by the baseline.", r.Summary.Suppressed)
		}
		out = append([]string{lead}, out...)
		for _, c := range r.ScoreChanges {
			verb := "dropped"
			if c.To > c.From {
				verb = "rose"
			}
			out = append(out, fmt.Sprintf("The score of %s %s from %d to %d since the previous period.", mdCode(c.ActionType), verb, c.From, c.To))
		}
	}
	if r.Summary.FindingsBySeverity[rules.Critical]+r.Summary.FindingsBySeverity[rules.High]+
		r.Summary.FindingsBySeverity[rules.Medium]+r.Summary.FindingsBySeverity[rules.Low] == 0 {
		out = append(out, "No duplicate side effects were found.")
	} else if critical, high := r.Summary.FindingsBySeverity[rules.Critical], r.Summary.FindingsBySeverity[rules.High]; critical+high == 0 {
		if total := critical + high + r.Summary.FindingsBySeverity[rules.Medium] + r.Summary.FindingsBySeverity[rules.Low]; compensated > 0 && total > compensated {
			out = append([]string{"No duplicate side effect remains: every one found was compensated; the other findings below are about coverage and key hygiene."}, out...)
		} else if compensated > 0 {
			out = append([]string{"No duplicate side effect remains: every one found was compensated."}, out...)
		} else {
			out = append([]string{"No duplicate side effect is evident; the findings below are about coverage and key hygiene."}, out...)
		}
	}
	if len(r.ReadOnly) > 0 {
		var names []string
		var calls int64
		for _, a := range r.ReadOnly {
			names = append(names, mdCode(a.ActionType))
			calls += a.Calls
		}
		if len(names) > 10 {
			names = append(names[:10], fmt.Sprintf("%d more", len(names)-10))
		}
		out = append(out, fmt.Sprintf("%s of read-only actions (%s) %s left out of the audit as reads (configured read-only, --exclude, or seen only in trace exports with a read's name).", plural(calls, "call"), strings.Join(names, ", "), were(calls)))
	}
	if s := r.Summary; s.Collapsed > 0 {
		out = append(out, fmt.Sprintf("%s (the same span exported twice, or a wrapper span merged into the call it made) %s counted once.", plural(s.Collapsed, "telemetry duplicate"), were(s.Collapsed)))
	}
	if s := r.Summary; s.QuietRejections > 0 {
		out = append(out, fmt.Sprintf("%s left out by --quiet-rejections.", plural(int64(s.QuietRejections), "retry-after-rejection finding")))
	}
	if s := r.Summary; s.MalformedLines > 0 {
		out = append(out, fmt.Sprintf("%s could not be read and %s skipped (see the appendix).", plural(s.MalformedLines, "malformed line"), were(s.MalformedLines)))
	}
	if s := r.Summary; s.UnfingerprintedCalls > 0 {
		out = append(out, fmt.Sprintf("%s logged neither `args` nor `session_id`, so retries among them cannot be recognised: those tools should log their arguments.", plural(s.UnfingerprintedCalls, "call")))
	}
	if s := r.Summary; s.UntimedCalls > 0 {
		them := map[bool]string{true: "it", false: "them"}[s.UntimedCalls == 1]
		if r.Periodic {
			out = append(out, fmt.Sprintf("%s had no `ts` and %s counted in the period %s ingested in: the retry-window rules cannot see %s.", plural(s.UntimedCalls, "call"), were(s.UntimedCalls), map[bool]string{true: "it was", false: "they were"}[s.UntimedCalls == 1], them))
		} else {
			out = append(out, fmt.Sprintf("%s had no `ts`: the retry-window rules cannot see %s, and a period report counts %s in the period %s ingested in.", plural(s.UntimedCalls, "call"), them, them, map[bool]string{true: "it was", false: "they were"}[s.UntimedCalls == 1]))
		}
	}
	return out
}

// firedRules lists the rules with findings, in catalogue order.
func firedRules(r *rules.Result) []string {
	fired := map[string]bool{}
	for _, f := range r.Findings {
		fired[f.Rule] = true
	}
	var out []string
	for _, d := range r.Rules {
		if fired[d.ID] {
			out = append(out, d.ID)
			delete(fired, d.ID)
		}
	}
	rest := make([]string, 0, len(fired))
	for id := range fired {
		rest = append(rest, id)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func percent(part, whole int64) string {
	if whole == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.1f%%", float64(part)*100/float64(whole))
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// moreCalls says what an evidence table capped at shown rows leaves out.
func moreCalls(f *rules.Finding, shown int) string {
	return leftOut(shown, len(f.Calls), f.Stats.Calls, moreOf)
}

// moreCompensations says what a list of a finding's compensating calls
// cut at shown rows leaves out.
func moreCompensations(f *rules.Finding, shown int) string {
	return leftOut(shown, len(f.Compensations), f.CompensationsTotal, moreCompensating)
}

// leftOut says what a list cut at shown rows leaves out of the listed items
// the report holds (the rest are in the JSON report) and of the total (past
// the listed ones, none is: a rule's sample or --max-evidence); more names
// n more items.
func leftOut(shown, listed, total int, more func(n int) string) string {
	shown = min(shown, listed)
	var parts []string
	if n := listed - shown; n > 0 {
		parts = append(parts, fmt.Sprintf("%s in the JSON report", more(n)))
	}
	if n := total - listed; n > 0 {
		parts = append(parts, fmt.Sprintf("%s, not listed (the report lists the first %d)", more(n), listed))
	}
	if len(parts) == 0 {
		return ""
	}
	return "…and " + strings.Join(parts, "; ") + "."
}

func moreCompensating(n int) string {
	if n == 1 {
		return "1 more compensating call"
	}
	return fmt.Sprintf("%d more compensating calls", n)
}

func moreOf(n int) string {
	if n == 1 {
		return "1 more call"
	}
	return fmt.Sprintf("%d more calls", n)
}

func writeTrendMD(b *bufio.Writer, r *rules.Result) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	t := series(r)
	p("## Trend\n\n| period | calls | key coverage | critical | high | medium | low |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for i, pt := range r.Trend {
		p("| %s | %d | %.1f%% | %d | %d | %d | %d |\n", mdCell(pt.Label), pt.Calls, t.coverage[i]*100,
			pt.FindingsBySeverity[rules.Critical], pt.FindingsBySeverity[rules.High], pt.FindingsBySeverity[rules.Medium], pt.FindingsBySeverity[rules.Low])
	}
	sev := map[rules.Severity][]float64{}
	for _, pt := range r.Trend {
		for _, s := range rules.Severities {
			sev[s] = append(sev[s], float64(pt.FindingsBySeverity[s]))
		}
	}
	p("| trend | %s | %s | %s | %s | %s | %s |\n\n", sparkline(t.calls), sparkline(t.coverage),
		sparkline(sev[rules.Critical]), sparkline(sev[rules.High]), sparkline(sev[rules.Medium]), sparkline(sev[rules.Low]))
	p("Per action type, oldest to newest (%s to %s):\n\n| action type | key coverage | findings |\n|---|---|---|\n", visible(t.labels[0]), visible(t.labels[len(t.labels)-1]))
	for _, a := range actionTrends(r) {
		p("| %s | %s %.0f%% | %s %d |\n", mdCell(a.action), sparkline(a.coverage), a.coverage[len(a.coverage)-1]*100,
			sparkline(a.findings), int(a.findings[len(a.findings)-1]))
	}
	p("\n")
}

func were(n int64) string {
	if n == 1 {
		return "was"
	}
	return "were"
}
