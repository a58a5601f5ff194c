// Package config reads idemaudit's configuration file: per-action identity
// (which args make up an operation's fingerprint), repeatable and read-only
// actions, the outcome of statuses, and the actions that compensate others.
//
// The file is TOML (idemaudit.toml) or JSON (idemaudit.json) with one shape:
//
//	[actions."book_*"]                 # an action name, or a glob (* and ?)
//	identity = ["user_id", "flights"]  # fingerprint = these dotted args paths
//	ignore = ["payment_id"]            # all args but these
//	repeatable = true                  # intended repeats: no repeat rules
//	read_only = true                   # not a side effect: left out of the audit
//
//	[outcomes]                         # extra statuses, matched without case
//	applied = ["queued"]
//	rejected = ["card_declined"]
//	unknown = ["pending"]
//
//	[compensations]
//	actions = ["cancel_*", "refund_*"] # replaces the default list
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/zeebo/xxh3"
)

// Action is one [actions."PATTERN"] entry. Nil fields are not set by it.
type Action struct {
	Identity   []string `toml:"identity" json:"identity"`
	Ignore     []string `toml:"ignore" json:"ignore"`
	Repeatable *bool    `toml:"repeatable" json:"repeatable"`
	ReadOnly   *bool    `toml:"read_only" json:"read_only"`
}

// Outcomes extend the built-in status mapping (see README "Outcomes").
type Outcomes struct {
	Applied  []string `toml:"applied" json:"applied"`
	Rejected []string `toml:"rejected" json:"rejected"`
	Unknown  []string `toml:"unknown" json:"unknown"`
}

// Compensations name the actions that undo an earlier call.
type Compensations struct {
	Actions []string `toml:"actions" json:"actions"`
}

// DefaultCompensations are the compensating actions when the file names none.
var DefaultCompensations = []string{"cancel_*", "refund_*", "void_*", "delete_*", "revert_*", "undo_*"}

// Config is a loaded configuration. The zero value is the default: whole
// args fingerprints, nothing repeatable or read-only, built-in outcomes,
// the default compensating actions.
type Config struct {
	Path          string // the file it came from; "" for none
	Actions       map[string]Action
	Outcomes      Outcomes
	Compensations Compensations

	// cli holds --identity entries: they win over the file's.
	cli map[string]Action
}

type file struct {
	Actions       map[string]Action `toml:"actions" json:"actions"`
	Outcomes      Outcomes          `toml:"outcomes" json:"outcomes"`
	Compensations *Compensations    `toml:"compensations" json:"compensations"`
}

// DefaultNames are the files looked for in the working directory.
var DefaultNames = []string{"idemaudit.toml", "idemaudit.json"}

// Load reads a configuration file. explicit is --config; when it is empty,
// the default names are tried in the working directory and a missing file
// means the default configuration.
func Load(explicit string) (*Config, error) {
	path := explicit
	if path == "" {
		var found []string
		for _, n := range DefaultNames {
			if _, err := os.Stat(n); err == nil {
				found = append(found, n)
			}
		}
		switch len(found) {
		case 0:
			return &Config{}, nil
		case 1:
			path = found[0]
		default:
			return nil, fmt.Errorf("both %s and %s are in the working directory: keep one, or choose with --config", found[0], found[1])
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads a configuration's text; name says its format (.json is JSON,
// anything else TOML) and is used in errors. Unknown settings are errors:
// a misspelt "identiy" must not silently leave whole-args fingerprints.
func Parse(name string, data []byte) (*Config, error) {
	var f file
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("config %s: %w", name, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("config %s: more than one JSON value", name)
		}
	} else {
		md, err := toml.Decode(string(data), &f)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", name, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return nil, fmt.Errorf("config %s: unknown setting %s (known: actions.PATTERN.identity, ignore, repeatable, read_only; outcomes.applied, rejected, unknown; compensations.actions)",
				name, strings.Join(keys, ", "))
		}
	}
	c := &Config{Path: name, Actions: f.Actions, Outcomes: f.Outcomes}
	if f.Compensations != nil {
		c.Compensations = *f.Compensations
	} // else nil: the defaults, which match in every spelling (MatchDefault)
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

func (c *Config) check() error {
	for pat, a := range c.Actions {
		if pat == "" {
			return errors.New(`actions: an empty action pattern`)
		}
		for _, p := range append(append([]string(nil), a.Identity...), a.Ignore...) {
			if err := checkPath(p); err != nil {
				return fmt.Errorf("actions.%q: %w", pat, err)
			}
		}
		if a.Identity != nil && len(a.Identity) == 0 {
			return fmt.Errorf("actions.%q: identity is empty (leave it out for whole-args fingerprints)", pat)
		}
	}
	for _, s := range [][]string{c.Outcomes.Applied, c.Outcomes.Rejected, c.Outcomes.Unknown} {
		for _, v := range s {
			if strings.TrimSpace(v) == "" {
				return errors.New("outcomes: an empty status")
			}
		}
	}
	seen := map[string]string{}
	for class, s := range map[string][]string{"applied": c.Outcomes.Applied, "rejected": c.Outcomes.Rejected, "unknown": c.Outcomes.Unknown} {
		for _, v := range s {
			k := strings.ToLower(strings.TrimSpace(v))
			if other, ok := seen[k]; ok && other != class {
				return fmt.Errorf("outcomes: status %q is both %s and %s", v, other, class)
			}
			seen[k] = class
		}
	}
	for _, p := range c.Compensations.Actions {
		if p == "" {
			return errors.New("compensations: an empty action pattern")
		}
	}
	return nil
}

func checkPath(p string) error {
	if p == "" {
		return errors.New("an empty args path")
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("args path %q has an empty segment", p)
		}
	}
	return nil
}

