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
// rule means adding those two files and its tests, nothing else.
//
//go:embed catalogue/*.sql catalogue/*.md
var catalogueFS embed.FS

// Rule is one entry of the catalogue.
type Rule struct {
	Doc
	SQL     string
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
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		base := strings.TrimSuffix(name, ".sql")
		num, id, ok := strings.Cut(base, "-")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || id == "" {
			return nil, fmt.Errorf("catalogue/%s: want N-ID.sql", name)
		}
		sql, err := catalogueFS.ReadFile(path.Join("catalogue", name))
		if err != nil {
			return nil, err
		}
		md, err := catalogueFS.ReadFile(path.Join("catalogue", base+".md"))
		if err != nil {
			return nil, fmt.Errorf("rule %s has no documentation: %w", id, err)
		}
		r, err := parseDoc(id, string(md))
		if err != nil {
			return nil, fmt.Errorf("catalogue/%s.md: %w", base, err)
		}
		r.SQL = string(sql)
		r.order = n
		rules = append(rules, r)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].order < rules[j].order })
	for i := 1; i < len(rules); i++ {
		if rules[i].order == rules[i-1].order || rules[i].ID == rules[i-1].ID {
			return nil, fmt.Errorf("catalogue: rules %s and %s share a number or an id", rules[i-1].ID, rules[i].ID)
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
	Responses    []string // distinct non-null response ids in evidence order
	Keys         []string // distinct keys in evidence order
	LaterEffects []string // distinct effects, other than noop, of calls after the first
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
	d := messageData{Action: quote(f.ActionType), Stats: statsText{Stats: f.Stats, Span: humanDuration(f.Stats.Span)}}
	if f.Key != nil {
		d.Key = quote(*f.Key)
	}
	seenR, seenK, seenE := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, c := range f.Calls {
		if c.ResponseID != nil && !seenR[*c.ResponseID] {
			seenR[*c.ResponseID] = true
			d.Responses = append(d.Responses, quote(*c.ResponseID))
		}
		if c.Key != nil && !seenK[*c.Key] {
			seenK[*c.Key] = true
			d.Keys = append(d.Keys, quote(*c.Key))
		}
		if i > 0 && c.Effect != nil && !IsNoop(*c.Effect) && !seenE[*c.Effect] {
			seenE[*c.Effect] = true
			d.LaterEffects = append(d.LaterEffects, quote(*c.Effect))
		}
	}
	var b strings.Builder
	if err := r.message.Execute(&b, d); err != nil {
		return "", fmt.Errorf("rule %s message: %w", r.ID, err)
	}
	return b.String(), nil
}

// humanDuration prints 45s, 3m10s, 2h0m0s; sub-second spans as 0.25s.
func humanDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%gs", d.Seconds())
	}
	return d.Truncate(time.Second).String()
}

// list joins values for a message, naming at most five.
func list(v []string) string {
	if len(v) > 5 {
		return strings.Join(v[:5], ", ") + fmt.Sprintf(" and %d more", len(v)-5)
	}
	return strings.Join(v, ", ")
}

// count writes "1 call", "2 calls" (the catalogue's nouns take a plain s).
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// IsNoop reports an effect that says nothing happened: noop, no-op, no_op
// or none, in any case (the same list as catalogue/5-non-noop-replay.sql).
func IsNoop(effect string) bool {
	switch strings.ToLower(effect) {
	case "noop", "no-op", "no_op", "none":
		return true
	}
	return false
}
