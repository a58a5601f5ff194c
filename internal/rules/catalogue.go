// Package rules holds the rule catalogue and runs it over the calls in DuckDB.
package rules

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// A rule is two files in catalogue/: N-ID.sql, the query, and N-ID.md, its
// documentation with the message template. N orders the catalogue. Adding a
// rule means adding those two files and its tests, nothing else. A rule whose
// findings another rule's query finds (that query's rows name it in their
// rule column) has only its .md, with "query: OTHER-ID" in its front matter.
//
//go:embed catalogue/*.sql catalogue/*.md
var catalogueFS embed.FS

// Rule is one entry of the catalogue.
type Rule struct {
	Doc
	SQL     string // empty when From names the rule whose query finds this one's findings
	From    string
	order   int // N of N-ID.sql: the catalogue's order
	message *template.Template
}

// Catalogue returns every rule in catalogue order.
func Catalogue() []Rule { return catalogue }

var catalogue = mustLoad()

func mustLoad() []Rule {
	rs, err := load()
	if err != nil {
		panic(err) // the catalogue is compiled in: a bad entry is a build defect, caught by every test
	}
	return rs
}

func load() ([]Rule, error) {
	entries, err := catalogueFS.ReadDir("catalogue")
	if err != nil {
		return nil, err
	}
	var rules []Rule
	for _, e := range entries {
		name := e.Name()
		if base, ok := strings.CutSuffix(name, ".sql"); ok {
			if _, err := catalogueFS.ReadFile(path.Join("catalogue", base+".md")); err != nil {
				return nil, fmt.Errorf("catalogue/%s has no documentation (%s.md): %w", name, base, err)
			}
		}
		if !strings.HasSuffix(name, ".md") {
			continue
		}
		base := strings.TrimSuffix(name, ".md")
		num, id, ok := strings.Cut(base, "-")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || id == "" {
			return nil, fmt.Errorf("catalogue/%s: want N-ID.md", name)
		}
		md, err := catalogueFS.ReadFile(path.Join("catalogue", name))
		if err != nil {
			return nil, err
		}
		r, err := parseDoc(id, string(md))
		if err != nil {
			return nil, fmt.Errorf("catalogue/%s: %w", name, err)
		}
		sql, err := catalogueFS.ReadFile(path.Join("catalogue", base+".sql"))
		switch {
		case err == nil && r.From != "":
			return nil, fmt.Errorf("rule %s has a query of its own and says its findings come from %s", id, r.From)
		case err == nil:
			r.SQL = string(sql)
		case r.From == "":
			return nil, fmt.Errorf("rule %s has no query (%s.sql) and names none (query: RULE): %w", id, base, err)
		}
		r.order = n
		rules = append(rules, r)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].order < rules[j].order })
	ids := map[string]bool{}
	for i := range rules {
		ids[rules[i].ID] = true
		if i > 0 && (rules[i].order == rules[i-1].order || rules[i].ID == rules[i-1].ID) {
			return nil, fmt.Errorf("catalogue: rules %s and %s share a number or an id", rules[i-1].ID, rules[i].ID)
		}
	}
	for _, r := range rules {
		if r.From != "" && !ids[r.From] {
			return nil, fmt.Errorf("rule %s: query %s is not in the catalogue", r.ID, r.From)
		}
	}
	return rules, nil
}

// parseDoc reads front matter (key: value lines between --- fences) and a
// body of paragraphs; paragraphs starting "Fix:" and "Example:" are split out.
func parseDoc(id, md string) (Rule, error) {
	r := Rule{Doc: Doc{ID: id}}
	rest, ok := strings.CutPrefix(md, "---\n")
	if !ok {
		return r, fmt.Errorf("no front matter")
	}
	front, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return r, fmt.Errorf("front matter not closed")
	}
	var msg string
	for _, line := range strings.Split(front, "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "title":
			r.Title = v
		case "severity":
			r.Severity = v
		case "group":
			r.Group = v
		case "message":
			msg = v
		case "query":
			r.From = v
		default:
			return r, fmt.Errorf("unknown front matter key %q", k)
		}
	}
	if r.Title == "" || r.Severity == "" || r.Group == "" || msg == "" {
		return r, fmt.Errorf("front matter needs title, severity, group and message")
	}
	var desc []string
	for _, para := range strings.Split(strings.TrimSpace(body), "\n\n") {
		para = strings.Join(strings.Fields(para), " ")
		switch {
		case strings.HasPrefix(para, "Fix: "):
			r.Fix = strings.TrimPrefix(para, "Fix: ")
		case strings.HasPrefix(para, "Example: "):
			r.Example = strings.TrimPrefix(para, "Example: ")
		default:
			desc = append(desc, para)
		}
	}
	r.Description = strings.Join(desc, "\n\n")
	if r.Description == "" || r.Fix == "" {
		return r, fmt.Errorf("the body needs a description and a Fix: paragraph")
	}
	t, err := template.New(id).Option("missingkey=error").Funcs(template.FuncMap{
		"list": list,
		"n":    count,
	}).Parse(msg)
	if err != nil {
		return r, fmt.Errorf("message: %w", err)
	}
	r.message = t
	return r, nil
}

// messageData is what a message template sees. Values are raw log values:
// messages are plain text, renderers escape them.
type messageData struct {
	Action       string
	Key          string
	Stats        statsText
	Responses    names  // distinct non-null response ids of calls not rejected, in evidence order
	Keys         names  // distinct keys in evidence order
	LaterEffects names  // distinct effects, other than noop, of replays (calls not rejected after one not rejected)
	Same         string // what identifies the operation: "args", the identity paths, or "tool call id"
}