// AddIdentity adds a --identity ACTION=path,path entry; it wins over the
// file's settings for that pattern's identity.
func (c *Config) AddIdentity(spec string) error {
	pat, paths, ok := strings.Cut(spec, "=")
	pat = strings.TrimSpace(pat)
	if !ok || pat == "" || strings.TrimSpace(paths) == "" {
		return fmt.Errorf("--identity %q: want ACTION=path[,path...]", spec)
	}
	var list []string
	for _, p := range strings.Split(paths, ",") {
		p = strings.TrimSpace(p)
		if err := checkPath(p); err != nil {
			return fmt.Errorf("--identity %q: %w", spec, err)
		}
		list = append(list, p)
	}
	if c.cli == nil {
		c.cli = map[string]Action{}
	}
	a := c.cli[pat]
	a.Identity = list
	c.cli[pat] = a
	return nil
}

// DefaultTraceReads are the actions taken for reads when they come only
// from trace exports (which record every tool call, reads included): they
// are left out of the audit unless the configuration, --include or
// --exclude says otherwise.
var DefaultTraceReads = []string{"get_*", "list_*", "search_*", "read_*", "fetch_*", "lookup_*", "query_*"}

// AddReadOnly adds --exclude (readOnly) or --include (not readOnly) globs:
// they win over the file's read_only settings for those actions.
func (c *Config) AddReadOnly(globs []string, readOnly bool) error {
	flag := "--include"
	if readOnly {
		flag = "--exclude"
	}
	for _, g := range globs {
		g = strings.TrimSpace(g)
		if g == "" {
			return fmt.Errorf("%s: an empty action name", flag)
		}
		if c.cli == nil {
			c.cli = map[string]Action{}
		}
		a := c.cli[g]
		if a.ReadOnly != nil && *a.ReadOnly != readOnly {
			return fmt.Errorf("%s %s: the same action is both included and excluded", flag, g)
		}
		v := readOnly
		a.ReadOnly = &v
		c.cli[g] = a
	}
	return nil
}

// Resolved is what applies to one action type.
type Resolved struct {
	Identity    []string // nil: whole args (minus Ignore)
	Ignore      []string
	Repeatable  bool
	ReadOnly    bool
	ReadOnlySet bool // the file, --include or --exclude decided ReadOnly (else: the default)
	Compensates bool // its calls can compensate earlier ones
}

// Describe says in words which identity the action's fingerprint uses.
func (r Resolved) Describe() string {
	switch {
	case r.Identity != nil:
		return strings.Join(r.Identity, ", ")
	case len(r.Ignore) > 0:
		return "all args except " + strings.Join(r.Ignore, ", ")
	}
	return "all args"
}

// IdentityList is the JSON form: the paths, ["*"] for whole args, or
// ["*", "!path", ...] for whole args but some.
func (r Resolved) IdentityList() []string {
	if r.Identity != nil {
		return append([]string(nil), r.Identity...)
	}
	out := []string{"*"}
	for _, p := range r.Ignore {
		out = append(out, "!"+p)
	}
	return out
}

