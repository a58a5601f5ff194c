package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// Explanation writes explain's timeline and verdict as table, markdown or
// json. Log values are escaped as in the reports.
func Explanation(w io.Writer, format string, ex *rules.Explanation) error {
	switch format {
	case "json":
		return explainJSON(w, ex)
	case "markdown":
		return explainMarkdown(w, ex)
	case "table":
		return explainTable(w, ex)
	}
	return fmt.Errorf("explain writes table, markdown or json, not %q", format)
}

// gap is the time since the previous call of the timeline.
func gap(cs []rules.Call, i int) string {
	if i == 0 || cs[i].TS == nil || cs[i-1].TS == nil {
		return "—"
	}
	d := cs[i].TS.Sub(*cs[i-1].TS)
	if d < time.Second {
		return "+" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" // never an exponent
	}
	return "+" + d.Truncate(time.Millisecond).String()
}

func duration(c rules.Call) string {
	if c.DurationMS == nil {
		return "—"
	}
	return strconv.FormatFloat(*c.DurationMS, 'f', -1, 64) + " ms"
}

// where is source:line, and the span id when there is one.
func where(c rules.Call, quote func(string, int) string) string {
	s := quote(c.Source, tableCellMax) + ":" + strconv.FormatInt(c.Line, 10)
	if c.SpanID != nil {
		s += " span " + quote(*c.SpanID, tableCellMax)
	}
	return s
}

func explainTable(w io.Writer, ex *rules.Explanation) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "timeline of %s: %s\n", termSafe(ex.Subject, tableCellMax), plural(int64(len(ex.Calls)+ex.Capped), "call"))
	t := newTable(b, "time", "gap", "action", "key", "response id", "status", "outcome", "effect", "duration", "where")
	for i, c := range ex.Calls {
		if err := t.Append(stamp(c.TS), gap(ex.Calls, i), termSafe(c.ActionType, tableCellMax), ptr(c.Key), ptr(c.ResponseID),
			ptr(c.Status), string(c.Outcome), ptr(c.Effect), duration(c), where(c, termSafe)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if ex.Capped > 0 {
		fmt.Fprintf(b, "…and %d more calls not shown\n", ex.Capped)
	}
	fmt.Fprintf(b, "\nverdict:\n")
	for _, v := range rules.Verdict(ex, func(s string) string { return termSafe(s, tableCellMax) }) {
		fmt.Fprintf(b, "  - %s\n", v)
	}
	for _, f := range ex.Findings {
		fmt.Fprintf(b, "  finding %s  %s  %s\n", f.ID, f.Severity, f.Rule)
	}
	return b.Flush()
}

func explainMarkdown(w io.Writer, ex *rules.Explanation) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "### Timeline of %s\n\n", mdCode(ex.Subject))
	fmt.Fprintf(b, "| time | gap | action | key | response id | status | outcome | effect | duration | where |\n|---|---|---|---|---|---|---|---|---|---|\n")
	mdWhere := func(s string, _ int) string { return mdCell(s) }
	for i, c := range ex.Calls {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", stamp(c.TS), gap(ex.Calls, i), mdCell(c.ActionType),
			mdCellPtr(c.Key), mdCellPtr(c.ResponseID), mdCellPtr(c.Status), c.Outcome, mdCellPtr(c.Effect), duration(c), where(c, mdWhere))
	}
	if ex.Capped > 0 {
		fmt.Fprintf(b, "\n…and %d more calls not shown.\n", ex.Capped)
	}
	fmt.Fprintf(b, "\n**Verdict**\n\n")
	for _, v := range rules.Verdict(ex, mdCode) {
		fmt.Fprintf(b, "- %s\n", v)
	}
	if len(ex.Findings) > 0 {
		fmt.Fprintf(b, "\nFindings: ")
		for i, f := range ex.Findings {
			if i > 0 {
				fmt.Fprintf(b, ", ")
			}
			fmt.Fprintf(b, "`%s` (%s, %s)", f.ID, f.Rule, f.Severity)
		}
		fmt.Fprintf(b, "\n")
	}
	return b.Flush()
}

func explainJSON(w io.Writer, ex *rules.Explanation) error {
	type call struct {
		jsonCall
		ActionType string   `json:"action_type"`
		GapSeconds *float64 `json:"gap_seconds"`
	}
	type finding struct {
		ID       string `json:"id"`
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
	}
	out := struct {
		Subject  string    `json:"subject"`
		Calls    []call    `json:"calls"`
		Omitted  int       `json:"calls_not_shown"`
		Findings []finding `json:"findings"`
		Verdict  []string  `json:"verdict"`
	}{ex.Subject, []call{}, ex.Capped, []finding{}, rules.Verdict(ex, func(s string) string { return s })}
	for i, c := range ex.Calls {
		jc := call{jsonCall: callWire(c), ActionType: c.ActionType}
		if i > 0 && c.TS != nil && ex.Calls[i-1].TS != nil {
			g := c.TS.Sub(*ex.Calls[i-1].TS).Seconds()
			jc.GapSeconds = &g
		}
		out.Calls = append(out.Calls, jc)
	}
	for _, f := range ex.Findings {
		out.Findings = append(out.Findings, finding{f.ID, f.Rule, f.Severity.String(), f.Message})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(jsonEscapeHidden(b), '\n'))
	return err
}