// names are the values a message lists, of total in all.
type names struct {
	v     []string
	total int
}

func quoteAll(v []string, quote func(string) string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = quote(s)
	}
	return out
}

type statsText struct {
	Stats
	Span string
}

// Message renders a finding's message with every log value (action type,
// keys, response ids, effects) passed through quote, so a renderer can put
// the values in code spans or escape them while the rule's prose stays prose.
// Finding.Message is the same with the values verbatim.
func Message(f *Finding, quote func(string) string) string {
	for i := range catalogue {
		if catalogue[i].ID == f.Rule {
			if s, err := catalogue[i].render(f, quote); err == nil {
				return s
			}
		}
	}
	return quote(f.Message)
}

func (r *Rule) render(f *Finding, quote func(string) string) (string, error) {
	d := messageData{Action: quote(f.ActionType), Stats: statsText{Stats: f.Stats, Span: humanDuration(f.Stats.Span)}, Same: "args"}
	if id := f.Identity; id != nil && (len(id) == 0 || id[0] != "*") { // configured identity paths
		d.Same = "identity (the action alone)"
		if len(id) > 0 {
			d.Same = strings.Join(quoteAll(id, quote), ", ")
		}
	}
	if f.Rule == "unstable-key" && f.Stats.Calls > 0 && f.Stats.DistinctArgs == 0 {
		// no call of the chain has args: a trace export's tool call id
		// fingerprints them (calls fingerprinted by their session take no part)
		d.Same = "tool call id"
	}
	if f.Key != nil {
		d.Key = quote(*f.Key)
	}
	if n := f.names; n != nil { // the audit read them from every call, listed or not
		d.Responses = names{quoteAll(n.responses, quote), f.Stats.DistinctResponses}
		d.Keys = names{quoteAll(n.keys, quote), f.Stats.DistinctKeys}
		d.LaterEffects = names{quoteAll(n.effects, quote), n.effectsTotal}
	} else { // a finding made elsewhere: from its calls
		seenR, seenK, seenE := map[string]bool{}, map[string]bool{}, map[string]bool{}
		live := false // a call not rejected came before: a later one not rejected is a replay
		for _, c := range f.Calls {
			if c.ResponseID != nil && c.Outcome != Rejected && !seenR[*c.ResponseID] {
				seenR[*c.ResponseID] = true
				d.Responses.v = append(d.Responses.v, quote(*c.ResponseID))
			}
			if c.Key != nil && !seenK[*c.Key] {
				seenK[*c.Key] = true
				d.Keys.v = append(d.Keys.v, quote(*c.Key))
			}
			if live && c.Outcome != Rejected && c.Effect != nil && !IsNoop(*c.Effect) && !seenE[*c.Effect] {
				seenE[*c.Effect] = true
				d.LaterEffects.v = append(d.LaterEffects.v, quote(*c.Effect))
			}
			live = live || c.Outcome != Rejected
		}
		d.Responses.total, d.Keys.total, d.LaterEffects.total = len(d.Responses.v), len(d.Keys.v), len(d.LaterEffects.v)
	}
	var b strings.Builder
	if err := r.message.Execute(&b, d); err != nil {
		return "", fmt.Errorf("rule %s message: %w", r.ID, err)
	}
	if st := f.Stats; st.Compensated > 0 {
		var ids, acts names
		if n := f.compNames; n != nil { // the audit read them from every compensation, listed or not
			ids, acts = names{quoteAll(n.of, quote), st.Compensated}, names{quoteAll(n.actions, quote), n.actionsTotal}
		} else {
			seenI, seenA := map[string]bool{}, map[string]bool{}
			for _, c := range f.Compensations {
				if !seenI[c.Of] {
					seenI[c.Of] = true
					ids.v = append(ids.v, quote(c.Of))
				}
				if !seenA[c.ActionType] {
					seenA[c.ActionType] = true
					acts.v = append(acts.v, quote(c.ActionType))
				}
			}
			ids.total, acts.total = len(ids.v), len(acts.v)
		}
		undid := fmt.Sprintf("later %s undid %s", list(acts), list(ids))
		if f.Compensated {
			fmt.Fprintf(&b, "; compensated: %s, no extra side effect remains", undid)
		} else {
			fmt.Fprintf(&b, "; %d of %s compensated (%s), %s", st.Compensated,
				count(st.SideEffects-1, "extra side effect"), undid, count(st.ExtraRemaining, "remains", "remain"))
		}
	}
	return b.String(), nil
}

// humanDuration prints 45s, 3m10s, 2h0m0s; sub-second spans as 0.25s.
func humanDuration(d time.Duration) string {
	if d < time.Second { // 0.25s, 0.000001s: never an exponent
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	return d.Truncate(time.Second).String()
}

// list joins values for a message, naming at most five.
func list(n names) string {
	shown := n.v[:min(len(n.v), 5)]
	s := strings.Join(shown, ", ")
	if more := n.total - len(shown); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// count writes "1 call", "2 calls" (a plain s), or with an explicit plural
// ("1 call was", "2 calls were").
func count(n int, noun string, plural ...string) string {
	if n == 1 {
		return "1 " + noun
	}
	if len(plural) > 0 {
		return fmt.Sprintf("%d %s", n, plural[0])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// IsNoop reports an effect that says nothing happened: noop, no-op, no_op
// or none, in any case, after trimming white space (tabs, CR and LF
// included) as statuses are; noopSQL is the same in SQL, and the rules'
// queries write it {{effect_is_noop}}.
func IsNoop(effect string) bool {
	switch strings.ToLower(strings.TrimSpace(effect)) {
	case "noop", "no-op", "no_op", "none":
		return true
	}
	return false
}
