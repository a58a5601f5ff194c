package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// Suggestions writes identity --suggest's evidence and proposal, as a
// table (with a TOML snippet to review) or JSON.
func Suggestions(w io.Writer, format string, window time.Duration, ss []rules.ActionSuggestion) error {
	if format == "json" {
		type path struct {
			Path           string `json:"path"`
			ConstantChains int    `json:"constant_in_chains"`
			Distinct       int    `json:"distinct_values"`
			Suggested      bool   `json:"suggested"`
		}
		type action struct {
			ActionType string   `json:"action_type"`
			Calls      int      `json:"calls"`
			Chains     int      `json:"chains"`
			Identity   []string `json:"suggested_identity"`
			Paths      []path   `json:"paths"`
			Coarse     []string `json:"too_coarse,omitempty"` // constant paths that together tell too few operations apart
		}
		out := struct {
			WindowSeconds float64  `json:"window_seconds"`
			Actions       []action `json:"actions"`
		}{window.Seconds(), []action{}}
		for _, s := range ss {
			a := action{s.Action, s.Calls, s.Chains, s.Identity, []path{}, s.Coarse}
			if a.Identity == nil {
				a.Identity = []string{}
			}
			for _, p := range s.Paths {
				a.Paths = append(a.Paths, path{p.Path, p.ConstantChains, p.Distinct, p.Suggest})
			}
			out.Actions = append(out.Actions, a)
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(jsonEscapeHidden(b), '\n'))
		return err
	}
	if format != "table" {
		return fmt.Errorf("identity --suggest writes table or json, not %q", format)
	}
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "Chains: calls of one action in one session, each gap at most %s (retries, mostly).\n", window)
	fmt.Fprintf(b, "A path is suggested when it has the same value in at least %.0f%% of the chains and more than one value across the action's calls.\n\n", rules.SuggestThreshold*100)
	var snippet []string
	for _, s := range ss {
		fmt.Fprintf(b, "%s: %d %s with args, %s\n", termSafe(s.Action, tableCellMax), s.Calls, map[bool]string{true: "call", false: "calls"}[s.Calls == 1], plural(int64(s.Chains), "chain"))
		if s.Chains == 0 {
			fmt.Fprintf(b, "  no repeats within the window: nothing to learn from\n\n")
			continue
		}
		t := newTable(b, "args path", "same value in chains", "distinct values", "verdict")
		for i, p := range s.Paths {
			if i == 50 {
				if err := t.Append(fmt.Sprintf("…and %d more", len(s.Paths)-i), "", "", ""); err != nil {
					return err
				}
				break
			}
			verdict := "varies within chains"
			switch {
			case p.Suggest:
				verdict = "suggested"
			case p.Distinct < 2:
				verdict = "never varies"
			case p.ConstantChains == s.Chains:
				verdict = "constant in chains"
			}
			name := p.Path
			if name == "" {
				name = "(the whole args)"
			}
			distinct := strconv.Itoa(p.Distinct)
			if p.Distinct >= rules.DistinctCap {
				distinct += "+"
			}
			if err := t.Append(termSafe(name, tableCellMax), fmt.Sprintf("%d/%d", p.ConstantChains, s.Chains), distinct, verdict); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		if len(s.Coarse) > 0 {
			q := make([]string, len(s.Coarse))
			for i, p := range s.Coarse {
				q[i] = termSafe(p, tableCellMax)
			}
			fmt.Fprintf(b, "  not suggested: %s %s constant in the chains but take %d %s together over %d calls, too few to tell operations apart (the chains may hold different operations: give an identity by hand)\n",
				strings.Join(q, ", "), map[bool]string{true: "stays", false: "stay"}[len(q) == 1], s.Values, map[bool]string{true: "value", false: "values"}[s.Values == 1], s.Calls)
		}
		fmt.Fprintln(b)
		if len(s.Identity) > 0 {
			q := make([]string, len(s.Identity))
			for i, p := range s.Identity {
				q[i] = tomlQuote(p)
			}
			snippet = append(snippet, fmt.Sprintf("[actions.%s]\nidentity = [%s]\n", tomlQuote(s.Action), strings.Join(q, ", ")))
		}
	}
	if len(snippet) == 0 {
		fmt.Fprintf(b, "Nothing to suggest.\n")
	} else {
		fmt.Fprintf(b, "Suggested configuration — review it against the evidence above; nothing is applied:\n\n%s", strings.Join(snippet, "\n"))
	}
	return b.Flush()
}

// tomlQuote writes a TOML basic string that is also safe on a terminal:
// every control, format (bidi) or otherwise unprintable character escaped.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == utf8.RuneError || !unicode.IsPrint(r):
			if r > 0xffff {
				fmt.Fprintf(&b, "\\U%08X", r)
			} else {
				fmt.Fprintf(&b, "\\u%04X", r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