// Resolve applies the configuration to one action type. Each setting comes
// from the most specific entry that sets it: --identity first, then an
// exact name, then the glob with the most literal characters; equally
// specific globs are taken in byte order of the pattern.
func (c *Config) Resolve(action string) Resolved {
	var r Resolved
	type cand struct {
		pat  string
		a    Action
		cli  bool
		lits int
	}
	var cands []cand
	add := func(m map[string]Action, cli bool) {
		for pat, a := range m {
			if Match(pat, action) {
				cands = append(cands, cand{pat, a, cli, literals(pat)})
			}
		}
	}
	add(c.Actions, false)
	add(c.cli, true)
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.cli != b.cli {
			return a.cli
		}
		if a.lits != b.lits {
			return a.lits > b.lits
		}
		return a.pat < b.pat
	})
	var setID, setIgn, setRep, setRO bool
	for _, k := range cands {
		if k.a.Identity != nil && !setID {
			r.Identity, setID = k.a.Identity, true
		}
		if k.a.Ignore != nil && !setIgn {
			r.Ignore, setIgn = k.a.Ignore, true
		}
		if k.a.Repeatable != nil && !setRep {
			r.Repeatable, setRep = *k.a.Repeatable, true
		}
		if k.a.ReadOnly != nil && !setRO {
			r.ReadOnly, setRO = *k.a.ReadOnly, true
			r.ReadOnlySet = true
		}
	}
	if c.Compensations.Actions == nil {
		for _, p := range DefaultCompensations {
			r.Compensates = r.Compensates || MatchDefault(p, action)
		}
	}
	for _, p := range c.Compensations.Actions {
		r.Compensates = r.Compensates || Match(p, action)
	}
	return r
}

// literals counts a pattern's non-wildcard characters (an exact name has
// no wildcard and so is more specific than any glob it matches).
func literals(pat string) int {
	n := 0
	wild := false
	for _, c := range pat {
		if c == '*' || c == '?' {
			wild = true
			continue
		}
		n++
	}
	if !wild {
		return 1 << 30
	}
	return n
}

// MatchDefault matches one of idemaudit's default patterns ("get_*",
// "refund_*"): as Match, and also the same word in the other spellings
// of tool names — camelCase (getBalance, refundCharge, as JavaScript and
// TypeScript agents name their tools), PascalCase (GetBalance) and
// kebab-case (get-balance). Patterns a user writes match as written.
func MatchDefault(pattern, name string) bool {
	if Match(pattern, name) {
		return true
	}
	word, ok := strings.CutSuffix(pattern, "_*")
	if !ok || word == "" || strings.ContainsAny(word, "*?") || len(name) <= len(word) {
		return false
	}
	head, rest := name[:len(word)], name[len(word):]
	if rest[0] == '-' {
		return head == word
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if !unicode.IsUpper(r) {
		return false
	}
	return head == word || head == strings.ToUpper(word[:1])+word[1:]
}

// Match reports whether name matches pattern: * is any run of characters
// (including none, and including / and .), ? is one character, everything
// else matches itself.
func Match(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	// iterative matching with one backtrack point for the last star
	pi, ni, star, mark := 0, 0, -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[ni]) && p[pi] != '*':
			pi++
			ni++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// FingerprintDigest identifies the settings that shape what ingest stores
// (identity, ignore, compensating actions): a database keeps the digest it
// was built with, and refuses another, because its fingerprints would mix.
func (c *Config) FingerprintDigest() string {
	var b strings.Builder
	write := func(tag string, m map[string]Action) {
		pats := make([]string, 0, len(m))
		for p := range m {
			pats = append(pats, p)
		}
		sort.Strings(pats)
		for _, p := range pats {
			a := m[p]
			if a.Identity == nil && a.Ignore == nil {
				continue
			}
			fmt.Fprintf(&b, "%s\x00%q\x00%q\x00%q\n", tag, p, a.Identity, a.Ignore)
		}
	}
	write("file", c.Actions)
	write("cli", c.cli)
	comp := c.Compensations.Actions
	if comp == nil {
		comp = DefaultCompensations
	}
	comp = append([]string(nil), comp...)
	sort.Strings(comp)
	fmt.Fprintf(&b, "compensations\x00%q\n", comp)
	return fmt.Sprintf("%032x", xxh3.HashString128(b.String()).Bytes())
}

// DescribeFingerprints lists the fingerprint settings in words, for the
// error when a database was built with others.
func (c *Config) DescribeFingerprints() string {
	var parts []string
	// where each comes from: an --identity wins over every entry of the
	// file, so the same paths given there and on the command line are not
	// the same settings
	for i, m := range []map[string]Action{c.Actions, c.cli} {
		from := ""
		if i == 1 {
			from = " (--identity)"
		}
		for p, a := range m {
			switch {
			case a.Identity != nil:
				parts = append(parts, fmt.Sprintf("%s: identity %s%s", p, strings.Join(a.Identity, ","), from))
			case a.Ignore != nil:
				parts = append(parts, fmt.Sprintf("%s: ignore %s%s", p, strings.Join(a.Ignore, ","), from))
			}
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		parts = append(parts, "whole-args fingerprints for every action")
	}
	comp := append([]string(nil), c.Compensations.Actions...)
	if c.Compensations.Actions == nil {
		comp = append(comp, DefaultCompensations...)
	}
	sort.Strings(comp)
	def := append([]string(nil), DefaultCompensations...)
	sort.Strings(def)
	if strings.Join(comp, ",") != strings.Join(def, ",") {
		parts = append(parts, "compensating actions "+strings.Join(comp, ","))
	}
	return strings.Join(parts, "; ")
}
